"""The handle itself: pickling, threads, the GIL released while the engine waits, options, and
engine errors as Python exceptions carrying the engine's message."""

from __future__ import annotations

import fcntl
import pickle
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import trialog


def test_pickle_reopens_by_path(journal: Path, fmt: str) -> None:
    storage = trialog.JournalStorage(journal, format=fmt, lock_timeout=30.0)
    study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "p")
    copy = pickle.loads(pickle.dumps(storage))
    assert copy is not storage and copy.path == storage.path
    assert copy._options == storage._options
    copy.create_new_trial(study_id)
    assert storage.get_n_trials(study_id) == 1, "the copy writes the same journal"


def test_threads_share_one_handle(journal: Path, fmt: str) -> None:
    storage = trialog.JournalStorage(journal, format=fmt)
    study = optuna.create_study(storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=40, n_jobs=4)
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == list(range(40))
    assert all(t.state == TrialState.COMPLETE for t in trials)


@pytest.mark.skipif(sys.platform == "win32", reason="fcntl.flock is Unix's")
def test_gil_released_while_waiting_for_the_lock(tmp_path: Path) -> None:
    journal = tmp_path / "gil.journal"
    storage = trialog.JournalStorage(journal)
    with open(str(journal) + ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another holder of trialog's advisory lock
        done = threading.Event()
        writer = threading.Thread(target=lambda: (storage.create_new_study(
            [optuna.study.StudyDirection.MINIMIZE], "w"), done.set()))
        writer.start()
        # The writer blocks in the engine; this thread must keep running Python meanwhile.
        spins, end = 0, time.monotonic() + 0.5
        while time.monotonic() < end:
            spins += 1
        assert not done.is_set(), "the writer did not wait for the lock"
        assert spins > 10_000, "the engine held the GIL while it waited"
        fcntl.flock(lock, fcntl.LOCK_UN)
    writer.join(timeout=30)
    assert done.is_set()
    assert storage.get_study_id_from_name("w") == 0


@pytest.mark.skipif(sys.platform == "win32", reason="fcntl.flock is Unix's")
def test_lock_timeout_names_the_lock(tmp_path: Path) -> None:
    journal = tmp_path / "t.journal"
    storage = trialog.JournalStorage(journal, lock_timeout=0.2)
    with open(str(journal) + ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(trialog.LockError, match=r"timed out .* waiting for lock .*t\.journal\.lock"):
            storage.create_new_study([optuna.study.StudyDirection.MINIMIZE])
    assert storage.get_all_studies() == [], "nothing was written"


def test_corruption_names_file_and_offset(tmp_path: Path) -> None:
    journal = tmp_path / "c.journal"
    storage = trialog.JournalStorage(journal)
    sid = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "c")
    for _ in range(3):
        storage.create_new_trial(sid)
    data = bytearray(journal.read_bytes())
    size = len(data)
    data[size // 2] ^= 0xFF  # a bit flip inside a frame that has a valid frame after it
    journal.write_bytes(bytes(data))
    with pytest.raises(trialog.CorruptJournalError, match=r"c\.journal: corrupt journal at byte offset \d+"):
        trialog.JournalStorage(journal)
    assert issubclass(trialog.CorruptJournalError, trialog.TrialogError)
    assert issubclass(trialog.TrialogError, RuntimeError)


def test_optuna_file_is_not_a_trialog_journal(tmp_path: Path) -> None:
    log = tmp_path / "o.log"
    trialog.JournalStorage(log, format="optuna").create_new_study(
        [optuna.study.StudyDirection.MINIMIZE])
    with pytest.raises(trialog.CorruptJournalError, match="is not a trialog journal"):
        trialog.JournalStorage(log)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(format="sqlite"), "unknown format"),
        (dict(lock="flock"), "unknown lock"),
        (dict(format="optuna", lock="advisory"), "unknown lock"),
        (dict(recovery="best-effort"), "unknown recovery mode"),
        (dict(heartbeat_interval=1, grace_period=0.5), "must exceed"),
        (dict(grace_period=3), "needs heartbeat_interval"),
        (dict(lock_timeout=-1), "non-negative"),
    ],
)
def test_bad_options_are_value_errors(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trialog.JournalStorage(tmp_path / "x.journal", **options)
    assert not (tmp_path / "x.journal").exists(), "nothing was created"


def test_create_false_needs_the_file(tmp_path: Path) -> None:
    with pytest.raises(trialog.TrialogError, match="missing.journal"):
        trialog.JournalStorage(tmp_path / "missing.journal", create=False)


def test_heartbeat_interface(tmp_path: Path) -> None:
    from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

    plain = trialog.JournalStorage(tmp_path / "a.journal")
    assert isinstance(plain, BaseHeartbeat) and not is_heartbeat_enabled(plain)
    callback = optuna.storages.RetryFailedTrialCallback(max_retry=1)
    beating = trialog.JournalStorage(tmp_path / "b.journal", heartbeat_interval=2,
                                     failed_trial_callback=callback)
    assert is_heartbeat_enabled(beating) and beating.get_heartbeat_interval() == 2
    assert beating.get_heartbeat_stale_trial_callback() is callback


def test_negative_ids_are_key_errors(tmp_path: Path) -> None:
    storage = trialog.JournalStorage(tmp_path / "n.journal")
    sid = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE])
    storage.create_new_trial(sid)
    for call in (lambda: storage.get_study_name_from_id(-1), lambda: storage.get_trial(-1),
                 lambda: storage.get_all_trials(-1),
                 lambda: storage.get_trial_id_from_study_id_trial_number(sid, -1),
                 lambda: storage.set_trial_user_attr(-1, "k", 1)):
        with pytest.raises(KeyError):
            call()


@pytest.mark.parametrize("bad", [-1, 2**63, 2**64, 2**200])
def test_ids_of_any_size_that_name_nothing_are_key_errors(
    journal: Path, fmt: str, bad: int
) -> None:
    # As Optuna's storages (a dict lookup that finds nothing), never OverflowError.
    s = trialog.JournalStorage(journal, format=fmt)
    sid = s.create_new_study([optuna.study.StudyDirection.MINIMIZE], "s")
    with pytest.raises(KeyError, match=str(bad)):
        s.get_trial(bad)
    with pytest.raises(KeyError, match=str(bad)):
        s.get_all_trials(bad)
    with pytest.raises(KeyError, match=str(bad)):
        s.get_trial_id_from_study_id_trial_number(sid, bad)
    with pytest.raises(KeyError, match=str(bad)):
        s.set_trial_user_attr(bad, "k", 1)
    with pytest.raises(TypeError):
        s.get_trial("0")
