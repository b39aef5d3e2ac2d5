#!/bin/sh
# The user guide documents every flag that tend's help lists: it runs
# `tend --help` and `tend SUBCOMMAND --help` for each subcommand listed there,
# takes every long (--name) and short (-x) flag from the options, and checks
# that the guide mentions each one and has a section for each subcommand.
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

if [ $failures -gt 0 ]; then
    echo "docs test: $failures problem(s)" >&2
    exit 1
fi
echo "docs test: $checked flags of tend and its subcommands ($(echo $subcommands)) documented in $guide"
