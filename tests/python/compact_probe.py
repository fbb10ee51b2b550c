"""What Optuna's replay of a JSON-lines journal gives beyond the canonical dump: every trial id
Optuna still returns (those of deleted studies too), and the ids and number that the next study
and trial get. Used by tests/compact.rs to check that a compacted journal keeps every id.

usage: python3 compact_probe.py JOURNAL    (JOURNAL is changed: a study and a trial are added)
"""

import json
import sys
import warnings

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

storage = JournalStorage(JournalFileBackend(sys.argv[1]))
trials = []
trial_id = 0
while True:
    try:
        t = storage.get_trial(trial_id)
    except KeyError:
        break
    trials.append([t._trial_id, t.number, t.state.name, t.params, t.user_attrs, t.system_attrs])
    trial_id += 1
study_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "compact-probe")
new_trial = storage.create_new_trial(study_id)
print(
    json.dumps(
        {
            "trials": trials,
            "next_study_id": study_id,
            "next_trial_id": new_trial,
            "next_trial_number": storage.get_trial_number_from_id(new_trial),
        },
        sort_keys=True,
        default=repr,
    )
)
