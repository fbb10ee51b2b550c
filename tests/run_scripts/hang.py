"""A trial command that never ends and starts a grandchild that never ends either.

Writes "<own pid> <grandchild pid>" to $PID_FILE, a line on stderr, then sleeps; it ignores
SIGTERM when $IGNORE_TERM is set (so only SIGKILL stops it).
"""

import os
import signal
import subprocess
import sys
import time

if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen(["sleep", "1000"])
tmp = os.environ["PID_FILE"] + ".tmp"
with open(tmp, "w") as f:
    f.write(f"{os.getpid()} {grandchild.pid}\n")
os.rename(tmp, os.environ["PID_FILE"])
print("hanging now", file=sys.stderr, flush=True)
while True:
    time.sleep(1000)
