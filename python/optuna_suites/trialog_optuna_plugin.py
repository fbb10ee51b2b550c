"""A pytest plugin that points Optuna's own storage-parametrized tests at trialog.

Optuna's tests take their storages from `optuna.testing.storages`: the list `STORAGE_MODES`
(and `STORAGE_MODES_HEARTBEAT` for the heartbeat tests) and the context manager
`StorageSupplier(mode, **kwargs)`. Loaded with `-p trialog_optuna_plugin` before collection,
this plugin replaces both lists, in place (test modules import the list objects), with trialog's
modes and teaches `StorageSupplier` to open them:

  trialog               trialog.JournalStorage(<temp file>)                   trialog's format
  trialog_optuna        trialog.JournalStorage(<temp file>, format="optuna")  Optuna's JSON lines
  trialog_serve         GrpcStorageProxy to `trialog serve` on <temp file>     trialog's format
  trialog_serve_optuna  GrpcStorageProxy to `trialog serve --format optuna`    Optuna's JSON lines

The keyword arguments a test passes to `StorageSupplier` (heartbeat_interval, grace_period,
heartbeat_stale_trial_callback, failed_trial_callback) go to `trialog.JournalStorage` as they
would to `RDBStorage`. The heartbeat tests run on `trialog` only: an Optuna-format journal
cannot hold heartbeats (docs/PYTHON.md), and Optuna's gRPC protocol has none. `TRIALOG_MODES`
(comma-separated; default `trialog,trialog_optuna`) chooses the modes; the serve modes start
`$TRIALOG_BIN serve` (default `trialog` on the PATH) on a free port of 127.0.0.1 for each
storage and stop it with the storage.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import time

import optuna
import optuna.testing.storages as storages
from optuna.testing.tempfile_pool import NamedTemporaryFilePool

import trialog

MODES = {
    "trialog": "trialog",
    "trialog_optuna": "optuna",
    "trialog_serve": "trialog",
    "trialog_serve_optuna": "optuna",
}
_chosen = os.environ.get("TRIALOG_MODES", "trialog,trialog_optuna").split(",")
unknown = [m for m in _chosen if m not in MODES]
if unknown:
    raise ValueError(f"TRIALOG_MODES: unknown modes {unknown} (known: {sorted(MODES)})")

_optuna_enter = storages.StorageSupplier.__enter__
_optuna_exit = storages.StorageSupplier.__exit__


def _serve(journal: str, fmt: str):
    """`trialog serve` on `journal` at a port of 127.0.0.1 the system picks, once it listens:
    the process and the port (read from its "listening on 127.0.0.1:PORT for ..." line, so no
    other process can take the port between choosing it and binding it)."""
    log = tempfile.TemporaryFile()
    args = [os.environ.get("TRIALOG_BIN", "trialog"), "serve", "--journal", journal,
            "--host", "127.0.0.1", "--port", "0", "--format", fmt]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)

    # The server writes at the file offset it shares with `log`: read with pread, which leaves
    # that offset alone. (A seek between two of the server's writes once made the next one
    # overwrite "listening on", and this loop waited out its 30 s.)
    def printed() -> str:
        return os.pread(log.fileno(), 1 << 16, 0).decode(errors="replace")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listening = re.search(r"listening on 127\.0\.0\.1:(\d+) ", printed())
        if listening:
            return proc, int(listening.group(1))
        if proc.poll() is not None:
            raise RuntimeError(f"trialog serve exited: {printed()}")
        time.sleep(0.01)
    proc.kill()
    raise RuntimeError(f"trialog serve did not start within 30 s: {printed()!r}")


def _enter(self):
    fmt = MODES.get(self.storage_specifier)
    if fmt is None:
        return _optuna_enter(self)
    # As Optuna's own journal mode: a temporary file that the supplier's __exit__ closes.
    self.tempfile = self.extra_args.get("file", NamedTemporaryFilePool().tempfile())
    if self.storage_specifier.startswith("trialog_serve"):
        self.trialog_server, port = _serve(self.tempfile.name, fmt)
        self.storage = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=port)
        return self.storage
    kwargs = {k: v for k, v in self.extra_args.items() if k != "file"}
    self.storage = trialog.JournalStorage(self.tempfile.name, format=fmt, **kwargs)
    return self.storage


def _exit(self, *exc):
    server = getattr(self, "trialog_server", None)
    if server is not None:
        self.storage.close()
        server.terminate()
        server.wait(timeout=15)
        self.trialog_server = None
    return _optuna_exit(self, *exc)


storages.StorageSupplier.__enter__ = _enter
storages.StorageSupplier.__exit__ = _exit
storages.STORAGE_MODES[:] = _chosen
# Heartbeats need the trialog format, and Optuna's gRPC protocol has none.
storages.STORAGE_MODES_HEARTBEAT[:] = [m for m in _chosen if m == "trialog"]


# Optuna's tests/storages_tests/test_with_server.py takes one long-lived storage from its own
# `get_storage()` (a database server named by TEST_DB_URL): with TRIALOG_WITH_SERVER_JOURNAL set,
# that storage is `trialog.JournalStorage` on that journal, in TRIALOG_WITH_SERVER_FORMAT
# (`trialog` or `optuna`). Its worker processes (forked) call the replaced function too.
@contextlib.contextmanager
def _with_server_storage():
    path = os.environ["TRIALOG_WITH_SERVER_JOURNAL"]
    fmt = os.environ.get("TRIALOG_WITH_SERVER_FORMAT", "trialog")
    yield trialog.JournalStorage(path, format=fmt)


def pytest_collection_modifyitems(session, config, items):
    if "TRIALOG_WITH_SERVER_JOURNAL" not in os.environ:
        return
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__name__.endswith("test_with_server"):
            module.get_storage = _with_server_storage
