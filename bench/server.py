#!/usr/bin/env python3
"""Python workers through GrpcStorageProxy: `trialog serve` vs Optuna's own server.

Usage: python3 bench/server.py [--trialog target/release/trialog] [--procs 8] [--seconds 10]
                               [--dir DIR]

For each server, on a fresh journal in DIR (default: a temporary directory on the same disk for
both), PROCS worker processes each run W1-shape trials (5 durable calls: create a trial, set two
parameters, an intermediate value, complete it) through `optuna.storages.GrpcStorageProxy` for
SECONDS, all starting together. Optuna's server is `run_grpc_proxy_server(JournalStorage(
JournalFileBackend(path)))` (its default thread pool of 10); trialog's is `trialog serve
--journal path` (trialog's format). Prints one JSON line per server and the ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("server did not start")


OPTUNA_SERVER = """
import sys, optuna
from optuna.storages import run_grpc_proxy_server
from optuna.storages.journal import JournalFileBackend
optuna.logging.set_verbosity(optuna.logging.WARNING)
run_grpc_proxy_server(optuna.storages.JournalStorage(JournalFileBackend(sys.argv[1])),
                      host="127.0.0.1", port=int(sys.argv[2]))
"""


def worker(port: int, study_name: str, start_at: float, seconds: float, out) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState

    storage = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=port)
    study_id = storage.get_study_id_from_name(study_name)
    dist = FloatDistribution(-10, 10)
    import random

    rng = random.Random(os.getpid())
    while time.time() < start_at:
        time.sleep(0.001)
    ops = 0
    lat = []
    end = start_at + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        trial = storage.create_new_trial(study_id)
        x, y = rng.uniform(-10, 10), rng.uniform(-10, 10)
        storage.set_trial_param(trial, "x", x, dist)
        storage.set_trial_param(trial, "y", y, dist)
        storage.set_trial_intermediate_value(trial, 0, (x * x + y * y) * 1.1)
        storage.set_trial_state_values(trial, TrialState.COMPLETE, [x * x + y * y])
        lat.append(time.perf_counter() - t0)
        ops += 5
    out.put((ops, lat))


def run(kind: str, args, journal: Path) -> dict:
    port = free_port()
    if kind == "trialog":
        proc = subprocess.Popen(
            [args.trialog, "serve", "--journal", str(journal), "--port", str(port)],
            stderr=subprocess.DEVNULL,
        )
    else:
        proc = subprocess.Popen([sys.executable, "-c", OPTUNA_SERVER, str(journal), str(port)],
                                stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        import warnings

        warnings.filterwarnings("ignore")
        import optuna

        proxy = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=port)
        proxy.create_new_study([optuna.study.StudyDirection.MINIMIZE], "bench")
        out = mp.Queue()
        start_at = time.time() + 2.0
        procs = [mp.Process(target=worker, args=(port, "bench", start_at, args.seconds, out))
                 for _ in range(args.procs)]
        for p in procs:
            p.start()
        results = [out.get() for _ in procs]
        for p in procs:
            p.join()
        ops = sum(r[0] for r in results)
        lat = sorted(x for r in results for x in r[1])
        n = len(proxy.get_all_trials(proxy.get_study_id_from_name("bench")))
        return {
            "server": kind,
            "procs": args.procs,
            "seconds": args.seconds,
            "durable_ops": ops,
            "ops_per_s": round(ops / args.seconds, 1),
            "trials": n,
            "trial_p50_ms": round(lat[len(lat) // 2] * 1e3, 2) if lat else None,
            "trial_p99_ms": round(lat[int(len(lat) * 0.99)] * 1e3, 2) if lat else None,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trialog", default=str(ROOT / "target" / "release" / "trialog"))
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        results = {}
        for kind in ("optuna", "trialog"):
            journal = Path(d) / f"{kind}.journal"
            results[kind] = run(kind, args, journal)
            print(json.dumps(results[kind]), flush=True)
        ratio = results["trialog"]["ops_per_s"] / max(results["optuna"]["ops_per_s"], 1e-9)
        print(json.dumps({"ratio_trialog_over_optuna": round(ratio, 2)}))


if __name__ == "__main__":
    main()
