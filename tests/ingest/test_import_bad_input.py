#!/usr/bin/env python3
"""`dlenergy import nvidia-smi` on impossible input (issue 10): negative, 1e308 and
over-the-limit watts become gaps with counted warnings in --json and in the run's
metadata, and the stored energy is never negative (recomputed here from the samples
with the trapezoid rule); a file with fewer than two usable samples fails with exit 1
and stores nothing; trailing garbage after a gzip stream and a truncated gzip are
named as such."""
import csv
import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

BIN = os.environ.get("DLENERGY_BIN", "dlenergy")
HEADER = "timestamp, name, power.draw [W], power.max_limit [W]\n"
failed = 0


def check(cond, msg):
    global failed
    if not cond:
        failed += 1
        print("FAIL:", msg, file=sys.stderr)


def row(sec, watts):
    return f"2023/03/08 22:22:{sec:02d}.000, NVIDIA GeForce RTX 3070, {watts} W, 240.00 W\n"


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


def runs_in(db):
    if not os.path.exists(db):
        return 0
    c = sqlite3.connect(db)
    n = c.execute("select count(*) from runs").fetchone()[0]
    c.close()
    return n


def main():
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "t.db")
        neg = os.path.join(d, "neg.csv")
        with open(neg, "w") as f:
            f.write(HEADER + row(0, "100.00") + row(1, "-80.00") + row(2, "1e308") +
                    row(3, "900.00") + row(4, "100.00") + row(5, "100.00") + row(6, "120.00"))
        p = run("import", "nvidia-smi", neg, "--db", db, "--json")
        check(p.returncode == 0, f"negative watts import: exit {p.returncode} {p.stderr}")
        o = json.loads(p.stdout)
        w = o["warning_counts"]
        check(w["gpu_impossible"] == 3 and o["warnings"] == 3, f"warnings {o['warnings']} {w}")
        check("negative" in o["first_warning"], o["first_warning"])
        check(o["gpu_energy_j"] >= 0, f"energy {o['gpu_energy_j']}")
        # Independent trapezoid over the stored samples (NaN/NULL breaks the series).
        ex = run("export", str(o["run_id"]), "--samples", "--db", db)
        check(ex.returncode == 0, f"export: {ex.stderr}")
        rows = []
        for r in csv.DictReader(io.StringIO(ex.stdout)):
            v = r["gpu_power_w"]
            rows.append((float(r["t_s"]), float(v) if v != "" else None))
        meta = json.loads(run("show", str(o["run_id"]), "--db", db, "--json").stdout)["meta"]
        check(all(p_ is None or 0 <= p_ <= 480 for _, p_ in rows), f"stored powers {rows}")
        e = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(rows, rows[1:])
                if a[1] is not None and b[1] is not None)
        check(abs(e - o["gpu_energy_j"]) < 1e-9 and abs(e - 100 - 110) < 1e-9,
              f"energy {o['gpu_energy_j']} vs recomputed {e}")
        check(meta.get("import_warnings") == "3" and "gpu_impossible=3" in
              meta.get("import_warning_counts", ""), f"metadata {meta}")
        # No --country/--carbon-intensity: the world average, labelled default.
        check(o["carbon_g_per_kwh"] == 475 and abs(o["emissions_g"] - o["total_energy_j"] /
              3.6e6 * 475) <= 1e-9 * o["emissions_g"], f"default emissions {o['emissions_g']}")
        check(meta.get("carbon_source", "").startswith("default: 475 g/kWh"), f"{meta}")

        # One usable sample (0 J before): exit 1, nothing stored.
        before = runs_in(db)
        one = os.path.join(d, "one.csv")
        with open(one, "w") as f:
            f.write(HEADER + row(0, "100.00") + row(1, "-5.00"))
        p = run("import", "nvidia-smi", one, "--db", db, "--json")
        check(p.returncode == 1 and "usable" in p.stderr, f"one sample: {p.returncode} {p.stderr}")
        check(runs_in(db) == before, "one sample: nothing stored")
        fresh = os.path.join(d, "fresh.db")
        p = run("import", "nvidia-smi", one, "--db", fresh)
        check(p.returncode == 1 and runs_in(fresh) == 0, "one sample, fresh store: no run")

        # gzip: trailing garbage and a truncated stream, named.
        body = HEADER + "".join(row(s, "100.00") for s in range(30))
        blob = gzip.compress(body.encode())
        tg = os.path.join(d, "trail.csv.gz")
        with open(tg, "wb") as f:
            f.write(blob + b"this is not gzip\n")
        p = run("import", "nvidia-smi", tg, "--db", db, "--json")
        check(p.returncode == 0, f"trailing: exit {p.returncode} {p.stderr}")
        o = json.loads(p.stdout)
        check(o["warning_counts"]["gzip_trailing"] and "trailing garbage" in o["first_warning"]
              and o["samples"] == 30, f"trailing: {o['first_warning']}")
        tr = os.path.join(d, "trunc.csv.gz")
        with open(tr, "wb") as f:
            f.write(blob[: len(blob) - 12])
        p = run("import", "nvidia-smi", tr, "--db", db, "--json")
        o = json.loads(p.stdout) if p.returncode == 0 else {}
        check(p.returncode == 0 and "truncated gzip" in o.get("first_warning", ""),
              f"truncated: {p.returncode} {p.stderr} {o.get('first_warning')}")
        # Concatenated gzip members are one log, not garbage.
        cat = os.path.join(d, "cat.csv.gz")
        with open(cat, "wb") as f:
            f.write(gzip.compress((HEADER + row(0, "100.00")).encode()) +
                    gzip.compress(row(1, "100.00").encode()))
        p = run("import", "nvidia-smi", cat, "--db", db, "--json")
        o = json.loads(p.stdout) if p.returncode == 0 else {}
        check(p.returncode == 0 and o.get("warnings") == 0 and o.get("samples") == 2,
              f"concatenated gzip: {p.returncode} {p.stderr} {o}")
        p = run("import", "nvidia-smi", neg, "--db", db, "--max-gap", "0")
        check(p.returncode == 2, "--max-gap 0 is a usage error")
    print("ok" if failed == 0 else f"{failed} failures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
