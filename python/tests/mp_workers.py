"""Worker processes of test_multiprocess.py (started with multiprocessing's "spawn": each gets
the storage by pickling, so it re-opens the journal by path)."""

from __future__ import annotations

import os
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def optimize(storage, study_name: str, n_trials: int, log_path: str) -> None:
    """Runs `n_trials` trials, logging each trial number this process ran."""
    study = optuna.load_study(study_name=study_name, storage=storage)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -10, 10)
        with open(log_path, "a") as f:
            f.write(f"{trial.number}\n")
        time.sleep(0.005)
        return x * x

    study.optimize(objective, n_trials=n_trials)


def hang(storage, study_name: str) -> None:
    """Starts one trial and never finishes it (the test kills this process)."""
    study = optuna.load_study(study_name=study_name, storage=storage)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("victim_pid", os.getpid())
        time.sleep(600)
        return 0.0

    study.optimize(objective, n_trials=1)


def survive(storage, study_name: str, victim_flag: str) -> None:
    """Runs short trials until the victim's trial was failed as stale (this process's own
    `optimize` fails it, at the start of a trial) and a few more trials after that."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    after = []

    def objective(trial: optuna.Trial) -> float:
        time.sleep(0.05)
        return trial.suggest_float("x", 0, 1)

    def stop_when_victim_failed(study: optuna.Study, trial) -> None:
        failed = [t for t in study.get_trials(deepcopy=False)
                  if t.state == optuna.trial.TrialState.FAIL]
        if failed:
            after.append(trial.number)
        if len(after) >= 3:
            study.stop()

    while not os.path.exists(victim_flag):
        time.sleep(0.01)
    study.optimize(objective, n_trials=2000, timeout=120, callbacks=[stop_when_victim_failed])
