"""Journals cross between the Python package and trialog's Rust code: a study written through
`trialog.JournalStorage` is read by the `trialog` CLI (`trialog dump`, the library's replay) to the
same state the Python handle answers, and a journal written by the CLI (`trialog demo`'s worker
processes) is read, and continued, from Python. The state is compared as trialog's canonical dump
(docs/CLI.md), made on the Python side by tests/python/dump.py's own trial encoder."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import trialog
from conftest import BIN, ROOT

spec = importlib.util.spec_from_file_location("dump", ROOT / "tests" / "python" / "dump.py")
dump_py = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dump_py)

pytestmark = pytest.mark.skipif(not BIN.exists(), reason=f"build the trialog CLI first ({BIN})")


def canonical(storage) -> dict:
    """trialog's canonical dump of what `storage` answers."""
    studies = []
    for s in sorted(storage.get_all_studies(), key=lambda s: s._study_id):
        trials = sorted(storage.get_all_trials(s._study_id), key=lambda t: t.number)
        studies.append({
            "study_id": s._study_id,
            "study_name": s.study_name,
            "directions": [d.name for d in s.directions],
            "user_attrs": s.user_attrs,
            "system_attrs": s.system_attrs,
            "trials": [dump_py.trial(t) for t in trials],
        })
    return json.loads(json.dumps({"format": "optuna-storage-canonical-dump/1", "studies": studies},
                                 sort_keys=True))


def cli(*args: str) -> str:
    out = subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def cli_dump(journal: Path) -> dict:
    return json.loads(cli("dump", str(journal)))


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    n = trial.suggest_int("n", 1, 9, step=2)
    kind = trial.suggest_categorical("kind", [None, True, 3, 2.5, "relu"])
    trial.set_user_attr("note", {"kind": kind, "list": [1, 2.0, "three"], "big": 2**70})
    for step in range(3):
        trial.report(x * x + step, step)
    if trial.number % 5 == 3:
        raise optuna.TrialPruned()
    if trial.number % 7 == 6:
        raise RuntimeError("a failing objective")
    return x * x + lr + n


def test_python_written_read_by_the_cli(journal: Path, fmt: str) -> None:
    storage = trialog.JournalStorage(journal, format=fmt)
    study = optuna.create_study(storage=storage, study_name="py", directions=["minimize"])
    study.set_user_attr("owner", "python")
    study.enqueue_trial({"x": 1.5, "kind": "relu"})
    study.optimize(objective, n_trials=20, catch=(RuntimeError,))
    other = optuna.create_study(storage=storage, directions=["maximize", "minimize"])
    other.add_trial(optuna.trial.create_trial(values=[1.0, 2.0], params={"a": 1},
                                              distributions={"a": optuna.distributions.IntDistribution(0, 3)}))
    states = {t.state for t in study.get_trials()}
    assert {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL} <= states

    assert cli_dump(journal) == canonical(storage)
    if fmt == "trialog":
        assert "py" in cli("studies", str(journal))
        verify = cli("verify", str(journal))
        assert "status: clean" in verify, verify


def test_cli_written_read_and_continued_by_python(tmp_path: Path) -> None:
    journal = tmp_path / "demo.journal"
    cli("demo", "--workers", "2", "--trials", "10", "--work-ms", "1", str(journal))
    storage = trialog.JournalStorage(journal)
    assert canonical(storage) == cli_dump(journal)
    study = optuna.load_study(study_name="demo", storage=storage)
    assert len(study.trials) == 10
    before = study.trials
    study.optimize(lambda t: sum(
        t.suggest_float(name, d.low, d.high) if isinstance(d, optuna.distributions.FloatDistribution)
        else 0.0 for name, d in before[0].distributions.items()), n_trials=5)
    assert cli_dump(journal) == canonical(trialog.JournalStorage(journal))
    assert len(cli_dump(journal)["studies"][0]["trials"]) == 15
