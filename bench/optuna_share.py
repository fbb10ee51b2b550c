#!/usr/bin/env python3
"""Who gets the lock: Python Optuna and trialog writers on one Optuna JSON-lines journal.

P Python processes (optuna 5.0.0, JournalFileBackend, RandomSampler) and T trialog processes
(`trialog bench optuna-worker`) optimize one study with a zero-time objective (x**2, x uniform in
[-10, 10]) on one journal for a fixed time, all started at once. Prints each side's finished
trials and its share, beside its fair share (its number of writers over all writers), and checks
that the journal holds exactly the trials the workers reported.

    cargo build --release
    python bench/optuna_share.py --seconds 6 --reps 3            # 2 Python + 2 trialog
    python bench/optuna_share.py --lock open --python 2 --trialog 2

Prints one JSON line per rep on stdout (and a summary line per rep on stderr). KEEP=1 keeps (and
names) each rep's scratch directory with the journal. `--worker` is the Python worker's own entry
point (used by the script itself).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRIALOG = os.path.join(os.path.dirname(HERE), "target", "release", "trialog")
STUDY = "share"


def python_worker(a) -> None:
    import warnings

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    lock = JournalFileOpenLock(a.journal) if a.lock == "open" else None
    storage = JournalStorage(JournalFileBackend(a.journal, lock_obj=lock))
    study = optuna.create_study(storage=storage, study_name=STUDY, load_if_exists=True,
                                sampler=optuna.samplers.RandomSampler(seed=a.seed))
    open(a.ready, "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(a.go):
        if time.monotonic() > deadline:
            sys.exit("no go signal in time")
        time.sleep(0.0005)
    t0 = time.monotonic()
    finished = []
    study.optimize(lambda t: t.suggest_float("x", -10, 10) ** 2, timeout=a.seconds,
                   callbacks=[lambda study, trial: finished.append(trial.number)])
    print(json.dumps({"trials": len(finished), "seconds": time.monotonic() - t0}))


def count_trials(journal: str) -> int:
    """Trials in the journal, as Python Optuna replays it."""
    code = ("import sys, optuna\n"
            "from optuna.storages import JournalStorage\n"
            "from optuna.storages.journal import JournalFileBackend\n"
            "optuna.logging.set_verbosity(optuna.logging.ERROR)\n"
            "s = JournalStorage(JournalFileBackend(sys.argv[1]))\n"
            "print(len(s.get_all_trials(s.get_study_id_from_name('share'), deepcopy=False)))\n")
    out = subprocess.run([sys.executable, "-c", code, journal], check=True, capture_output=True,
                         text=True).stdout
    return int(out.strip())


def one_run(a, rep: int) -> dict:
    work = tempfile.mkdtemp(prefix="trialog-share-")
    try:
        journal = os.path.join(work, "share.log")
        go = os.path.join(work, "go")
        procs = []
        for i in range(a.python + a.trialog):
            ready = os.path.join(work, f"ready{i}")
            seed = str(rep * 100 + i)
            if i < a.python:
                cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--journal",
                       journal, "--seconds", str(a.seconds), "--ready", ready, "--go", go,
                       "--lock", a.lock, "--seed", seed]
                side = "python"
            else:
                cmd = [a.trialog_bin, "bench", "optuna-worker", "--journal", journal, "--study",
                       STUDY, "--seconds", str(a.seconds), "--ready", ready, "--go", go,
                       "--lock", a.lock, "--seed", seed]
                side = "trialog"
            procs.append((side, ready, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)))
            # Create the study once, before the others start (no concurrent creators).
            if i == 0:
                while not os.path.exists(ready):
                    if procs[0][2].poll() is not None:
                        sys.exit("the first worker failed to start")
                    time.sleep(0.01)
        deadline = time.monotonic() + 120
        while not all(os.path.exists(r) for _, r, _ in procs):
            if time.monotonic() > deadline or any(p.poll() is not None for _, _, p in procs):
                for _, _, p in procs:
                    p.kill()
                sys.exit("workers failed to start")
            time.sleep(0.01)
        open(go, "w").close()
        counts = {"python": [], "trialog": []}
        for side, _, p in procs:
            out, _ = p.communicate()
            if p.returncode != 0:
                sys.exit(f"a {side} worker failed ({p.returncode})")
            counts[side].append(json.loads(out.strip().splitlines()[-1])["trials"])
        total = sum(counts["python"]) + sum(counts["trialog"])
        in_file = count_trials(journal)
        writers = a.python + a.trialog
        row = {
            "rep": rep, "lock": a.lock, "seconds": a.seconds,
            "python_writers": a.python, "trialog_writers": a.trialog,
            "python_trials": counts["python"], "trialog_trials": counts["trialog"],
            "python_share": sum(counts["python"]) / total if total else 0.0,
            "python_fair_share": a.python / writers,
            "trials_in_file": in_file,
            # Trials still RUNNING at the deadline are in the file but were not reported.
            "ok": total <= in_file <= total + writers,
        }
        fair = row["python_fair_share"]
        row["python_share_of_fair"] = row["python_share"] / fair if fair else None
        return row
    finally:
        if os.environ.get("KEEP"):
            print(work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--python", type=int, default=2)
    ap.add_argument("--trialog", type=int, default=2)
    ap.add_argument("--lock", choices=("symlink", "open"), default="symlink")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--trialog-bin", default=TRIALOG)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--journal", help=argparse.SUPPRESS)
    ap.add_argument("--ready", help=argparse.SUPPRESS)
    ap.add_argument("--go", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        python_worker(a)
        return
    if a.trialog and not os.access(a.trialog_bin, os.X_OK):
        sys.exit(f"{a.trialog_bin} not found: run cargo build --release first")
    for rep in range(a.reps):
        row = one_run(a, rep)
        print(json.dumps(row, sort_keys=True), flush=True)
        print(f"rep {rep} ({a.lock}, {a.seconds:g} s): python {sum(row['python_trials'])} "
              f"{row['python_trials']}, trialog {sum(row['trialog_trials'])} "
              f"{row['trialog_trials']}; python share {row['python_share']:.1%} "
              f"(fair {row['python_fair_share']:.0%}, {row['python_share_of_fair'] or 0:.2f} of fair)"
              f"{'' if row['ok'] else '  FILE CHECK FAILED'}", file=sys.stderr)


if __name__ == "__main__":
    main()
