"""Write an Optuna journal that uses every op code and every kind of value trialog must read.

usage: python3 write_coverage.py JOURNAL

Deterministic apart from datetimes (fixed seeds, fixed values). Besides Optuna's own API it
appends a few lines through the backend, as other writers would: Rustuna's op 10, a second
WAITING->RUNNING claim that loses, an incompatible distribution and an update of a missing trial
(all ignored by Optuna's replay).
"""

import sys
import warnings

import optuna
from optuna import distributions as D
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

path = sys.argv[1]
backend = JournalFileBackend(path)
storage = JournalStorage(backend)
CHOICES = [None, True, 1, 1.5, "a", "é 😀"]


def objective(trial):
    x = trial.suggest_float("x", -1.0, 1.0)
    trial.suggest_float("xl", 1e-3, 1.0, log=True)
    trial.suggest_float("xs", 0.0, 1.0, step=0.25)
    trial.suggest_int("i", -5, 5)
    trial.suggest_int("il", 1, 1000, log=True)
    trial.suggest_int("is", 0, 10, step=3)
    c = trial.suggest_categorical("c", CHOICES)
    for step, v in [(0, 0.5), (1, float("inf")), (2, float("-inf")), (10, float("nan"))]:
        trial.report(v, step)
    trial.set_user_attr("nested", {"a": [1, 2.5, None, True, "ü"], "b": {"c": {}, "d": []}})
    trial.set_user_attr("big", 1e16)
    if trial.number == 1:
        raise optuna.TrialPruned()
    if trial.number == 2:
        raise ValueError("fails on purpose")
    if trial.number == 3:
        return float("inf")
    return x * x + (0.0 if c is None else 1.0)


study = optuna.create_study(
    storage=storage,
    study_name="single ü 😀",
    sampler=optuna.samplers.RandomSampler(seed=1),
)
study.set_user_attr("nested", {"k": [1, {"x": None}], "f": -0.0, "inf": float("-inf")})
storage.set_study_system_attr(study._study_id, "sys", ["a", 1, 2.0])
study.enqueue_trial({"x": 0.5, "c": "a"}, user_attrs={"enqueued": True})
study.optimize(objective, n_trials=5, catch=(ValueError,))
running = study.ask()  # stays RUNNING
running.suggest_float("x", -1.0, 1.0)
study.enqueue_trial({"x": 0.25})  # stays WAITING
storage.set_trial_system_attr(running._trial_id, "sys", {"nested": [1, [2, [3]]]})
study.add_trial(
    create_trial(
        params={"x": 0.1, "c": None, "i": 3},
        distributions={
            "x": D.FloatDistribution(-1.0, 1.0),
            "c": D.CategoricalDistribution(CHOICES),
            "i": D.IntDistribution(-5, 5),
        },
        value=0.25,
        intermediate_values={0: 1.0, 3: float("inf")},
        user_attrs={"added": "yes"},
        system_attrs={"s": 1},
    )
)
study.add_trial(create_trial(state=TrialState.FAIL, params={}, distributions={}))

multi = optuna.create_study(
    storage=storage,
    study_name="multi",
    directions=["minimize", "maximize"],
    sampler=optuna.samplers.RandomSampler(seed=2),
)
multi.optimize(lambda t: (t.suggest_float("a", 0, 1), t.suggest_int("b", 0, 3)), n_trials=3)
multi.add_trial(create_trial(values=[float("inf"), float("-inf")], params={}, distributions={}))

legacy = optuna.create_study(storage=storage, study_name="legacy")
legacy.add_trial(
    create_trial(
        params={"u": 0.5, "lu": 0.5, "du": 0.5, "iu": 3, "ilu": 4},
        distributions={
            "u": D.UniformDistribution(0.0, 1.0),
            "lu": D.LogUniformDistribution(0.1, 1.0),
            "du": D.DiscreteUniformDistribution(0.0, 1.0, 0.25),
            "iu": D.IntUniformDistribution(1, 9, step=2),
            "ilu": D.IntLogUniformDistribution(1, 9),
        },
        value=1.0,
    )
)

# Legacy distribution names, as Optuna < 3 wrote them (today's Optuna converts them on add_trial,
# so write the line through the backend).
backend.append_logs(
    [
        {
            "op_code": 4,
            "worker_id": "old-optuna-1",
            "study_id": legacy._study_id,
            "datetime_start": "2020-01-01T00:00:00.000001+00:00",
            "state": 1,
            "value": 2.0,
            "values": None,
            "datetime_complete": "2020-01-01T00:00:01.000000+00:00",
            "distributions": {
                "u": '{"name": "UniformDistribution", "attributes": {"low": 0.0, "high": 1.0}}',
                "lu": '{"name": "LogUniformDistribution", "attributes": {"low": 0.1, "high": 1.0}}',
                "du": '{"name": "DiscreteUniformDistribution", "attributes": {"low": 0.0, "high": 1.0, "q": 0.25}}',
                "iu": '{"name": "IntUniformDistribution", "attributes": {"step": 2, "low": 1, "high": 9}}',
                "ilu": '{"name": "IntLogUniformDistribution", "attributes": {"step": 1, "low": 1, "high": 9}}',
            },
            "params": {"u": 0.5, "lu": 0.5, "du": 0.75, "iu": 5, "ilu": 2},
            "user_attrs": {},
            "system_attrs": {},
            "intermediate_values": {"0": 1.5},
        }
    ]
)

doomed = optuna.create_study(storage=storage, study_name="deleted")
doomed.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
optuna.delete_study(study_name="deleted", storage=storage)
optuna.create_study(storage=storage, study_name="deleted")  # the name is free again

# Another worker: a repeated create (ignored) and an update of a finished trial (ignored).
other = JournalStorage(JournalFileBackend(path))
try:
    other.create_new_study([StudyDirection.MINIMIZE], "multi")
except optuna.exceptions.DuplicatedStudyError:
    pass
try:
    other.set_trial_user_attr(0, "late", 1)
except RuntimeError:
    pass

# Lines other writers produce: Rustuna's DISCARD_TRIALS, a losing claim of a RUNNING trial, an
# incompatible distribution for "x", and an update of a trial that does not exist.
tid = running._trial_id
backend.append_logs(
    [
        {"op_code": 10, "worker_id": "rustuna-1", "trial_ids": [0]},
        {
            "op_code": 6,
            "worker_id": "racer-1",
            "trial_id": tid,
            "state": 0,
            "values": None,
            "datetime_start": "2026-01-01T00:00:00.000000+00:00",
        },
        {
            "op_code": 5,
            "worker_id": "racer-1",
            "trial_id": tid,
            "param_name": "x",
            "param_value_internal": 1,
            "distribution": D.distribution_to_json(D.IntDistribution(0, 3)),
        },
        {"op_code": 8, "worker_id": "racer-1", "trial_id": 9999, "user_attr": {"k": 1}},
    ]
)
