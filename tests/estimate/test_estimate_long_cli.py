"""A run longer than the estimators' full-series limit (65,536 samples) through the CLI:
bench_memory_gen writes 120,000 samples (10 Hz, 20 epochs, one fake GPU) into a new
store. `estimate --json` must say it read buckets, its measured totals must equal the
energies `show --json` streams from every sample, and its epoch-based projections the
epoch energies recomputed here from the exported samples (to 1e-9 relative); `stabilize --json`, `evaluate --json` and `report` must
work on it. Standard library only."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

BIN = os.environ["DLENERGY_BIN"]
GEN = sys.argv[1]
N = 120000
check = Checks(file=sys.stderr)


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "long.db")
        subprocess.run([GEN, db, str(N)], check=True, capture_output=True)

        def dle(*args, rc=0):
            p = subprocess.run([BIN, *args, "--db", db], capture_output=True, text=True)
            check(p.returncode == rc, f"{args}: exit {p.returncode} (want {rc}): {p.stderr.strip()}")
            return p

        def dle_json(*args):
            p = dle(*args, "--json")
            try:
                return json.loads(p.stdout)
            except json.JSONDecodeError:
                check(False, f"{args}: not JSON: {p.stdout[:200]}")
                return {}

        show = dle_json("show", "1")
        check(show.get("samples") == N, f"show: {show.get('samples')} samples")
        gpu = show["gpu_integral_energy_j"]
        ram = show["energy_j"]["ram"]
        epochs = show["epoch_list"]
        check(len(epochs) == 20, "20 epochs")

        est = dle_json("estimate", "1", "--method", "all")
        nb = est.get("buckets", 0)
        # 120,000 samples in buckets of ceil(120000 / 32768) = 4, plus the epoch edges
        check(30000 <= nb <= 30000 + 2 * 20 + 1, f"buckets {nb}")
        by = {e["method"]: e for e in est.get("estimates", [])}
        for m in ("mlco2", "ga", "carbontracker", "step-power", "step-energy", "step-auto",
                  "step-remain"):
            check(m in by and "error" not in by[m], f"estimate {m}: {by.get(m)}")
        # measured totals from every sample: GPU (mlco2) and GPU+RAM (the step methods)
        check(rel(by["mlco2"]["measured_j"], gpu) < 1e-9,
              f"mlco2 measured {by['mlco2']['measured_j']} vs show {gpu}")
        check(rel(by["step-energy"]["measured_j"], gpu + ram) < 1e-9,
              f"step-energy measured {by['step-energy']['measured_j']} vs show {gpu + ram}")
        # epoch energies recomputed here from every exported sample (GPU + RAM power,
        # trapezoid with the power interpolated at the epoch edges): show's per-epoch GPU
        # figures come from the NVML counter, the estimators integrate the power
        t, p = [], []
        out = dle("export", "1", "--samples").stdout.splitlines()
        head = out[0].split(",")
        it, ig, ir = head.index("t_s"), head.index("gpu_power_w"), head.index("ram_power_w")
        for line in out[1:]:
            f = line.split(",")
            t.append(float(f[it]))
            p.append(float(f[ig]) + float(f[ir]))
        check(len(t) == N, f"export: {len(t)} rows")

        def between(a, b):
            e = 0.0
            for i in range(1, len(t)):
                ta, tb = t[i - 1], t[i]
                if tb <= a or ta >= b:
                    continue
                lo, hi = max(ta, a), min(tb, b)
                pa = p[i - 1] + (p[i] - p[i - 1]) * (lo - ta) / (tb - ta)
                pb = p[i - 1] + (p[i] - p[i - 1]) * (hi - ta) / (tb - ta)
                e += (hi - lo) * (pa + pb) / 2
            return e

        ep_j = [between(e["t_begin_s"], e["t_end_s"]) for e in epochs]
        # carbontracker: the first epoch's energy x 20 planned epochs
        ct = ep_j[0] * 20
        check(rel(by["carbontracker"]["total_j"], ct) < 1e-9,
              f"carbontracker {by['carbontracker']['total_j']} vs {ct} from the samples")
        # step-energy (s = 10, w = 5): energy before epoch 10 + window energy x (20 - 10) / 5
        se = between(t[0], epochs[10]["t_begin_s"]) + \
            between(epochs[10]["t_begin_s"], epochs[14]["t_end_s"]) * 10 / 5
        check(rel(by["step-energy"]["total_j"], se) < 1e-9,
              f"step-energy {by['step-energy']['total_j']} vs {se} from the samples")

        stab = dle_json("stabilize", "1")
        check(stab.get("buckets") == nb, f"stabilize buckets {stab.get('buckets')}")
        check(stab.get("n_points", 0) <= nb, f"stabilize points {stab.get('n_points')}")
        txt = dle("stabilize", "1").stdout
        check("long run: analysed on" in txt, "stabilize says it read buckets")
        txt = dle("estimate", "1", "--method", "mlco2").stdout
        check("long run: read as" in txt, "estimate says it read buckets")

        ev = dle_json("evaluate")
        check(ev.get("runs") == 1 and ev.get("runs_downsampled") == 1,
              f"evaluate --json: {ev.get('runs')} runs, {ev.get('runs_downsampled')} downsampled")
        check("read as buckets" in dle("evaluate").stdout, "evaluate says it read buckets")

        html = os.path.join(tmp, "r.html")
        dle("report", "1", "-o", html)
        with open(html, encoding="utf-8") as f:
            page = f.read()
        check("<svg" in page and "polyline" in page, "report draws the power profile")

    print("passed:", check.passed, "failed:", check.failed)
    sys.exit(1 if check.failed else 0)


main()
