#!/usr/bin/env bash
# Every verb listed by `dlenergy --help` answers `--help` on stdout with exit 0 and a
# Usage line; an unknown verb or no verb is a usage error (exit 2) on stderr.
set -u
bin=${DLENERGY_BIN:?}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
verbs=$("$bin" --help | awk '/^Verbs:/{f=1;next} f&&/^  [a-z]/{print $1}')
[ "$(echo "$verbs" | wc -w)" -ge 16 ] && ok || bad "expected at least 16 verbs, got: $verbs"
for v in $verbs; do
  out=$("$bin" "$v" --help 2>/dev/null); rc=$?
  [ $rc -eq 0 ] && ok || bad "$v --help exited $rc"
  echo "$out" | grep -q "Usage: dlenergy $v" && ok || bad "$v --help has no 'Usage: dlenergy $v' line"
  [ "$("$bin" help "$v" 2>/dev/null)" = "$out" ] && ok || bad "'dlenergy help $v' differs from '$v --help'"
done
"$bin" no-such-verb >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown verb not exit 2"
"$bin" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no verb not exit 2"
"$bin" --version | grep -Eq '^dlenergy [0-9]+\.[0-9]+' && ok || bad "--version"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
