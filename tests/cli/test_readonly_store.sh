#!/usr/bin/env bash
# Read-only verbs never create a run store: with --db (or $DLENERGY_DB) naming a
# file that does not exist, each exits 1 with a message naming the path, and the
# file is still absent afterwards. Also "stabilize: stabilize:" style repetition
# never appears in the message.
set -u
bin=${DLENERGY_BIN:?}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db=$tmp/missing.db
check() { # verb args...
  err=$("$bin" "$@" --db "$db" 2>&1 >/dev/null); rc=$?
  [ $rc -eq 1 ] && ok || bad "$* exited $rc, wanted 1 ($err)"
  echo "$err" | grep -qF "$db" && ok || bad "$*: message does not name $db: $err"
  [ ! -e "$db" ] && ok || { bad "$* created $db"; rm -f "$db"; }
  v=$1
  echo "$err" | grep -q "$v: $v:" && bad "$*: repeated verb in '$err'" || ok
}
check list
check show last
check export last --samples
check estimate last --method mlco2
check stabilize last
check evaluate --methods mlco2
check analyze
check report -o "$tmp/r.html"
check fit --target power -o "$tmp/m.json"
[ ! -e "$tmp/r.html" ] && ok || bad "report wrote a file for a missing store"
# The environment variable is honoured the same way.
DLENERGY_DB=$db "$bin" list >/dev/null 2>&1; [ $? -eq 1 ] && [ ! -e "$db" ] && ok || bad "DLENERGY_DB list"
# One CLI: the same option names are accepted in every verb (aliases, never a usage
# error), and library messages do not repeat the verb.
db2=$tmp/one.db
DLENERGY_NVML_LIB=/nonexistent "$bin" run --quiet --db "$db2" -- true >/dev/null 2>&1 || bad "run for the alias checks"
for args in "list --runs status=complete" "list --filter status=complete" \
            "estimate last --methods mlco2" "estimate last --method mlco2" \
            "evaluate --method mlco2 --filter status=complete" \
            "evaluate --methods mlco2 --runs status=complete" \
            "analyze --filter status=complete --by host" "analyze --runs status=complete --by host"; do
  # shellcheck disable=SC2086
  "$bin" $args --db "$db2" >/dev/null 2>&1; rc=$?
  [ $rc -ne 2 ] && ok || bad "'$args' is a usage error (exit 2)"
done
err=$("$bin" stabilize last --db "$db2" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && ok || bad "stabilize of a CPU-only run exited $rc"
echo "$err" | grep -q "stabilize: stabilize:" && bad "repeated: $err" || ok
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
