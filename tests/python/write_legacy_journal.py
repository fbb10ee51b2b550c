"""Write a journal with the journal storage of the Optuna version that runs this script.

usage: python3 write_legacy_journal.py OUT.log

For the corpus journals `tests/corpus/optuna-VERSION.log`, written by older Optuna releases,
whose replay by Optuna 5.0 (`dump.py`) trialog must equal (tests/compat_values.rs). Each was
made in a virtual environment holding only that release:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install optuna==3.1.0 "numpy<2"
    /tmp/v/bin/python tests/python/write_legacy_journal.py tests/corpus/optuna-3.1.0.log
    for z in UTC America/New_York; do
        TZ=$z python3 tests/python/dump.py tests/corpus/optuna-3.1.0.log \
            > tests/corpus/optuna-3.1.0.${z//\//_}.dump; done
    TZ=UTC trialog import tests/corpus/optuna-3.1.0.log tests/corpus/optuna-3.1.0.journal

What it writes, through each release's own API where it has one: a study with every
distribution kind of `suggest_*` (log and step variants, categorical choices of mixed types),
an enqueued trial, user attributes (nested, non-ASCII, NaN), intermediate values, a pruned, a
failed (caught exception) and an infinite trial; a trial with the legacy distribution classes
through the low-level storage API; a study system attribute past 64 bits; a multi-objective
study (with metric names where the release has them); a deleted study; a WAITING trial claimed
and failed; a RUNNING trial left behind. Datetimes are the releases' own: naive local time (in
UTC when these were written); lines are `json.dumps` with its default `", "` separators before
Optuna 4 and compact ones after.
"""
import math
import sys
import warnings

import optuna

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)
path = sys.argv[1]
try:
    from optuna.storages.journal import JournalFileBackend as Backend
except ImportError:
    from optuna.storages import JournalFileStorage as Backend
storage = optuna.storages.JournalStorage(Backend(path))

s = optuna.create_study(storage=storage, study_name="single", direction="maximize")
s.set_user_attr("u", {"nested": [1, 2.5, None, "x"]})
s.set_system_attr("big", 2**70) if hasattr(s, "set_system_attr") else None
s.enqueue_trial({"x": 0.5, "n": 3, "c": "b"})
def obj(t):
    x = t.suggest_float("x", -1, 1)
    lx = t.suggest_float("lx", 1e-3, 10, log=True)
    sx = t.suggest_float("sx", 0, 1, step=0.25)
    n = t.suggest_int("n", 1, 9)
    ln = t.suggest_int("ln", 1, 64, log=True)
    sn = t.suggest_int("sn", 0, 10, step=2)
    c = t.suggest_categorical("c", ["a", "b", None, 1, 2.5, True])
    t.set_user_attr("s", "é∑\u0000")
    t.set_user_attr("f", float("nan")) if t.number == 1 else None
    for step in range(3):
        t.report(x * step, step)
    if t.number == 2:
        raise optuna.TrialPruned()
    if t.number == 3:
        raise RuntimeError("boom")
    if t.number == 4:
        return float("inf")
    return x + n
s.optimize(obj, n_trials=8, catch=(RuntimeError,))
# Legacy distributions through the low-level API.
from optuna import distributions as D
legacy = []
for name in ("UniformDistribution", "LogUniformDistribution", "DiscreteUniformDistribution",
             "IntUniformDistribution", "IntLogUniformDistribution"):
    if hasattr(D, name):
        legacy.append(name)
tid = storage.create_new_trial(s._study_id)
for i, name in enumerate(legacy):
    cls = getattr(D, name)
    if name == "UniformDistribution":
        d = cls(0.0, 1.0); v = 0.25
    elif name == "LogUniformDistribution":
        d = cls(0.1, 1.0); v = 0.5
    elif name == "DiscreteUniformDistribution":
        d = cls(0.0, 1.0, 0.5); v = 0.5
    elif name == "IntUniformDistribution":
        d = cls(0, 10, 2); v = 4
    else:
        d = cls(1, 16); v = 4
    storage.set_trial_param(tid, f"legacy{i}", d.to_internal_repr(v), d)
storage.set_trial_system_attr(tid, "sys", [1, {"a": None}])
from optuna.trial import TrialState
storage.set_trial_state_values(tid, TrialState.COMPLETE, [1.5])

m = optuna.create_study(storage=storage, study_name="multi", directions=["minimize", "maximize"])
m.optimize(lambda t: (t.suggest_float("a", 0, 1), -math.inf), n_trials=3)
if hasattr(m, "set_metric_names"):
    m.set_metric_names(["loss", "acc"])
d = optuna.create_study(storage=storage, study_name="deleted")
d.optimize(lambda t: t.suggest_int("k", 0, 3), n_trials=2)
optuna.delete_study(study_name="deleted", storage=storage)
w = optuna.create_study(storage=storage, study_name="after-delete")
w.enqueue_trial({"q": 1})
t = w.ask()
w.tell(t, state=TrialState.FAIL)
t2 = w.ask({"z": optuna.distributions.FloatDistribution(0, 1)})
print(optuna.__version__, "ok")
