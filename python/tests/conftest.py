"""Fixtures for the Python package's tests: a fresh journal per test, in both formats."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", category=Warning, module="optuna")

ROOT = Path(__file__).resolve().parents[2]
# The `trialog` CLI (for the interop tests): $TRIALOG_BIN, else the root crate's debug build.
BIN = Path(os.environ.get("TRIALOG_BIN", ROOT / "target" / "debug" / "trialog"))


@pytest.fixture(params=["trialog", "optuna"])
def fmt(request) -> str:
    return request.param


@pytest.fixture
def journal(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / ("study.journal" if fmt == "trialog" else "study.log")
