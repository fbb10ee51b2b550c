"""Parameter order through Optuna's own JournalStorage (tests/compat_optuna_param_order.rs).

usage: python3 param_order.py write JOURNAL   # a study whose trials set params out of name order
       python3 param_order.py read JOURNAL    # one JSON line per trial: [params keys, dists keys]

`write` makes study "order": trial 0 suggests z, a, m (in that order); trial 1 is added from a
template whose params dict is y, b, x; trial 2 is enqueued with params q, c (fixed, then
suggested in the order c, q). `read` prints every trial of every study in id order, each as
`[list(params), list(distributions)]`, the order Optuna shows.
"""

import json
import sys
import warnings

import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def write(path):
    storage = JournalStorage(JournalFileBackend(path))
    study = optuna.create_study(study_name="order", storage=storage)
    trial = study.ask()
    for name in ["z", "a", "m"]:
        trial.suggest_float(name, 0.0, 1.0)
    study.tell(trial, 1.0)
    dists = {n: IntDistribution(0, 10) for n in ["y", "b", "x"]}
    study.add_trial(optuna.trial.create_trial(params={"y": 1, "b": 2, "x": 3}, distributions=dists,
                                              value=2.0))
    study.enqueue_trial({"q": 0.5, "c": 0.25})
    trial = study.ask()
    trial.suggest_float("c", 0.0, 1.0)
    trial.suggest_float("q", 0.0, 1.0)
    study.tell(trial, 3.0)


def read(path):
    storage = JournalStorage(JournalFileBackend(path))
    for s in sorted(storage.get_all_studies(), key=lambda s: s._study_id):
        for t in storage.get_all_trials(s._study_id):
            print(json.dumps([list(t.params), list(t.distributions)]))


if __name__ == "__main__":
    {"write": write, "read": read}[sys.argv[1]](sys.argv[2])
