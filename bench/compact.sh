#!/usr/bin/env bash
# Journal sizes before and after `trialog compact` (issue 12, docs/FORMAT.md "Compacted journals").
#
# For each size N: builds an N-trial W1-shape trialog journal (`bench w2-build`: 5 operations per
# trial), exports it to Optuna JSON lines (the file Optuna's own JournalFileBackend writes for the
# same operations), compacts both, and prints one JSON line per format with the sizes and the
# compacted size as a percentage of the original and of Optuna's original file.
#
#   bench/compact.sh                     # N = 2000 and 100000, target/release/trialog
#   SIZES="2000" bench/compact.sh        # one size
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
trialog=${TRIALOG:-$here/../target/release/trialog}
sizes=${SIZES:-2000 100000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/trialog-compact-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

size() { stat -c %s "$1"; }

for n in $sizes; do
    journal=$dir/w1-$n.journal
    optuna=$dir/w1-$n.optuna.log
    "$trialog" bench w2-build --n "$n" --journal "$journal" --seed 1 >/dev/null
    "$trialog" export --format optuna "$journal" "$optuna" >/dev/null
    optuna_original=$(size "$optuna")
    for file in "$journal" "$optuna"; do
        format=trialog
        [ "$file" = "$optuna" ] && format=optuna
        before=$(size "$file")
        start=$(date +%s.%N)
        "$trialog" compact "$file" >/dev/null
        end=$(date +%s.%N)
        after=$(size "$file")
        awk -v n="$n" -v f="$format" -v b="$before" -v a="$after" -v o="$optuna_original" \
            -v s="$start" -v e="$end" 'BEGIN {
            printf "{\"bench\": \"compact\", \"n_trials\": %d, \"format\": \"%s\", \"bytes_before\": %d, \"bytes_after\": %d, \"percent_of_original\": %.1f, \"optuna_original_bytes\": %d, \"percent_of_optuna_original\": %.1f, \"seconds\": %.3f}\n",
                n, f, b, a, 100 * a / b, o, 100 * a / o, e - s }'
    done
    rm -f "$journal" "$optuna"
done
