#!/usr/bin/env bash
# Opening a journal with and without a current snapshot (issue 12, docs/FORMAT.md "Snapshots"),
# beside the peers' open of the same Optuna JSON-lines file.
#
# For each size N: builds an N-trial W1-shape trialog journal (`bench w2-build`), then in fresh
# processes times a full replay (`bench w2`, no snapshot), takes a snapshot (`trialog snapshot`)
# and times the open from it (`bench w2` again: `replayed_from` is the snapshot's covered end).
# The same for the journal exported to Optuna JSON lines, where Rustuna and Optuna (through
# ../shared/bench/bench.py w2: construct the storage, read every trial) open the same file.
#
# Output: each run's JSON line (`open_s` the open, `seconds` the open plus reading every trial,
# `rss_peak_mib` the process's peak RSS, `rss_open_mib` its peak once the storage was open), preceded by `# time` lines (user and system CPU seconds,
# wall seconds, max RSS of the process as /usr/bin/time saw it), then one summary JSON line per
# size and format, `"w":"snapshot-summary"`, with the full replay's and the snapshot open's wall
# seconds, CPU seconds and peak RSS, `speedup` (full seconds / snapshot seconds, open plus reading
# every trial) and `open_speedup` (the opens alone), and the peers' seconds on the same file.
#
#   bench/snapshot.sh                        # N = 100000 and 1000000, target/release/trialog
#   SIZES="100000" bench/snapshot.sh         # one size
#   FORMATS="trialog" bench/snapshot.sh      # trialog journals only
#   PEERS_MAX=1000000 bench/snapshot.sh      # peers at 1M too (Optuna takes minutes and GiBs)
#   PEERS="" bench/snapshot.sh               # no peers
#
# Scratch journals (about 400 MB at 1M trials per format) go to a temporary directory that is
# removed afterwards.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
trialog=${TRIALOG:-$here/../target/release/trialog}
peers_script=${PEERS_SCRIPT:-$here/../../shared/bench/bench.py}
sizes=${SIZES:-100000 1000000}
formats=${FORMATS:-trialog optuna}
peers=${PEERS-rustuna optuna}
peers_max=${PEERS_MAX:-100000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/trialog-snapshot-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# Runs "$@" under /usr/bin/time; prints its stdout (the JSON line), then "# time user sys wall
# maxrss_kib"; leaves the JSON line in $dir/last.json and "user+sys wall" in $dir/last.time.
timed() {
    /usr/bin/time -f '%U %S %e %M' -o "$dir/time" "$@" >"$dir/last.json"
    cat "$dir/last.json"
    read -r user sys wall rss <"$dir/time"
    echo "# time user_s=$user sys_s=$sys wall_s=$wall maxrss_kib=$rss"
    echo "$user $sys $wall" >"$dir/last.time"
}

# field NAME: the numeric field NAME of $dir/last.json.
field() {
    python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' \
        "$dir/last.json" "$1"
}

cpu() {
    awk '{ printf "%.2f", $1 + $2 }' "$dir/last.time"
}

for n in $sizes; do
    journal=$dir/w1-$n.journal
    "$trialog" bench w2-build --n "$n" --journal "$journal" --seed 1 >/dev/null
    for format in $formats; do
        file=$journal
        if [ "$format" = optuna ]; then
            file=$dir/w1-$n.optuna.log
            "$trialog" export --format optuna "$journal" "$file" >/dev/null
        fi
        rm -f "$file.snapshot"
        timed "$trialog" bench w2 --journal "$file" --format "$format" --n "$n"
        full_s=$(field seconds) full_open=$(field open_s) full_rss=$(field rss_peak_mib)
        full_rss_open=$(field rss_open_mib)
        full_cpu=$(cpu)
        "$trialog" snapshot "$file" | sed 's/^/# /'
        timed "$trialog" bench w2 --journal "$file" --format "$format" --n "$n"
        snap_s=$(field seconds) snap_open=$(field open_s) snap_rss=$(field rss_peak_mib)
        snap_rss_open=$(field rss_open_mib)
        snap_cpu=$(cpu)
        [ "$(field replayed_from)" -gt 0 ] || { echo "the snapshot was not used" >&2; exit 1; }
        peer_fields=""
        if [ "$format" = optuna ] && [ "$n" -le "$peers_max" ] && [ -f "$peers_script" ]; then
            for peer in $peers; do
                timed python3 "$peers_script" w2 --backend "$peer" --path "$file" --n "$n"
                peer_fields="$peer_fields,\"${peer}_s\":$(field seconds),\"${peer}_open_s\":$(field open_s),\"${peer}_cpu_s\":$(cpu)"
            done
        fi
        printf '{"w":"snapshot-summary","format":"%s","n_trials":%s,"full_s":%s,"full_open_s":%s,"full_cpu_s":%s,"full_rss_peak_mib":%s,"full_rss_open_mib":%s,"snapshot_s":%s,"snapshot_open_s":%s,"snapshot_cpu_s":%s,"snapshot_rss_peak_mib":%s,"snapshot_rss_open_mib":%s,"speedup":%s,"open_speedup":%s%s}\n' \
            "$format" "$n" "$full_s" "$full_open" "$full_cpu" "$full_rss" "$full_rss_open" \
            "$snap_s" "$snap_open" "$snap_cpu" "$snap_rss" "$snap_rss_open" \
            "$(awk -v a="$full_s" -v b="$snap_s" 'BEGIN { printf "%.1f", a / b }')" \
            "$(awk -v a="$full_open" -v b="$snap_open" 'BEGIN { printf "%.1f", a / b }')" \
            "$peer_fields"
        rm -f "$file.snapshot"
        [ "$format" = optuna ] && rm -f "$file"
    done
    rm -f "$journal"
done
