#!/bin/sh
# Fuzzes the frame decoder with libFuzzer (clang and libclang-rt-14-dev).
# Usage: tests/fuzz/run.sh [SECONDS]   (default 60). New crashes land in
# tests/fuzz/crashes/; add them to tests/fuzz/corpus/ once fixed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-60}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
    -I"$root/protocol" "$here/frame_fuzz.cpp" "$root/protocol/frame.cpp" \
    "$root/protocol/messages.cpp" -o "$out/frame_fuzz"
mkdir -p "$here/crashes" "$out/corpus"
cp "$here"/corpus/* "$out/corpus/"
"$out/frame_fuzz" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=1024 \
    -artifact_prefix="$here/crashes/" "$out/corpus"
