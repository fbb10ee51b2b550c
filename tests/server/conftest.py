"""Fixtures for the server tests: a fresh `trialog serve` and journal per test.

The binary is $TRIALOG_BIN, else target/debug/trialog (build it first: `cargo build`).
After each test that used a server, the journal replayed by a fresh trialog handle must equal
what the server answers (`trialog dump` of the file vs. of grpc://), and an Optuna-format
journal must also replay in Python's own JournalStorage to the same studies and trials.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("TRIALOG_BIN", ROOT / "target" / "debug" / "trialog"))


class Server:
    """A running `trialog serve` on a journal."""

    def __init__(self, journal: Path, fmt: str) -> None:
        self.journal = journal
        self.fmt = fmt
        self.port = 0  # the port the server picked, once it listens
        self.log = journal.with_suffix(".log.txt")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        # Port 0: the server picks a free port and prints it, so no other process can take it
        # between choosing and binding.
        args = [str(BIN), "serve", "--journal", str(self.journal), "--port", "0"]
        if self.fmt == "optuna":
            args += ["--format", "optuna"]
        # Only this start's lines count (the log is appended to).
        earlier = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(args, stderr=open(self.log, "ab"), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            printed = self.log.read_bytes()[earlier:].decode(errors="replace")
            listening = re.search(r"listening on 127\.0\.0\.1:(\d+) ", printed)
            if listening:
                self.port = int(listening.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"trialog serve exited: {self.log.read_text()}")
            time.sleep(0.02)
        raise RuntimeError("trialog serve did not start")

    def stop(self, sig: int | None = None) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
        code = self.proc.wait(timeout=15)
        self.proc = None
        return code

    @property
    def url(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    def proxy(self):
        import optuna

        return optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=self.port)


def dump(where: str) -> dict:
    out = subprocess.run([str(BIN), "dump", where], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def python_view(journal: Path) -> list:
    """Studies and trials as Python's JournalStorage replays an Optuna-format journal."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    return studies_view(storage)


def studies_view(storage) -> list:
    view = []
    for s in sorted(storage.get_all_studies(), key=lambda s: s._study_id):
        trials = storage.get_all_trials(s._study_id)
        view.append(
            (
                s._study_id,
                s.study_name,
                [d.name for d in s.directions],
                json.dumps(s.user_attrs, sort_keys=True),
                json.dumps(s.system_attrs, sort_keys=True),
                [
                    (
                        t._trial_id,
                        t.number,
                        t.state.name,
                        repr(t.values),
                        json.dumps(sorted((k, repr(v)) for k, v in t.params.items())),
                        json.dumps(t.user_attrs, sort_keys=True),
                        json.dumps(t.system_attrs, sort_keys=True),
                        repr(sorted(t.intermediate_values.items())),
                        str(t.datetime_start),
                        str(t.datetime_complete),
                    )
                    for t in trials
                ],
            )
        )
    return view


@pytest.fixture(params=["trialog", "optuna"])
def server(request, tmp_path):
    suffix = ".journal" if request.param == "trialog" else ".log"
    srv = Server(tmp_path / f"study{suffix}", request.param)
    yield srv
    if srv.proc is not None:
        answered = dump(srv.url)
        proxy_view = studies_view(srv.proxy())
        assert srv.stop() == 0, srv.log.read_text()
        replayed = dump(str(srv.journal))
        assert replayed == answered, "a fresh replay of the journal differs from the server"
        if srv.fmt == "optuna" and srv.journal.exists() and srv.journal.stat().st_size > 0:
            assert python_view(srv.journal) == proxy_view, "Python's replay differs from the server"
