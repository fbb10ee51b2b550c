"""Print Optuna's own replay of a JSON-lines journal as trialog's canonical dump.

usage: python3 dump.py JOURNAL

JOURNAL is a JSON-lines file, or redis://host:port/db?prefix=NAME for Optuna's
JournalRedisBackend (the prefix as a query parameter, as trialog spells Redis journals).

The output is byte-for-byte what `trialog dump JOURNAL` prints for the same state (format
`optuna-storage-canonical-dump/1`, docs/CLI.md). One documented normalisation, of something
trialog's model does not keep: objective and intermediate values are shown as floats. Legacy
distribution classes keep their class and JSON, attribute values their Python type (an int of any
size stays an int). Datetimes are Optuna's naive local datetimes converted to UTC as Python
converts them (`astimezone`), in the zone of this process (TZ).
"""

import json
import sys
import warnings
from datetime import timezone

import optuna
from optuna import distributions as D
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalRedisBackend
from urllib.parse import parse_qs, urlsplit

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def when(dt):
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def trial(t):
    return {
        "trial_id": t._trial_id,
        "number": t.number,
        "state": t.state.name,
        "values": None if t.values is None else [float(v) for v in t.values],
        "params": t.params,
        "distributions": {k: D.distribution_to_json(d) for k, d in t.distributions.items()},
        "intermediate_values": {str(k): float(v) for k, v in t.intermediate_values.items()},
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "datetime_start": when(t.datetime_start),
        "datetime_complete": when(t.datetime_complete),
    }


def backend(path):
    """A JournalFileBackend, or a JournalRedisBackend for redis://...?prefix=NAME."""
    if not path.startswith("redis://"):
        return JournalFileBackend(path)
    url = urlsplit(path)
    prefix = parse_qs(url.query).get("prefix", [""])[0]
    return JournalRedisBackend(url._replace(query="").geturl(), prefix=prefix)


def main(path):
    storage = JournalStorage(backend(path))
    studies = []
    for s in sorted(storage.get_all_studies(), key=lambda s: s._study_id):
        trials = sorted(storage.get_all_trials(s._study_id, deepcopy=False), key=lambda t: t.number)
        studies.append(
            {
                "study_id": s._study_id,
                "study_name": s.study_name,
                "directions": [d.name for d in s.directions],
                "user_attrs": s.user_attrs,
                "system_attrs": s.system_attrs,
                "trials": [trial(t) for t in trials],
            }
        )
    out = {"format": "optuna-storage-canonical-dump/1", "studies": studies}
    sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
