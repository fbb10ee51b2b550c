#!/usr/bin/env python3
"""Artifact throughput: trialog vs Python Optuna's artifact stores on the same machine.

Uploads and downloads one file (256 MiB by default) to the filesystem store and to a local
S3-compatible server (moto_server on 127.0.0.1, started and stopped here), linking it to a RUNNING
trial of one Optuna JSON-lines journal:

* optuna: `optuna.artifacts.upload_artifact` / `download_artifact` with `FileSystemArtifactStore`
  and `Boto3ArtifactStore` (defaults), timed inside the Python process;
* trialog: `trialog artifacts put` / `get` (release build, or `--trialog PATH`), timed as whole
  processes (start-up, journal replay and link included). `put` also hashes the bytes (SHA-256
  recorded in the link) and, on the filesystem, fsyncs the file and its directory (Optuna does
  neither); `get` checks the recorded size, and with `--verify` (passed on to `get`) the
  SHA-256 too (Optuna checks neither).

Each rep runs both in rotated order, each timed operation starting after `os.sync()` (so one
run's dirty pages are not written back during the next); the table shows medians (min-max) of
MB/s (10^6 bytes/s) and per-rep ratios trialog/optuna. Needs `cargo build --release` and
`python3 -m pip install optuna==5.0.0 "moto[server]" boto3`.

    python3 bench/artifacts.py --reps 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
TRIALOG = os.path.join(os.path.dirname(HERE), "target", "release", "trialog")
ENV = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
       "AWS_DEFAULT_REGION": "us-east-1"}
BUCKET = "bench"


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto_server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--work", default="/tmp/trialog-artifacts-bench")
    ap.add_argument("--trialog", default=TRIALOG, help="the trialog binary to measure")
    ap.add_argument("--verify", action="store_true", help="run `trialog artifacts get --verify`")
    args = ap.parse_args()
    if not os.path.exists(args.trialog):
        raise SystemExit(f"{args.trialog} is missing: run `cargo build --release` first")
    trialog = args.trialog
    get_flags = ["--verify"] if args.verify else []

    os.environ.update(ENV)
    warnings.simplefilter("ignore")
    import boto3
    import optuna
    from optuna.artifacts import (Boto3ArtifactStore, FileSystemArtifactStore,
                                  download_artifact, upload_artifact)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    src = os.path.join(args.work, "src.bin")
    size = args.mib << 20
    with open(src, "wb") as f:
        for _ in range(args.mib):
            f.write(os.urandom(1 << 20))
    journal = os.path.join(args.work, "bench.log")
    storage = JournalStorage(JournalFileBackend(journal))
    study = optuna.create_study(study_name="bench", storage=storage)
    study.ask()
    trial = study.get_trials(deepcopy=False)[0]
    fs_dir = os.path.join(args.work, "store")
    os.makedirs(fs_dir)
    out = os.path.join(args.work, "out.bin")

    moto, endpoint = start_moto()
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        stores = {
            "fs": (FileSystemArtifactStore(fs_dir), ["--store", fs_dir]),
            "s3": (Boto3ArtifactStore(BUCKET, client),
                   ["--store", f"s3://{BUCKET}", "--s3-endpoint", endpoint]),
        }

        def forget(kind: str, artifact_id: str) -> None:
            if kind == "fs":
                os.remove(os.path.join(fs_dir, artifact_id))
            else:
                client.delete_object(Bucket=BUCKET, Key=artifact_id)
            if os.path.exists(out):
                os.remove(out)

        def optuna_run(kind: str) -> tuple[float, float]:
            store = stores[kind][0]
            os.sync()
            t0 = time.perf_counter()
            aid = upload_artifact(artifact_store=store, file_path=src, study_or_trial=trial,
                                  storage=storage)
            up = time.perf_counter() - t0
            os.sync()
            t0 = time.perf_counter()
            download_artifact(artifact_store=store, file_path=out, artifact_id=aid)
            down = time.perf_counter() - t0
            assert os.path.getsize(out) == size
            forget(kind, aid)
            return up, down

        def trialog_run(kind: str) -> tuple[float, float]:
            opts = stores[kind][1]
            os.sync()
            t0 = time.perf_counter()
            aid = subprocess.run([trialog, "artifacts", "put", journal, *opts, "--study", "bench",
                                  "--trial", "0", src], check=True, capture_output=True,
                                 text=True, env=ENV).stdout.strip()
            up = time.perf_counter() - t0
            os.sync()
            t0 = time.perf_counter()
            subprocess.run([trialog, "artifacts", "get", journal, *opts, aid, "--out", out, *get_flags],
                           check=True, capture_output=True, env=ENV)
            down = time.perf_counter() - t0
            assert os.path.getsize(out) == size
            forget(kind, aid)
            return up, down

        runs = {"optuna": optuna_run, "trialog": trialog_run}
        results: dict[tuple[str, str, str], list[float]] = {}
        for rep in range(args.reps):
            order = list(runs) if rep % 2 == 0 else list(reversed(runs))
            for kind in stores:
                for name in order:
                    up, down = runs[name](kind)
                    results.setdefault((kind, "upload", name), []).append(size / up / 1e6)
                    results.setdefault((kind, "download", name), []).append(size / down / 1e6)
                    print(f"rep {rep} {kind} {name}: upload {size / up / 1e6:.0f} MB/s, "
                          f"download {size / down / 1e6:.0f} MB/s", file=sys.stderr)
    finally:
        moto.kill()
        moto.wait()

    def fmt(xs: list[float]) -> str:
        return f"{statistics.median(xs):,.0f} ({min(xs):,.0f}-{max(xs):,.0f})"

    print(f"\n{args.mib} MiB, {args.reps} reps, MB/s median (min-max), {trialog} "
          f"{' '.join(get_flags)}, load average {os.getloadavg()[0]:.1f}\n")
    print("| store | direction | optuna | trialog | trialog/optuna |")
    print("|---|---|---|---|---|")
    for kind in stores:
        for direction in ("upload", "download"):
            o = results[(kind, direction, "optuna")]
            t = results[(kind, direction, "trialog")]
            ratios = [b / a for a, b in zip(o, t)]
            print(f"| {kind} | {direction} | {fmt(o)} | {fmt(t)} | "
                  f"{statistics.median(ratios):.2f}x |")
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
