"""A trial command for the runner tests.

Records what it was given on each channel (its arguments `--NAME VALUE`, the
TRIALOG_PARAM_* variables, the JSON file in TRIALOG_PARAMS_FILE, the trial's identity) as
$RECORD_DIR/<number>.json, sleeps a random part of $CHILD_SLEEP seconds, then prints
(x - 2)^2 + n as its result.
"""

import json
import os
import random
import sys
import time

argv = {}
args = iter(sys.argv[1:])
for a in args:
    if a.startswith("--"):
        argv[a[2:]] = next(args)
env = {
    k[len("TRIALOG_PARAM_"):].lower(): v
    for k, v in os.environ.items()
    if k.startswith("TRIALOG_PARAM_")
}
with open(os.environ["TRIALOG_PARAMS_FILE"]) as f:
    params = json.load(f)
number = int(os.environ["TRIALOG_TRIAL_NUMBER"])
record = {
    "argv": argv,
    "env": env,
    "file": params,
    "number": number,
    "trial_id": int(os.environ["TRIALOG_TRIAL_ID"]),
    "study": os.environ["TRIALOG_STUDY"],
    "result_file": os.environ["TRIALOG_RESULT_FILE"],
    "pid": os.getpid(),
}
record_dir = os.environ.get("RECORD_DIR")
if record_dir:
    tmp = os.path.join(record_dir, f".{number}.tmp")
    with open(tmp, "w") as f:
        json.dump(record, f)
    os.rename(tmp, os.path.join(record_dir, f"{number}.json"))
time.sleep(float(os.environ.get("CHILD_SLEEP", "0")) * random.random())
print("some training output")
# d * d, not d ** 2: libm pow may differ from the product by an ulp, and the test computes d * d.
d = params["x"] - 2.0
print(d * d + params.get("n", 0))
