#!/bin/bash
# CI benchmarks (issue 15: history, scheduling, shards). Usage:
# bench/ci.sh [BUILD_DIR] (default build-bench, a release build).
#
#  shards  The shard partition over a long-tail suite (190 short units of
#          5-14 tests, 10 long units of 3 tests, 20-65 s, placed last):
#          for N = 2, 4, 8 the max/min shard test count and duration,
#          partitioned by test count (no history) and by the synthetic
#          per-unit durations passed in (LPT; what history provides).
#          Pure computation (bench/shard_balance.cpp), no processes; and
#          `tend list --shard K/N` over the no-op suite, to check that the
#          shards of the real command cover it once.
#
# TEND_BENCH_SECTIONS picks sections ("shards"; default all).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" -j 1 runner/tend bench/noop_suite bench/shard_balance >/dev/null
tend=${TEND_BENCH_TEND:-$build/runner/tend}
sections=${TEND_BENCH_SECTIONS:-shards}
section() { [[ " $sections " == *" $1 "* ]]; }

if section shards; then
    echo "== shards: balance over a long-tail suite"
    "$build/bench/shard_balance"
    # The real command: 2,000 no-op tests in suites of 10, every shard's list.
    for n in 2 4 8; do
        counts=()
        total=0
        for ((k = 1; k <= n; k++)); do
            c=$(TEND_BENCH_TESTS=2000 TEND_BENCH_PER_SUITE=10 \
                "$tend" list --no-config --shard "$k/$n" "$build/bench/noop_suite" | wc -l)
            counts+=("$c")
            total=$((total + c))
        done
        echo "tend list --shard K/$n over 2000 tests: ${counts[*]} (sum $total)"
    done
fi
