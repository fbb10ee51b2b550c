#!/usr/bin/env python3
"""Run the peer workloads W1-W4 for Optuna, Rustuna and trialog in one session, interleaved.

Each rep runs every backend once per workload in a rotated order, each measurement in a fresh
process; the table shows medians (min-max) over reps and per-rep ratios against Optuna from the
same rep. Peers come from ../shared/bench/bench.py (pip install optuna==5.0.0 rustuna==0.2.0);
trialog from `trialog bench` (build with `cargo build --release` first).

    python bench/compare.py --reps 3 --out /tmp/trialog-compare.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_BENCH = os.path.join(ROOT, "..", "shared", "bench", "bench.py")
TRIALOG = os.path.join(ROOT, "target", "release", "trialog")
WORK = "/tmp/trialog-compare"
PEERS = ("optuna", "rustuna")


def run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def peer(*args: str) -> list[str]:
    return [sys.executable, PEER_BENCH, *args]


def measure(workload: str, backend: str, size: int, data: dict[tuple[str, int], str]) -> dict:
    if backend == "trialog":
        journal = os.path.join(WORK, f"{workload}.journal")
        if workload == "w1":
            return run([TRIALOG, "bench", "w1", "--n", str(size), "--journal", journal])
        if workload == "w2":
            return run([TRIALOG, "bench", "w2", "--n", str(size),
                        "--journal", data[("trialog", size)]])
        if workload == "w3":
            return run([TRIALOG, "bench", "w3", "--procs", "4", "--n", str(size),
                        "--journal", journal])
        return run([TRIALOG, "bench", "w4", "--n", str(size), "--k", "30",
                    "--journal", data[("trialog", size)]])
    if workload == "w1":
        return run(peer("w1", "--backend", backend, "--n", str(size), "--workdir", WORK))
    if workload == "w2":
        subprocess.run(["cat", data[("peer", size)]], check=True, stdout=subprocess.DEVNULL)
        return run(peer("w2", "--backend", backend, "--path", data[("peer", size)],
                        "--n", str(size)))
    if workload == "w3":
        return run(peer("w3", "--backend", backend, "--procs", "4", "--n", str(size),
                        "--workdir", WORK))
    args = ["w4", "--backend", backend, "--n", str(size), "--k", "30", "--workdir", WORK]
    if size:
        args += ["--path", data[("peer", size)]]
    return run(peer(*args))


def build_data(sizes: list[int]) -> dict[tuple[str, int], str]:
    data = {}
    for n in sizes:
        data[("peer", n)] = os.path.join(WORK, f"peer-{n}.log")
        data[("trialog", n)] = os.path.join(WORK, f"trialog-{n}.journal")
        if not os.path.exists(data[("peer", n)]):
            subprocess.run(peer("w2-build", "--n", str(n), "--out", data[("peer", n)]),
                           check=True, stdout=subprocess.DEVNULL)
        subprocess.run([TRIALOG, "bench", "w2-build", "--n", str(n),
                        "--journal", data[("trialog", n)]], check=True,
                       stdout=subprocess.DEVNULL)
    return data


def raw_fdatasync(n: int = 3000) -> dict:
    """This machine's raw durable-append rate on the same filesystem: write 256 bytes +
    fdatasync, n times (as ../shared/bench/phys.py's py-fdatasync)."""
    import time

    path = os.path.join(WORK, "raw-fdatasync.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    t0 = time.perf_counter()
    for _ in range(n):
        os.write(fd, b"x" * 255 + b"\n")
        os.fdatasync(fd)
    seconds = time.perf_counter() - t0
    os.close(fd)
    os.unlink(path)
    return {"ops_per_s": n / seconds, "seconds": seconds}


KEYS = {"raw": "ops_per_s", "w1": "ops_per_s", "w2": "seconds", "w3": "ops_per_s", "w4": "us_median"}
HIGHER_IS_BETTER = {"raw": True, "w1": True, "w2": False, "w3": True, "w4": False}


def fmt(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{statistics.median(xs):,.4g} ({min(xs):,.4g}-{max(xs):,.4g})"


def summarize(rows: list[dict]) -> str:
    lines = []
    groups: dict[tuple[str, int], dict[str, dict[int, dict]]] = {}
    for r in rows:
        groups.setdefault((r["w"], r["size"]), {}).setdefault(r["backend"], {})[r["rep"]] = r
    for (w, size), by_backend in sorted(groups.items()):
        key = KEYS[w]
        lines.append(f"\n### {w} (size {size}): {key}\n")
        lines.append("| backend | reps | " + key + " median (min-max) | vs optuna, same rep |"
                     + (" slowest/fastest worker | ok |" if w == "w3" else "")
                     + (" rss_peak_mib |" if w == "w2" else ""))
        lines.append("|---|---|---|---|" + ("---|---|" if w == "w3" else "")
                     + ("---|" if w == "w2" else ""))
        base = by_backend.get("optuna", {})
        for backend, reps in by_backend.items():
            vals = [r[key] for r in reps.values()]
            ratios = []
            for rep, r in reps.items():
                if rep in base and base[rep][key] and r[key]:
                    ratio = r[key] / base[rep][key]
                    ratios.append(ratio if HIGHER_IS_BETTER[w] else 1 / ratio)
            line = f"| {backend} | {len(vals)} | {fmt(vals)} | {fmt(ratios)}x |"
            if w == "w3":
                spread = [r.get("slowest_over_fastest") or max(r["worker_seconds"])
                          / min(r["worker_seconds"]) for r in reps.values()]
                oks = [bool(r.get("ok", r.get("verified", False))) for r in reps.values()]
                line += f" {fmt(spread)} | {sum(oks)}/{len(oks)} |"
            if w == "w2":
                line += f" {fmt([r['rss_peak_mib'] for r in reps.values()])} |"
            lines.append(line)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--w1-n", type=int, default=2000)
    ap.add_argument("--w3-n", type=int, default=300)
    ap.add_argument("--sizes", default="0,10000,100000")
    ap.add_argument("--workloads", default="w1,w2,w3,w4")
    ap.add_argument("--out", default=os.path.join(WORK, "raw.jsonl"))
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    sizes = [int(s) for s in a.sizes.split(",")]
    workloads = a.workloads.split(",")
    data = build_data(sizes) if {"w2", "w4"} & set(workloads) else {}
    backends = ["optuna", "rustuna", "trialog"]
    rows = []
    with open(a.out, "a") as out:
        for rep in range(a.reps):
            order = backends[rep % 3:] + backends[:rep % 3]
            r = raw_fdatasync()
            r.update(w="raw", backend="fdatasync", rep=rep, size=256)
            rows.append(r)
            out.write(json.dumps(r) + "\n")
            for w in workloads:
                for size in ([a.w1_n] if w == "w1" else [a.w3_n] if w == "w3" else sizes):
                    for backend in order:
                        r = measure(w, backend, size, data)
                        r.update(w=w, backend=backend, rep=rep, size=size)
                        rows.append(r)
                        out.write(json.dumps(r) + "\n")
                        out.flush()
                        print(f"rep {rep} {w} size {size} {backend}: {r[KEYS[w]]:.4g}",
                              file=sys.stderr)
    print(summarize(rows))
    shutil.rmtree(os.path.join(WORK, "w3sync"), ignore_errors=True)


if __name__ == "__main__":
    main()
