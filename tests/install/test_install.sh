#!/usr/bin/env bash
# `cmake --install` to a temporary prefix: the CLI runs from there, the headers and the
# pkg-config file let a program build against libdlenergy, and that program works.
set -u
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$1"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $2" >&2; fi; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1
check '[ $? -eq 0 ]' "cmake --install failed: $(tail -5 "$tmp/install.log")"
check '[ -x "$tmp/prefix/bin/dlenergy" ]' "no installed dlenergy"
check '"$tmp/prefix/bin/dlenergy" --help | grep -q "Verbs:"' "installed dlenergy --help"
check '"$tmp/prefix/bin/dlenergy" run --help | grep -q -- "--metrics-listen"' "installed run --help"
check '[ -f "$tmp/prefix/share/dlenergy/gpus.csv" ] && [ -f "$tmp/prefix/share/dlenergy/carbon_intensity.csv" ]' "data files not installed"
check '[ -f "$tmp/prefix/share/dlenergy/python/dlenergy_markers.py" ]' "python helper not installed"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib64/pkgconfig"
check 'pkg-config --exists dlenergy' "pkg-config does not find dlenergy"
cat >"$tmp/use.c" <<'C'
#include <stdio.h>
#include <dlenergy/energy.h>
#include <dlenergy/store.h>
int main(void) {
  double t[3] = {0, 1, 2}, p[3] = {10, 10, 20}, e = 0;
  if (dle_energy_trapezoid_j(t, p, 3, &e) != 0) return 1;
  dle_store *st = NULL;
  dle_error err;
  if (dle_store_open(":memory:", &st, &err) != 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
  dle_store_close(st);
  printf("%g\n", e);
  return 0;
}
C
cc -std=c11 -Wall -Werror "$tmp/use.c" $(pkg-config --cflags --libs dlenergy) \
  -Wl,-rpath,"$tmp/prefix/lib" -o "$tmp/use" 2>"$tmp/cc.log"
check '[ $? -eq 0 ]' "building against the installed library: $(cat "$tmp/cc.log")"
check '[ "$("$tmp/use" 2>&1)" = "25" ]' "program using libdlenergy printed $("$tmp/use" 2>&1)"
# The Python package: installed into DLE_PYTHON_SITEDIR under the prefix, it finds the
# installed library through the _paths.py written at install time and records a run.
init=$(find "$tmp/prefix" -path '*-packages/dlenergy/__init__.py' | head -1)
site=$(dirname "$(dirname "${init:-/nonexistent/x/y}")")
check '[ -f "$site/dlenergy/__init__.py" ] && [ -f "$site/dlenergy/_paths.py" ] && [ -f "$site/dlenergy_markers.py" ]' "python package not installed in $site"
check 'grep -q "$tmp/prefix/" "$site/dlenergy/_paths.py"' "_paths.py does not name the install prefix: $(cat "$site/dlenergy/_paths.py" 2>&1)"
out=$(cd "$tmp" && env -u PYTHONPATH -u DLENERGY_LIB PYTHONPATH="$site" /usr/bin/python3 -c '
import dlenergy, dlenergy._lib as L
with dlenergy.track(db="py.db", no_gpu=True) as run:
    run.epoch_begin(1); run.epoch_end(1)
print(L.lib()._name, run.summary["epochs"], run.summary["recorded"])' 2>&1)
check 'case "$out" in "$tmp/prefix/"*" 1 True") true ;; *) false ;; esac' "installed package: $out"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
