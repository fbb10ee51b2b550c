"""One Python worker of the mixed-writers test: optimize a shared study on an Optuna journal.

usage: python3 optimize.py JOURNAL STUDY N_TRIALS SEED [symlink|open]

JOURNAL may be redis://host:port/db?prefix=NAME (Optuna's JournalRedisBackend; no lock).

Creates the study or loads it (concurrent creators: one create wins, the others are ignored by
replay and load it), then runs N_TRIALS trials of a fixed objective.
"""

import sys
import warnings

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

path, name, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lock = JournalFileOpenLock(path) if sys.argv[5:] == ["open"] else None
if path.startswith("redis://"):
    from urllib.parse import parse_qs, urlsplit
    from optuna.storages.journal import JournalRedisBackend

    url = urlsplit(path)
    prefix = parse_qs(url.query).get("prefix", [""])[0]
    storage = JournalStorage(JournalRedisBackend(url._replace(query="").geturl(), prefix=prefix))
else:
    storage = JournalStorage(JournalFileBackend(path, lock_obj=lock))
study = optuna.create_study(
    storage=storage,
    study_name=name,
    load_if_exists=True,
    sampler=optuna.samplers.RandomSampler(seed=seed),
)


def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    k = trial.suggest_int("k", 0, 3)
    trial.report(x, 0)
    trial.set_user_attr("writer", "python")
    return (x - 1.0) ** 2 + k


study.optimize(objective, n_trials=n)
