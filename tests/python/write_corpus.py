"""Write the corpus of Optuna journals in tests/corpus/ and Optuna's own replay of each.

usage: python3 write_corpus.py OUTDIR

Each journal covers one part of Optuna's value space (docs/OPTUNA.md, "Values"):

  distributions.log  every distribution class and JSON spelling json_to_distribution reads,
                     Optuna's compatibility rule across classes, external values of odd
                     internal ones
  attrs.log          attribute values of every JSON type and edge value (ints of any size,
                     -0.0, NaN, infinities, 1e400, escapes, deep nesting, repeated keys)
  datetimes.log      datetimes with and without offsets, in and around DST changes
  ops.log            every op code Optuna replays, and the operations it writes and then
                     rejects at replay (ignored by every other reader)

Most lines are written by Optuna 5.0's own API. Lines that only older Optuna versions or other
writers produce (legacy distribution classes, naive datetimes, abbreviated distribution JSON,
Rustuna's op 10, losing claims, literal spellings such as 1e400) are appended as raw text; the
expected dumps prove Optuna 5.0 replays every one of them.

For each journal NAME and each zone Z in ZONES, NAME.Z.dump holds `dump.py NAME` run under TZ=Z:
the canonical dump of Optuna's own replay, which `trialog dump` must equal byte for byte
(tests/compat_values.rs). After regenerating, refresh the trialog-format fixtures too:
`TZ=UTC trialog import tests/corpus/NAME.log tests/corpus/NAME.journal` (remove the old ones
first).
"""

import json
import os
import subprocess
import sys
import warnings

import optuna
from optuna import distributions as D
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

ZONES = ["UTC", "America/New_York"]
HERE = os.path.dirname(os.path.abspath(__file__))


def fresh(path):
    if os.path.exists(path):
        os.remove(path)
    backend = JournalFileBackend(path)
    return backend, JournalStorage(backend)


def raw(path, *lines):
    """Append lines as another writer would (exact text, so spellings Python's json.dumps never
    produces can be tested)."""
    with open(path, "a", encoding="utf-8") as f:
        for line in lines:
            if not isinstance(line, str):
                line = json.dumps(line, separators=(",", ":"))
            f.write(line + "\n")


def try_(f, *args):
    """Optuna's API writes some operations and then raises when its replay rejects them."""
    try:
        f(*args)
    except Exception:
        pass


def dist_json(name, **attributes):
    return json.dumps({"name": name, "attributes": attributes})


def distributions(path):
    backend, storage = fresh(path)
    study = optuna.create_study(
        storage=storage, study_name="dists", sampler=optuna.samplers.RandomSampler(seed=3)
    )
    choices = [None, True, False, 0, 1, -1, 1.5, -0.0, float("nan"), float("inf"), "", "é 😀",
               10**30, -(2**63) - 1]
    for _ in range(3):
        t = study.ask()
        t.suggest_float("f", -1.0, 1.0)
        t.suggest_float("flog", 1e-5, 1e5, log=True)
        t.suggest_float("fstep", 0.0, 1.0, step=0.3)  # high moved to 0.9
        t.suggest_float("fstep_odd", 0.1, 0.95, step=0.2)
        t.suggest_int("i", -10, 10)
        t.suggest_int("ilog", 1, 1000, log=True)
        t.suggest_int("istep", 0, 10, step=3)  # high moved to 9
        t.suggest_categorical("c", choices)
        study.tell(t, 1.0)
    # Every choice, enqueued and added, so each appears as a value.
    for i, choice in enumerate(choices):
        study.add_trial(create_trial(params={"c": choice},
                                     distributions={"c": D.CategoricalDistribution(choices)},
                                     value=float(i)))
    sid = study._study_id
    legacy = optuna.create_study(storage=storage, study_name="legacy")
    lid = legacy._study_id
    start = "2024-01-02T03:04:05.000006+00:00"
    done = "2024-01-02T03:04:06.000000+00:00"
    legacy_dists = {
        "u": dist_json("UniformDistribution", low=0.0, high=1.0),
        "lu": dist_json("LogUniformDistribution", low=0.1, high=1.0),
        "du": dist_json("DiscreteUniformDistribution", low=0.0, high=1.0, q=0.25),
        "du_off": dist_json("DiscreteUniformDistribution", low=0.0, high=1.0, q=0.3),
        "iu": dist_json("IntUniformDistribution", step=2, low=1, high=9),
        "iu_nostep": dist_json("IntUniformDistribution", low=1, high=9),
        "ilu": dist_json("IntLogUniformDistribution", step=1, low=1, high=9),
    }
    params = {"u": 0.5, "lu": 0.5, "du": 0.75, "du_off": 0.3, "iu": 5.0, "iu_nostep": 2.0, "ilu": 4.0}
    for number in range(2):
        raw(path, {"op_code": 4, "worker_id": "optuna-2.10", "study_id": lid,
                   "datetime_start": start, "state": 1, "value": float(number), "values": None,
                   "datetime_complete": done, "distributions": legacy_dists, "params": params,
                   "user_attrs": {}, "system_attrs": {}, "intermediate_values": {}})
    # A RUNNING trial that takes parameters one by one (op 5), legacy and abbreviated spellings.
    raw(path, {"op_code": 4, "worker_id": "old-1", "study_id": lid, "datetime_start": start})
    tid = 3 + len(choices) + 2  # trials: 3 asked + choices added + 2 legacy templates
    spellings = [
        ("u", 0.25, legacy_dists["u"]),
        ("lu", 0.2, legacy_dists["lu"]),
        ("du", 0.5, legacy_dists["du"]),
        ("iu", 3.0, legacy_dists["iu"]),
        ("ilu", 2.0, legacy_dists["ilu"]),
        ("t_float", 0.5, json.dumps({"type": "float", "low": 0, "high": 1})),
        ("t_flog", 0.5, json.dumps({"type": "float", "low": 0.1, "high": 1, "log": True})),
        ("t_fstep", 0.6, json.dumps({"type": "float", "low": 0, "high": 1, "step": 0.3})),
        ("t_int", 7.0, json.dumps({"type": "int", "low": 0, "high": 10})),
        ("t_istep", 6.0, json.dumps({"type": "int", "low": 0, "high": 10, "step": 3, "x": 1})),
        ("t_cat", 1, json.dumps({"type": "categorical", "choices": ["a", 1, None]})),
        ("n_float_ints", 1.0, dist_json("FloatDistribution", low=0, high=2)),
        ("n_int_off", 4.0, dist_json("IntDistribution", low=0, high=10, step=4)),
        ("n_int_floats", 2.0, dist_json("IntDistribution", low=0.5, high=9.9, step=True)),
        ("n_float_step_off", 0.5, dist_json("FloatDistribution", step=0.25, low=0.0, high=1.1, log=False)),
        # external values of odd internal ones: int() truncation, negative categorical index
        ("x_trunc", 2.9, dist_json("IntDistribution", log=False, step=1, low=0, high=5)),
        ("x_neg_trunc", -2.9, dist_json("IntDistribution", log=False, step=1, low=-5, high=5)),
        ("x_huge", 1e20, dist_json("IntDistribution", log=False, step=1, low=0, high=5)),
        ("x_last", -1, dist_json("CategoricalDistribution", choices=["a", "b", "c"])),
        ("x_frac", 1.7, dist_json("CategoricalDistribution", choices=["a", "b", "c"])),
        ("x_big_choice", 0, dist_json("CategoricalDistribution", choices=[2**64, -(10**40)])),
    ]
    for name, value, dist in spellings:
        raw(path, {"op_code": 5, "worker_id": "old-1", "trial_id": tid, "param_name": name,
                   "param_value_internal": value, "distribution": dist})
    # Compatibility is by class: after "u" was a UniformDistribution, a FloatDistribution for it
    # is rejected, and the reverse; categorical choices compare with Python's ==.
    compat = optuna.create_study(storage=storage, study_name="compat")
    cid = compat._study_id
    for _ in range(2):
        raw(path, {"op_code": 4, "worker_id": "old-2", "study_id": cid, "datetime_start": start})
    first, second = tid + 1, tid + 2
    for trial, name, value, dist in [
        (first, "u", 0.5, legacy_dists["u"]),
        (first, "f", 0.5, dist_json("FloatDistribution", step=None, low=0.0, high=1.0, log=False)),
        (first, "c", 0, dist_json("CategoricalDistribution", choices=[1, 2.5])),
        (first, "d", 0, dist_json("CategoricalDistribution", choices=[1, 2.5])),
        (first, "il", 3.0, legacy_dists["ilu"]),
        (second, "u", 0.5, dist_json("FloatDistribution", step=None, low=0.0, high=1.0, log=False)),
        (second, "f", 0.5, legacy_dists["u"]),
        (second, "c", 1, dist_json("CategoricalDistribution", choices=[True, 2.5])),
        (second, "d", 1, dist_json("CategoricalDistribution", choices=["1", 2.5])),
        (second, "il", 3.0, dist_json("IntDistribution", log=True, step=1, low=1, high=9)),
    ]:
        raw(path, {"op_code": 5, "worker_id": "old-2", "trial_id": trial, "param_name": name,
                   "param_value_internal": value, "distribution": dist})
    storage.set_study_user_attr(sid, "done", True)


def attrs(path):
    backend, storage = fresh(path)
    study = optuna.create_study(storage=storage, study_name="attrs")
    sid = study._study_id
    deep = []
    cur = deep
    for _ in range(199):
        nxt = []
        cur.append(nxt)
        cur = nxt
    values = {
        "none": None, "true": True, "false": False, "zero": 0, "one": 1, "minus_one": -1,
        "i64_max": 2**63 - 1, "i64_min": -(2**63), "u64_first": 2**63, "u64_max": 2**64 - 1,
        "u64_past": 2**64, "i64_below": -(2**63) - 1, "googol": 10**100, "neg_huge": -(10**300),
        "digits_4300": int("9" * 4300),
        "f_zero": 0.0, "f_neg_zero": -0.0, "f_one": 1.0, "f_tenth": 0.1, "f_1e16": 1e16,
        "f_1e_5": 1e-5, "f_min": 5e-324, "f_max": 1.7976931348623157e308, "inf": float("inf"),
        "neg_inf": float("-inf"), "nan": float("nan"), "f_2_53": 9007199254740993.0,
        "empty": "", "escapes": "a\"b\\c\n\t\r\b\f\x00\x1f\x7f/", "unicode": "é 😀 \u2028 \ufeff",
        "lone_low": "\udc00", "lone_high_inside": "a\ud83dz", "reversed_pair": "\ude00\ud83d",
        "lone_nested": {"k": ["\udfff", "ok"]},
        "list": [1, 1.0, "1", None, True, [], {}], "dict": {"b": 1, "a": {"c": [], "é": -0.0}},
        "empty_list": [], "empty_dict": {}, "deep": deep,
        "mixed": {"big": [2**70, -(2**70)], "floats": [float("nan"), float("-inf")]},
    }
    for k, v in values.items():
        storage.set_study_user_attr(sid, k, v)
    storage.set_study_system_attr(sid, "sys", {"nested": [[[-1]]], "big": 2**100})
    t = study.ask()
    for k, v in values.items():
        storage.set_trial_user_attr(t._trial_id, k, v)
        storage.set_trial_system_attr(t._trial_id, "s_" + k, v)
    study.tell(t, 0.5)
    study.add_trial(create_trial(value=1.0, user_attrs=values, system_attrs={"x": 2**64}))
    study.enqueue_trial({}, user_attrs={"big": -(2**64), "f": -0.0})
    # Spellings only other writers produce, as raw text.
    raw(
        path,
        '{"op_code":2,"worker_id":"w","study_id":%d,"user_attr":{"lit_1e400":1e400}}' % sid,
        '{"op_code":2,"worker_id":"w","study_id":%d,"user_attr":{"lit_neg_1e400":-1e400}}' % sid,
        '{"op_code":2,"worker_id":"w","study_id":%d,"user_attr":{"lit_exp":[1E5,2e-3,-0,-0.0,0e0]}}' % sid,
        '{"op_code":2,"worker_id":"w","study_id":%d,"user_attr":{"lit_dup":{"k":1,"k":2,"j":[]}}}' % sid,
        '{"op_code":2,"worker_id":"w","study_id":%d,"user_attr":{"lit_escapes":"\\u00e9\\/\\ud83d\\ude00é"}}' % sid,
        '{ "op_code" : 2 , "worker_id" : "w" , "study_id" : %d , "user_attr" : { "lit_spaces" : [ 1 , 2 ] } }' % sid,
        '{"op_code":2,"worker_id":"w","study_id":%d,"user_attr":{"dup_key":1},"user_attr":{"dup_key_last":2}}' % sid,
    )


def datetimes(path):
    backend, storage = fresh(path)
    study = optuna.create_study(storage=storage, study_name="times")
    sid = study._study_id
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    n = 2
    starts = [
        "2020-01-01T00:00:00.000001",  # naive, as Optuna < 3.? wrote them
        "2020-06-15T12:00:00",
        "2020-06-15 12:00:00.5",
        "2020-06-15T12:00:00.123456+09:00",
        "2020-06-15T12:00:00-05:00",
        "2020-06-15T12:00:00Z",
        "2020-06-15T12:00:00+0530",
        "2021-03-14T02:30:00",  # skipped hour in New York
        "2021-03-14T07:30:00+00:00",
        "2021-11-07T01:30:00",  # repeated hour in New York
        "2021-11-07T05:30:00+00:00",
        "2021-11-07T06:30:00+00:00",
        "2021-11-07T01:30:00-05:00",
        "1969-12-31T23:59:59.999999+00:00",
        "1900-01-01T00:00:00",
        "2024-02-29",
    ]
    for s in starts:
        raw(path, {"op_code": 4, "worker_id": "old", "study_id": sid, "datetime_start": s})
        n += 1
    # State changes with naive datetimes (op 6) and a template with one.
    raw(path,
        {"op_code": 6, "worker_id": "old", "trial_id": 2, "state": 1, "values": [1.5],
         "datetime_complete": "2020-01-01T01:00:00"},
        {"op_code": 6, "worker_id": "old", "trial_id": 3, "state": 3, "values": None,
         "datetime_complete": "2021-11-07T01:59:59.999999"},
        {"op_code": 4, "worker_id": "old", "study_id": sid, "datetime_start": None, "state": 4,
         "value": None, "values": None, "distributions": {}, "params": {}, "user_attrs": {},
         "system_attrs": {}, "intermediate_values": {}},
        {"op_code": 6, "worker_id": "old", "trial_id": n, "state": 0, "values": None,
         "datetime_start": "2021-03-14T03:30:00"},
        {"op_code": 4, "worker_id": "old", "study_id": sid,
         "datetime_start": "2019-05-05T05:05:05", "state": 1, "value": 2.0, "values": None,
         "datetime_complete": "2019-05-05T06:05:05.000001", "distributions": {}, "params": {},
         "user_attrs": {}, "system_attrs": {}, "intermediate_values": {}})


def ops(path):
    backend, storage = fresh(path)
    other = JournalStorage(JournalFileBackend(path))
    s = optuna.create_study(storage=storage, study_name="main", directions=["minimize", "maximize"])
    sid = s._study_id
    gone = optuna.create_study(storage=storage, study_name="gone")
    gid = gone._study_id
    gt = gone.ask()
    storage.delete_study(gid)  # op 1
    try_(storage.delete_study, gid)  # written, then rejected: no such study
    try_(storage.set_study_user_attr, gid, "k", 1)  # op 2 on a deleted study
    try_(storage.set_study_system_attr, gid, "k", 1)  # op 3 on a deleted study
    try_(storage.create_new_trial, gid)  # op 4 in a deleted study
    try_(storage.set_trial_user_attr, gt._trial_id, "k", 1)  # trial of a deleted study
    try_(other.create_new_study, [StudyDirection.MINIMIZE], "main")  # duplicate name
    storage.set_study_user_attr(sid, "u", 1)
    storage.set_study_system_attr(sid, "s", [1])
    t = s.ask()  # op 4
    x = t.suggest_float("x", 0, 1)  # op 5
    storage.set_trial_intermediate_value(t._trial_id, 0, 0.5)  # op 7
    storage.set_trial_intermediate_value(t._trial_id, -1, float("inf"))
    storage.set_trial_intermediate_value(t._trial_id, 2**40, float("nan"))
    # Python ints have no size limit, and `Trial.report` takes any (this study has two
    # objectives, where `report` refuses, so the storage call it makes).
    storage.set_trial_intermediate_value(t._trial_id, 2**64, 0.25)
    storage.set_trial_intermediate_value(t._trial_id, -(2**63) - 1, 0.125)
    t.set_user_attr("a", 1)  # op 8
    storage.set_trial_system_attr(t._trial_id, "b", 2)  # op 9
    try_(storage.set_trial_param, t._trial_id, "x", 1.0, D.IntDistribution(0, 3))  # incompatible
    try_(storage.set_trial_param, t._trial_id, "x", 0.5, D.FloatDistribution(0, 1, log=False, step=0.5))
    s.tell(t, [x, 2 * x])  # op 6 COMPLETE with values
    done = t._trial_id
    try_(storage.set_trial_user_attr, done, "late", 1)  # update of a finished trial
    try_(storage.set_trial_system_attr, done, "late", 1)
    try_(storage.set_trial_intermediate_value, done, 1, 1.0)
    try_(storage.set_trial_param, done, "y", 0.5, D.FloatDistribution(0, 1))
    try_(storage.set_trial_state_values, done, TrialState.FAIL)
    pruned = s.ask()
    s.tell(pruned, state=TrialState.PRUNED)
    failed = s.ask()
    s.tell(failed, state=TrialState.FAIL)
    s.enqueue_trial({"x": 0.25})  # WAITING template
    waiting = storage.get_all_trials(sid)[-1]._trial_id
    storage.set_trial_state_values(waiting, TrialState.RUNNING)  # the claim that wins
    raw(path,
        # the claim that loses (another worker raced for the same WAITING trial)
        {"op_code": 6, "worker_id": "racer", "trial_id": waiting, "state": 0, "values": None,
         "datetime_start": "2026-01-01T00:00:00.000000+00:00"},
        # Rustuna's DISCARD_TRIALS, ignored
        {"op_code": 10, "worker_id": "rustuna", "trial_ids": [waiting]},
        # updates of trials that do not exist, by id spellings a dict lookup misses
        {"op_code": 8, "worker_id": "w", "trial_id": 9999, "user_attr": {"k": 1}},
        {"op_code": 8, "worker_id": "w", "trial_id": -1, "user_attr": {"k": 1}},
        {"op_code": 7, "worker_id": "w", "trial_id": "0", "step": 0, "intermediate_value": 1.0},
        # a float id and a float op code name the same entries as the ints
        {"op_code": 9.0, "worker_id": "w", "trial_id": float(waiting), "system_attr": {"f": 1}},
        # lines whose fields Optuna never reads, because their target is gone: ignored, not errors
        {"op_code": 5, "worker_id": "w", "trial_id": done, "param_name": "bad",
         "param_value_internal": 0.5,
         "distribution": dist_json("FloatDistribution", low=1.0, high=0.0)},
        {"op_code": 5, "worker_id": "w", "trial_id": 9999, "param_name": "bad",
         "param_value_internal": 7, "distribution": "not json"},
        {"op_code": 2, "worker_id": "w", "study_id": gid, "user_attr": {"a": 1, "b": 2}},
        {"op_code": 4, "worker_id": "w", "study_id": gid, "datetime_start": "not a date",
         "state": 99},
        {"op_code": 6, "worker_id": "w", "trial_id": done, "state": 99},
        {"op_code": 7, "worker_id": "w", "trial_id": 9999},
        {"op_code": 8, "worker_id": "w", "trial_id": done, "user_attr": {}},
        # integral objective values written as ints (add_trial of a hand-made trial does this)
        {"op_code": 6, "worker_id": "w", "trial_id": waiting, "state": 1, "values": [1, 2],
         "datetime_complete": "2026-01-01T00:00:01.000000+00:00"})
    # enum values as Python looks them up: 2.0 and true are codes too
    raw(path, {"op_code": 0, "worker_id": "w", "study_name": "floaty", "directions": [2.0, True]})
    floaty = storage.get_study_id_from_name("floaty")
    raw(path, {"op_code": 4, "worker_id": "w", "study_id": floaty,
               "datetime_start": "2026-01-01T00:00:00.000000+00:00"})
    floaty_trial = storage.get_all_trials(floaty)[0]._trial_id
    raw(path, {"op_code": 6, "worker_id": "w", "trial_id": floaty_trial, "state": 2.0,
               "values": None, "datetime_complete": "2026-01-01T00:00:01.000000+00:00"})
    s.add_trial(create_trial(values=[float("inf"), float("-inf")],
                             intermediate_values={0: 1.0, -3: float("nan"), 10**30: 2.0}))
    running = s.ask()
    running.suggest_int("n", 0, 5)
    storage.set_trial_state_values(running._trial_id, TrialState.WAITING)  # back to WAITING


def dump(journal, zone):
    env = dict(os.environ, TZ=zone)
    return subprocess.run([sys.executable, os.path.join(HERE, "dump.py"), journal], env=env,
                          check=True, capture_output=True, text=True).stdout


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, write in [("distributions", distributions), ("attrs", attrs),
                        ("datetimes", datetimes), ("ops", ops)]:
        path = os.path.join(out, name + ".log")
        write(path)
        for zone in ZONES:
            with open(os.path.join(out, "%s.%s.dump" % (name, zone.replace("/", "_"))), "w") as f:
                f.write(dump(path, zone))


if __name__ == "__main__":
    main(sys.argv[1])
