#!/bin/bash
# tend's benchmarks, all measured in one run so the ratios compare like with
# like on a shared, noisy machine. Usage: bench/run.sh [BUILD_DIR]
# (default build-bench, configured as a release build).
#
#  1. Per-test overhead: 10,000 no-op doctest tests, `tend run -j 1` against
#     the same binary run natively; (tend - native) / tests.
#  2. `tend run -j 2` on those 10,000 against the native binary; 1 and 2
#     again for 10,000 no-op GoogleTest tests (bench/gtest_noop_suite), and
#     2,000 of them against ctest -j2 with a process per test; 1 and 2
#     again for 10,000 no-op Catch2 tests (bench/catch2_noop_suite), with
#     Catch2's per-test signal handlers compiled out (tend's default) and
#     kept (TEND_CATCH2_POSIX_SIGNALS).
#     The same 2,000 in an unmodified gtest binary (gtest's own main):
#     `tend run -j 2` runs it in batches (target: >= 20x ctest).
#  3. 2,000 trivial tests: `tend run -j 2` against `ctest -j2` running one
#     process per test (needs ctest; skipped without it).
#  4. The worker alone over the protocol (bench/single_test_latency): one
#     test of a 10-test and of a 10,000-test binary, pipelined cost per test,
#     and the machine's raw pipe round trip; also pinned to one CPU, where
#     no cross-CPU wake-up is paid.
# Each wall time is the best of 5 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" >/dev/null
tend="$build/runner/tend"
suite="$build/bench/noop_suite"
latency="$build/bench/single_test_latency"

# best_of COMMAND...: the best wall time of 5 runs, in microseconds.
best_of() {
    local best=""
    for _ in 1 2 3 4 5; do
        local start end
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        local us=$(((end - start) / 1000))
        if [ -z "$best" ] || [ "$us" -lt "$best" ]; then best=$us; fi
    done
    echo "$best"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "== tend benchmarks ($(date -u +%F), $(nproc) CPUs, kernel $(uname -r))"

# The runner's own cost: no history is read or recorded (TEND_NO_HISTORY);
# what recording one adds is measured once, below.
export TEND_NO_HISTORY=1
history=$(mktemp -d)
trap 'rm -rf "$history"' EXIT
export TEND_BENCH_TESTS=10000 TEND_BENCH_PER_SUITE=100
native=$(best_of "$suite")
j1=$(best_of "$tend" run "$suite" -j 1 -q)
j2=$(best_of "$tend" run "$suite" -j 2 -q)
jh=$(best_of "$tend" run "$suite" -j 1 -q --history "$history/history.db")
overhead=$(awk -v t="$j1" -v n="$native" 'BEGIN { printf "%.2f", (t - n) / 10000 }')
echo "10,000 no-op tests (100 suites of 100):"
echo "  native binary            $((native / 1000)) ms"
echo "  tend run -j 1            $((j1 / 1000)) ms   overhead per test: ${overhead} us (target <= 5)"
echo "  tend run -j 2            $((j2 / 1000)) ms   = $(ratio "$j2" "$native") x native"
echo "  -j 1, recording a history $((jh / 1000)) ms   its cost per test: $(awk -v h="$jh" -v t="$j1" 'BEGIN { printf "%.2f", (h - t) / 10000 }') us (the history's default: 20 runs kept)"

gsuite="$build/bench/gtest_noop_suite"
if [ -x "$gsuite" ]; then
    gnative=$(best_of "$gsuite")
    gj1=$(best_of "$tend" run "$gsuite" -j 1 -q)
    gj2=$(best_of "$tend" run "$gsuite" -j 2 -q)
    goverhead=$(awk -v t="$gj1" -v n="$gnative" 'BEGIN { printf "%.2f", (t - n) / 10000 }')
    echo "10,000 no-op GoogleTest tests (RegisterTest, 100 suites of 100):"
    echo "  native binary            $((gnative / 1000)) ms"
    echo "  tend run -j 1            $((gj1 / 1000)) ms   overhead per test: ${goverhead} us (target <= 5)"
    echo "  tend run -j 2            $((gj2 / 1000)) ms   = $(ratio "$gj2" "$gnative") x native"
    if command -v ctest >/dev/null; then
        # What gtest_discover_tests gives ctest: a process per test, selected
        # with --gtest_filter.
        gctest_dir=$(mktemp -d)
        abs_gsuite=$(readlink -f "$gsuite")
        for i in $(seq 0 1999); do
            t="Suite$((i / 100)).Noop$i"
            echo "add_test($t \"$abs_gsuite\" \"--gtest_filter=$t\")"
        done >"$gctest_dir/CTestTestfile.cmake"
        gctest_us=$(TEND_BENCH_TESTS=2000 best_of ctest --test-dir "$gctest_dir" -j2 -Q)
        gj2_small=$(TEND_BENCH_TESTS=2000 best_of "$tend" run "$gsuite" -j 2 -q)
        gplain="$build/bench/gtest_noop_plain"
        gplain_j2=$(TEND_BENCH_TESTS=2000 best_of "$tend" run "$gplain" -j 2 -q)
        gplain_one=$(TEND_BENCH_TESTS=2000 TEND_BENCH_PER_SUITE=2000 best_of "$tend" run "$gplain" -j 2 -q)
        gplain_native=$(TEND_BENCH_TESTS=2000 best_of "$gplain")
        rm -rf "$gctest_dir"
        echo "2,000 trivial GoogleTest tests (20 suites of 100):"
        echo "  ctest -j2 (a process per test, --gtest_filter, as gtest_discover_tests writes)  $((gctest_us / 1000)) ms"
        echo "  unmodified binary, by hand      $((gplain_native / 1000)) ms"
        echo "  unmodified binary, tend run -j 2 (batches)  $((gplain_j2 / 1000)) ms   ctest / tend = $(ratio "$gctest_us" "$gplain_j2") x (target >= 20)"
        echo "    the same, one suite of 2,000  $((gplain_one / 1000)) ms   ctest / tend = $(ratio "$gctest_us" "$gplain_one") x"
        echo "  linked with tend's gtest main, tend run -j 2 (warm)  $((gj2_small / 1000)) ms   ctest / tend = $(ratio "$gctest_us" "$gj2_small") x (target >= 100)"
    fi
else
    echo "10,000 no-op GoogleTest tests: not built (libgtest-dev missing)"
fi

csuite="$build/bench/catch2_noop_suite"
if [ -x "$csuite" ]; then
    cnative=$(best_of "$csuite")
    cj1=$(best_of "$tend" run "$csuite" -j 1 -q)
    cj2=$(best_of "$tend" run "$csuite" -j 2 -q)
    csj1=$(best_of "$tend" run "${csuite}_signals" -j 1 -q)
    coverhead=$(awk -v t="$cj1" -v n="$cnative" 'BEGIN { printf "%.2f", (t - n) / 10000 }')
    csignals=$(awk -v s="$csj1" -v t="$cj1" 'BEGIN { printf "%.2f", (s - t) / 10000 }')
    echo "10,000 no-op Catch2 tests (AutoReg, 100 files of 100):"
    echo "  native binary            $((cnative / 1000)) ms"
    echo "  tend run -j 1            $((cj1 / 1000)) ms   overhead per test: ${coverhead} us (target <= 5)"
    echo "  tend run -j 2            $((cj2 / 1000)) ms   = $(ratio "$cj2" "$cnative") x native"
    echo "  -j 1, Catch2's signal handlers kept  $((csj1 / 1000)) ms   their cost per test: ${csignals} us"
else
    echo "10,000 no-op Catch2 tests: not built (catch2 missing)"
fi

export TEND_BENCH_TESTS=2000 TEND_BENCH_PER_SUITE=100
j2_small=$(best_of "$tend" run "$suite" -j 2 -q)
if command -v ctest >/dev/null; then
    ctest_dir=$(mktemp -d)
    trap 'rm -rf "$ctest_dir" "$history"' EXIT
    abs_suite=$(readlink -f "$suite")
    for i in $(seq 0 1999); do
        echo "add_test(noop_$i \"$abs_suite\" \"--test-case=noop $i\")"
    done >"$ctest_dir/CTestTestfile.cmake"
    ctest_us=$(best_of ctest --test-dir "$ctest_dir" -j2 -Q)
    echo "2,000 trivial tests:"
    echo "  ctest -j2 (a process per test)  $((ctest_us / 1000)) ms"
    echo "  tend run -j 2                   $((j2_small / 1000)) ms   ctest / tend = $(ratio "$ctest_us" "$j2_small") x (target >= 100)"
else
    echo "2,000 trivial tests: tend run -j 2 $((j2_small / 1000)) ms (ctest not installed: no comparison)"
fi

echo "The worker alone, over the protocol (no supervisor):"
for n in 10 10000; do
    echo "  $n tests:              $(TEND_BENCH_TESTS=$n "$latency" "$suite" 2000)"
done
if command -v taskset >/dev/null; then
    for n in 10 10000; do
        echo "  $n tests, one CPU:     $(TEND_BENCH_TESTS=$n taskset -c 0 "$latency" "$suite" 2000)"
    done
fi
