"""One Python worker of the server's mixed test (tests/server_mixed.rs).

usage: python3 server_worker.py proxy PORT   STUDY N_TRIALS SEED
       python3 server_worker.py direct JOURNAL STUDY N_TRIALS SEED

`proxy` optimizes through `trialog serve` on 127.0.0.1:PORT with Optuna's GrpcStorageProxy;
`direct` writes the same Optuna-format journal with Optuna's own JournalStorage (its default
lock). Loads the study (created beforehand) and runs N_TRIALS trials; enqueued trials are taken
first, as Optuna's optimize does. Prints one JSON line: the trial numbers this process evaluated
and the `x` each was given.
"""

import json
import sys
import warnings

import optuna

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

mode, where, name, n, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if mode == "proxy":
    storage = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=int(where))
else:
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(where))
study = optuna.load_study(
    storage=storage, study_name=name, sampler=optuna.samplers.RandomSampler(seed=seed)
)
evaluated = []


def objective(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    trial.report(x, 0)
    trial.set_user_attr("writer", f"python-{mode}")
    evaluated.append([trial.number, x])
    return (x - 1.0) ** 2


study.optimize(objective, n_trials=n)
print(json.dumps({"evaluated": evaluated}))
