"""Optuna's own storage conformance suite against `trialog.JournalStorage`, over both journal
formats (a fresh journal per test). After each test a fresh handle on the same file must replay
to what the test's handle answers, and an Optuna-format journal must replay the same in Optuna's
own JournalStorage, parameters in the same order (Optuna's: the order they were set in).
"""

from __future__ import annotations

import json

import pytest
from optuna.testing.pytest_storages import StorageTestCase

import trialog


def js(value) -> str:
    return json.dumps(value, sort_keys=True)


def view(storage) -> list:
    out = []
    for s in sorted(storage.get_all_studies(), key=lambda s: s._study_id):
        trials = storage.get_all_trials(s._study_id)
        out.append((s._study_id, s.study_name, s.directions, js(s.user_attrs), js(s.system_attrs),
                    [(t._trial_id, t.number, t.state, repr(t.values), repr(list(t.params.items())),
                      list(t.distributions.items()), js(t.user_attrs), js(t.system_attrs),
                      repr(sorted(t.intermediate_values.items())), t.datetime_start,
                      t.datetime_complete) for t in trials]))
    return out


class TestJournalStorage(StorageTestCase):
    @pytest.fixture
    def storage(self, journal, fmt):
        storage = trialog.JournalStorage(journal, format=fmt)
        yield storage
        answered = view(storage)
        assert view(trialog.JournalStorage(journal, format=fmt)) == answered
        if fmt == "optuna":
            import optuna
            from optuna.storages.journal import JournalFileBackend

            python = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
            assert view(python) == answered
