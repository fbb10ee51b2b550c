#!/usr/bin/env python3
"""Runs Optuna's own test suites against trialog: `trialog.JournalStorage` and `trialog serve`.

Optuna's PyPI source distribution ships its `tests/` directory. This script takes the one of the
Optuna version installed beside trialog (downloaded with `pip download --no-binary`, unless
`--optuna-tests` names an unpacked `tests/` directory), and runs with pytest every Optuna test
file that takes its storages from `optuna.testing.storages`, with `trialog_optuna_plugin`
loaded so those storages are trialog's: the Python package's storage and `trialog serve` behind
Optuna's GrpcStorageProxy, each in both journal formats (the plugin's docstring says how; the
serve modes need the CLI, by default this checkout's debug build). Then Optuna's tests of a
storage shared through a server (`test_with_server.py`: threads, 8 worker processes, pickling)
run on one trialog journal of each format. Tests that check an
implementation detail of another storage rather than storage behaviour are deselected below,
each with the reason. Exits with pytest's status.

    python python/optuna_suites/run.py                 # needs pytest, fakeredis, pandas, cmaes
    python python/optuna_suites/run.py --modes trialog,trialog_optuna   # no server
    python python/optuna_suites/run.py -- -k heartbeat # extra pytest arguments after --
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# The storage modes of trialog_optuna_plugin: the Python package in each format, and `trialog
# serve` in each format through Optuna's own GrpcStorageProxy.
ALL_MODES = ["trialog", "trialog_optuna", "trialog_serve", "trialog_serve_optuna"]

# Optuna's test files that take their storages from `optuna.testing.storages`, less those about
# one storage's internals (journal_tests: Optuna's JournalStorage; test_grpc, test_cli: servers
# and URLs of Optuna's own storages).
SUITES = [
    "storages_tests/test_storages.py",
    "storages_tests/test_heartbeat.py",
    "storages_tests/test_callbacks.py",
    "study_tests/test_study.py",
    "study_tests/test_optimize.py",
    "study_tests/test_dataframe.py",
    "trial_tests/test_trial.py",
    "trial_tests/test_frozen.py",
    "samplers_tests/test_grid.py",
    "samplers_tests/test_cmaes.py",
    "search_space_tests/test_intersection.py",
    "search_space_tests/test_group_decomposed.py",
]

# Optuna's tests of a storage behind a database server (TEST_DB_URL), here one journal file.
WITH_SERVER = "storages_tests/test_with_server.py"

# Test -> why it does not apply to trialog. (pytest deselects by prefix: each id ends with its
# parameters' "[", so that no other test whose name starts alike is left out.)
DESELECTED = {
    "study_tests/test_study.py::test_get_trials[": (
        "asserts that get_trials(deepcopy=True) calls copy.deepcopy; trialog builds new "
        "objects on every call, so there is nothing to copy (Optuna skips its gRPC proxy for "
        "the same reason)"
    ),
    "storages_tests/test_heartbeat.py::test_heartbeat_experimental_warnings[": (
        "asserts RDBStorage's ExperimentalWarning for heartbeat_interval; trialog's heartbeats "
        "are not an experimental feature"
    ),
}


def optuna_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import optuna; print(optuna.__version__)"],
        check=True, capture_output=True, text=True).stdout.strip()


def fetch_tests(python: str, into: Path) -> Path:
    """Optuna's `tests/` from the source distribution of the installed version, under `into`."""
    version = optuna_version(python)
    subprocess.run(
        [python, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         f"optuna=={version}", "-d", str(into)],
        check=True)
    archive = into / f"optuna-{version}.tar.gz"
    prefix = f"optuna-{version}/tests/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        if not members:
            sys.exit(f"run.py: {archive} holds no {prefix}")
        for m in members:
            m.name = m.name[len(f"optuna-{version}/"):]
        tar.extractall(into, members=members, filter="data")
    return into / "tests"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--optuna-tests", type=Path,
                   help="an unpacked Optuna tests/ directory (default: download the sdist)")
    p.add_argument("--python", default=sys.executable,
                   help="the interpreter with optuna and trialog installed")
    p.add_argument("--modes", default=",".join(ALL_MODES),
                   help="storage modes, comma-separated (default: all of them)")
    p.add_argument("--trialog-bin", type=Path, default=ROOT / "target" / "debug" / "trialog",
                   help="the trialog CLI for the serve modes (default: the debug build)")
    p.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    a = p.parse_args()
    modes = a.modes.split(",")
    if any(m.startswith("trialog_serve") for m in modes) and not a.trialog_bin.is_file():
        sys.exit(f"run.py: {a.trialog_bin} not found: build it (cargo build) or pass "
                 "--trialog-bin, or leave out the trialog_serve modes")
    with tempfile.TemporaryDirectory(prefix="trialog-optuna-suites-") as scratch:
        tests = a.optuna_tests or fetch_tests(a.python, Path(scratch))
        tests = tests.resolve()
        cmd = [a.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "trialog_optuna_plugin", "--rootdir", str(tests.parent)]
        cmd += [str(tests / s) for s in SUITES]
        for test, reason in DESELECTED.items():
            print(f"deselected {test}: {reason}", flush=True)
            # Node ids are relative to the root directory.
            cmd += ["--deselect", f"{tests.name}/{test}"]
        cmd += a.pytest_args
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        env["TRIALOG_MODES"] = ",".join(modes)
        env["TRIALOG_BIN"] = str(a.trialog_bin.resolve())
        # From the scratch directory: `import optuna` must find the installed package, never a
        # source tree beside the tests.
        status = subprocess.run(cmd, cwd=scratch, env=env).returncode
        # test_with_server.py: one long-lived journal per format that its tests share, written
        # by threads and by 8 worker processes.
        for fmt in [f for m, f in (("trialog", "trialog"), ("trialog_optuna", "optuna"))
                    if m in modes]:
            print(f"{WITH_SERVER} on one {fmt}-format journal", flush=True)
            journal = Path(scratch) / f"with-server.{fmt}"
            with_server = cmd[:cmd.index("--rootdir") + 2] + [str(tests / WITH_SERVER)]
            with_server += a.pytest_args
            env_fmt = dict(env, TRIALOG_WITH_SERVER_JOURNAL=str(journal),
                           TRIALOG_WITH_SERVER_FORMAT=fmt)
            status = max(status, subprocess.run(with_server, cwd=scratch, env=env_fmt).returncode)
        return status


if __name__ == "__main__":
    sys.exit(main())
