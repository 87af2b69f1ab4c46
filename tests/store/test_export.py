#!/usr/bin/python3
"""`dlenergy export` end to end: builds a run with store_mkfixture, exports it,
reads the CSV with pandas and compares every value with what store_mkfixture
appended (written by it as exact hex floats; exact equality, NaN where absent).
Epochs are compared with the store's epochs table read through Python's sqlite3."""
import math
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip

try:
    import pandas as pd
except ImportError:
    skip("SKIP: python3-pandas not installed")

DLE = os.environ["DLENERGY_BIN"]
MK = sys.argv[1]
check = Checks()


def same(a, b):
    a_nan = a is None or (isinstance(a, float) and math.isnan(a))
    b_nan = b is None or (isinstance(b, float) and math.isnan(b))
    return (a_nan and b_nan) or (not a_nan and not b_nan and float(a) == float(b))


def run(*args):
    return subprocess.run([DLE, *args], capture_output=True, text=True)


with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "x.db")
    expect = os.path.join(tmp, "expect.txt")
    rid = subprocess.run([MK, db, "500", expect], check=True, capture_output=True,
                         text=True).stdout.strip()
    host, gpu = [], []
    with open(expect) as f:
        for line in f:
            p = line.strip().split(",")
            vals = [None if v == "nan" else float.fromhex(v) for v in p[2 + (p[0] == "g"):]]
            if p[0] == "h":
                host.append((int(p[1]), *vals))
            else:
                gpu.append((int(p[1]), int(p[2]), *vals))
    out = os.path.join(tmp, "samples.csv")
    r = run("export", rid, "--samples", "--db", db, "-o", out)
    if r.returncode != 0:
        print("FAIL: export --samples:", r.returncode, r.stderr)
        sys.exit(1)
    # pandas' default float parser may be 1 ulp off; "round_trip" reads the
    # shortest-round-trip numbers exactly, and that is what is compared.
    df = pd.read_csv(out, float_precision="round_trip")
    dflt = pd.read_csv(out)
    check(list(dflt.columns) == list(df.columns) and len(dflt) == len(df), "default read")
    import numpy as np
    check(np.allclose(dflt.to_numpy(float), df.to_numpy(float), rtol=1e-15, atol=0,
                      equal_nan=True), "default parser within 1e-15")
    con = sqlite3.connect(db)
    check(len(df) == len(host) == 500, f"rows: csv {len(df)}, store {len(host)}")
    names = ["t_s", "wall_s", "cpu_util_pct", "rss_mib", "cpu_power_w", "dram_power_w",
             "ram_power_w", "cpu_energy_counter_j", "dram_energy_counter_j"]
    bad = 0
    for i, row in enumerate(host):
        for j, name in enumerate(names):
            if not same(row[j + 1], df[name].iloc[i]):
                bad += 1
    check(bad == 0, f"{bad} host values differ")
    check(df["t_s"].dtype == float and df["cpu_util_pct"].isna().sum() > 0,
          "NaN columns read as float with NaN")
    devs = sorted({g[1] for g in gpu})
    check(devs == [0, 2], f"devices {devs}")
    fields = ["power_w", "energy_counter_j", "util_pct", "mem_util_pct", "mem_used_mib",
              "mem_total_mib", "temp_c", "power_limit_w"]
    want_cols = names + ["gpu_power_w"] + [f"gpu{d}_{f}" for d in devs for f in fields]
    check(list(df.columns) == want_cols, f"columns {list(df.columns)}")
    seen = {}
    for g in gpu:
        seen[(g[0], g[1])] = g
    bad = 0
    for i, row in enumerate(host):
        seq = row[0]
        total, any_power = 0.0, False
        for d in devs:
            g = seen.get((seq, d))
            for j, f in enumerate(fields):
                want = g[2 + j] if g else None
                if not same(want, df[f"gpu{d}_{f}"].iloc[i]):
                    bad += 1
            if g and g[2] is not None:
                total += g[2]
                any_power = True
        if not same(total if any_power else None, df["gpu_power_w"].iloc[i]):
            bad += 1
    check(bad == 0, f"{bad} GPU values differ")

    # Standard output gives the same bytes as -o.
    r2 = run("export", "last", "--samples", "--db", db)
    with open(out) as f:
        check(r2.returncode == 0 and r2.stdout == f.read(), "stdout export equals file export")

    # Epochs, with a quoted metrics field and an open epoch.
    eout = os.path.join(tmp, "epochs.csv")
    r = run("export", rid, "--epochs", "--db", db, "-o", eout)
    check(r.returncode == 0, f"export --epochs: {r.stderr}")
    ep = pd.read_csv(eout, float_precision="round_trip", keep_default_na=False, na_values={"t_begin_s": [""],
                     "t_end_s": [""], "duration_s": [""]})
    rows = con.execute("SELECT idx, t_begin_s, t_end_s, metrics FROM epochs WHERE run_id=?"
                       " ORDER BY idx", (rid,)).fetchall()
    check(list(ep.columns) == ["epoch", "t_begin_s", "t_end_s", "duration_s", "metrics"],
          f"epoch columns {list(ep.columns)}")
    check(len(ep) == len(rows) == 3, f"{len(ep)} epochs")
    for i, (idx, b, e, m) in enumerate(rows):
        check(ep["epoch"].iloc[i] == idx, "epoch index")
        check(same(b, ep["t_begin_s"].iloc[i]) and same(e, ep["t_end_s"].iloc[i]), "epoch times")
        check(ep["metrics"].iloc[i] == m, f"metrics {ep['metrics'].iloc[i]!r} != {m!r}")
        d = None if (b is None or e is None) else e - b
        check(same(d, ep["duration_s"].iloc[i]), "duration")
    con.close()

    # Bad usage and failures: clear messages, the documented exit statuses.
    r = run("export", rid, "--db", db)
    check(r.returncode == 2 and "--samples" in r.stderr, f"no mode: {r.returncode} {r.stderr}")
    r = run("export", "--samples", "--db", db)
    check(r.returncode == 2 and "RUN" in r.stderr, f"no run: {r.returncode}")
    r = run("export", "999", "--samples", "--db", db)
    check(r.returncode == 1 and "no run 999" in r.stderr, f"unknown run: {r.stderr}")
    r = run("export", "abc", "--epochs", "--db", db)
    check(r.returncode == 1 and "not a run id" in r.stderr, f"bad run: {r.stderr}")
    r = run("export", "--help")
    check(r.returncode == 0 and "Usage: dlenergy export" in r.stdout, "help")
    bad_db = os.path.join(tmp, "junk.db")
    with open(bad_db, "w") as f:
        f.write("not a database\n" * 100)
    r = run("export", "1", "--samples", "--db", bad_db)
    check(r.returncode == 1 and "not a database" in r.stderr, f"junk db: {r.stderr}")
    r = run("export", rid, "--samples", "--db", db, "-o", os.path.join(tmp, "no/such/dir.csv"))
    check(r.returncode == 1 and "cannot create" in r.stderr, f"unwritable output: {r.stderr}")

print("export test:", "FAILED" if check.failed else "ok", f"({check.failed} failures)")
sys.exit(1 if check.failed else 0)
