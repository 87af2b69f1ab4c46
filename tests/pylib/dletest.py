"""Shared pieces of the Python end-to-end tests (plain stdlib).

The scripts run from CTest with the build folder as their working directory; they
import this module through sys.path from their own location:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
"""
import os
import sys


class Checks:
    """A counter of passed and failed checks: `check(cond, what)` counts `cond` and, when
    it is false, prints `prefix what` to `file` (None: standard output)."""

    def __init__(self, file=None, prefix="FAIL:"):
        self.file = file
        self.prefix = prefix
        self.passed = 0
        self.failed = 0

    def __call__(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(self.prefix, what, file=self.file)


def skip(why, file=None):
    """Prints `why` (to `file`; None: standard output) and exits 77, CTest's "skipped"."""
    print(why, file=file)
    sys.exit(77)


def fake_nvml_lib():
    """The fake NVML library CTest names in DLE_FAKE_NVML_LIB; skips (77) when it is not built."""
    fake = os.environ.get("DLE_FAKE_NVML_LIB", "")
    if not fake or not os.path.exists(fake):
        skip("SKIP: fake NVML not built")
    return fake


SAMPLE_COLS = ["run_id", "seq", "t_s", "wall_s", "cpu_util_pct", "rss_mib", "cpu_power_w",
               "dram_power_w", "ram_power_w", "cpu_energy_counter_j", "dram_energy_counter_j",
               "n_gpus"]
GPU_COLS = ["slot", "device_index", "power_w", "energy_counter_j", "util_gpu_pct",
            "util_mem_pct", "mem_used_mib", "mem_total_mib", "temp_c", "power_limit_w"]


def load_samples(con, db, dlenergy=None):
    """Loads every run's samples of the store `db` into TEMP tables `samples` and
    `gpu_samples` (one row per sample / per sample and GPU) of the sqlite3 connection
    `con`, through `dlenergy export --all-samples`: the store keeps samples as
    compressed chunks, and this is the documented way to query them with SQL.
    Empty fields become NULL; numbers read back exactly (shortest round-trip form)."""
    import csv
    import io
    import subprocess
    exe = dlenergy or os.environ["DLENERGY_BIN"]
    out = subprocess.run([exe, "export", "--all-samples", "--db", db], capture_output=True,
                         text=True, check=True).stdout
    rows = csv.reader(io.StringIO(out))
    header = next(rows)
    assert header == SAMPLE_COLS + GPU_COLS, header

    def num(v, integer=False):
        return None if v == "" else (int(v) if integer else float(v))

    con.execute("DROP TABLE IF EXISTS temp.samples")
    con.execute("DROP TABLE IF EXISTS temp.gpu_samples")
    con.execute("CREATE TEMP TABLE samples (%s, PRIMARY KEY (run_id, seq))" % ", ".join(SAMPLE_COLS))
    con.execute("CREATE TEMP TABLE gpu_samples (run_id, seq, %s, PRIMARY KEY (run_id, seq, slot))"
                % ", ".join(GPU_COLS))
    ns = len(SAMPLE_COLS)
    for r in rows:
        host = [int(r[0]), int(r[1])] + [num(v) for v in r[2:ns - 1]] + [int(r[ns - 1])]
        con.execute("INSERT OR IGNORE INTO temp.samples VALUES (%s)" % ",".join("?" * ns), host)
        if r[ns] != "":
            g = [int(r[0]), int(r[1]), int(r[ns]), int(r[ns + 1])] + [num(v) for v in r[ns + 2:]]
            con.execute("INSERT INTO temp.gpu_samples VALUES (%s)" % ",".join("?" * len(g)), g)
    return con
