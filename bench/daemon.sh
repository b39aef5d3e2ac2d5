#!/bin/bash
# The daemon's benchmarks (issue: warm pools across runs). Usage:
# bench/daemon.sh [BUILD_DIR] (default build-bench, a release build).
#
#  1. One test of a warm 10,000-test binary, end to end from the client's
#     start to its exit: `tend run --daemon` against `tend run --no-daemon`
#     and against the native binary running that one test (doctest's own
#     --test-case filter). Best and median of 20 runs each.
#  2. 1,000 clients at once, each running a 10-test binary through one
#     daemon: every client's latency (start to exit), as a distribution,
#     and a check that each got every result and its summary.
#  3. A warm daemon against the same run alone (issue 11): 10, 10,000 and
#     100,000 no-op tests (suites of 100), `-q`, human output and `--json`
#     (to /dev/null), `tend run --daemon` against `--no-daemon`, best of 5
#     (TEND_BENCH_RUNS), the two taking turns so that a change in the
#     machine's load reaches both; daemon / alone is the ratio (target:
#     at most 1).
#  4. A burst of clients on a daemon with its DEFAULT options (no limit
#     raised; issue 11: a swarm of agents): 3,000 and 7,000 clients at once
#     (TEND_BENCH_BURSTS), each `tend run --daemon --json` of a 10-test
#     binary: complete and failed clients (and how many were told "busy"),
#     latency percentiles from start to exit, and the daemon's VmRSS before
#     the burst, at its peak (VmHWM) and 2 s after it.
#  5. Spares in `tend run` alone (issue 13): a 10,000-test binary whose
#     every unit is recycled (--max-age 0, suites of 100: 100 units), -j 2,
#     with spares against --no-spares: wall time (best of 5) and the share
#     of the workers' time their places stood empty waiting for a
#     replacement (the summary's replacement_wait_ms over -j x wall time).
#  6. 80 small binaries (20 tests each, suites of 10) through a warm daemon
#     against alone, -j 2: wall time (best of 5) and the workers the daemon
#     runs started (target: none; the spares the run before left, given
#     the time to start, as between two runs by hand).
# TEND_BENCH_SECTIONS picks sections ("1 3"; default all). TEND_BENCH_TEND
# measures another tend binary (an older build) with the same suite.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" >/dev/null
tend=$(readlink -f "${TEND_BENCH_TEND:-$build/runner/tend}")
sections=${TEND_BENCH_SECTIONS:-1 2 3 4 5 6}
section() { [[ " $sections " == *" $1 "* ]]; }
suite=$(readlink -f "$build/bench/noop_suite")
work=$(mktemp -d)
socket="$work/sock/tend.sock"
mkdir -m 700 "$work/sock"
cleanup() {
    "$tend" stop --socket "$socket" >/dev/null 2>&1 || true
    sleep 0.5
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"  # the last-run state file goes here, not into the repository

# stats_us COMMAND...: "best B us, median M us" of 20 runs, $pace seconds
# apart (untimed; default none). A shell variable, not in the environment:
# the daemon's spares are for runs with the same environment.
stats_us() {
    local times=()
    for _ in $(seq 20); do
        [ -z "${pace:-}" ] || sleep "$pace"
        # EPOCHREALTIME (bash 5): microseconds without forking date(1).
        local start=${EPOCHREALTIME/./} end
        "$@" >/dev/null 2>&1 || true
        end=${EPOCHREALTIME/./}
        times+=($((end - start)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "best %d us, median %d us", v[1], v[int((NR + 1) / 2)] }'
}

echo "== tend daemon benchmarks ($(date -u +%F), $(nproc) CPUs, kernel $(uname -r))"
"$tend" serve --socket "$socket" --max-clients 1100 --max-runs 1100 >"$work/serve.log" 2>&1 &
for _ in $(seq 200); do [ -S "$socket" ] && break; sleep 0.01; done

if section 1; then
export TEND_BENCH_TESTS=10000 TEND_BENCH_PER_SUITE=100
one=(run "$suite" --exact "suite 0/noop 0" -q)
"$tend" "${one[@]}" --daemon --socket "$socket" >/dev/null  # warm it up: discovery, one worker
echo "One test of a warm 10,000-test binary, client start to exit:"
echo "  /bin/true (fork + exec floor)  $(stats_us /bin/true)"
echo "  native binary (--test-case)   $(stats_us "$suite" "--test-case=noop 0")"
echo "  tend run --no-daemon          $(stats_us "$tend" "${one[@]}" --no-daemon)"
echo "  tend run --daemon, back to back $(stats_us "$tend" "${one[@]}" --daemon --socket "$socket")   (the spare still starting)"
pace=0.3
echo "  tend run --daemon, 0.3 s apart $(stats_us "$tend" "${one[@]}" --daemon --socket "$socket")   (a fresh spare ready; target < 5000 us)"
pace=
fi

if section 2; then
export TEND_BENCH_TESTS=10 TEND_BENCH_PER_SUITE=10
clients=${TEND_BENCH_CLIENTS:-1000}
"$tend" run "$suite" --daemon --socket "$socket" -q >/dev/null  # warm
mkdir "$work/out" "$work/lat"
pids=()
start=${EPOCHREALTIME/./}
for i in $(seq "$clients"); do
    (
        s=${EPOCHREALTIME/./}
        "$tend" run "$suite" --daemon --socket "$socket" --json >"$work/out/$i" 2>&1 || true
        e=${EPOCHREALTIME/./}
        echo $((e - s)) >"$work/lat/$i"
    ) &
    pids+=($!)
done
wait "${pids[@]}"
end=${EPOCHREALTIME/./}
complete=0
for i in $(seq "$clients"); do
    tests=$(grep -c '"event":"test"' "$work/out/$i" || true)
    summary=$(grep -c '"event":"summary"' "$work/out/$i" || true)
    if [ "$tests" -eq 10 ] && [ "$summary" -eq 1 ]; then complete=$((complete + 1)); fi
done
echo "$clients clients at once, each running 10 tests through one daemon:"
echo "  complete runs (10 results + summary): $complete of $clients"
echo "  all done in $(((end - start) / 1000)) ms"
cat "$work"/lat/* | sort -n | awk '{ v[NR] = $1 } END {
    printf "  latency per client: p50 %d ms, p90 %d ms, p99 %d ms, max %d ms\n",
        v[int(NR * 0.5)] / 1000, v[int(NR * 0.9)] / 1000, v[int(NR * 0.99)] / 1000, v[NR] / 1000 }'
fi

if section 3; then
# best_pair_ms ARGS...: "DAEMON ALONE", the best wall times in ms of
# `tend ARGS --daemon` and `tend ARGS --no-daemon`, taking turns.
best_pair_ms() {
    local best_d="" best_a="" start end ms
    for _ in $(seq "${TEND_BENCH_RUNS:-5}"); do
        start=${EPOCHREALTIME/./}
        "$tend" "$@" --daemon --socket "$socket" >/dev/null 2>&1 || true
        end=${EPOCHREALTIME/./}
        ms=$(((end - start) / 1000))
        if [ -z "$best_d" ] || [ "$ms" -lt "$best_d" ]; then best_d=$ms; fi
        start=${EPOCHREALTIME/./}
        "$tend" "$@" --no-daemon >/dev/null 2>&1 || true
        end=${EPOCHREALTIME/./}
        ms=$(((end - start) / 1000))
        if [ -z "$best_a" ] || [ "$ms" -lt "$best_a" ]; then best_a=$ms; fi
    done
    echo "$best_d $best_a"
}
echo "A warm daemon against the same run alone, best of ${TEND_BENCH_RUNS:-5} (ms; daemon / alone):"
for n in 10 10000 100000; do
    export TEND_BENCH_TESTS=$n TEND_BENCH_PER_SUITE=100
    line=$(printf '%8d tests:' "$n")
    for mode in -q human --json; do
        args=(run "$suite")
        [ "$mode" = human ] || args+=("$mode")
        # Warm: the list cached and spares started for this environment.
        "$tend" "${args[@]}" --daemon --socket "$socket" >/dev/null 2>&1 || true
        read -r d a < <(best_pair_ms "${args[@]}")
        line+=$(printf '  %s %d / %d (%s)' "$mode" "$d" "$a" \
            "$(awk -v d="$d" -v a="$a" 'BEGIN { printf "%.2f", d / a }')")
    done
    echo "$line"
done
fi

if section 4; then
export TEND_BENCH_TESTS=10 TEND_BENCH_PER_SUITE=10
# kib PID FIELD: a field of /proc/PID/status, in KiB.
kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# cpu_ms PID: the CPU time (user + system) PID has used, in ms.
cpu_ms() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }  # the fields after the command's name
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($12 + $13) * 1000 / hz }' <<<"$stat"
}
echo "Bursts of clients at once on a daemon with default options, 10 tests each:"
for clients in ${TEND_BENCH_BURSTS:-3000 7000}; do
    bsock="$work/sock/burst.sock"
    bdir="$work/burst$clients"
    mkdir -p "$bdir"
    "$tend" serve --socket "$bsock" >"$bdir/serve.log" 2>&1 &
    daemon=$!
    for _ in $(seq 200); do [ -S "$bsock" ] && break; sleep 0.01; done
    "$tend" run "$suite" --daemon --socket "$bsock" -q >/dev/null  # warm
    rss_before=$(kib "$daemon" VmRSS)
    cpu_before=$(cpu_ms "$daemon")
    declare -A started=()
    start=${EPOCHREALTIME/./}
    for i in $(seq "$clients"); do
        "$tend" run "$suite" --daemon --socket "$bsock" --json >"$bdir/$i" 2>"$bdir/$i.err" &
        started[$!]=${EPOCHREALTIME/./}
    done
    # Each client's latency as it exits: start to exit.
    : >"$bdir/lat"
    for _ in $(seq "$clients"); do
        pid=""
        wait -n -p pid || true
        end=${EPOCHREALTIME/./}
        [ -n "${started[$pid]:-}" ] || continue  # not a client
        echo $((end - started[$pid])) >>"$bdir/lat"
    done
    end=${EPOCHREALTIME/./}
    unset started
    hwm=$(kib "$daemon" VmHWM)
    cpu=$(($(cpu_ms "$daemon") - cpu_before))
    sleep 2
    rss_after=$(kib "$daemon" VmRSS)
    complete=0
    busy=0
    for i in $(seq "$clients"); do
        tests=$(grep -c '"event":"test"' "$bdir/$i" || true)
        summary=$(grep -c '"event":"summary"' "$bdir/$i" || true)
        if [ "$tests" -eq 10 ] && [ "$summary" -eq 1 ]; then complete=$((complete + 1)); fi
        if grep -q busy "$bdir/$i.err"; then busy=$((busy + 1)); fi
    done
    "$tend" stop --socket "$bsock" >/dev/null 2>&1 || true
    wait "$daemon" || true
    echo "  $clients clients: $complete complete, $((clients - complete)) failed ($busy told busy); all done in $(((end - start) / 1000)) ms"
    sort -n "$bdir/lat" | awk '{ v[NR] = $1 } END {
        printf "    latency per client: p50 %d ms, p90 %d ms, p99 %d ms, max %d ms\n",
            v[int(NR * 0.5)] / 1000, v[int(NR * 0.9)] / 1000, v[int(NR * 0.99)] / 1000, v[NR] / 1000 }'
    echo "    daemon VmRSS: before $((rss_before / 1024)) MiB, peak (VmHWM) $((hwm / 1024)) MiB, 2 s after $((rss_after / 1024)) MiB"
    echo "    daemon CPU: $cpu ms in all, $(awk -v c="$cpu" -v n="$clients" 'BEGIN { printf "%.2f", c / n }') ms per client"
    rm -rf "$bdir"
done
fi

# settle SOCKET: until the daemon's spares are started (at most 10 s).
settle() {
    for _ in $(seq 1000); do
        "$tend" status --socket "$1" --json 2>/dev/null | grep -q '"starting":0' && return
        sleep 0.01
    done
}
# best_ms COMMAND...: the best wall time of 5 runs in ms; the command in
# $before runs (untimed) before each.
best_ms() {
    local best="" start end ms
    for _ in $(seq 5); do
        [ -z "${before:-}" ] || $before
        start=${EPOCHREALTIME/./}
        "$@" >/dev/null 2>&1 || true
        end=${EPOCHREALTIME/./}
        ms=$(((end - start) / 1000))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}

if section 5; then
echo "Every unit recycled (--max-age 0), 10,000 tests in 100 units, -j 2, alone:"
for sleep_us in 0 100; do
    export TEND_BENCH_TESTS=10000 TEND_BENCH_PER_SUITE=100 TEND_BENCH_SLEEP_US=$sleep_us
    echo "  tests of ${sleep_us} us (a unit of $((sleep_us * 100 / 1000)) ms):"
    for mode in spares no-spares; do
        args=(run "$suite" -j 2 --max-age 0 --no-daemon --json)
        [ "$mode" = spares ] || args+=(--no-spares)
        ms=$(best_ms "$tend" "${args[@]}")
        "$tend" "${args[@]}" 2>/dev/null | tail -n 1 >"$work/summary.json"
        share=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); w=s["workers"]; print("%.1f%% (%.0f ms of %.0f ms x 2), %d workers started" % (100*w["replacement_wait_ms"]/(2*s["duration_ms"]), w["replacement_wait_ms"], s["duration_ms"], w["started"]))' "$work/summary.json")
        printf '    %-10s %5d ms; places empty waiting for a replacement: %s\n' "$mode" "$ms" "$share"
    done
done
unset TEND_BENCH_SLEEP_US
fi

if section 6; then
export TEND_BENCH_TESTS=20 TEND_BENCH_PER_SUITE=10
mkdir -p "$work/eighty"
bins=()
for i in $(seq 80); do
    ln "$suite" "$work/eighty/t$i" 2>/dev/null || cp "$suite" "$work/eighty/t$i"
    bins+=("$work/eighty/t$i")
done
echo "80 binaries of 20 tests, -j 2: a warm daemon against alone (best of 5):"
alone=$(best_ms "$tend" run "${bins[@]}" -j 2 --no-daemon -q)
"$tend" run "${bins[@]}" -j 2 --daemon --socket "$socket" -q >/dev/null 2>&1 || true  # lists, spares
settle_here() { settle "$socket"; }
before=settle_here
daemon=$(best_ms "$tend" run "${bins[@]}" -j 2 --daemon --socket "$socket" -q)
before=
settle "$socket"
started=$("$tend" run "${bins[@]}" -j 2 --daemon --socket "$socket" --json 2>/dev/null | tail -n 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["workers"]["started"])')
back=$(best_ms "$tend" run "${bins[@]}" -j 2 --daemon --socket "$socket" -q)
echo "  alone $alone ms; daemon $daemon ms ($(awk -v d="$daemon" -v a="$alone" 'BEGIN { printf "%.2f", d / a }') x), starting $started workers at run time"
echo "  back to back (spares still starting when the next run comes): daemon $back ms"
fi
