#!/usr/bin/env python3
"""Run the peer workloads W1-W4 for Optuna, Rustuna and trialog in one session, interleaved.

Each rep runs every backend once per workload in a rotated order, each measurement in a fresh
process; the table shows medians (min-max) over reps and per-rep ratios against Optuna from the
same rep. Peers come from ../shared/bench/bench.py (pip install optuna==5.0.0 rustuna==0.2.0);
trialog from `trialog bench` (build with `cargo build --release` first).

    python bench/compare.py --reps 3 --out /tmp/trialog-compare.jsonl

W2 times trialog twice: replaying its own journal (`trialog`) and replaying the very Optuna
JSON-lines file the peers replay (`trialog-optuna`, `trialog bench w2 --format optuna`).

Every rep also measures this disk's durable-append limit with fio, right before and right after
the rep's workloads, in the same directory: sequential appends of --fio-bs bytes (the mean size
of a W1 frame), each followed by fdatasync, one job, to a file that grows with every write
(--fallocate=none: fio's default preallocates the whole file first, so its writes become
overwrites that never change the file's size, and fdatasync then skips the metadata commit every
append needs; that measures 35-60% more ops/s on this machine than any appending log can reach;
--fio-fallocate posix shows it). The last table divides trialog's W1 and W3 (aggregate) ops/s by
the mean of that rep's two fio rates. Only the fsync-limit figures:

    python bench/compare.py --backends trialog --workloads w1,w3 --reps 5

--trialog times another build (e.g. one of an older commit) in its place.
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
    if backend == "trialog-optuna":
        return run([TRIALOG, "bench", "w2", "--format", "optuna", "--n", str(size),
                    "--journal", data[("peer", size)]])
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


def build_data(sizes: list[int], peer_file: bool) -> dict[tuple[str, int], str]:
    data = {}
    for n in sizes:
        data[("peer", n)] = os.path.join(WORK, f"peer-{n}.log")
        data[("trialog", n)] = os.path.join(WORK, f"trialog-{n}.journal")
        if peer_file and not os.path.exists(data[("peer", n)]):
            subprocess.run(peer("w2-build", "--n", str(n), "--out", data[("peer", n)]),
                           check=True, stdout=subprocess.DEVNULL)
        subprocess.run([TRIALOG, "bench", "w2-build", "--n", str(n),
                        "--journal", data[("trialog", n)]], check=True,
                       stdout=subprocess.DEVNULL)
    return data


def fio_append(bs: int, n: int, fallocate: str) -> dict:
    """This disk's durable-append limit on the benchmark's filesystem: fio appending n writes of
    bs bytes to a fresh file in WORK, each followed by fdatasync (one job, psync engine; the file
    preallocated as --fallocate says: none for true appends)."""
    if shutil.which("fio") is None:
        sys.exit("compare.py: fio is not installed (apt-get install -y fio)")
    path = os.path.join(WORK, "fio-append.bin")
    if os.path.exists(path):
        os.unlink(path)
    out = subprocess.run(
        ["fio", "--name=append", f"--filename={path}", "--rw=write", f"--bs={bs}",
         f"--size={bs * n}", "--file_append=1", f"--fallocate={fallocate}", "--fdatasync=1",
         "--ioengine=psync",
         "--output-format=json"],
        check=True, capture_output=True, text=True).stdout
    os.unlink(path)
    job = json.loads(out[out.index("{"):])["jobs"][0]
    ops = job["write"]["total_ios"]
    seconds = job["write"]["runtime"] / 1000.0  # ms
    return {"ops_per_s": ops / seconds, "seconds": seconds, "ops": ops,
            "fdatasync_us_mean": job["sync"]["lat_ns"]["mean"] / 1000.0}


KEYS = {"fio": "ops_per_s", "w1": "ops_per_s", "w2": "seconds", "w3": "ops_per_s",
        "w4": "us_median"}
HIGHER_IS_BETTER = {"fio": True, "w1": True, "w2": False, "w3": True, "w4": False}


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


def summarize_fsync_limit(rows: list[dict]) -> str:
    """trialog's W1 and W3 ops/s over the mean fio rate of the same rep."""
    fio: dict[int, list[float]] = {}
    trialog: dict[tuple[str, int], float] = {}
    for r in rows:
        if r["w"] == "fio":
            fio.setdefault(r["rep"], []).append(r["ops_per_s"])
        elif r["backend"] == "trialog" and r["w"] in ("w1", "w3"):
            trialog[(r["w"], r["rep"])] = r["ops_per_s"]
    if not fio or not trialog:
        return ""
    lines = ["\n### trialog against the fdatasync limit (fio, same rep)\n",
             "| rep | fio ops/s (before, after) | W1 ops/s | W1/fio | W3 ops/s | W3/fio |",
             "|---|---|---|---|---|---|"]
    ratios: dict[str, list[float]] = {"w1": [], "w3": []}
    for rep in sorted(fio):
        limit = statistics.mean(fio[rep])
        cells = [str(rep), ", ".join(f"{x:,.0f}" for x in fio[rep])]
        for w in ("w1", "w3"):
            v = trialog.get((w, rep))
            if v is None:
                cells += ["-", "-"]
                continue
            ratios[w].append(v / limit)
            cells += [f"{v:,.0f}", f"{v / limit:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for w in ("w1", "w3"):
        if ratios[w]:
            lines.append(f"{w.upper()}/fio median {statistics.median(ratios[w]):.3f} "
                         f"(min {min(ratios[w]):.3f}, max {max(ratios[w]):.3f}, "
                         f"{len(ratios[w])} reps)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--w1-n", type=int, default=2000)
    ap.add_argument("--w3-n", type=int, default=300)
    ap.add_argument("--sizes", default="0,10000,100000")
    ap.add_argument("--workloads", default="w1,w2,w3,w4")
    ap.add_argument("--backends", default="optuna,rustuna,trialog")
    ap.add_argument("--fio-bs", type=int, default=76,
                    help="bytes per fio append: the mean W1 frame (file_bytes / ops)")
    ap.add_argument("--fio-n", type=int, default=10000, help="fio appends per measurement")
    ap.add_argument("--fio-fallocate", default="none",
                    help="fio's --fallocate: none (appends grow the file) or posix (overwrites)")
    ap.add_argument("--trialog", help="the trialog binary to time (default: the release build)")
    ap.add_argument("--out", default=os.path.join(WORK, "raw.jsonl"))
    a = ap.parse_args()
    global TRIALOG
    TRIALOG = a.trialog or TRIALOG
    os.makedirs(WORK, exist_ok=True)
    sizes = [int(s) for s in a.sizes.split(",")]
    workloads = a.workloads.split(",")
    backends = a.backends.split(",")
    peer_file = any(b != "trialog" for b in backends) or "w2" in workloads
    data = build_data(sizes, peer_file) if {"w2", "w4"} & set(workloads) else {}
    rows = []

    def fio_row(rep: int, out) -> None:
        r = fio_append(a.fio_bs, a.fio_n, a.fio_fallocate)
        r.update(w="fio", backend="fio", rep=rep, size=a.fio_bs)
        rows.append(r)
        out.write(json.dumps(r) + "\n")
        print(f"rep {rep} fio: {r['ops_per_s']:.4g}", file=sys.stderr)

    with open(a.out, "a") as out:
        for rep in range(a.reps):
            order = backends[rep % len(backends):] + backends[:rep % len(backends)]
            fio_row(rep, out)
            for w in workloads:
                for size in ([a.w1_n] if w == "w1" else [a.w3_n] if w == "w3" else sizes):
                    these = order
                    if w == "w2" and "trialog" in order:
                        at = order.index("trialog") + 1
                        these = order[:at] + ["trialog-optuna"] + order[at:]
                    for backend in these:
                        r = measure(w, backend, size, data)
                        r.update(w=w, backend=backend, rep=rep, size=size)
                        rows.append(r)
                        out.write(json.dumps(r) + "\n")
                        out.flush()
                        print(f"rep {rep} {w} size {size} {backend}: {r[KEYS[w]]:.4g}",
                              file=sys.stderr)
            fio_row(rep, out)
    print(summarize(rows))
    print(summarize_fsync_limit(rows))
    shutil.rmtree(os.path.join(WORK, "w3sync"), ignore_errors=True)


if __name__ == "__main__":
    main()
