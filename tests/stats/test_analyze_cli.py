#!/usr/bin/python3
"""`dlenergy analyze` on bad input: clear messages and exit codes, undefined statistics
as JSON null with a note, never a crash or a made-up p-value. Needs only the binary."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

BIN = os.environ.get("DLENERGY_BIN", "dlenergy")
check = Checks()


def run(*args):
    return subprocess.run([BIN, "analyze", *args], capture_output=True, text=True)


d = tempfile.mkdtemp(prefix="dle_analyze_", dir=os.getcwd())
bad = os.path.join(d, "bad.csv")
with open(bad, "w") as f:
    f.write("architecture,environment,energy,f1_score\n"
            "a,x,1,0.9\na,x,1,0.9\n"          # a group of 2, all equal
            "b,x,1,0.8\nb,x,NaN,0.7\nb,x,1,0.8\n"  # NaN dropped
            "c,y,1,\n"                        # a group of 1, no F1
            "d,y,,0.5\n")                     # no metric at all: dropped, group vanishes
p = run("--csv", bad, "--by", "architecture", "--metric", "energy", "--json")
check(p.returncode == 0, "analyze of degenerate data exited %d: %s" % (p.returncode, p.stderr))
r = json.loads(p.stdout) if p.returncode == 0 else {}
if r:
    check(r["n"] == 5 and r["n_dropped"] == 2, "rows used/dropped: %s/%s" % (r["n"], r["n_dropped"]))
    check([g["name"] for g in r["groups"]] == ["a", "b", "c"], "groups")
    for s in r["shapiro"]:
        check(s["w"] is None and s["p"] is None and "at least 3" in s.get("note", ""), "shapiro null %s" % s)
    check(r["kruskal"]["h"] is None and r["kruskal"]["p"] is None and "equal" in r["kruskal"]["note"], "kruskal null")
    check(r["levene"]["p"] is None and r["levene"].get("note"), "levene null")
    check(all(x["p_holm"] is None for x in r["dunn"]), "dunn null")
    check(all(x["delta"] == 0 for x in r["cliffs_delta"]), "delta of equal groups is 0")
    check(r["largest_saving"]["fraction"] == 0 and "same median" in r["largest_saving"]["verdict"], "no saving")
    check(r["interaction"]["f"] is None and r["interaction"].get("note"), "interaction needs two factors")

cases = [
    (["--csv", bad, "--runs", "architecture=zzz"], 1, "no runs selected"),
    (["--csv", bad, "--runs", "nocol=1"], 1, "no column 'nocol'"),
    (["--csv", bad, "--runs", "architecture"], 1, "not column=value"),
    (["--csv", bad, "--metric", "nope"], 1, "no column 'nope'"),
    (["--csv", bad, "--by", "nope"], 1, "no column 'nope'"),
    (["--csv", bad, "--quality", "nope"], 1, "no column 'nope' for --quality"),
    (["--csv", os.path.join(d, "missing.csv")], 1, "missing.csv"),
    (["--csv", bad, "--alpha", "2"], 2, "--alpha"),
    (["--csv", bad, "--bogus"], 2, "--bogus"),
    (["--csv", bad, "extra"], 2, "unexpected argument"),
]
for args, rc, msg in cases:
    p = run(*args)
    check(p.returncode == rc and msg in p.stderr, "%s: rc %d, stderr %r" % (args, p.returncode, p.stderr))
ragged = os.path.join(d, "ragged.csv")
with open(ragged, "w") as f:
    f.write("a,b\n1,2\n3\n")
p = run("--csv", ragged, "--by", "a", "--metric", "b")
check(p.returncode == 1 and ":3:" in p.stderr, "ragged CSV: %r" % p.stderr)
p = run("--help")
check(p.returncode == 0 and "Usage: dlenergy analyze" in p.stdout, "--help")
# The text output says where undefined values come from.
p = run("--csv", bad, "--by", "architecture", "--metric", "energy")
check(p.returncode == 0 and "n/a" in p.stdout and "all 5 values are equal" in p.stdout, "text output")
print("%d failures" % check.failed)
sys.exit(1 if check.failed else 0)
