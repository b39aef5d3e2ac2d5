#!/bin/bash
# CI benchmarks (issue 15: CI across many machines). Usage:
# bench/ci.sh [BUILD_DIR] (default build-bench, a release build).
#
#  scheduling  A suite with a long tail of unit durations, the long units
#              listed last: 60 short units (5 tests of 10 ms each) and three
#              long ones (3 s, 0.5 s, 0.5 s: TEND_BENCH_LONG_US). `tend run
#              -j 2` wall time in list order (--no-history) against longest
#              first with a history (one run records it, then the measured
#              run), best of TEND_BENCH_RUNS (default 2) each; and the target:
#              max(longest unit, total / 2) + 5 %.
#  shards      The shard partition over a long-tail suite (190 short units
#              of 5-14 tests, 10 long units of 3 tests, 20-65 s, placed
#              last): for N = 2, 4, 8 the max/min shard test count and
#              duration, partitioned by test count (no history) and by the
#              synthetic per-unit durations passed in (LPT; what history
#              provides). Pure computation (bench/shard_balance.cpp), no
#              processes; and `tend list --shard K/N` over the no-op suite,
#              to check that the shards of the real command cover it once.
# TEND_BENCH_SECTIONS picks sections ("scheduling shards"; default all).
# TEND_BENCH_TEND measures another tend binary with the same suite.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" -j 1 runner/tend bench/noop_suite bench/shard_balance >/dev/null
tend=$(readlink -f "${TEND_BENCH_TEND:-$build/runner/tend}")
sections=${TEND_BENCH_SECTIONS:-scheduling shards}
section() { [[ " $sections " == *" $1 "* ]]; }
suite=$(readlink -f "$build/bench/noop_suite")
balance=$(readlink -f "$build/bench/shard_balance")
runs=${TEND_BENCH_RUNS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # the last-run state and the history go here, not into the repository

# best_s COMMAND...: the best wall time of $runs runs, in seconds.
best_s() {
    local best=""
    for _ in $(seq "$runs"); do
        local start=${EPOCHREALTIME/./} end
        "$@" >/dev/null 2>&1 || true
        end=${EPOCHREALTIME/./}
        local t=$((end - start))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    awk -v us="$best" 'BEGIN { printf "%.2f", us / 1e6 }'
}

echo "== tend CI benchmarks ($(date -u +%F), $(nproc) CPUs, kernel $(uname -r))"

if section scheduling; then
    export TEND_BENCH_TESTS=300 TEND_BENCH_PER_SUITE=5 TEND_BENCH_SLEEP_US=10000
    export TEND_BENCH_LONG_US=3000000,500000,500000
    total=$(awk 'BEGIN { print 300 * 0.010 + 3 + 0.5 + 0.5 }')
    ideal=$(awk -v t="$total" 'BEGIN { i = t / 2; if (i < 3) i = 3; print i }')
    echo "-- scheduling: 60 units of 5 x 10 ms, then units of 3 s, 0.5 s, 0.5 s; -j 2"
    echo "   total ${total} s of tests: ideal max(3, total / 2) = ${ideal} s, target <= $(awk -v i="$ideal" 'BEGIN { printf "%.2f", i * 1.05 }') s"
    listed=$(best_s "$tend" run "$suite" -j 2 -q --no-history)
    echo "   list order (--no-history):        ${listed} s"
    "$tend" run "$suite" -j 2 -q --history "$work/history.db" >/dev/null 2>&1 || true
    longest=$(best_s "$tend" run "$suite" -j 2 -q --history "$work/history.db")
    echo "   longest first (with history):     ${longest} s"
    unset TEND_BENCH_TESTS TEND_BENCH_PER_SUITE TEND_BENCH_SLEEP_US TEND_BENCH_LONG_US
fi

if section shards; then
    echo "== shards: balance over a long-tail suite"
    "$balance"
    # The real command: 2,000 no-op tests in suites of 10, every shard's list.
    for n in 2 4 8; do
        counts=()
        total=0
        for ((k = 1; k <= n; k++)); do
            c=$(TEND_BENCH_TESTS=2000 TEND_BENCH_PER_SUITE=10 \
                "$tend" list --no-config --shard "$k/$n" "$suite" | wc -l)
            counts+=("$c")
            total=$((total + c))
        done
        echo "tend list --shard K/$n over 2000 tests: ${counts[*]} (sum $total)"
    done
fi
