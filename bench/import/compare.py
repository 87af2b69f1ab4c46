#!/usr/bin/python3
"""Runs bench_import (dlenergy's C library) and pandas_import.py on the whole SEAA 2023
dataset in the same run, checks that they agree run by run, and prints the times and
the speed ratio. Also times the full CLI path, `dlenergy import seaa2023` into a fresh
SQLite store (parse + join + store + summary), against the same pandas time.
Usage: compare.py BUILD_DIR SEAA_DIR [REPS]"""
import csv
import io
import os
import resource
import subprocess
import sys
import tempfile
import time

build, data = sys.argv[1], sys.argv[2]
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
here = os.path.dirname(os.path.abspath(__file__))


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd):
    """(wall seconds, CPU seconds of the process, stdout). CPU time is what the ratio
    uses: the build machine is shared, so wall time measures the neighbours too."""
    t, c = time.perf_counter(), child_cpu()
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, child_cpu() - c, p.stdout


def best(cmd):
    runs = [timed(cmd) for _ in range(reps)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]


c_wall, c_cpu, c_out = best([os.path.join(build, "bench", "import", "bench_import"), data])
py_wall, py_cpu, py_out = best(["/usr/bin/python3", os.path.join(here, "pandas_import.py"), data])
cli = os.path.join(build, "src", "cli", "dlenergy")
cli_wall, cli_cpu = float("inf"), float("inf")
for _ in range(reps):
    with tempfile.TemporaryDirectory() as d:
        w, c, _ = timed([cli, "import", "seaa2023", data, "--db", os.path.join(d, "b.db")])
        cli_wall, cli_cpu = min(cli_wall, w), min(cli_cpu, c)

a = {(r["environment_id"], r["architecture"], r["run"]): r for r in csv.DictReader(io.StringIO(c_out))}
b = {(r["environment_id"], r["architecture"], r["run"]): r for r in csv.DictReader(io.StringIO(py_out))}
assert a.keys() == b.keys() and len(a) == 309, (len(a), len(b))
worst = {k: 0.0 for k in ("gpu_energy_j", "duration_s", "avg_gpu_power_w", "ram_energy_j")}
for key in a:
    assert a[key]["samples"] == b[key]["samples"], key
    for k in worst:
        x, y = float(a[key][k]), float(b[key][k])
        worst[k] = max(worst[k], abs(x - y) / abs(y))
print(f"runs {len(a)}, samples {sum(int(r['samples']) for r in a.values())}, best of {reps}")
print("agreement (max relative difference, dlenergy vs pandas): " +
      ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
print(f"{'':28s} {'CPU s':>8s} {'wall s':>8s}")
print(f"{'pandas pipeline':28s} {py_cpu:8.3f} {py_wall:8.3f}  (includes interpreter start and imports)")
print(f"{'dlenergy library':28s} {c_cpu:8.3f} {c_wall:8.3f}")
print(f"{'dlenergy import seaa2023':28s} {cli_cpu:8.3f} {cli_wall:8.3f}  (+ SQLite store, fsync'd commits)")
print(f"speed ratio library vs pandas: {py_cpu / c_cpu:5.1f}x CPU, {py_wall / c_wall:5.1f}x wall")
print(f"speed ratio CLI vs pandas    : {py_cpu / cli_cpu:5.1f}x CPU, {py_wall / cli_wall:5.1f}x wall "
      "(pandas does not store anything)")
ok = all(v < 1e-9 for k, v in worst.items() if k != "ram_energy_j") and worst["ram_energy_j"] < 1e-9
sys.exit(0 if ok else 1)
