#!/bin/sh
# Builds examples/project (the recipes docs/user-guide.md quotes) against
# tend installed into a scratch root, with one build system, then runs its
# doctest and GoogleTest binaries under the installed tend (the way the
# recipe says), and by hand as plain doctest and gtest binaries.
# Usage: example_project_test.sh BUILD_DIR SOURCE_DIR cmake|meson|make
set -eu
build=$1
source=$2
system=$3
for tool in "$system" pkg-config; do
    command -v "$tool" >/dev/null ||
        { echo "example project test: no $tool here (scripts/bootstrap installs it)" >&2; exit 77; }
done
pkg-config --exists gtest ||
    { echo "example project test: no gtest.pc (libgtest-dev; scripts/bootstrap installs it)" >&2; exit 77; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

# One `meson install` at a time: the install tests share the build dir's log.
flock "$build/meson-private/tend-install-test.lock" \
    meson install -C "$build" --destdir "$root/dest" --no-rebuild --quiet >/dev/null
tend=$(find "$root/dest" -type f -name tend -perm -u+x | head -n 1)
[ -n "$tend" ] || { echo "the tend binary was not installed" >&2; exit 1; }
prefix=$(dirname "$(dirname "$tend")")
PATH=$(dirname "$tend"):$PATH
export PATH
# The .pc names the real prefix: the scratch root stands in for /.
pc=$(find "$root/dest" -name tend-worker.pc | head -n 1)
sed -i "s|^prefix=/|prefix=$root/dest/|" "$pc"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH

cp -R "$source/examples/project" "$root/project"
cd "$root/project"
expect_summary() {  # OUTPUT: tend's summary, 3 doctest and 5 gtest tests
    printf '%s\n' "$1" | grep -q "8 tests: 8 passed, 0 failed" ||
        { printf '%s\n' "$1" >&2; echo "expected 8 tests, all passed" >&2; exit 1; }
}

case $system in
cmake)
    # CMAKE_PREFIX_PATH as a user would set it for a tend in another prefix.
    cmake -S . -B build -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >build.log 2>&1 ||
        { cat build.log >&2; exit 1; }
    grep -q "^tend_DIR:PATH=$root/dest/" build/CMakeCache.txt ||
        { grep tend_DIR build/CMakeCache.txt >&2; echo "found another tend" >&2; exit 1; }
    cmake --build build -j 1 >>build.log 2>&1 || { cat build.log >&2; exit 1; }
    # `tend run` with no argument in the build directory: the generated tend.toml.
    out=$(cd build && tend run 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
    expect_summary "$out"
    (cd build && ctest --output-on-failure >ctest.log 2>&1) ||
        { cat build/ctest.log >&2; exit 1; }
    grep -q "100% tests passed, 0 tests failed out of 2" build/ctest.log ||
        { cat build/ctest.log >&2; exit 1; }
    bin=build
    ;;
meson)
    meson setup build >build.log 2>&1 || { cat build.log >&2; exit 1; }
    meson compile -C build -j 1 >>build.log 2>&1 || { cat build.log >&2; exit 1; }
    meson test -C build >>build.log 2>&1 || { cat build.log build/meson-logs/testlog.txt >&2; exit 1; }
    out=$(tend run build/doctest_tests build/gtest_tests 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
    expect_summary "$out"
    bin=build
    ;;
make)
    make >build.log 2>&1 || { cat build.log >&2; exit 1; }
    out=$(make -s check 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
    expect_summary "$out"
    bin=.
    ;;
*)
    echo "example project test: no build system '$system'" >&2
    exit 2
    ;;
esac

# And by hand, plain framework binaries.
"$bin/doctest_tests" >hand.log 2>&1 || { cat hand.log >&2; exit 1; }
grep -q "test cases: 3 | 3 passed" hand.log || { cat hand.log >&2; exit 1; }
"$bin/gtest_tests" --gtest_brief=1 >hand.log 2>&1 || { cat hand.log >&2; exit 1; }
grep -q "5 tests from 3 test suites ran" hand.log || { cat hand.log >&2; exit 1; }
echo "example project test: examples/project built with $system, run under the installed tend and by hand"
