#!/bin/sh
# `meson install` into a scratch root, then build an outside project the way
# docs/user-guide.md says (pkg-config --cflags --libs tend-worker) and run it
# under the installed tend. Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
source=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# One `meson install` at a time: the install tests share the build dir's log.
flock "$build/meson-private/tend-install-test.lock" \
    meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null
pc=$(find "$root" -name tend-worker.pc | head -n 1)
[ -n "$pc" ] || { echo "tend-worker.pc was not installed" >&2; exit 1; }
tend=$(find "$root" -type f -name tend -perm -u+x | head -n 1)
[ -n "$tend" ] || { echo "the tend binary was not installed" >&2; exit 1; }

# The .pc names the real prefix; the sysroot puts the scratch root in front.
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$root pkg-config --cflags --libs tend-worker)
c++ -std=c++11 -o "$root/outside_tests" "$source/examples/example_tests.cpp" $flags
"$tend" run "$root/outside_tests" -q
"$root/outside_tests" >/dev/null  # and still a plain doctest binary
# GoogleTest: tend's gtest main, compiled in the outside target against the
# gtest headers (docs/user-guide.md, "Making a GoogleTest binary a worker").
if pkg-config --exists gtest; then
    main=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$root pkg-config --variable=gtest_main tend-worker)
    case $main in "$root"/*) ;; *) main=$root$main ;; esac
    [ -r "$main" ] || { echo "gtest_main.cpp was not installed ($main)" >&2; exit 1; }
    gflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$root pkg-config --cflags --libs tend-worker gtest)
    c++ -std=c++14 -o "$root/outside_gtests" "$source/bench/gtest_noop_suite.cpp" "$main" $gflags
    TEND_BENCH_TESTS=20 "$tend" run "$root/outside_gtests" -q
    TEND_BENCH_TESTS=20 "$root/outside_gtests" --gtest_brief=1 >/dev/null  # and a plain gtest binary
    # An unmodified gtest binary, run in batches by the installed tend-batch.
    batch=$(find "$root" -type f -name tend-batch -perm -u+x | head -n 1)
    [ -n "$batch" ] || { echo "tend-batch was not installed" >&2; exit 1; }
    c++ -std=c++14 -o "$root/plain_gtests" "$source/bench/gtest_noop_suite.cpp" $(pkg-config --cflags --libs gtest_main)
    TEND_BENCH_TESTS=20 "$tend" run "$root/plain_gtests" -q
fi
echo "install test: outside projects (doctest, gtest, an unmodified gtest binary) built with pkg-config and run under the installed tend"
