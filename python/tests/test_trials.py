"""The `FrozenTrial` objects `get_all_trials` and `get_trial` build: equal to the ones Optuna's
own JournalStorage returns for the same calls, laid out as Optuna's constructor lays them out,
and each call's objects the caller's own (mutating one changes no later answer)."""

from __future__ import annotations

import copy
import datetime
import gc
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import JournalStorage as OptunaJournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

import trialog


def _fill(storage: optuna.storages.BaseStorage) -> int:
    """The same calls on any storage: trials in every state, with parameters of several
    distributions, attributes, intermediate values (some at steps outside 64 bits) and values."""
    sid = storage.create_new_study([StudyDirection.MINIMIZE], "s")
    dists = {
        "x": FloatDistribution(-10.0, 10.0),
        "n": IntDistribution(1, 64, log=True),
        "c": CategoricalDistribution(["a", 1, None, 2.5]),
    }
    for i in range(6):
        tid = storage.create_new_trial(sid)
        storage.set_trial_param(tid, "x", i / 3, dists["x"])
        storage.set_trial_param(tid, "n", 2**i, dists["n"])
        storage.set_trial_param(tid, "c", i % 4, dists["c"])
        storage.set_trial_user_attr(tid, "u", {"i": i, "l": [1, "two", None]})
        storage.set_trial_system_attr(tid, "s", i)
        for step in range(i):
            storage.set_trial_intermediate_value(tid, step, step * 0.5)
        if i == 1:
            # Python's ints have no size limit: steps outside 64 bits are Optuna data too.
            storage.set_trial_intermediate_value(tid, 2**64, 0.25)
            storage.set_trial_intermediate_value(tid, -(2**63) - 1, 0.5)
        state = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING][
            i % 4
        ]
        if state != TrialState.RUNNING:
            values = [float(i)] if state == TrialState.COMPLETE else None
            storage.set_trial_state_values(tid, state, values)
    storage.create_new_trial(
        sid,
        FrozenTrial(
            number=0,
            state=TrialState.WAITING,
            value=None,
            datetime_start=None,
            datetime_complete=None,
            params={"x": 1.5},
            distributions={"x": dists["x"]},
            user_attrs={},
            system_attrs={"fixed_params": {"x": 1.5}},
            intermediate_values={10**30: 1.0},
            trial_id=0,
        ),
    )
    return sid


def _same_except_datetimes(ours: list[FrozenTrial], theirs: list[FrozenTrial]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        # The datetimes are each storage's own clock readings.
        assert (a.datetime_start is None) == (b.datetime_start is None)
        assert (a.datetime_complete is None) == (b.datetime_complete is None)
        a_fields = {k: v for k, v in vars(a).items() if "datetime" not in k}
        b_fields = {k: v for k, v in vars(b).items() if "datetime" not in k}
        assert a_fields == b_fields
        assert list(vars(a)) == list(vars(b))


def test_trials_equal_optunas(journal: Path, fmt: str, tmp_path: Path) -> None:
    ours = trialog.JournalStorage(journal, format=fmt)
    theirs = OptunaJournalStorage(JournalFileBackend(str(tmp_path / "optuna.log")))
    sid, their_sid = _fill(ours), _fill(theirs)
    for deepcopy in (True, False):
        for states in (None, (TrialState.COMPLETE,), (TrialState.RUNNING, TrialState.WAITING)):
            _same_except_datetimes(
                ours.get_all_trials(sid, deepcopy=deepcopy, states=states),
                theirs.get_all_trials(their_sid, deepcopy=deepcopy, states=states),
            )
    # And through a fresh handle (replayed from the file).
    _same_except_datetimes(
        trialog.JournalStorage(journal, format=fmt).get_all_trials(sid),
        theirs.get_all_trials(their_sid),
    )


def test_trials_have_the_constructors_layout(journal: Path, fmt: str) -> None:
    """A trial is what `FrozenTrial(...)` builds from its fields, down to the instance's
    attribute layout (its `__dict__` the size the constructor's is: the class's shared keys,
    not a dict of its own per trial)."""
    storage = trialog.JournalStorage(journal, format=fmt)
    sid = _fill(storage)
    trials = storage.get_all_trials(sid)
    for t in trials + [storage.get_trial(trials[0]._trial_id)]:
        ref = FrozenTrial(
            number=t.number,
            state=t.state,
            value=None,
            values=t.values,
            datetime_start=t.datetime_start,
            datetime_complete=t.datetime_complete,
            params=t.params,
            distributions=t.distributions,
            user_attrs=t.user_attrs,
            system_attrs=t.system_attrs,
            intermediate_values=t.intermediate_values,
            trial_id=t._trial_id,
        )
        assert t == ref
        assert list(vars(t)) == list(vars(ref))
        assert sys.getsizeof(vars(t)) == sys.getsizeof(vars(ref))


def _contents(t: FrozenTrial) -> tuple:
    """A copy of what `t` holds (its containers copied, so later changes to `t` leave it)."""
    values = None if t.values is None else list(t.values)
    return (t.number, t.state, values, dict(t.params), dict(t.distributions),
            copy.deepcopy(t.user_attrs), dict(t.system_attrs), dict(t.intermediate_values),
            t.datetime_start, t.datetime_complete)


def test_mutating_a_returned_trial_changes_no_later_answer(journal: Path, fmt: str) -> None:
    storage = trialog.JournalStorage(journal, format=fmt)
    sid = _fill(storage)
    for deepcopy in (True, False):
        before = storage.get_all_trials(sid, deepcopy=deepcopy)
        expected = [_contents(t) for t in before]
        for t in before:
            t.params["x"] = "changed"
            t.distributions.clear()
            t.user_attrs["new"] = 1
            t.system_attrs.clear()
            t.intermediate_values[99] = 1.0
            t.state = TrialState.FAIL
            t.datetime_start = datetime.datetime(2000, 1, 1)
            if t.values is not None:
                t.values.append(5.0)
        after = storage.get_all_trials(sid, deepcopy=deepcopy)
        assert [_contents(t) for t in after] == expected


def test_a_large_answer_adds_nothing_for_the_cyclic_collector_to_walk(
    journal: Path, fmt: str
) -> None:
    """The trials of `get_all_trials` and the containers built for them hold no reference cycle,
    so they are kept out of the cyclic collector's view (a collection after 100k trials walked
    them all, 0.3-0.6 s); shared objects stay in view, and a container the caller fills with
    a container is tracked again."""
    storage = trialog.JournalStorage(journal, format=fmt)
    sid = storage.create_new_study([StudyDirection.MINIMIZE], "s")
    dist = FloatDistribution(-10.0, 10.0)
    n = 300
    for i in range(n):
        tid = storage.create_new_trial(sid)
        storage.set_trial_param(tid, "x", i / 7, dist)
        storage.set_trial_user_attr(tid, "u", i)
        storage.set_trial_intermediate_value(tid, 0, float(i))
        storage.set_trial_state_values(tid, TrialState.COMPLETE, [float(i)])
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = len(gc.get_objects())
        trials = storage.get_all_trials(sid, deepcopy=False)
        added = len(gc.get_objects()) - before
    finally:
        if was_enabled:
            gc.enable()
    assert len(trials) == n
    # The answer's list and the distribution object shared by all trials, not 5 per trial.
    assert added < 20, added
    t = trials[0]
    for fresh in (t, t.params, t.distributions, t.user_attrs, t.system_attrs,
                  t.intermediate_values, t.values):
        assert not gc.is_tracked(fresh), fresh
    assert gc.is_tracked(t.state) and gc.is_tracked(t.distributions["x"])
    t.user_attrs["later"] = [1, 2]
    assert gc.is_tracked(t.user_attrs)
    # A single trial, as Optuna builds one, keeps the collector's default.
    assert gc.is_tracked(storage.get_trial(t._trial_id))


def test_many_trials_from_a_snapshot_come_back_as_the_writer_sees_them(
    journal: Path, fmt: str
) -> None:
    """Past 4,096 trials `get_all_trials` takes them from the engine in batches on a helper
    thread while it builds them, and a handle opened from a snapshot decodes them as the
    batches go: the same trials in the same order as the writing handle answers, for every
    states filter, and a deleted study is still a KeyError."""
    from conftest import BIN

    if not BIN.exists():
        pytest.skip(f"build the trialog CLI first ({BIN})")
    writer = trialog.JournalStorage(journal, format=fmt)
    sid = writer.create_new_study([StudyDirection.MINIMIZE], "s")
    dist = FloatDistribution(0.0, 1.0)
    n = 2 * 4096 + 300
    for i in range(n):
        state = TrialState.FAIL if i % 3 == 0 else TrialState.COMPLETE
        writer.create_new_trial(sid, FrozenTrial(
            number=0, state=state, value=None if state == TrialState.FAIL else float(i),
            datetime_start=datetime.datetime(2026, 1, 1),
            datetime_complete=datetime.datetime(2026, 1, 2),
            params={"x": i / n}, distributions={"x": dist}, user_attrs={}, system_attrs={},
            intermediate_values={}, trial_id=0))
    subprocess.run([str(BIN), "snapshot", str(journal)], check=True, capture_output=True)
    reader = trialog.JournalStorage(journal, format=fmt)
    for states in (None, (TrialState.COMPLETE,), (TrialState.WAITING,)):
        got = reader.get_all_trials(sid, deepcopy=False, states=states)
        assert got == writer.get_all_trials(sid, deepcopy=False, states=states), states
    assert len(got) == 0 and len(reader.get_all_trials(sid)) == n
    writer.delete_study(sid)
    with pytest.raises(KeyError):
        reader.get_all_trials(sid)


@pytest.mark.parametrize(
    "start",
    [
        datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
        datetime.datetime(1999, 12, 31, 23, 59, 59),
        datetime.datetime(2038, 1, 19, 3, 14, 8, 0x010203),
        datetime.datetime(1970, 1, 1, 0, 0, 0, 1),
        datetime.datetime(9000, 7, 4, 12, 30, 45, 500000),
    ],
)
def test_datetimes_come_back_as_given(journal: Path, fmt: str, start: datetime.datetime) -> None:
    """Every field of a trial's datetimes (the year's two bytes, the microsecond's three)
    comes back as the template gave it, from the handle and from a fresh one."""
    storage = trialog.JournalStorage(journal, format=fmt)
    sid = storage.create_new_study([StudyDirection.MINIMIZE], "s")
    complete = start + datetime.timedelta(days=1, microseconds=257)
    template = FrozenTrial(
        number=0,
        state=TrialState.COMPLETE,
        value=1.0,
        datetime_start=start,
        datetime_complete=complete,
        params={},
        distributions={},
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=0,
    )
    tid = storage.create_new_trial(sid, template)
    for s in (storage, trialog.JournalStorage(journal, format=fmt)):
        for t in (s.get_trial(tid), s.get_all_trials(sid)[0]):
            assert type(t.datetime_start) is datetime.datetime
            assert (t.datetime_start, t.datetime_complete) == (start, complete)
            assert t.datetime_start.tzinfo is None and t.datetime_start.fold == 0


REORDERED = """
import subprocess
import sys
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

original = FrozenTrial.__init__


def reordered(self, *args, **kwargs):  # the same attributes, set in the reverse order
    original(self, *args, **kwargs)
    fields = dict(vars(self))
    for name in fields:
        delattr(self, name)
    for name in reversed(list(fields)):
        setattr(self, name, fields[name])


FrozenTrial.__init__ = reordered
import trialog

storage = trialog.JournalStorage(sys.argv[1], format=sys.argv[2])
sid = storage.create_new_study([StudyDirection.MINIMIZE], "s")
storage.create_new_trial(sid)
t = storage.get_all_trials(sid)[0]
ref = FrozenTrial(t.number, t.state, None, t.datetime_start, t.datetime_complete, t.params,
                  t.distributions, t.user_attrs, t.system_attrs, t.intermediate_values,
                  t._trial_id)
assert list(vars(ref))[0] == "_trial_id", list(vars(ref))
assert list(vars(t)) == list(vars(ref)), (list(vars(t)), list(vars(ref)))
"""


def test_an_optuna_setting_other_attributes_or_order_gets_its_own_constructor(
    journal: Path, fmt: str
) -> None:
    """Trials are built without `FrozenTrial.__init__` only while it sets exactly the
    attributes the bindings set, in their order; otherwise its own constructor builds them."""
    subprocess.run([sys.executable, "-c", REORDERED, str(journal), fmt], check=True)
