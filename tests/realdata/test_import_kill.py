#!/usr/bin/env python3
"""`dlenergy import seaa2023` killed with SIGKILL part-way: the store holds whole runs only
(every run complete, with its samples and metadata; the import commits runs in
half-second batches), a second import resumes (stores exactly the runs that were
missing), and the result is the same, chunk for chunk, as an uninterrupted import.
Standard library only; skips (77) without the shared data."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip

BIN = os.environ.get("DLENERGY_BIN", "dlenergy")
DATA = os.path.join(os.environ.get("DLE_SHARED_DIR", ""), "data", "seaa2023")
check = Checks(file=sys.stderr)

CHUNKS = ("SELECT m.value, c.first_seq, c.n, c.data FROM sample_chunks c JOIN meta m"
          " ON m.run_id = c.run_id AND m.key = 'source_gpu_file' ORDER BY m.value, c.first_seq")


def import_json(db):
    p = subprocess.run([BIN, "import", "seaa2023", DATA, "--db", db, "--json"],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"import exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def main():
    if not os.path.exists(os.path.join(DATA, "runs.csv")):
        skip("SKIP: no seaa2023 data in DLE_SHARED_DIR", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "killed.db")
        p = subprocess.Popen([BIN, "import", "seaa2023", DATA, "--db", db],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.7)  # past the first half-second commit on most machines
        p.send_signal(signal.SIGKILL)
        p.wait()
        con = sqlite3.connect(db)
        runs = con.execute("SELECT id, status FROM runs").fetchall()
        kept = len(runs)
        print(f"runs stored when the import was killed: {kept} of 309")
        check(all(st == 1 for _, st in runs), f"a run not complete after the kill: {runs}")
        for rid, _ in runs:
            n = con.execute("SELECT coalesce(sum(n), 0) FROM sample_chunks WHERE run_id = ?",
                            (rid,)).fetchone()[0]
            keys = {k for (k,) in con.execute("SELECT key FROM meta WHERE run_id = ?", (rid,))}
            check(n > 100 and {"source_gpu_file", "architecture", "gpu_count"} <= keys,
                  f"run {rid}: {n} samples, {len(keys)} metadata keys")
        con.close()
        again = import_json(db)
        check(again["imported"] == 309 - kept and again["already_imported"] == kept,
              f"resume: {again['imported']} imported, {again['already_imported']} already there")
        fresh = os.path.join(tmp, "fresh.db")
        import_json(fresh)
        a = sqlite3.connect(db).execute(CHUNKS).fetchall()
        b = sqlite3.connect(fresh).execute(CHUNKS).fetchall()
        check(len(a) >= 309 and a == b, f"killed+resumed store differs from a fresh import "
              f"({len(a)} vs {len(b)} chunks)")
    print("ok" if check.failed == 0 else f"{check.failed} failures")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
