#!/usr/bin/env python3
"""trialog's RedisBackend beside Python Optuna's JournalRedisBackend, on one redis-server.

Starts its own redis-server (127.0.0.1, a free port, a temporary directory, `appendonly yes`,
`appendfsync always`: every acknowledged write is on disk), runs each workload for both sides
one after the other in this one run, prints one JSON line per measurement and a summary with the
ratios, and stops the server by its pid.

  W1  one process writes N trials of the W1 shape (../shared/bench/bench.py: create, 2 params,
      1 intermediate value, complete: 5 appends) to a fresh prefix.
      trialog: `trialog bench w1 --journal redis://...`; Optuna: JournalStorage(JournalRedisBackend).
  W2  cold replay of N trials: the prefix is filled once with the operations Optuna's own
      JournalStorage writes (bench.py w2-build, loaded key by key, no snapshot), then a fresh
      process opens the storage and reads all trials. Optuna is also timed with the snapshot
      (a pickle under `:snapshot`) that its writers leave every 100 trials, for reference.
  W3  P processes each write N trials to one prefix, started together; aggregate ops/s and the
      slowest worker's time over the fastest one's.

Usage: python3 bench/redis_vs_optuna.py [--w1 1000] [--w2 100000] [--w3-procs 4] [--w3 300]
         [--trialog target/release/trialog] [--baseline OTHER_TRIALOG_BINARY]

--baseline runs W1 and W3 with a second trialog binary as well (say, the previous commit's), in
the same run on the same server, so a change is measured before/after beside Optuna.

Build the binary first: cargo build --release. Needs redis-server, `pip install optuna redis`.
"""
from __future__ import annotations

import argparse
import warnings
import json
import os
import pickle
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "bench"))
import bench as peer  # noqa: E402  (../shared/bench/bench.py: the W1 shape, w2-build)


def emit(d: dict) -> None:
    sys.stdout.write(json.dumps(d, sort_keys=True) + "\n")
    sys.stdout.flush()


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------
# Optuna's side (run in child processes of this script: `redis_vs_optuna.py optuna-w1 ...`)
# ------------------------------------------------------------------------------------------
def optuna_storage(url: str, prefix: str):
    warnings.filterwarnings("ignore", message=".*experimental.*")
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalRedisBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return JournalStorage(JournalRedisBackend(url, prefix=prefix))


class Adapter(peer.OptunaAdapter):
    """bench.py's Optuna adapter over a JournalRedisBackend."""

    def __init__(self, url: str, prefix: str):
        from optuna.distributions import FloatDistribution
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        self._TS, self._SD, self._dist = TrialState, StudyDirection, FloatDistribution(-10, 10)
        self.s = optuna_storage(url, prefix)


def child_w1(a) -> None:
    st = Adapter(a.url, a.prefix)
    sid = st.create_study(peer.STUDY)
    rng = random.Random(a.seed)
    t0 = time.perf_counter()
    for _ in range(a.n):
        peer.one_trial(st, sid, rng)
    seconds = time.perf_counter() - t0
    done = Adapter(a.url, a.prefix).summary(sid)
    assert len(done) == a.n and all(c for _, c, _ in done), "W1 verification failed"
    emit(dict(w="w1", backend="optuna", n_trials=a.n, ops=5 * a.n, seconds=seconds,
              ops_per_s=5 * a.n / seconds))


def child_w2(a) -> None:
    t0 = time.perf_counter()
    st = optuna_storage(a.url, a.prefix)
    t1 = time.perf_counter()
    trials = st.get_all_trials(st.get_study_id_from_name(peer.STUDY), deepcopy=False)
    t2 = time.perf_counter()
    assert len(trials) == a.n, f"{len(trials)} trials, {a.n} expected"
    if a.save_snapshot:
        st._backend.save_snapshot(pickle.dumps(st._replay_result))
    emit(dict(w="w2", backend="optuna", n_trials=len(trials), open_s=t1 - t0,
              get_all_s=t2 - t1, seconds=t2 - t0))


def child_w3_worker(a) -> None:
    st = Adapter(a.url, a.prefix)
    sid = st.study_id(peer.STUDY)
    rng = random.Random(a.seed)
    open(a.ready, "w").close()
    while not os.path.exists(a.go):
        time.sleep(0.0005)
    start = time.time()
    for _ in range(a.n):
        peer.one_trial(st, sid, rng)
    end = time.time()
    emit(dict(start=start, end=end, seconds=end - start))


# ------------------------------------------------------------------------------------------
# The driver
# ------------------------------------------------------------------------------------------
class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="trialog-redis-bench-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        self.client = redis.Redis(host="127.0.0.1", port=self.port)
        for _ in range(400):
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("redis-server did not answer")

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return last_json(out)


def me(*args: str) -> list[str]:
    return [sys.executable, os.path.abspath(__file__), *map(str, args)]


def optuna_w3(url: str, prefix: str, procs: int, n: int) -> dict:
    optuna_storage(url, prefix).create_new_study(
        [__import__("optuna").study.StudyDirection.MINIMIZE], peer.STUDY)
    sync = tempfile.mkdtemp(prefix="trialog-redis-w3-")
    go = os.path.join(sync, "go")
    ready = [os.path.join(sync, f"ready{i}") for i in range(procs)]
    children = [subprocess.Popen(
        me("optuna-w3-worker", "--url", url, "--prefix", prefix, "--n", n, "--seed", i,
           "--ready", ready[i], "--go", go), stdout=subprocess.PIPE, text=True)
        for i in range(procs)]
    while not all(os.path.exists(r) for r in ready):
        if any(c.poll() is not None for c in children):
            raise SystemExit("an Optuna W3 worker failed to start")
        time.sleep(0.005)
    t0 = time.time()
    open(go, "w").close()
    reports = []
    for c in children:
        out, _ = c.communicate()
        assert c.returncode == 0, "an Optuna W3 worker failed"
        reports.append(last_json(out))
    shutil.rmtree(sync, ignore_errors=True)
    wall = max(r["end"] for r in reports) - t0
    secs = [r["seconds"] for r in reports]
    st = optuna_storage(url, prefix)
    trials = st.get_all_trials(st.get_study_id_from_name(peer.STUDY), deepcopy=False)
    numbers = sorted(t.number for t in trials)
    ok = numbers == list(range(procs * n)) and all(t.state.name == "COMPLETE" for t in trials)
    return dict(w="w3", backend="optuna", procs=procs, trials_per_proc=n, seconds=wall,
                ops_per_s=5 * procs * n / wall, worker_seconds=secs,
                slowest_over_fastest=max(secs) / min(secs), ok=ok)


def load_prefix(server: Server, prefix: str, lines_path: str) -> int:
    """Writes the operations of an Optuna JSON-lines journal as `prefix:log:N` keys, as
    JournalRedisBackend.append_logs would (json.dumps with default separators)."""
    pipe = server.client.pipeline(transaction=False)
    n = 0
    with open(lines_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            pipe.set(f"{prefix}:log:{n}", json.dumps(json.loads(line)))
            n += 1
            if n % 5000 == 0:
                pipe.execute()
    pipe.set(f"{prefix}:log_number", n - 1)
    pipe.execute()
    return n


def driver(a) -> None:
    trialog = os.path.abspath(a.trialog)
    load = os.getloadavg()
    server = Server()  # stopped by pid in the `finally` below
    url = server.url()
    results: dict = {}
    try:
        emit(dict(w="env", cores=os.cpu_count(), loadavg_before=load, redis_port=server.port,
                  redis=subprocess.run(["redis-server", "--version"], capture_output=True,
                                       text=True).stdout.strip()))
        if a.w1:
            o = run(me("optuna-w1", "--url", url, "--prefix", "w1o", "--n", a.w1, "--seed", 1))
            t = run([trialog, "bench", "w1", "--n", str(a.w1), "--seed", "1",
                     "--journal", f"{url}?prefix=w1t"])
            emit(o), emit(t)
            results["w1_ratio"] = t["ops_per_s"] / o["ops_per_s"]
            if a.baseline:
                b = run([os.path.abspath(a.baseline), "bench", "w1", "--n", str(a.w1), "--seed",
                         "1", "--journal", f"{url}?prefix=w1b"])
                b["backend"] = "trialog (baseline)"
                emit(b)
                results["w1_baseline_ratio"] = b["ops_per_s"] / o["ops_per_s"]
        if a.w2:
            lines = os.path.join(server.dir, "w2.log")
            subprocess.run([sys.executable, peer.__file__, "w2-build", "--n", str(a.w2),
                            "--out", lines, "--seed", "2"], check=True, capture_output=True)
            load_prefix(server, "w2", lines)
            os.unlink(lines)
            t = run([trialog, "bench", "w2", "--n", str(a.w2), "--journal", f"{url}?prefix=w2"])
            o = run(me("optuna-w2", "--url", url, "--prefix", "w2", "--n", a.w2,
                       "--save-snapshot"))
            s = run(me("optuna-w2", "--url", url, "--prefix", "w2", "--n", a.w2))
            s["backend"] = "optuna (from its snapshot)"
            emit(t), emit(o), emit(s)
            results["w2_ratio"] = o["seconds"] / t["seconds"]
            results["w2_ratio_vs_optuna_snapshot"] = s["seconds"] / t["seconds"]
        if a.w3:
            t = run([trialog, "bench", "w3", "--procs", str(a.w3_procs), "--n", str(a.w3),
                     "--seed", "3", "--journal", f"{url}?prefix=w3t"])
            o = optuna_w3(url, "w3o", a.w3_procs, a.w3)
            emit(t), emit(o)
            if a.baseline:
                b = run([os.path.abspath(a.baseline), "bench", "w3", "--procs", str(a.w3_procs),
                         "--n", str(a.w3), "--seed", "3", "--journal", f"{url}?prefix=w3b"])
                b["backend"] = "trialog (baseline)"
                emit(b)
                results["w3_baseline_ops_ratio"] = b["ops_per_s"] / o["ops_per_s"]
                results["w3_baseline_slowest_over_fastest"] = b["slowest_over_fastest"]
            results["w3_ops_ratio"] = t["ops_per_s"] / o["ops_per_s"]
            results["w3_trialog_slowest_over_fastest"] = t["slowest_over_fastest"]
            results["w3_optuna_slowest_over_fastest"] = o["slowest_over_fastest"]
            results["w3_ok"] = bool(t["ok"] and o["ok"])
        results["loadavg_after"] = os.getloadavg()
        emit(dict(w="summary", **results))
    finally:
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd")
    c = sub.add_parser("optuna-w1")
    c.add_argument("--url"), c.add_argument("--prefix"), c.add_argument("--n", type=int)
    c.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("optuna-w2")
    c.add_argument("--url"), c.add_argument("--prefix"), c.add_argument("--n", type=int)
    c.add_argument("--save-snapshot", action="store_true")
    c = sub.add_parser("optuna-w3-worker")
    for f in ("--url", "--prefix", "--ready", "--go"):
        c.add_argument(f)
    c.add_argument("--n", type=int), c.add_argument("--seed", type=int)
    p.add_argument("--w1", type=int, default=1000, help="W1 trials (0: skip)")
    p.add_argument("--w2", type=int, default=100_000, help="W2 trials (0: skip)")
    p.add_argument("--w3", type=int, default=300, help="W3 trials per process (0: skip)")
    p.add_argument("--w3-procs", type=int, default=4)
    p.add_argument("--trialog", default=os.path.join(ROOT, "target", "release", "trialog"))
    p.add_argument("--baseline", help="a second trialog binary to run W1 and W3 with as well")
    a = p.parse_args()
    {"optuna-w1": child_w1, "optuna-w2": child_w2, "optuna-w3-worker": child_w3_worker}.get(
        a.cmd, driver)(a)


if __name__ == "__main__":
    main()
