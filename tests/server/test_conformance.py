"""Optuna's own storage conformance suite against `trialog serve`, through GrpcStorageProxy.

A fresh server and journal per test, over both journal formats; after each test the journal
replayed by a fresh trialog handle (and, for the Optuna format, by Python's JournalStorage)
must equal what the server answered (conftest.py). `test_get_all_trials_params_order` is
skipped as Optuna's own suite skips it for the proxy: the protocol's map loses the order.
"""

import warnings

import pytest
from optuna.testing.pytest_storages import StorageTestCase

warnings.filterwarnings("ignore", category=Warning, module="optuna")


class TestTrialogServer(StorageTestCase):
    @pytest.fixture
    def storage(self, server):
        return server.proxy()

    def test_get_all_trials_params_order(self, storage):
        pytest.skip("the protocol's map loses parameter order (Optuna skips it for the proxy too)")

