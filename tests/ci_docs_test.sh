#!/bin/sh
# docs/ci.md's workflows, run here: the `tend` commands of the GitHub
# Actions workflow (its `run:` steps) and of the GitLab CI one (its
# `script:` lines), taken from the page as written, run for N shards of a
# project (a tend.toml naming fixture binaries) with the matrix variables
# (SHARD, SHARDS) or GitLab's (CI_NODE_INDEX, CI_NODE_TOTAL) set, then the
# merge job's command. The merge must exit as the whole run does, and its
# JUnit report hold every test once, valid against junit.xsd.
# Usage: ci_docs_test.sh TEND_EXE CI_MD FIXTURE_DIR JUNIT_XSD
set -eu
tend=$1
doc=$2
fixtures=$3
xsd=$4
shards=3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() {
    echo "ci docs test: $*" >&2
    failures=$((failures + 1))
}

# The fenced block after `<!-- ci: NAME -->`.
block() {
    awk -v want="<!-- ci: $1 -->" '
        $0 == want { marker = 1; next }
        marker == 1 && !inside { if ($0 ~ /^```/) { inside = 1; next } exit }
        inside && $0 == "```" { found = 1; exit }
        inside { print }
        END { exit !found }' "$doc"
}

# A project: its tend.toml names the binaries; no daemon of the machine's.
mkdir -p "$scratch/bin" "$scratch/runtime"
ln -s "$tend" "$scratch/bin/tend"
printf 'binaries = ["%s/basic", "%s/scoped", "%s/tagged"]\n' "$fixtures" "$fixtures" "$fixtures" \
    >"$scratch/tend.toml"
export PATH="$scratch/bin:$PATH" XDG_RUNTIME_DIR="$scratch/runtime"
unset CI_NODE_INDEX CI_NODE_TOTAL TEST_SHARD_INDEX TEST_TOTAL_SHARDS XML_OUTPUT_FILE \
    TEST_SHARD_STATUS_FILE || true
cd "$scratch"

# The whole run, alone: what the merge must come to.
whole=0
tend run --no-daemon -q --junit whole.xml >/dev/null || whole=$?
whole_cases=$(grep -c '<testcase ' whole.xml)

check() {  # NAME SHARD_COMMAND MERGE_COMMAND VARIABLES_FOR_K...
    name=$1 shard_cmd=$2 merge_cmd=$3
    [ -n "$shard_cmd" ] || { fail "$name: no 'tend run' command found in $doc"; return; }
    [ -n "$merge_cmd" ] || { fail "$name: no 'tend merge' command found in $doc"; return; }
    rm -rf reports
    mkdir -p reports
    # The history cache as each job restores it: a copy of its own (a
    # shard's run records into its copy, which no one saves).
    rm -rf restored && mkdir -p restored .tend && cp -R .tend/. restored/
    k=1
    while [ $k -le $shards ]; do
        rm -rf .tend && cp -R restored .tend
        status=0
        case $name in
            github) env SHARD=$k SHARDS=$shards sh -c "$shard_cmd" >/dev/null || status=$? ;;
            gitlab) env CI_NODE_INDEX=$k CI_NODE_TOTAL=$shards sh -c "$shard_cmd" >/dev/null ||
                status=$? ;;
        esac
        [ $status -le 1 ] || fail "$name: shard $k/$shards exited $status: $shard_cmd"
        grep -q "\"shard\":\"$k/$shards\"" "reports/shard-$k.jsonl" ||
            fail "$name: reports/shard-$k.jsonl does not name shard $k/$shards"
        k=$((k + 1))
    done
    rm -rf .tend && cp -R restored .tend
    before=$(tend history --history .tend/history.db -n 100000 --json 2>/dev/null |
        grep -o '"runs":[0-9]*' | sort | uniq -c | tr -s ' ' || true)
    status=0
    sh -c "$merge_cmd" >merge.out 2>&1 || status=$?
    [ $status -eq $whole ] ||
        fail "$name: '$merge_cmd' exited $status, the whole run $whole: $(cat merge.out)"
    cases=$(grep -c '<testcase ' reports/junit.xml || true)
    [ "$cases" = "$whole_cases" ] ||
        fail "$name: the merged JUnit report has $cases testcases, the whole run $whole_cases"
    # The merge job records the whole run in the history it saves.
    case $merge_cmd in *--history*)
        after=$(tend history --history .tend/history.db -n 100000 --json |
            grep -o '"runs":[0-9]*' | sort | uniq -c | tr -s ' ')
        [ "$after" != "$before" ] || fail "$name: the merge recorded nothing in .tend/history.db"
        ;;
    *) fail "$name: the merge job does not record the history (tend merge --history)" ;;
    esac
    if command -v xmllint >/dev/null; then
        xmllint --noout --schema "$xsd" reports/junit.xml 2>/dev/null ||
            fail "$name: reports/junit.xml is not valid against $xsd"
    fi
}

github=$(block github) || fail "no '<!-- ci: github -->' block in $doc"
check github \
    "$(printf '%s\n' "$github" | sed -n 's/^ *- run: \(tend run .*\)$/\1/p')" \
    "$(printf '%s\n' "$github" | sed -n 's/^ *- run: \(.*tend merge .*\)$/\1/p')"
gitlab=$(block gitlab) || fail "no '<!-- ci: gitlab -->' block in $doc"
check gitlab \
    "$(printf '%s\n' "$gitlab" | sed -n 's/^ *- \(tend run .*\)$/\1/p')" \
    "$(printf '%s\n' "$gitlab" | sed -n 's/^ *- \(.*tend merge .*\)$/\1/p')"

[ $failures -eq 0 ] || exit 1
echo "ci docs test: the GitHub and GitLab commands of $doc, $shards shards each, merged"
