#!/usr/bin/env python3
"""Runner overhead per trial: `trialog run` against a loop of Optuna's own CLI.

The command of every trial exits at once (`echo <x>`: the child prints its parameter as its
objective), so what is measured is what each tool adds per trial: asking for a trial, starting
the child, reading its result, telling the study, with everything durable in a journal file.

* trialog: `trialog run ... --workers W --n-trials N -- echo {x}` on a fresh trialog journal,
  the random sampler, once with the default log artifacts (each trial's stdout kept durably
  beside the journal) and once with `--artifacts none`; TPE (the default sampler) is shown too.
* Optuna: W threads, each looping `optuna ask` (a subprocess), the child, `optuna tell` (a
  subprocess), on a fresh Optuna JSON-lines journal (`--storage-class JournalFileBackend`),
  RandomSampler. This is how a job script drives Optuna without Python in the loop.

Throughput is trials / wall time of the whole run (process start-up included). Each case runs
--reps times in a fresh directory; the table shows the median (min-max). Build first:

    cargo build --release
    python3 bench/run_overhead.py --reps 3

Needs `pip install optuna==5.0.0` (its `optuna` command). Scratch files go to a temporary
directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SPACE = {
    "x": {
        "name": "FloatDistribution",
        "attributes": {"low": 0.0, "high": 1.0, "step": None, "log": False},
    }
}


def trialog_case(exe: str, work: str, trials: int, workers: int, extra: list[str]) -> float:
    journal = os.path.join(work, "t.journal")
    cmd = [
        exe, "-q", "run", "--journal", journal, "--study", "bench",
        "--param", "x=float:0..1", "--n-trials", str(trials), "--workers", str(workers),
        "--pruner", "none", *extra, "--", "echo", "{x}",
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"trialog run failed: {done.stderr}")
    if f"ran {trials} trial(s): {trials} complete" not in done.stdout:
        raise SystemExit(f"unexpected trialog output: {done.stdout}")
    return trials / took


def optuna_case(work: str, trials: int, workers: int) -> float:
    journal = os.path.join(work, "o.log")
    storage = ["--storage", journal, "--storage-class", "JournalFileBackend"]
    subprocess.run(
        ["optuna", "create-study", *storage, "--study-name", "bench"],
        check=True, capture_output=True,
    )
    ask = [
        "optuna", "ask", *storage, "--study-name", "bench", "--sampler", "RandomSampler",
        "--search-space", json.dumps(SPACE), "-f", "json",
    ]
    left = [trials]
    lock = threading.Lock()
    errors: list[str] = []

    def loop() -> None:
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            asked = subprocess.run(ask, capture_output=True, text=True)
            if asked.returncode != 0:
                errors.append(asked.stderr)
                return
            trial = json.loads(asked.stdout)
            out = subprocess.run(["echo", repr(trial["params"]["x"])], capture_output=True, text=True)
            value = out.stdout.strip()
            told = subprocess.run(
                ["optuna", "tell", *storage, "--study-name", "bench",
                 "--trial-number", str(trial["number"]), "--values", value],
                capture_output=True, text=True,
            )
            if told.returncode != 0:
                errors.append(told.stderr)
                return

    threads = [threading.Thread(target=loop) for _ in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - start
    if errors:
        raise SystemExit(f"optuna CLI failed: {errors[0]}")
    return trials / took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trialog", default=os.path.join(ROOT, "target", "release", "trialog"))
    p.add_argument("--trials", type=int, default=400, help="trials per trialog run")
    p.add_argument("--optuna-trials", type=int, default=40, help="trials per Optuna CLI run")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--json", action="store_true", help="one JSON line per case instead of a table")
    args = p.parse_args()

    cases = [
        ("trialog run (random, logs kept)", lambda w: trialog_case(args.trialog, w, args.trials, args.workers, ["--sampler", "random"])),
        ("trialog run (random, --artifacts none)", lambda w: trialog_case(args.trialog, w, args.trials, args.workers, ["--sampler", "random", "--artifacts", "none"])),
        ("trialog run (tpe, logs kept)", lambda w: trialog_case(args.trialog, w, args.trials, args.workers, [])),
        ("optuna ask/tell CLI loop (random)", lambda w: optuna_case(w, args.optuna_trials, args.workers)),
    ]
    results: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(args.reps):
        for name, case in cases:  # interleaved, so drift on a shared machine hits every case
            work = tempfile.mkdtemp(prefix="trialog-run-bench-")
            try:
                results[name].append(case(work))
            finally:
                shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(results["optuna ask/tell CLI loop (random)"])
    for name, rates in results.items():
        med = statistics.median(rates)
        if args.json:
            print(json.dumps({"case": name, "workers": args.workers, "trials_per_s": rates, "median": med, "vs_optuna_cli": med / base}))
        else:
            print(f"{name:42} {med:9.1f} trials/s  ({min(rates):.1f}-{max(rates):.1f})  {med / base:7.1f}x")


if __name__ == "__main__":
    main()
