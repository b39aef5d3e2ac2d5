#!/bin/sh
# The user guide documents every flag that tend's help lists: it runs
# `tend --help` and `tend SUBCOMMAND --help` for each subcommand listed there,
# takes every long (--name) and short (-x) flag from the options, and checks
# that the guide mentions each one and has a section for each subcommand.
# It also checks that the guide quotes every file of examples/project whole,
# the recipes that example_project_test.sh builds and runs.
# Usage: docs_test.sh TEND_EXE USER_GUIDE
set -eu
tend=$1
guide=$2
[ -r "$guide" ] || { echo "docs test: cannot read $guide" >&2; exit 1; }

failures=0
fail() {
    echo "docs test: $*" >&2
    failures=$((failures + 1))
}

# The flags of one help text, one per line. CLI11 starts an option's line
# with two spaces and its names ("  -f,--filter PATTERN ...  Only tests...");
# description lines are indented further, positionals do not start with '-'.
flags_of() {
    printf '%s\n' "$1" | sed -n 's/^  \(-[^ ]*\).*/\1/p' | tr ',' '\n'
}

# Is FLAG in the guide as a word of its own? `--json` must not count as a
# mention of itself inside `--json-file`, nor `-j` inside `--jobs`.
mentioned() {
    grep -Eq -- "(^|[^-[:alnum:]])$1([^-[:alnum:]]|\$)" "$guide"
}

top=$("$tend" --help) || { echo "docs test: '$tend --help' failed" >&2; exit 1; }
subcommands=$(printf '%s\n' "$top" | sed -n '/^Subcommands:/,$p' |
    sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$subcommands" ] || { echo "docs test: no subcommands in 'tend --help'" >&2; exit 1; }

checked=0
check_flags() {  # HELP_TEXT WHERE
    found_help=no
    for flag in $(flags_of "$1"); do
        case $flag in
            --[a-z]*) ;;
            -[a-zA-Z]) ;;
            *) fail "'$flag' from '$2' is not a flag this test understands"; continue ;;
        esac
        [ "$flag" = --help ] && found_help=yes
        checked=$((checked + 1))
        mentioned "$flag" || fail "$flag ($2) is not documented in $guide"
    done
    # Every CLI11 help lists --help: without it the help format changed
    # and this test would check nothing.
    [ $found_help = yes ] || fail "no flags found in '$2': has the help format changed?"
}

check_flags "$top" "tend --help"
for sub in $subcommands; do
    help=$("$tend" "$sub" --help) || { fail "'tend $sub --help' failed"; continue; }
    check_flags "$help" "tend $sub --help"
    # A section: a heading naming the subcommand, "## `tend run`".
    grep -Eq "^#{1,6} .*tend $sub([^-[:alnum:]]|\$)" "$guide" ||
        fail "no section (a heading with 'tend $sub') for 'tend $sub' in $guide"
done

# Recipes. A file is quoted as the fenced block right after a line
# `<!-- file: examples/project/NAME -->`, and must be the file to the byte;
# a ```diff block's added lines must each be a line of one of those files.
source_root=$(cd "$(dirname "$guide")/.." && pwd)
project=examples/project
quoted() {  # PATH: the block quoting PATH in the guide, on stdout
    awk -v want="<!-- file: $1 -->" '
        $0 == want { marker = 1; next }
        marker == 1 && !inside { if ($0 ~ /^```/) { inside = 1; next } exit }
        inside && $0 == "```" { found = 1; exit }
        inside { print }
        END { exit !found }' "$guide"
}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
recipes=0
for file in "$source_root/$project"/*; do
    path=$project/${file##*/}
    if ! quoted "$path" >"$scratch/quoted"; then
        fail "$path is not quoted in $guide (a fenced block after '<!-- file: $path -->')"
    elif ! diff -u "$file" "$scratch/quoted" >"$scratch/diff"; then
        fail "$guide quotes $path otherwise than it is:"
        cat "$scratch/diff" >&2
    else
        recipes=$((recipes + 1))
    fi
done
for path in $(sed -n 's/^<!-- file: \(.*\) -->$/\1/p' "$guide"); do
    [ -f "$source_root/$path" ] || fail "$guide quotes $path, which is not a file"
done
cat "$source_root/$project"/* >"$scratch/all"
awk '/^```diff$/ { inside = 1; next } /^```$/ { inside = 0 } inside && /^\+/ { print substr($0, 2) }' \
    "$guide" >"$scratch/added"
while IFS= read -r line; do
    grep -qxF -- "$line" "$scratch/all" ||
        fail "a diff in $guide adds '$line', which no file of $project has"
done <"$scratch/added"

if [ $failures -gt 0 ]; then
    echo "docs test: $failures problem(s)" >&2
    exit 1
fi
echo "docs test: $checked flags of tend and its subcommands ($(echo $subcommands)) documented in $guide, $recipes files of $project quoted"
