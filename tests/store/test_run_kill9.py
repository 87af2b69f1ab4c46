#!/usr/bin/python3
"""kill -9 of `dlenergy run` recording into a store (issue 12's durability promise,
end to end): test_run_kill9.py pg|sqlite (pg: under with_pg.sh, DLE_PG_URI set).

The recorder samples one fake NVML GPU at a constant 150 W every 50 ms (no energy
counter, so the GPU energy is the trapezoid of the power), and is SIGKILLed 2.5 to
3.5 s into the run (random, so the kill lands anywhere in the one-second commit
cycle). Its command lives on in its own session and is stopped by the test. Then:
 - `show RUN --json`: the run is there, status still "running" (never finalized);
 - `export RUN --samples`: a pandas-ready CSV whose last sample is at most the last
   second (+ one drain period and scheduling slack) before the kill, rows in order;
 - show's sample count equals the CSV's rows; its GPU energy equals the trapezoid of
   the CSV's gpu_power_w over t_s (relative 1e-9) and 150 W x the span (1e-6);
 - plain `show RUN` and `list` read it too."""
import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, fake_nvml_lib, skip  # noqa: E402

BIN = os.environ["DLENERGY_BIN"]
backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
check = Checks()


def dle(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)


with tempfile.TemporaryDirectory() as tmp:
    if backend == "pg":
        db = os.environ.get("DLE_PG_URI")
        if not db:
            skip("SKIP: DLE_PG_URI not set (run through with_pg.sh)")
    else:
        db = os.path.join(tmp, "kill.db")
    script = os.path.join(tmp, "nvml.txt")
    with open(script, "w") as f:
        f.write("devices 1\npower 0 0 150000\nenergy_supported 0 0\nprocess 0 children\n")
    env = dict(os.environ, DLENERGY_NVML_LIB=fake_nvml_lib(), FAKE_NVML_SCRIPT=script)
    for k in ("DLENERGY_DB", "SLURM_JOB_ID", "TORCHELASTIC_RUN_ID"):
        env.pop(k, None)
    pidfile = os.path.join(tmp, "child.pid")
    child = ("import os, time\n"
             f"open({pidfile!r} + '.tmp', 'w').write(str(os.getpid()))\n"
             f"os.rename({pidfile!r} + '.tmp', {pidfile!r})\n"
             "time.sleep(60)\n")
    # output to files: the command, which outlives the recorder, inherits them
    log_out = open(os.path.join(tmp, "run.out"), "w+")
    log_err = open(os.path.join(tmp, "run.err"), "w+")
    proc = subprocess.Popen([BIN, "run", "--db", db, "--interval", "0.05", "--quiet",
                             "--cpu-tdp", "100", "--", "/usr/bin/python3", "-c", child],
                            env=env, stdout=log_out, stderr=log_err, text=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(pidfile) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    check(os.path.exists(pidfile), "the recorded command never started")
    time.sleep(2.5 + random.random())
    proc.kill()
    kill_wall = time.time()
    proc.wait(timeout=60)
    log_err.seek(0)
    check(proc.returncode == -signal.SIGKILL,
          f"recorder exit {proc.returncode}: {log_err.read()[-400:]}")
    if os.path.exists(pidfile):  # the command outlives the recorder (own session)
        with open(pidfile) as f:
            try:
                os.kill(int(f.read()), signal.SIGKILL)
            except ProcessLookupError:
                check(False, "the recorded command died with its recorder")
    log_out.close()
    log_err.close()

    r = dle("show", "last", "--json", "--db", db)
    check(r.returncode == 0, f"show --json: {r.stderr}")
    run = json.loads(r.stdout) if r.returncode == 0 else {}
    rid = run.get("run_id")
    check(run.get("status") == "running", f"status {run.get('status')}")
    ex = dle("export", str(rid), "--samples", "--db", db)
    check(ex.returncode == 0, f"export: {ex.stderr}")
    rows = list(csv.DictReader(io.StringIO(ex.stdout))) if ex.returncode == 0 else []
    check(len(rows) > 20, f"{len(rows)} samples stored")
    check(run.get("samples") == len(rows), f"show says {run.get('samples')} samples, "
          f"export has {len(rows)}")
    if rows:
        t = [float(x["t_s"]) for x in rows]
        w = [float(x["gpu_power_w"]) for x in rows]
        wall = [float(x["wall_s"]) for x in rows]
        check(all(b >= a for a, b in zip(t, t[1:])), "sample times go backwards")
        last_wall = wall[-1]
        lost = kill_wall - last_wall
        print(f"{backend}: {len(rows)} samples stored; the last {lost:.3f} s before the kill lost")
        # all but the last second (+ one 100 ms drain period and scheduling slack)
        check(lost < 2.0, f"lost {lost:.3f} s of samples before the kill")
        trap = sum((t[i + 1] - t[i]) * (w[i] + w[i + 1]) / 2 for i in range(len(t) - 1))
        gpu = run.get("energy_j", {}).get("gpu")
        check(gpu is not None and abs(gpu - trap) <= 1e-9 * abs(trap),
              f"show's GPU energy {gpu} J, trapezoid of the exported samples {trap} J")
        span = t[-1] - t[0]
        check(abs(trap - 150.0 * span) <= 1e-6 * 150.0 * span,
              f"trapezoid {trap} J, 150 W x {span} s")
    r = dle("show", str(rid), "--db", db)
    check(r.returncode == 0 and "running" in r.stdout, f"show: {r.returncode} {r.stderr}")
    r = dle("list", "--db", db)
    check(r.returncode == 0 and str(rid) in r.stdout, f"list: {r.returncode} {r.stderr}")

print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed else 0)
