#!/bin/bash
# tend at scale (issue 11). Usage: bench/scale.sh [BUILD_DIR] (default
# build-bench, configured as a release build). TEND_BENCH_SECTIONS picks
# sections ("1 3"; default all).
#
# Peak RSS is tend's own (VmHWM of the tend process, sampled from /proc
# every 20 ms until it exits), not its workers': GNU time's figure for a
# process includes the children it waited for, and a worker holding a
# million registered tests is bigger than tend.
#
#  1. One binary of 10,000, 100,000 and 1,000,000 tests (bench/noop_suite,
#     registered at run time, suites of 100), listed and run by tend
#     against the native binary: wall time (best of 3), tend's peak RSS.
#  2. Memory over many results: 10, 100 and 500 binaries of 10,000 tests
#     (100k, 1M and 5M results) run with -q, --json (to /dev/null) and
#     --junit, -j 2: tend's peak RSS, and 1M / 100k as a ratio (target:
#     at most 1.25).
#  3. The daemon over 300 binary paths of 3,333 tests each (1M results),
#     then a burst of 3,000 clients at once running a 10-test binary: the
#     daemon's RSS after 30, 100 and 300 paths and after the burst, with
#     the default cache and with --cache-binaries 30.
# A warm daemon against alone: bench/daemon.sh, section 3; bursts of clients
# with the default options: its section 4.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" >/dev/null
tend=$(readlink -f "$build/runner/tend")
suite=$(readlink -f "$build/bench/noop_suite")
sections=${TEND_BENCH_SECTIONS:-1 2 3}
section() { [[ " $sections " == *" $1 "* ]]; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# best_ms COMMAND...: the best wall time of 3 runs, in milliseconds.
best_ms() {
    local best=""
    for _ in 1 2 3; do
        local start=${EPOCHREALTIME/./} end
        "$@" >/dev/null 2>&1 || true
        end=${EPOCHREALTIME/./}
        local ms=$(((end - start) / 1000))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}
# status_kib PID KEY: a "KEY: N kB" line of /proc/PID/status, in KiB (empty
# once the process is gone). VmHWM is the peak RSS, VmRSS the RSS now.
status_kib() {
    local key value rest
    while read -r key value rest; do
        if [ "$key" = "$2:" ]; then
            echo "$value"
            return
        fi
    done <"/proc/$1/status" 2>/dev/null || true
}
hwm_kib() { status_kib "$1" VmHWM; }
rss_kib() { status_kib "$1" VmRSS; }
# peak_mib COMMAND...: the command's own peak RSS, in MiB.
peak_mib() {
    "$@" >/dev/null 2>&1 &
    local pid=$! last=0 now
    while [ -e "/proc/$pid/status" ]; do
        now=$(hwm_kib "$pid")
        [ -n "$now" ] && last=$now
        sleep 0.02
    done
    wait "$pid" || true
    awk -v k="$last" 'BEGIN { printf "%.1f", k / 1024 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "== tend at scale ($(date -u +%F), $(nproc) CPUs)"

if section 1; then
    echo "-- 1. one binary: list and run against native"
    for n in 10000 100000 1000000; do
        export TEND_BENCH_TESTS=$n TEND_BENCH_PER_SUITE=100
        native_list=$(best_ms "$suite" --list-test-cases)
        tend_list=$(best_ms "$tend" list "$suite")
        native_run=$(best_ms "$suite")
        tend_run=$(best_ms "$tend" run "$suite" -q --no-daemon -j 2)
        printf '%8d tests: list native %6d ms, tend %6d ms (%s x, peak %s MiB); run native %6d ms, tend -j 2 %6d ms (%s x, peak %s MiB)\n' \
            "$n" "$native_list" "$tend_list" "$(ratio "$tend_list" "$native_list")" \
            "$(peak_mib "$tend" list "$suite")" "$native_run" "$tend_run" \
            "$(ratio "$tend_run" "$native_run")" "$(peak_mib "$tend" run "$suite" -q --no-daemon -j 2)"
    done
fi

if section 2; then
    echo "-- 2. tend's peak RSS over many results (binaries of 10,000 tests, -j 2)"
    export TEND_BENCH_TESTS=10000 TEND_BENCH_PER_SUITE=100
    mkdir -p "$work/many"
    for i in $(seq 1 500); do ln -s "$suite" "$work/many/b$i"; done
    binaries() { for i in $(seq 1 "$1"); do echo "$work/many/b$i"; done; }
    for mode in -q --json --junit; do
        line="   $mode:"
        declare -A peak=()
        for count in 10 100 500; do
            # shellcheck disable=SC2046 # one word per binary
            if [ "$mode" = --junit ]; then
                peak[$count]=$(peak_mib "$tend" run $(binaries "$count") -q --no-daemon -j 2 --junit "$work/junit.xml")
            else
                peak[$count]=$(peak_mib "$tend" run $(binaries "$count") "$mode" --no-daemon -j 2)
            fi
            line+=$(printf ' %dk results %s MiB,' "$((count * 10))" "${peak[$count]}")
        done
        echo "$line 1M / 100k $(ratio "${peak[100]}" "${peak[10]}") x, 5M / 100k $(ratio "${peak[500]}" "${peak[10]}") x"
        unset peak
    done
    rm -f "$work/junit.xml"
fi

if section 3; then
    echo "-- 3. the daemon's RSS over 300 binary paths (3,333 tests each, 1M results), then 3,000 clients at once"
    mkdir -p "$work/paths"
    for i in $(seq 1 300); do ln "$suite" "$work/paths/b$i" 2>/dev/null || cp "$suite" "$work/paths/b$i"; done
    for cache in default 30; do
        mkdir -m 700 "$work/sock-$cache"
        socket="$work/sock-$cache/tend.sock"
        extra=()
        [ "$cache" = default ] || extra=(--cache-binaries "$cache")
        "$tend" serve --socket "$socket" "${extra[@]}" >"$work/serve-$cache.log" 2>&1 &
        daemon=$!
        for _ in $(seq 200); do [ -S "$socket" ] && break; sleep 0.01; done
        line=$(printf '   cache %-7s: idle %s MiB' "$cache" "$(mib "$(rss_kib "$daemon")")")
        export TEND_BENCH_TESTS=3333 TEND_BENCH_PER_SUITE=100
        for i in $(seq 1 300); do
            (cd "$work" && "$tend" run "$work/paths/b$i" --daemon --socket "$socket" -q >/dev/null 2>&1) || true
            case $i in 30 | 100 | 300) line+=$(printf ', %d paths %s MiB' "$i" "$(mib "$(rss_kib "$daemon")")") ;; esac
            [ "$i" = 30 ] && after30=$(rss_kib "$daemon")
        done
        export TEND_BENCH_TESTS=10
        pids=()
        for _ in $(seq 3000); do
            (cd "$work" && "$tend" run "$work/paths/b1" --daemon --socket "$socket" -q >/dev/null 2>&1) &
            pids+=($!)
        done
        failed=0
        for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
        sleep 0.5
        after=$(rss_kib "$daemon")
        line+=$(printf '; 3,000 clients (%d failed): peak %s MiB, after %s MiB (%s x the RSS after 30 paths)' \
            "$failed" "$(mib "$(hwm_kib "$daemon")")" "$(mib "$after")" "$(ratio "$after" "$after30")")
        echo "$line"
        "$tend" stop --socket "$socket" >/dev/null 2>&1 || true
        wait "$daemon" || true
    done
fi
