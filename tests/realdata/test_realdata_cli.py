#!/usr/bin/env python3
"""Real data through the CLI: `dlenergy import seaa2023` imports every trace pair of
../shared/data/seaa2023 (--skip-first 3 --skip-last 3 by default, full-precision watts)
and the GPU energy, duration and mean power of each run must match runs.csv within
0.5 % for the median run and 1 % for the worst (the table truncated watts to integers,
about 0.26 % low). Then `list --json` and `show --json` must report the same runs, a
second import must find them all already imported, and `import nvidia-smi` of one
cut-off file must report the cut line. Standard library only; skips (77) without data."""
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip

BIN = os.environ.get("DLENERGY_BIN", "dlenergy")
SHARED = os.environ.get("DLE_SHARED_DIR", "")
DATA = os.path.join(SHARED, "data", "seaa2023")
check = Checks(file=sys.stderr)


def run(*args, expect=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    check(p.returncode == expect,
          f"{' '.join(args)} exited {p.returncode}, wanted {expect}: {p.stderr.strip()}")
    return p


def main():
    if not os.path.exists(os.path.join(DATA, "runs.csv")):
        skip("SKIP: no seaa2023 data in DLE_SHARED_DIR", file=sys.stderr)
    with open(os.path.join(DATA, "runs.csv"), newline="") as f:
        table = [r for r in csv.DictReader(f) if r["gpu_trace"]]
    ref = {(r["environment_id"], r["architecture"], r["run"]): r for r in table}
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "seaa.db")
        p = run("import", "seaa2023", DATA, "--db", db, "--json")
        out = json.loads(p.stdout)
        check(out["imported"] == len(table) == 309, f"imported {out['imported']} of {len(table)}")
        check(out["skipped_untraced"] == 60, f"skipped_untraced {out['skipped_untraced']}")
        dev = {"energy": [], "duration": [], "power": []}
        for r in out["runs"]:
            t = ref[(r["environment_id"], r["architecture"], r["run"])]
            e_ref = float(t["gpu_energy_mj"]) * 1e6
            d_ref = float(t["training_duration_h"]) * 3600
            p_ref = float(t["avg_gpu_power_w"])
            dev["energy"].append(abs(r["gpu_energy_j"] - e_ref) / e_ref)
            dev["duration"].append(abs(r["duration_s"] - d_ref) / d_ref)
            dev["power"].append(abs(r["avg_gpu_power_w"] - p_ref) / p_ref)
        for k, v in dev.items():
            med, worst = statistics.median(v), max(v)
            print(f"{k}: median {med * 100:.4f} %, worst {worst * 100:.4f} % over {len(v)} runs")
            check(med <= 0.005, f"{k} median deviation {med}")
            check(worst <= 0.01, f"{k} worst deviation {worst}")

        # list/show report the same runs with the documented fields.
        runs = json.loads(run("list", "--db", db, "--json").stdout)
        check(len(runs) == 309, f"list --json has {len(runs)} runs")
        by_id = {r["run_id"]: r for r in out["runs"]}
        for o in runs:
            for key in ("run_id", "status", "gpu_energy_j", "duration_s", "avg_gpu_power_w",
                        "samples", "epochs", "energy_j", "components", "emissions_g", "meta"):
                check(key in o, f"list element lacks {key}")
            check(o["status"] == "complete", f"run {o['run_id']} status {o['status']}")
            check(set(o["energy_j"]) == {"gpu", "cpu", "dram", "ram"}, "energy_j keys")
            check(o["components"]["gpu"]["figure"] == "measured", "GPU energy is measured")
            check(o["components"]["ram"]["figure"] == "modelled", "RAM energy is modelled")
            check(abs(o["gpu_energy_j"] - by_id[o["run_id"]]["gpu_energy_j"]) <= 1e-6 * o["gpu_energy_j"],
                  "list and import agree")
            check(o["meta"].get("architecture") in
                  {"mobilenet_v2", "nasnet_mobile", "resnet50", "vgg16", "xception"}, "meta")
            # Emissions: the study's 232 g/kWh (ES) on the GPU+RAM total.
            check(abs(o["emissions_g"] - o["total_energy_j"] / 3.6e6 * 232) <= 1e-9 * o["emissions_g"],
                  "emissions at 232 g/kWh")
        one = json.loads(run("show", "last", "--db", db, "--json").stdout)
        check(one["run_id"] == runs[-1]["run_id"] and "epoch_list" in one, "show last")
        filt = json.loads(run("list", "--db", db, "--json", "--filter", "architecture=vgg16").stdout)
        check(len(filt) == 62, f"vgg16 runs: {len(filt)}")

        again = json.loads(run("import", "seaa2023", DATA, "--db", db, "--json").stdout)
        check(again["imported"] == 0 and again["already_imported"] == 309, "re-import dedup")

        # A cut-off file without trimming: the partial last line is a counted warning.
        cut = os.path.join(DATA, "traces", "cloud", "vgg16", "run-00.gpu.csv.gz")
        o = json.loads(run("import", "nvidia-smi", cut, "--db", os.path.join(tmp, "one.db"),
                           "--json").stdout)
        check(o["warnings"] == 1 and o["warning_counts"]["gpu_cut_lines"] == 1,
              f"cut line warnings {o.get('warning_counts')}")
        check(o["samples"] > 3000 and o["gpu_energy_j"] > 1e6, "single import figures")
    print("ok" if check.failed == 0 else f"{check.failed} failures")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
