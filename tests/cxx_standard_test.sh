#!/bin/sh
# Runs a fixture compiled at one C++ standard (tests/meson.build builds
# fixtures/cxx_standard.cpp with each compiler at each standard) by hand and
# under tend. Usage: cxx_standard_test.sh TEND BINARY CPLUSPLUS
set -eu
tend=$1
binary=$2
expected=$3
out=$(mktemp)
trap 'rm -f "$out"' EXIT

fail() {
    echo "$binary: $*" >&2
    cat "$out" >&2
    exit 1
}

"$binary" >"$out" 2>&1 || fail "run by hand: exit $?"
grep -q "__cplusplus=$expected\$" "$out" || fail "run by hand: not __cplusplus=$expected"
grep -q "worker=0" "$out" || fail "run by hand: thinks it is a worker"

"$tend" list "$binary" --no-config >"$out" 2>&1 || fail "tend list: exit $?"
[ "$(wc -l <"$out")" -eq 3 ] || fail "tend list: not 3 tests"

"$tend" run "$binary" --no-config --no-daemon --json >"$out" 2>&1 || fail "tend run: exit $?"
grep -q "__cplusplus=$expected" "$out" || fail "tend run: not __cplusplus=$expected"
grep -q 'worker=1' "$out" || fail "tend run: not a worker"
grep -q '"passed":2,.*"skipped":1' "$out" || fail "tend run: not 2 passed and 1 skipped"
echo "$binary: by hand and under tend, __cplusplus=$expected"
