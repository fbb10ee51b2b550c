"""`trialog.JournalStorage`: Optuna's BaseStorage and BaseHeartbeat over trialog's engine."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.study._frozen import FrozenStudy
from optuna.study._study_direction import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from trialog._trialog import Engine

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)
_FORMATS = ("trialog", "optuna")


def _micros(dt: datetime.datetime | None) -> int | None:
    """A datetime as exact microseconds since the epoch (a naive one is local time, as Optuna's
    storages write them)."""
    if dt is None:
        return None
    return (dt.astimezone(datetime.timezone.utc) - _EPOCH) // _MICROSECOND


def _json(value: Any) -> str:
    # What Optuna's JournalStorage writes: the value as JSON (a value JSON cannot hold raises
    # TypeError, as there).
    return json.dumps(value)


class JournalStorage(BaseStorage, BaseHeartbeat):
    """An Optuna storage over a trialog journal file (or, with ``format="optuna"``, an Optuna
    JSON-lines journal shared with plain Optuna workers).

    Args:
        path: The journal file (created if missing, unless ``create=False``).
        format: ``"trialog"`` (CRC-framed, checksummed; default) or ``"optuna"`` (Optuna's
            JSON-lines format, readable and writable by ``optuna.storages.JournalStorage``).
        lock: The writers' lock: ``"advisory"`` (default), ``"open-file"`` or ``"symlink"`` for
            the trialog format; ``"symlink"`` (default) or ``"open-file"`` for the Optuna format
            (Optuna's ``JournalFileSymlinkLock`` / ``JournalFileOpenLock``).
        lock_timeout: Seconds to wait for the lock before raising ``trialog.LockError``
            (default: wait while the holder lives).
        lock_grace_period: Seconds after which a silent lease-lock holder is presumed dead
            (default 30).
        recovery: What replay does with damaged bytes: ``"tolerate-corrupted-tail"`` (default),
            ``"absolute-consistency"``, ``"point-in-time"`` or ``"skip-any-corrupted"``.
        create: Create the journal if it does not exist (default True).
        heartbeat_interval: Seconds between heartbeats of a running trial; enables Optuna's
            heartbeat protocol (``optimize`` then fails stale trials).
        grace_period: Seconds a running trial's heartbeats must stand still before it is stale
            (default twice the interval).
        heartbeat_stale_trial_callback: Called with ``(study, trial)`` for each trial failed as
            stale (e.g. ``optuna.storages.RetryFailedTrialCallback()``); ``failed_trial_callback``
            is its older name.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: str = "trialog",
        lock: str | None = None,
        lock_timeout: float | None = None,
        lock_grace_period: float | None = None,
        recovery: str | None = None,
        create: bool = True,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        heartbeat_stale_trial_callback: Callable[["optuna.Study", FrozenTrial], None]
        | None = None,
        failed_trial_callback: Callable[["optuna.Study", FrozenTrial], None] | None = None,
    ) -> None:
        if format not in _FORMATS:
            raise ValueError(f"unknown format {format!r} (expected 'trialog' or 'optuna')")
        if heartbeat_stale_trial_callback is None:
            heartbeat_stale_trial_callback = failed_trial_callback
        self._path = os.fspath(path)
        self._options = dict(
            format=format,
            lock=lock,
            lock_timeout=lock_timeout,
            lock_grace_period=lock_grace_period,
            recovery=recovery,
            create=create,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=heartbeat_stale_trial_callback,
        )
        self._callback = heartbeat_stale_trial_callback
        self._engine = Engine(
            self._path,
            format,
            lock,
            lock_timeout,
            lock_grace_period,
            recovery,
            create,
            heartbeat_interval,
            grace_period,
        )

    # Pickling re-opens the journal by path with the same options (for multiprocessing).
    def __reduce__(self):
        return (_reopen, (self._path, self._options))

    @property
    def path(self) -> str:
        """The journal's path."""
        return self._path

    def __repr__(self) -> str:
        return f"trialog.JournalStorage({self._path!r}, format={self._options['format']!r})"

    # ---- studies -----------------------------------------------------------------------

    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        return self._engine.create_new_study([int(d.value) for d in directions], study_name)

    def delete_study(self, study_id: int) -> None:
        self._engine.delete_study(study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._engine.set_study_attr(study_id, False, key, _json(value))

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._engine.set_study_attr(study_id, True, key, _json(value))

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._engine.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._engine.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self._engine.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._engine.get_study_attrs(study_id, False)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._engine.get_study_attrs(study_id, True)

    def get_all_studies(self) -> list[FrozenStudy]:
        return self._engine.get_all_studies()

    # ---- trials ------------------------------------------------------------------------

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None:
            return self._engine.create_new_trial(study_id)
        t = template_trial
        template = (
            int(t.state.value),
            None if t.values is None else [float(v) for v in t.values],
            _micros(t.datetime_start),
            _micros(t.datetime_complete),
            [
                (name, distribution_to_json(t.distributions[name]),
                 t.distributions[name].to_internal_repr(value))
                for name, value in t.params.items()
            ],
            [(k, _json(v)) for k, v in t.user_attrs.items()],
            [(k, _json(v)) for k, v in t.system_attrs.items()],
            [(int(step), float(v)) for step, v in t.intermediate_values.items()],
        )
        return self._engine.create_new_trial(study_id, template)

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        self._engine.set_trial_param(
            trial_id, param_name, param_value_internal, distribution_to_json(distribution)
        )

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._engine.get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return self._engine.get_trial_number_from_id(trial_id)

    def get_trial_param(self, trial_id: int, param_name: str) -> float:
        return self._engine.get_trial_param(trial_id, param_name)

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        return self._engine.set_trial_state_values(
            trial_id, int(state.value), None if values is None else [float(v) for v in values]
        )

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        self._engine.set_trial_intermediate_value(trial_id, step, intermediate_value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._engine.set_trial_attr(trial_id, False, key, _json(value))

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._engine.set_trial_attr(trial_id, True, key, _json(value))

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self._engine.get_trial(trial_id)

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        # Every call builds fresh objects, so `deepcopy` changes nothing.
        codes = None if states is None else [int(s.value) for s in TrialState if s in states]
        return self._engine.get_all_trials(study_id, codes)

    def get_n_trials(
        self, study_id: int, state: tuple[TrialState, ...] | TrialState | None = None
    ) -> int:
        if isinstance(state, TrialState):
            state = (state,)
        codes = None if state is None else [int(s.value) for s in state]
        return self._engine.get_n_trials(study_id, codes)

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        return self._engine.get_best_trial(study_id)

    # ---- heartbeats --------------------------------------------------------------------

    def record_heartbeat(self, trial_id: int) -> None:
        self._engine.record_heartbeat(trial_id)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return self._engine.stale_trial_ids(study_id)

    def get_heartbeat_interval(self) -> int | None:
        return self._engine.heartbeat_interval()

    def get_heartbeat_stale_trial_callback(
        self,
    ) -> Callable[["optuna.Study", FrozenTrial], None] | None:
        return self._callback


def _reopen(path: str, options: dict) -> JournalStorage:
    return JournalStorage(path, **options)
