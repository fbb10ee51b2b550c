#!/usr/bin/env bash
# System calls per durable operation of `trialog bench w1` (and `w3`), counted with strace.
#
# Runs the workload twice under `strace -f -c`, with N1 and N2 trials, and divides the
# difference of the counts by the difference of durable operations (5 per trial), so that
# start-up, study creation and the read-back check cancel out. Prints one line per system call
# that happens per operation, then the total.
#
#   bench/syscalls.sh                      # W1, 200 vs 1200 trials, target/release/trialog
#   bench/syscalls.sh w3                   # W3 with 4 processes, 50 vs 250 trials each
#   TRIALOG=path/to/trialog N1=100 N2=600 bench/syscalls.sh w1
#
# Needs strace (apt-get install -y strace). Scratch files go to a temporary directory that is
# removed afterwards. Counts are exact for W1 (one process, no contention); for W3 they vary
# from run to run with how often the lock was contended.
set -euo pipefail

workload=${1:-w1}
here=$(cd "$(dirname "$0")" && pwd)
trialog=${TRIALOG:-$here/../target/release/trialog}
procs=${PROCS:-4}
case $workload in
w1) n1=${N1:-200} n2=${N2:-1200} ops_per_trial=5 ;;
w3) n1=${N1:-50} n2=${N2:-250} ops_per_trial=$((5 * procs)) ;;
*)
    echo "usage: $0 [w1|w3]" >&2
    exit 2
    ;;
esac
command -v strace >/dev/null || {
    echo "$0: strace is not installed (apt-get install -y strace)" >&2
    exit 1
}
[ -x "$trialog" ] || {
    echo "$0: $trialog not found: run cargo build --release first (or set TRIALOG)" >&2
    exit 1
}

scratch=$(mktemp -d /tmp/trialog-syscalls.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# count N OUT: strace summary of the workload with N trials (per process for W3) into OUT.
count() {
    local n=$1 out=$2
    local args=(bench "$workload" --n "$n" --journal "$scratch/j.journal")
    [ "$workload" = w3 ] && args+=(--procs "$procs")
    strace -f -c -o "$out" "$trialog" "${args[@]}" >/dev/null
}

count "$n1" "$scratch/a.txt"
count "$n2" "$scratch/b.txt"

awk -v ops=$(((n2 - n1) * ops_per_trial)) -v workload="$workload" -v n1="$n1" -v n2="$n2" '
    # strace -c rows: % time, seconds, usecs/call, calls, [errors], syscall
    function row(file,    name) {
        if ($1 ~ /^[0-9.]+$/ && NF >= 5) {
            name = $NF
            if (name == "total") return
            if (file == 1) a[name] += $4; else b[name] += $4
            seen[name] = 1
        }
    }
    FNR == 1 { f++ }
    { row(f) }
    END {
        printf "%s: system calls per durable operation (%d vs %d trials, %d operations apart)\n",
            workload, n1, n2, ops
        total = 0
        for (name in seen) {
            per = (b[name] - a[name]) / ops
            if (per >= 0.005) { printf "  %-16s %6.2f\n", name, per | "sort"; total += per }
        }
        close("sort")
        printf "  %-16s %6.2f\n", "total", total
    }' "$scratch/a.txt" "$scratch/b.txt"
