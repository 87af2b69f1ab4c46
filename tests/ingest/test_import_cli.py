#!/usr/bin/env python3
"""`dlenergy import`, `list` and `show` on hand-made logs: usage errors exit 2, bad
input exits 1 with a message naming the file, recoverable damage (garbage lines, a
cut last line, a truncated gzip) imports with counted warnings, and the imported run
reads back through list/show with the energy the trapezoid rule gives."""
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

BIN = os.environ.get("DLENERGY_BIN", "dlenergy")
check = Checks(file=sys.stderr)

HEADER = ("timestamp, name, utilization.gpu [%], utilization.memory [%], memory.total [MiB], "
          "memory.used [MiB], power.draw [W], power.max_limit [W], temperature.gpu\n")


def row(sec, watts):
    return (f"2023/03/08 22:22:{sec:02d}.500, NVIDIA GeForce RTX 3070, 50 %, 10 %, 8192 MiB, "
            f"4000 MiB, {watts:.2f} W, 240.00 W, 60\n")

def run(*args, expect=0, contains=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    check(p.returncode == expect,
          f"{' '.join(args)}: exit {p.returncode}, wanted {expect}; stderr: {p.stderr.strip()}")
    if contains:
        check(contains in p.stdout + p.stderr, f"{' '.join(args)}: no '{contains}' in output "
              f"{(p.stdout + p.stderr)[:300]!r}")
    return p


def main():
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "t.db")
        good = os.path.join(d, "gpu.csv")
        with open(good, "w") as f:
            f.write(HEADER + "".join(row(s, 100 + 10 * s) for s in range(10)))
        cpu = os.path.join(d, "cpu.csv")
        with open(cpu, "w") as f:
            f.write("timestamp,cpu usage (%),memory usage (MB),temperature (Celsius)\n")
            f.writelines(f"2023-03-08T22:22:{s:02d}.700000,25.0,2048.0,40.0\n" for s in range(10))

        run("import", "--help", contains="Usage: dlenergy import")
        run("show", "--help", contains="Usage: dlenergy show")
        run("list", "--help", contains="Usage: dlenergy list")
        run("import", expect=2)
        run("import", "csv", good, expect=2, contains="unknown format")
        run("import", "nvidia-smi", good, "--skip-first", "-1", expect=2)
        run("import", "nvidia-smi", good, "--meta", "novalue", expect=2)
        run("import", "nvidia-smi", good, "--pue", "0.5", expect=2)
        run("import", "nvidia-smi", good, "--country", "ES", "--carbon-intensity", "1", expect=2)
        run("import", "nvidia-smi", good, "--country", "XX", "--db", db, expect=1,
            contains="XX")
        run("import", "nvidia-smi", os.path.join(d, "missing.csv"), "--db", db, expect=1,
            contains="missing.csv")
        for name, content, msg in [("empty.csv", "", "empty"),
                                   ("header.csv", HEADER, "no data lines"),
                                   ("noheader.csv", row(1, 100), "timestamp"),
                                   ("binary.csv", "\x00\x01\x02garbage\xff", "timestamp"),
                                   ("allbad.csv", HEADER + "x,y\n" * 5, "no usable")]:
            path = os.path.join(d, name)
            with open(path, "w", encoding="latin-1") as f:
                f.write(content)
            run("import", "nvidia-smi", path, "--db", db, expect=1, contains=msg)
        run("import", "nvidia-smi", good, "--skip-first", "6", "--skip-last", "4", "--db", db,
            expect=1, contains="nothing is left")

        # A good import with a CPU log, metadata, PUE and carbon intensity.
        p = run("import", "nvidia-smi", good, "--cpu", cpu, "--meta", "architecture=tiny",
                "--pue", "1.5", "--carbon-intensity", "100", "--db", db, "--json")
        o = json.loads(p.stdout)
        # Power 100..190 W linearly over 9 s: trapezoid = 9 x 145 = 1305 J exactly.
        check(abs(o["gpu_energy_j"] - 1305) < 1e-9, f"gpu_energy_j {o['gpu_energy_j']}")
        check(o["duration_s"] == 9 and o["samples"] == 10 and o["warnings"] == 0, "figures")
        check(abs(o["avg_gpu_power_w"] - 145) < 1e-12, "avg power")
        ram = 0.375 * 2.0 * 9  # 2048 MiB = 2 GB at 0.375 W/GB for 9 s
        check(abs(o["energy_j"]["ram"] - ram) < 1e-9, f"ram {o['energy_j']['ram']}")
        check(abs(o["facility_energy_j"] - 1.5 * (1305 + ram)) < 1e-9, "facility")
        check(abs(o["emissions_g"] - 1.5 * (1305 + ram) / 3.6e6 * 100) < 1e-12, "emissions")
        check(o["meta"]["architecture"] == "tiny" and o["meta"]["gpu_tdp_w"] == "240", "meta")
        check(o["cpu_matched"] == 10, "cpu join")
        rid = o["run_id"]
        again = run("import", "nvidia-smi", good, "--db", db, contains="already run")
        check(again.returncode == 0, "dedup exit 0")

        # Recoverable damage: garbage lines, a cut final line, a truncated gzip.
        dam = os.path.join(d, "damaged.csv")
        with open(dam, "w") as f:
            f.write(HEADER + row(0, 100) + "garbage line\n" + row(1, 100) + row(3, 100)
                    + row(2, 100) + row(4, 100) + "2023/03/08 22:22:05.500, NVIDIA Ge")
        o = json.loads(run("import", "nvidia-smi", dam, "--db", db, "--json").stdout)
        w = o["warning_counts"]
        check(o["samples"] == 4 and o["warnings"] == 3, f"damaged: {o['samples']} {o['warnings']}")
        check(w["gpu_bad_lines"] == 1 and w["gpu_cut_lines"] == 1 and w["gpu_out_of_order"] == 1,
              f"damaged counts {w}")
        gz = os.path.join(d, "long.csv.gz")
        body = HEADER + "".join(
            f"2023/03/08 {h:02d}:{m:02d}:{s:02d}.000, X, 1 %, 1 %, 1 MiB, 1 MiB, {100 + (h * 7 + m * 3 + s) % 50}.25 W, 240.00 W, 1\n"
            for h in range(2) for m in range(60) for s in range(60))
        blob = gzip.compress(body.encode())
        with open(gz, "wb") as f:
            f.write(blob[: len(blob) * 2 // 3])
        o = json.loads(run("import", "nvidia-smi", gz, "--db", db, "--json").stdout)
        check(o["warning_counts"]["gzip_truncated"] and 1000 < o["samples"] < 7200,
              f"truncated gzip: {o['samples']} samples")

        # An import interrupted mid-way stays "running" and is replaced by the next one
        # (simulated by flipping a finished run back to running in the SQLite store).
        con = sqlite3.connect(db)
        con.execute("UPDATE runs SET status = 0 WHERE id = ?", (rid,))
        con.commit()
        con.close()
        o2 = json.loads(run("import", "nvidia-smi", good, "--cpu", cpu, "--meta",
                            "architecture=tiny", "--carbon-intensity", "100", "--db", db,
                            "--json").stdout)
        check(o2["run_id"] != rid and o2["status"] == "complete", "stale import replaced")
        run("show", str(rid), "--db", db, expect=1)
        rid = o2["run_id"]

        # seaa2023 batch: a missing trace is reported, the other runs still import, exit 1.
        sd = os.path.join(d, "seaa")
        os.makedirs(os.path.join(sd, "traces"))
        with open(os.path.join(sd, "runs.csv"), "w") as f:
            f.write("environment_id,architecture,run,trained_epochs,gpu_trace,cpu_trace\n")
            f.write(f"x,tiny,0,5,{os.path.relpath(good, sd)},{os.path.relpath(cpu, sd)}\n")
            f.write("x,tiny,1,5,traces/missing.gpu.csv.gz,traces/missing.cpu.csv.gz\n")
            f.write("local,tiny,2,5,,\n")
        p = run("import", "seaa2023", sd, "--db", os.path.join(d, "s.db"), "--json", expect=1,
                contains="missing.gpu.csv.gz")
        b = json.loads(p.stdout)
        check(b["imported"] == 1 and b["failed"] == 1 and b["skipped_untraced"] == 1, f"batch {b}")
        check(b["runs"][0]["samples"] == 4 and abs(b["runs"][0]["gpu_energy_j"] - 435) < 1e-9,
              "batch trims 3+3 by default")  # 130..160 W over 3 s
        sj = json.loads(run("show", "last", "--db", os.path.join(d, "s.db"), "--json").stdout)
        check(sj["meta"]["architecture"] == "tiny" and sj["epochs_planned"] == 5 and
              sj["meta"]["epochs_total"] == "5" and abs(sj["carbon_g_per_kwh"] - 232) < 1e-12,
              "batch metadata and ES carbon default")
        # Again: the run is known (read once before the batch opens) and skipped; an
        # interrupted one ("running") is replaced by a fresh import and removed.
        sdb = os.path.join(d, "s.db")
        b2 = json.loads(run("import", "seaa2023", sd, "--db", sdb, "--json", expect=1).stdout)
        check(b2["imported"] == 0 and b2["already_imported"] == 1, f"batch again {b2}")
        old_id = sj["run_id"]
        con = sqlite3.connect(sdb)
        con.execute("UPDATE runs SET status = 0 WHERE id = ?", (old_id,))
        con.commit()
        con.close()
        b3 = json.loads(run("import", "seaa2023", sd, "--db", sdb, "--json", expect=1).stdout)
        check(b3["imported"] == 1 and b3["already_imported"] == 0 and
              b3["runs"][0]["run_id"] != old_id, f"batch replaces the interrupted run {b3}")
        run("show", str(old_id), "--db", sdb, expect=1)
        check(len(json.loads(run("list", "--db", sdb, "--json").stdout)) == 1, "one run left")

        # list / show.
        empty_db = os.path.join(d, "empty.db")
        # Read-only verbs never create a store: a missing one is an error naming it.
        run("list", "--db", empty_db, expect=1, contains=empty_db)
        check(not os.path.exists(empty_db), "list created no store")
        open(empty_db, "w").close()  # an empty SQLite file is an empty store
        check(json.loads(run("list", "--db", empty_db, "--json").stdout) == [], "empty list")
        run("list", "--db", empty_db, contains="0 runs")
        lst = json.loads(run("list", "--db", db, "--json").stdout)
        check(len(lst) == 3 and rid in [x["run_id"] for x in lst], f"list has {len(lst)} runs")
        out = run("list", "--db", db).stdout
        check("STATUS" in out and "complete" in out and "3 runs" in out, "list table")
        s = run("show", str(rid), "--db", db).stdout
        check("measured" in s and "modelled" in s and "emissions" in s and "architecture" in s,
              "show text")
        sj = json.loads(run("show", str(rid), "--db", db, "--json").stdout)
        check(sj["gpu_energy_j"] == [x for x in lst if x["run_id"] == rid][0]["gpu_energy_j"]
              and sj["epoch_list"] == [], "show json")
        run("show", "999", "--db", db, expect=1)
        run("show", "--db", db, expect=2)
        run("show", "abc", "--db", db, expect=1)
    print("ok" if check.failed == 0 else f"{check.failed} failures")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
