#!/usr/bin/env python3
"""W1, W2 and W3 of ../shared/bench through `trialog.JournalStorage` (the Python package,
python/), beside Optuna's JournalStorage and Rustuna's JournalFileStorage, on the same disk, in
one session. Each measurement runs in a fresh process with ../shared/bench/bench.py's own code
(its workloads, adapters and checks); this script only adds two backends to it:

  trialog-py         trialog.JournalStorage(path)                  (trialog's format)
  trialog-py-optuna  trialog.JournalStorage(path, format="optuna") (Optuna's JSON lines)

W2 replays the very JSON-lines file the peers replay (Optuna's writer built it) as
trialog-py-optuna, and the same study imported into a trialog journal (`trialog import`) as
trialog-py. Needs optuna==5.0.0, rustuna, the package installed (maturin build, pip install) and
the CLI (`cargo build --release`, or $TRIALOG_BIN) for the import. By default W2's files have no
snapshot (every backend replays the whole log); `--w2-snapshots` gives them the one trialog's
writers take past 8 MiB, and `--workloads w2` runs W2 alone.

    python bench/python_storage.py --reps 1 --w2-n 100000 --out /tmp/trialog-py-bench.jsonl

Prints one table per workload with each backend's figure and its ratio against Optuna's from the
same rep, and the load average before and after (the machine is shared: quote one run's ratios).

W2's time includes `import optuna` for every backend, and that depends on what else the
interpreter has installed (Optuna imports `redis` when it is present). Run it with the python of
a virtual environment holding only what the package needs, as a user's would:

    python3 -m venv /tmp/bv && /tmp/bv/bin/pip install optuna==5.0.0 rustuna dist/trialog-*.whl
    /tmp/bv/bin/python bench/python_storage.py --reps 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER_BENCH = os.path.join(ROOT, "..", "shared", "bench", "bench.py")
TRIALOG = os.environ.get("TRIALOG_BIN", os.path.join(ROOT, "target", "release", "trialog"))
OURS = ("trialog-py", "trialog-py-optuna")


def load_peer_bench():
    """../shared/bench/bench.py with the trialog backends added (its W3 re-runs this script for
    its workers)."""
    spec = importlib.util.spec_from_file_location("peer_bench", PEER_BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    class TrialogAdapter(bench.OptunaAdapter):
        def __init__(self, backend: str, path: str):
            import optuna
            import trialog
            from optuna.distributions import FloatDistribution
            from optuna.study import StudyDirection
            from optuna.trial import TrialState

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            self._TS, self._SD = TrialState, StudyDirection
            self._dist = FloatDistribution(-10.0, 10.0)
            fmt = "optuna" if backend == "trialog-py-optuna" else "trialog"
            self.s = trialog.JournalStorage(path, format=fmt)

    peer_make = bench.make
    bench.make = lambda backend, path: (TrialogAdapter(backend, path) if backend in OURS
                                        else peer_make(backend, path))
    bench.ALL_BACKENDS = bench.ALL_BACKENDS + OURS
    bench.__file__ = os.path.abspath(__file__)  # W3 starts its workers with this script
    return bench


def run(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def session(a) -> None:
    work = a.workdir
    os.makedirs(work, exist_ok=True)
    backends = ["optuna", "rustuna", "trialog-py", "trialog-py-optuna"]
    log = os.path.join(work, f"w2-{a.w2_n}.log")
    journal = os.path.join(work, f"w2-{a.w2_n}.journal")
    if "w2" in a.workloads and not os.path.exists(log):
        run(["w2-build", "--n", str(a.w2_n), "--out", log])
    if "w2" in a.workloads and not os.path.exists(journal):
        subprocess.run([TRIALOG, "import", log, journal], check=True, capture_output=True)
    # W2's files as trialog's writers leave a journal past 8 MiB (with `<file>.snapshot`, which
    # only trialog reads), or, by default, without: every backend replays the whole log.
    for path in (journal, log) if "w2" in a.workloads else ():
        snapshot = path + ".snapshot"
        if a.w2_snapshots:
            subprocess.run([TRIALOG, "snapshot", path], check=True, capture_output=True)
        elif os.path.exists(snapshot):
            os.remove(snapshot)
    results = []
    # W2's times include `import optuna` for every backend (bench.py's adapters import it inside
    # the timed open): say what it costs with this interpreter's installed packages (an
    # environment with `redis` installed makes Optuna import it, about 0.12 s more).
    import_s = [float(subprocess.run(
        [sys.executable, "-c", "import time; t = time.perf_counter(); import optuna; "
         "print(time.perf_counter() - t)"], check=True, capture_output=True, text=True).stdout)
        for _ in range(3)]
    print(f"{sys.executable}: `import optuna` takes {min(import_s):.3f}-{max(import_s):.3f} s "
          "(inside every backend's W2 time)")
    load_before = os.getloadavg()
    workloads = a.workloads.split(",")
    for rep in range(a.reps):
        for b in backends if "w1" in workloads else []:
            r = run(["w1", "--backend", b, "--n", str(a.w1_n), "--workdir", work])
            results.append(dict(r, rep=rep))
        for b in backends if "w2" in workloads else []:
            path = journal if b == "trialog-py" else log
            subprocess.run(["cat", path], check=True, stdout=subprocess.DEVNULL)  # page cache
            r = run(["w2", "--backend", b, "--path", path, "--n", str(a.w2_n)])
            results.append(dict(r, rep=rep))
        for b in backends if "w3" in workloads else []:
            r = run(["w3", "--backend", b, "--procs", "4", "--n", str(a.w3_n), "--workdir", work])
            results.append(dict(r, rep=rep))
    load_after = os.getloadavg()
    if a.out:
        with open(a.out, "w") as f:
            for r in results:
                f.write(json.dumps(r, sort_keys=True) + "\n")
    report(results, a.reps, load_before, load_after)


def report(results: list[dict], reps: int, load_before, load_after) -> None:
    """One table per rep; the figures of a workload that did not run show as nan."""
    nan = float("nan")
    missing = {"seconds": nan, "ops_per_s": nan, "worker_seconds": [1.0], "ok": "-"}

    def get(w, b, rep):
        return next((r for r in results if r["w"] == w and r["backend"] == b and r["rep"] == rep),
                    missing)

    backends = ["optuna", "rustuna", "trialog-py", "trialog-py-optuna"]
    print(f"load average (1/5/15 min) before: {load_before}, after: {load_after}")
    for rep in range(reps):
        print(f"\nrep {rep}")
        print("| backend | W1 ops/s | W1 vs optuna | W2 s (open + get_all) | W2 vs optuna "
              "| W2 vs rustuna | W3 ops/s | W3 vs optuna | W3 slowest/fastest | W3 ok |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        o1, o2, o3 = get("w1", "optuna", rep), get("w2", "optuna", rep), get("w3", "optuna", rep)
        r2 = get("w2", "rustuna", rep)
        for b in backends:
            w1, w2, w3 = get("w1", b, rep), get("w2", b, rep), get("w3", b, rep)
            ws = w3["worker_seconds"]
            print(f"| {b} | {w1['ops_per_s']:,.0f} | {w1['ops_per_s'] / o1['ops_per_s']:.2f} "
                  f"| {w2['seconds']:.3f} ({w2.get('open_s', nan):.2f} + "
                  f"{w2.get('get_all_s', nan):.2f}) | {o2['seconds'] / w2['seconds']:.1f} "
                  f"| {r2['seconds'] / w2['seconds']:.2f} "
                  f"| {w3['ops_per_s']:,.0f} | {w3['ops_per_s'] / o3['ops_per_s']:.2f} "
                  f"| {max(ws) / min(ws):.2f} | {w3['ok']} |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("w1", "w2", "w2-build", "w3", "w3-worker"):
        bench = load_peer_bench()
        bench.main()
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--w1-n", type=int, default=2000)
    ap.add_argument("--w2-n", type=int, default=100_000)
    ap.add_argument("--w3-n", type=int, default=300)
    ap.add_argument("--workdir", default="/tmp/trialog-py-bench")
    ap.add_argument("--out", default="")
    ap.add_argument("--w2-snapshots", action="store_true",
                    help="W2's files with the snapshot trialog's writers take past 8 MiB "
                         "(`trialog snapshot`; only trialog's backends read it)")
    ap.add_argument("--workloads", default="w1,w2,w3",
                    help="the workloads to run, comma-separated (default: w1,w2,w3)")
    session(ap.parse_args())


if __name__ == "__main__":
    main()
