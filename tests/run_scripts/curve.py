"""A learning curve: reports `trialog:report <step> <loss>` for steps 0..9, sleeping
$STEP_SLEEP seconds between steps, then prints the last loss. Trials with quality "good" have
a falling loss 1/(step+1); "bad" ones stay at 10 + step.
"""

import os
import time

quality = os.environ["TRIALOG_PARAM_QUALITY"]
pause = float(os.environ.get("STEP_SLEEP", "0.05"))
loss = None
for step in range(10):
    loss = 1.0 / (step + 1) if quality == "good" else 10.0 + step
    print(f"trialog:report {step} {loss}", flush=True)
    time.sleep(pause)
print(loss)
