"""A storage object used across fork(): Python's multiprocessing forks by default on Linux, so a
storage opened (and written) in the parent is used by copies of itself in every worker. Each copy
must take the journal's lock as a process of its own; a copy sharing its parent's open lock file
(flock belongs to the open file description) would append at the same offsets as its siblings and
corrupt the journal."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import trialog

WORKERS = 4
TRIALS_EACH = 25

# (format, lock): every lock protocol of both formats.
CASES = [
    ("trialog", None),
    ("trialog", "open-file"),
    ("trialog", "symlink"),
    ("optuna", "symlink"),
    ("optuna", "open-file"),
]


def _optimize(storage: trialog.JournalStorage, name: str) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(storage=storage, study_name=name)
    study.optimize(lambda t: t.suggest_float("x", -1.0, 1.0) ** 2, n_trials=TRIALS_EACH)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no fork")
@pytest.mark.parametrize(("fmt", "lock"), CASES)
def test_forked_workers_share_the_parents_storage_safely(
    tmp_path: Path, fmt: str, lock: str | None
) -> None:
    journal = tmp_path / "fork.journal"
    storage = trialog.JournalStorage(journal, format=fmt, lock=lock)
    study = optuna.create_study(storage=storage, study_name="fork")
    # The parent writes first, so its lock objects exist (and hold open files) before the fork.
    study.optimize(lambda t: t.suggest_float("x", -1.0, 1.0) ** 2, n_trials=1)

    fork = multiprocessing.get_context("fork")
    procs = [fork.Process(target=_optimize, args=(storage, "fork")) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0

    # The parent's copy goes on working after its children used theirs.
    study.optimize(lambda t: t.suggest_float("x", -1.0, 1.0) ** 2, n_trials=1)

    # A fresh handle replays the whole journal: any frame or line one process wrote over
    # another's would fail here as corruption.
    fresh = trialog.JournalStorage(journal, format=fmt, create=False)
    trials = fresh.get_all_trials(study._study_id)
    total = 2 + WORKERS * TRIALS_EACH
    assert [t.number for t in trials] == list(range(total)), "numbers are gapless"
    assert all(t.state == TrialState.COMPLETE for t in trials)
