#!/usr/bin/env bash
# Opening a journal with and without a current snapshot (issue 12, docs/FORMAT.md "Snapshots").
#
# For each size N: builds an N-trial W1-shape trialog journal (`bench w2-build`), then in fresh
# processes times a full replay (`bench w2`, no snapshot), takes a snapshot (`trialog snapshot`)
# and times the open from it (`bench w2` again: `replayed_from` is the snapshot's covered end).
# The same for the journal exported to Optuna JSON lines. One JSON line per run; `open_s` is the
# open, `seconds` the open plus reading every trial, `rss_peak_mib` the process's peak RSS.
#
#   bench/snapshot.sh                        # N = 100000 and 1000000, target/release/trialog
#   SIZES="100000" bench/snapshot.sh         # one size
#   FORMATS="trialog" bench/snapshot.sh      # trialog journals only
#
# Scratch journals (about 400 MB at 1M trials per format) go to a temporary directory that is
# removed afterwards.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
trialog=${TRIALOG:-$here/../target/release/trialog}
sizes=${SIZES:-100000 1000000}
formats=${FORMATS:-trialog optuna}
dir=$(mktemp -d "${TMPDIR:-/tmp}/trialog-snapshot-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

for n in $sizes; do
    journal=$dir/w1-$n.journal
    "$trialog" bench w2-build --n "$n" --journal "$journal" --seed 1 >/dev/null
    for format in $formats; do
        file=$journal
        if [ "$format" = optuna ]; then
            file=$dir/w1-$n.optuna.log
            "$trialog" export --format optuna "$journal" "$file" >/dev/null
        fi
        "$trialog" bench w2 --journal "$file" --format "$format" --n "$n"
        "$trialog" snapshot "$file" | sed 's/^/# /'
        "$trialog" bench w2 --journal "$file" --format "$format" --n "$n"
        rm -f "$file.snapshot"
        [ "$format" = optuna ] && rm -f "$file"
    done
    rm -f "$journal"
done
