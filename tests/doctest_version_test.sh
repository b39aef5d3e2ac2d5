#!/bin/sh
# tend's doctest adapter refuses a doctest it does not support at compile
# time, saying which versions it supports and which one it got.
# Usage: doctest_version_test.sh CXX SOURCE INCLUDE_DIR
set -eu
cxx=$1
source=$2
include=$3
out=$(mktemp)
trap 'rm -f "$out" "$out.o"' EXIT

if "$cxx" -std=c++11 -I"$include" -c "$source" -o "$out.o" >"$out" 2>&1; then
    echo "$source compiled, though its doctest is unsupported" >&2
    exit 1
fi
expected='tend/doctest.hpp supports doctest 2.4.9 to 2.4.x; this translation unit includes doctest 2.3.9'
if ! grep -qF "$expected" "$out"; then
    echo "the compiler did not say: $expected" >&2
    cat "$out" >&2
    exit 1
fi
# The adapter is left out: one clear error, not a page of follow-ups.
errors=$(grep -c 'error' "$out" || true)
if [ "$errors" -ne 1 ]; then
    echo "expected one error, got $errors:" >&2
    cat "$out" >&2
    exit 1
fi
echo "refused, saying: $expected"
