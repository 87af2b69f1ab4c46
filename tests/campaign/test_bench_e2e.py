#!/usr/bin/env python3
"""End-to-end test of `dlenergy bench` (issue 6 acceptance):
a plan of 3 factors x 2 levels x 3 repetitions of a short CPU-burning command
completes, survives being killed half-way (kill -9 of the campaign) and resumed,
with no run lost and none duplicated: 24 complete runs carrying their factor
metadata; `dlenergy analyze --by` works on them; --dry-run prints the schedule."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

DLE = os.environ["DLENERGY_BIN"]
check = Checks(file=sys.stderr)


def runs(db):
    out = subprocess.run([DLE, "list", "--json", "--db", db], capture_output=True, text=True)
    if out.returncode != 0:
        return []
    return json.loads(out.stdout or "[]")


def complete_runs(db):
    return [r for r in runs(db) if r.get("status") == "complete"]


def main():
    tmp = tempfile.mkdtemp(prefix="dle-bench-")
    db = os.path.join(tmp, "bench.db")
    burn = "import time,sys\nend=time.time()+0.4\nx=0\nwhile time.time()<end: x+=1\n"
    plan = {
        "name": "e2e",
        "factors": {"arch": ["a", "b"], "bs": [16, 32], "img": ["64x64", "128x128"]},
        "command": [sys.executable, "-c", burn, "{arch}", "{bs}", "{img}"],
        "repetitions": 3,
        "seed": 3,
        "cooldown_s": 0.05,
        "timeout_s": 60,
        "meta": {"dataset": "synthetic"},
        "run_options": ["--interval", "0.05", "--quiet"],
    }
    plan_path = os.path.join(tmp, "plan.json")
    with open(plan_path, "w") as f:
        json.dump(plan, f)

    dry = subprocess.run([DLE, "bench", plan_path, "--db", db, "--dry-run"],
                         capture_output=True, text=True)
    check(dry.returncode == 0, "dry-run failed: " + dry.stderr)
    check("24 runs" in dry.stdout and dry.stdout.count("todo") == 24, "dry-run schedule:\n" + dry.stdout)
    check(not runs(db), "dry-run ran something")

    # Start, let about a third finish, then kill -9 the campaign.
    p = subprocess.Popen([DLE, "bench", plan_path, "--db", db],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(complete_runs(db)) < 8 and p.poll() is None:
        time.sleep(0.2)
    check(p.poll() is None, "campaign ended before it could be killed")
    p.kill()
    p.wait()
    time.sleep(1.0)  # the orphaned `dlenergy run` child gets SIGTERM (PDEATHSIG) and records it
    before = complete_runs(db)
    check(8 <= len(before) < 24, "complete runs at kill: %d" % len(before))

    dry2 = subprocess.run([DLE, "bench", plan_path, "--db", db, "--dry-run"],
                          capture_output=True, text=True)
    check(dry2.stdout.count("done") == len(before), "dry-run after kill:\n" + dry2.stdout)

    res = subprocess.run([DLE, "bench", plan_path, "--db", db], capture_output=True, text=True,
                         timeout=600)
    check(res.returncode == 0, "resume failed: " + res.stderr[-2000:])
    check("already complete" in res.stderr, "resume message missing: " + res.stderr[-500:])

    done = complete_runs(db)
    check(len(done) == 24, "complete runs after resume: %d" % len(done))
    pairs = set()
    for r in done:
        m = r.get("meta", {})
        key = (m.get("arch"), m.get("bs"), m.get("img"), m.get("bench_rep"))
        check(None not in key, "run %s lacks factor metadata: %s" % (r.get("run_id"), m))
        check(m.get("bench_plan") == "e2e" and m.get("dataset") == "synthetic", "plan meta: %s" % m)
        pairs.add(key)
    check(len(pairs) == 24, "distinct (configuration, repetition) pairs: %d" % len(pairs))
    # Anything not complete is an interrupted attempt, marked as such.
    for r in runs(db):
        if r.get("status") != "complete":
            check(r.get("status") in ("killed", "failed"), "leftover run status %s" % r.get("status"))

    again = subprocess.run([DLE, "bench", plan_path, "--db", db], capture_output=True, text=True)
    check(again.returncode == 0 and "0 to run" in again.stderr, "second resume: " + again.stderr)
    check(len(complete_runs(db)) == 24, "a finished plan ran again")

    an = subprocess.run([DLE, "analyze", "--db", db, "--runs", "bench_plan=e2e,status=complete",
                         "--by", "arch", "--metric", "duration", "--json"],
                        capture_output=True, text=True)
    check(an.returncode == 0, "analyze failed: " + an.stderr)
    if an.returncode == 0:
        groups = json.loads(an.stdout).get("groups", [])
        check(sorted(g.get("n") for g in groups) == [12, 12], "analyze groups: %s" % groups)

    bad = subprocess.run([DLE, "bench", os.path.join(tmp, "missing.json"), "--db", db],
                         capture_output=True, text=True)
    check(bad.returncode == 1 and "missing.json" in bad.stderr, "missing plan: " + bad.stderr)
    print("%d passed, %d failed" % (check.passed, check.failed))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
