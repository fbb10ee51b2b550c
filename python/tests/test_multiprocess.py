"""Several processes on one journal: Optuna's optimize through trialog.JournalStorage, with the
storage handed to each process by pickling (multiprocessing "spawn"); enqueued trials are each run
once; a worker killed with SIGKILL mid-trial has its trial failed as stale by the others'
heartbeats."""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import mp_workers
import trialog

spawn = multiprocessing.get_context("spawn")


def test_four_processes_enqueued(journal: Path, fmt: str, tmp_path: Path) -> None:
    storage = trialog.JournalStorage(journal, format=fmt)
    study = optuna.create_study(storage=storage, study_name="mp")
    enqueued = [float(i) for i in range(-6, 6)]
    for x in enqueued:
        study.enqueue_trial({"x": x})
    logs = [tmp_path / f"ran{i}.txt" for i in range(4)]
    procs = [spawn.Process(target=mp_workers.optimize, args=(storage, "mp", 10, str(log)))
             for log in logs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0

    trials = trialog.JournalStorage(journal, format=fmt).get_all_trials(study._study_id)
    assert [t.number for t in trials] == list(range(40)), "numbers are gapless"
    assert all(t.state == TrialState.COMPLETE for t in trials)
    ran = sorted(int(n) for log in logs for n in log.read_text().split())
    assert ran == list(range(40)), "every trial (enqueued ones too) ran exactly once"
    assert [t.params["x"] for t in trials[:12]] == enqueued
    assert all(t.system_attrs.get("fixed_params") == {"x": x} for t, x in zip(trials, enqueued))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is a Unix signal")
def test_killed_worker_fails_as_stale(tmp_path: Path) -> None:
    journal, fmt = tmp_path / "hb.journal", "trialog"
    storage = trialog.JournalStorage(journal, format=fmt, heartbeat_interval=0.5,
                                     grace_period=2.0)
    study = optuna.create_study(storage=storage, study_name="hb")
    victim = spawn.Process(target=mp_workers.hang, args=(storage, "hb"))
    victim.start()
    deadline = time.monotonic() + 60
    while not any("victim_pid" in t.user_attrs for t in study.get_trials(deepcopy=False)):
        assert time.monotonic() < deadline and victim.is_alive(), "the victim did not start"
        time.sleep(0.02)
    flag = tmp_path / "victim-started"
    survivors = [spawn.Process(target=mp_workers.survive, args=(storage, "hb", str(flag)))
                 for _ in range(3)]
    for p in survivors:
        p.start()
    time.sleep(1.0)  # the survivors are up and watching the victim's heartbeats
    victim.kill()  # SIGKILL
    victim.join()
    flag.touch()
    for p in survivors:
        p.join(timeout=300)
        assert p.exitcode == 0

    trials = trialog.JournalStorage(journal, format=fmt).get_all_trials(study._study_id)
    victim_trial = trials[0]
    assert "victim_pid" in victim_trial.user_attrs
    assert victim_trial.state == TrialState.FAIL, "the killed worker's trial failed as stale"
    others = trials[1:]
    assert len(others) >= 9 and all(t.state == TrialState.COMPLETE for t in others)


def test_heartbeats_need_the_trialog_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot store heartbeats"):
        trialog.JournalStorage(tmp_path / "x.log", format="optuna", heartbeat_interval=1)
