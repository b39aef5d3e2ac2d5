#!/bin/bash
# Scale: one binary of 10,000, 100,000 and 1,000,000 tests (bench/noop_suite,
# registered at run time, suites of 100), listed and run by tend against the
# native binary; wall time (best of 3) and tend's peak RSS (GNU time's
# maximum resident set size); at 100,000 and more, also run's peak RSS with
# --junit, which should add little: the report streams to a spool file.
# Usage: bench/scale.sh [BUILD_DIR]
# (default build-bench, configured as a release build).
# Not yet measured here (issue 11, later): RSS over millions of results,
# the daemon's RSS over many binary paths. A warm daemon against alone:
# bench/daemon.sh, section 3; bursts of clients: its section 4.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" >/dev/null
tend="$build/runner/tend"
suite="$build/bench/noop_suite"
gnutime=/usr/bin/time
[ -x "$gnutime" ] || { echo "scale.sh needs GNU time (Debian package 'time')" >&2; exit 2; }

# best_ms COMMAND...: the best wall time of 3 runs, in milliseconds.
best_ms() {
    local best=""
    for _ in 1 2 3; do
        local start end
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        local ms=$(((end - start) / 1000000))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}
# peak_mib COMMAND...: the command's maximum RSS, in MiB.
peak_mib() {
    "$gnutime" -f '%M' -o /tmp/tend-scale-rss.$$ "$@" >/dev/null 2>&1 || true
    awk '{ printf "%.0f", $1 / 1024 }' /tmp/tend-scale-rss.$$
    rm -f /tmp/tend-scale-rss.$$
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "== tend at scale ($(date +%F), $(nproc) CPUs)"
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
    if [ "$n" -ge 100000 ]; then
        junit=/tmp/tend-scale-junit.$$.xml
        plain_mib=$(peak_mib "$tend" run "$suite" -q --no-daemon -j 2)
        junit_mib=$(peak_mib "$tend" run "$suite" -q --no-daemon -j 2 --junit "$junit")
        printf '%8d tests: run -q -j 2 peak %s MiB, with --junit %s MiB (%+d MiB, file %s MiB)\n' \
            "$n" "$plain_mib" "$junit_mib" "$((junit_mib - plain_mib))" \
            "$(awk -v b="$(stat -c %s "$junit" 2>/dev/null || echo 0)" 'BEGIN { printf "%.0f", b / 1048576 }')"
        rm -f "$junit"
    fi
done
