"""A pytest plugin that points Optuna's own storage-parametrized tests at trialog.

Optuna's tests take their storages from `optuna.testing.storages`: the list `STORAGE_MODES`
(and `STORAGE_MODES_HEARTBEAT` for the heartbeat tests) and the context manager
`StorageSupplier(mode, **kwargs)`. Loaded with `-p trialog_optuna_plugin` before collection,
this plugin replaces both lists, in place (test modules import the list objects), with trialog's
modes and teaches `StorageSupplier` to open them:

  trialog         trialog.JournalStorage(<temp file>)                   trialog's format
  trialog_optuna  trialog.JournalStorage(<temp file>, format="optuna")  Optuna's JSON lines

The keyword arguments a test passes to `StorageSupplier` (heartbeat_interval, grace_period,
heartbeat_stale_trial_callback, failed_trial_callback) go to `trialog.JournalStorage` as they
would to `RDBStorage`. The heartbeat tests run on the trialog format only: an Optuna-format
journal cannot hold heartbeats (docs/PYTHON.md). `TRIALOG_MODES` (comma-separated) narrows the
modes.
"""

from __future__ import annotations

import os

import optuna.testing.storages as storages
from optuna.testing.tempfile_pool import NamedTemporaryFilePool

import trialog

MODES = {"trialog": "trialog", "trialog_optuna": "optuna"}
_chosen = os.environ.get("TRIALOG_MODES", ",".join(MODES)).split(",")
unknown = [m for m in _chosen if m not in MODES]
if unknown:
    raise ValueError(f"TRIALOG_MODES: unknown modes {unknown} (known: {sorted(MODES)})")

_optuna_enter = storages.StorageSupplier.__enter__


def _enter(self):
    fmt = MODES.get(self.storage_specifier)
    if fmt is None:
        return _optuna_enter(self)
    # As Optuna's own journal mode: a temporary file that the supplier's __exit__ closes.
    self.tempfile = self.extra_args.get("file", NamedTemporaryFilePool().tempfile())
    kwargs = {k: v for k, v in self.extra_args.items() if k != "file"}
    self.storage = trialog.JournalStorage(self.tempfile.name, format=fmt, **kwargs)
    return self.storage


storages.StorageSupplier.__enter__ = _enter
storages.STORAGE_MODES[:] = _chosen
storages.STORAGE_MODES_HEARTBEAT[:] = [m for m in _chosen if MODES[m] == "trialog"]
