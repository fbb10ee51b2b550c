"""trialog's crash-safe, checksummed journal as an ordinary Optuna storage.

    import optuna, trialog
    storage = trialog.JournalStorage("study.journal")
    study = optuna.create_study(storage=storage, study_name="x", load_if_exists=True)

See docs/PYTHON.md for the options and the exceptions.
"""

from trialog._storage import JournalStorage
from trialog._trialog import CorruptJournalError, LockError, TrialogError

__all__ = ["JournalStorage", "TrialogError", "CorruptJournalError", "LockError"]
