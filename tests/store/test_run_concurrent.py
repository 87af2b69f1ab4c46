#!/usr/bin/python3
"""8 concurrent `dlenergy run` processes against one store (issue 6 acceptance):
  test_run_concurrent.py pg       the server in $DLE_PG_URI (through with_pg.sh)
  test_run_concurrent.py sqlite   a fresh SQLite file
All 8 runs must complete with distinct ids and every sample present: the rows that
`dlenergy export` reads back for each run equal the sample count that run itself
reported in its summary line ("N samples every ...")."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip

DLE = os.environ["DLENERGY_BIN"]
which = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
N = 8
check = Checks()


with tempfile.TemporaryDirectory() as tmp:
    if which == "pg":
        db = os.environ.get("DLE_PG_URI")
        if not db:
            skip("SKIP: DLE_PG_URI not set (run through with_pg.sh)")
    else:
        db = os.path.join(tmp, "runs.db")
    env = dict(os.environ)
    env.pop("DLENERGY_DB", None)
    procs = []
    for w in range(N):
        cmd = [DLE, "run", "--db", db, "--interval", "0.02", "--no-gpu", "--meta",
               f"writer={w}", "--meta", "suite=concurrent", "--",
               sys.executable, "-c", "import time; time.sleep(2)"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=env))
    ids = []
    counts = []
    for w, p in enumerate(procs):
        out, err = p.communicate(timeout=120)
        check(p.returncode == 0, f"run {w} exited {p.returncode}: {err[-500:]}")
        m = re.search(r"run (\d+) (\w+) \(.*?(\d+) samples every", err)
        check(m is not None, f"run {w}: no summary line in {err[-500:]!r}")
        if not m:
            continue
        rid, status, counted = int(m.group(1)), m.group(2), int(m.group(3))
        check(status == "complete", f"run {rid} reported {status}")
        check(counted > 20, f"run {rid} counted only {counted} samples")
        ids.append(rid)
        counts.append(counted)
        ex = subprocess.run([DLE, "export", str(rid), "--samples", "--db", db],
                            capture_output=True, text=True)
        check(ex.returncode == 0, f"export {rid}: {ex.stderr}")
        rows = ex.stdout.count("\n") - 1  # minus the header
        check(rows == counted, f"run {rid}: {rows} samples stored, {counted} counted by the run")
        sh = subprocess.run([DLE, "show", str(rid), "--json", "--db", db],
                            capture_output=True, text=True)
        check(sh.returncode == 0 and '"complete"' in sh.stdout,
              f"show {rid}: {sh.returncode} {sh.stdout[:200]} {sh.stderr[:200]}")
    check(len(set(ids)) == len(ids) == N, f"run ids {ids}")
    print(f"{N} concurrent dlenergy run on {which}: ids {sorted(ids)}, samples {counts}")

print("concurrent runs:", "FAILED" if check.failed else "ok", f"({check.failed} failures)")
sys.exit(1 if check.failed else 0)
