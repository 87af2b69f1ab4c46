"""End-to-end test of `dlenergy estimate`, `evaluate` and `stabilize` on the runs that
test_estimate_fixture writes; the expected joules are computed by hand in
tests/estimate/test_estimate.c (trace A: 100->200 W ramp over the first 10 s, RAM 10 W)."""
import csv
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

BIN = os.environ["DLENERGY_BIN"]
FIXTURE = sys.argv[1]
DB = os.path.abspath("estimate_cli.db")
check = Checks(file=sys.stderr)


def near(a, b, tol=1e-6):
    return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(b))


def dle(*args, rc=0):
    p = subprocess.run([BIN, *args, "--db", DB], capture_output=True, text=True)
    check(p.returncode == rc, f"{args}: exit {p.returncode} (want {rc}): {p.stderr.strip()}")
    return p


def dle_json(*args):
    p = dle(*args, "--json")
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        check(False, f"{args}: not JSON: {p.stdout[:200]}")
        return {}


subprocess.run([FIXTURE, DB], check=True, capture_output=True)
SW = ["--stable-epoch", "2", "--window-epochs", "3"]

# Finished run with epochs: every method against hand-computed totals.
o = dle_json("estimate", "1", "--method", "all", *SW)
est = {e["method"]: e for e in o.get("estimates", [])}
check(near(est["mlco2"]["total_j"], 36000), "mlco2 300 W x 120 s")
check(near(est["mlco2"]["measured_j"], 23500), "mlco2 is compared with GPU energy")
check(near(est["ga"]["total_j"], 18089.4), "ga (150 W + 2 GB x 0.3725) x 120 s")
check(near(est["carbontracker"]["total_j"], 19200), "carbontracker 1600 J x 12")
check(near(est["step-power"]["total_j"], 25200), "step-power 210 W x 120 s")
check(near(est["step-power"]["measured_j"], 24700), "step-power is compared with GPU+RAM")
check(est["step-power"]["components"] == "GPU+RAM", "step-power components")
check(near(est["step-energy"]["total_j"], 24700), "step-energy 3700 + 6300 x 10 / 3")
check("error" in est["flops"], "flops without FLOPs facts is an error entry")
check(est["step-power"]["kind"] == "modelled", "estimates say modelled")

# Human output names the method and the bound.
p = dle("estimate", "1", "--method", "step-energy", *SW)
check("step-energy" in p.stdout and "measured" in p.stdout, "text output")

# Projection at epoch 5 of the finished run, and on the run still recording (6 of 12).
o = dle_json("estimate", "1", "--method", "step-power", "--at-epoch", "5", *SW)
e = o["estimates"][0]
check(near(e["total_j"], 25200) and e["measured_j"] is None, "projection at epoch 5")
o = dle_json("estimate", "3", "--method", "step-power,mlco2", *SW, "--tdp", "250")
est = {e["method"]: e for e in o.get("estimates", [])}
check(near(est["step-power"]["total_j"], 25200), "running run: 60 s + 6 x 10 s at 210 W")
check(near(est["mlco2"]["total_j"], 250 * 120), "--tdp overrides")
check(near(est["step-power"]["duration_s"], 120), "projected duration")

# Time-window variant on the run without epochs.
o = dle_json("estimate", "2", "--method", "step-power", "--window-seconds", "30",
             "--start-seconds", "20")
check(near(o["estimates"][0]["total_j"], 25200), "time window [20, 50] s")
o = dle_json("estimate", "2", "--method", "step-power", "--window-seconds", "30",
             "--start-seconds", "20", "--gpu-only")
check(near(o["estimates"][0]["total_j"], 24000), "time window, GPU only")

# evaluate: run 3 is still recording and skipped; step-energy cannot do run 2.
o = dle_json("evaluate", "--methods", "mlco2,step-energy", *SW,
             "--runs", "architecture=synthetic-a")
m = {x["name"]: x for x in o.get("methods", [])}
check(o.get("runs") == 1 and o.get("skipped_running") == 1, "runs counted")
check(near(m["mlco2"]["rmse_j"], 12500) and m["mlco2"]["n"] == 1, "mlco2 rmse 36000-23500")
check(near(m["mlco2"]["mape"], 12500 / 23500), "mape is a fraction")
check(near(m["step-energy"]["rmse_j"], 0, 1e-6) and near(m["step-energy"]["mae_j"], 0, 1e-6),
      "step-energy exact")
for x in o.get("methods", []):
    check(set(["name", "n", "rmse_j", "mae_j", "mape", "r2"]) <= set(x), "method keys")

o = dle_json("evaluate", "--methods", "mlco2,step-energy", *SW, "--runs", "status=complete")
m = {x["name"]: x for x in o.get("methods", [])}
# run 4 has no TDP anywhere (no metadata, no power limit in its trace): skipped
check(m["mlco2"]["n"] == 2 and m["mlco2"]["skipped"] == 1, "mlco2 over runs 1 and 2")
check(m["step-energy"]["n"] == 2 and m["step-energy"]["skipped"] == 1, "step-energy needs epochs")

# Sweep of the window size, CSV written atomically.
dle("evaluate", "--runs", "architecture=synthetic-a", "--methods", "step-power",
    "--sweep", "window", "--sweep-values", "1,2,3", "--stable-epoch", "2", "--csv", "sweep.csv")
with open("sweep.csv", newline="") as f:
    rows = list(csv.DictReader(f))
sweep = [r for r in rows if r["sweep"] == "window"]
check(len(sweep) == 3 and all(r["unit"] == "epochs" for r in sweep), "3 sweep rows")
# step-power with window w from epoch 2: 210 W x 120 s for every w vs 24700 J measured
for r in sweep:
    check(near(float(r["rmse_j"]), 500), f"sweep w={r['value']}: 25200 - 24700")

# stabilize: the warm-up ends at 180 s (end of epoch 2 of run 4)
o = dle_json("stabilize", "4")
check(abs(o.get("t_s", -1e9) - 180) <= 10, f"stabilizing point {o.get('t_s')}")
check(o.get("epoch") in (2, 3), f"epoch {o.get('epoch')}")
o = dle_json("estimate", "4", "--method", "step-auto")
e = o["estimates"][0]
check(e.get("stable_epoch") in (3, 4) and abs(e["total_j"] / (250.5 * 1800) - 1) < 0.01,
      f"step-auto {e}")


# step-remain: measured energy up to 25 % (30 s of 120 s) + 210 W x the remaining 90 s.
o = dle_json("estimate", "2", "--method", "step-remain")
e = o["estimates"][0]
check(near(e["total_j"], 24700), f"step-remain 5800 J measured + 210 W x 90 s: {e['total_j']}")
check(near(e["fraction_seen"], 0.25) and near(e["seen_s"], 30), "step-remain saw 25 %")
check(e["lower_j"] <= 24700 <= e["upper_j"], "step-remain bound holds the measured total")
o = dle_json("estimate", "2", "--method", "step-remain,mlco2", "--at-fraction", "0.5")
est = {x["method"]: x for x in o.get("estimates", [])}
check(near(est["step-remain"]["fraction_seen"], 0.5), "--at-fraction 0.5")
check(near(est["mlco2"]["fraction_seen"], 0.5) and near(est["mlco2"]["total_j"], 36000),
      "mlco2 at half the run keeps the measured duration")
dle("estimate", "2", "--method", "step-remain", "--at-fraction", "0", rc=2)

# evaluate reports the fraction seen and the bound coverage per method.
o = dle_json("evaluate", "--methods", "mlco2,step-remain", "--runs", "architecture=synthetic-a")
m = {x["name"]: x for x in o.get("methods", [])}
check(near(m["mlco2"]["median_fraction_seen"], 1.0), "mlco2 sees the whole run")
check(near(m["step-remain"]["median_fraction_seen"], 0.25) and
      near(m["step-remain"]["p90_fraction_seen"], 0.25), "step-remain sees 25 %")
check(near(m["step-remain"]["rmse_j"], 0, 1e-6), "step-remain exact on trace A")
check(near(m["step-remain"]["bound_coverage"], 1.0) and near(m["mlco2"]["bound_coverage"], 0.0),
      "coverage: step-remain's bound holds, mlco2 has no spread")
p = dle("evaluate", "--methods", "mlco2,step-remain", "--runs", "architecture=synthetic-a")
check("seen" in p.stdout and "cover" in p.stdout, "table has seen/cover columns")

# --sweep fraction: every method at every fraction, the fraction seen follows.
dle("evaluate", "--runs", "architecture=synthetic-a", "--methods", "mlco2,ga,step-remain",
    "--sweep", "fraction", "--sweep-values", "0.25,0.5", "--csv", "fsweep.csv")
with open("fsweep.csv", newline="") as f:
    rows = [r for r in csv.DictReader(f) if r["sweep"] == "fraction"]
check(len(rows) == 6 and all(r["unit"] == "fraction" for r in rows), f"6 rows: {len(rows)}")
for r in rows:
    check(near(float(r["median_fraction_seen"]), float(r["value"])),
          f"{r['method']} at {r['value']} saw {r['median_fraction_seen']}")
o = dle_json("evaluate", "--runs", "architecture=synthetic-a", "--methods", "step-remain",
             "--sweep", "fraction")
pts = o.get("sweep", {}).get("points", [])
check([p["value"] for p in pts] == [0.05, 0.1, 0.15, 0.2, 0.3, 0.5], "default fractions")
dle("evaluate", "--sweep", "fraction", "--sweep-values", "1.5", rc=2)

# stabilize uses the study's FLUSS settings by default and says when the CAC is flat.
o = dle_json("stabilize", "4")
check(o.get("excl_factor") == 5 and o.get("regimes") == 2 and o.get("flat") is False,
      f"stabilize defaults {o.get('excl_factor')} {o.get('regimes')} {o.get('flat')}")

# Bad usage and failures.
dle("estimate", "1", rc=2)
dle("estimate", "1", "--method", "bogus", rc=2)
dle("estimate", "1", "--method", "mlco2", "--at-epoch", "x", rc=2)
dle("estimate", "99", "--method", "mlco2", rc=1)
dle("estimate", "2", "--method", "step-energy", rc=1)
dle("evaluate", "--sweep", "sideways", rc=2)
dle("stabilize", rc=2)
dle("stabilize", "1", "--m", "1", rc=2)
for verb in ("estimate", "evaluate", "stabilize"):
    p = subprocess.run([BIN, verb, "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "Usage: dlenergy " + verb in p.stdout, f"{verb} --help")

print("failures:", check.failed)
sys.exit(1 if check.failed else 0)
