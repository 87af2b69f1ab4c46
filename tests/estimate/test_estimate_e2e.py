"""End to end with epochs: `dlenergy run` over a fake NVML whose power ramps from 50 W to
250 W in the first 1.5 s and then stays at 250 W (a warm-up), around a child that marks
8 epochs of 0.6 s. Every epoch after the ramp therefore holds exactly 250 W x its
duration. Then, for every cut-off epoch k, `dlenergy estimate --at-epoch k` must give,
for each method, the projection computed here by hand from the recorded epoch times
and samples (GPU only; TDP = the fake's 350 W limit; usage = its 50 %):
  mlco2          350 x D(all epochs so far)
  ga             350 x 0.5 x D(all epochs so far)
  carbontracker  E(epoch 0) x N
  step-power     250 W x D(window epochs)      (s = 3, w = 2)
  step-energy    E(start .. epoch 3) + 250 W x window duration x (N - s) / w
where D(epochs) = elapsed to the end of epoch k + (N - k) x their mean duration, and the
measured duration once the run is over (k = N). The live line of `dlenergy run` must show
the same projection after each epoch (STEP once its window is complete, carbontracker
before) and the summary must list the projections per epoch."""
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, fake_nvml_lib, load_samples

BIN = os.environ["DLENERGY_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
N, EPOCH_S, S, W = 8, 0.6, 3, 2
FAKE = fake_nvml_lib()
check = Checks(file=sys.stderr)


def near(a, b, rel=1e-6):
    return a is not None and abs(a - b) <= rel * max(1.0, abs(b))


def between(t, p, a, b):
    """Trapezoid energy over [a, b] with the power interpolated at the edges."""
    e = 0.0
    for i in range(1, len(t)):
        lo, hi = max(t[i - 1], a), min(t[i], b)
        if hi <= lo:
            continue
        f = lambda x: p[i - 1] + (p[i] - p[i - 1]) * (x - t[i - 1]) / (t[i] - t[i - 1])
        e += (hi - lo) * (f(lo) + f(hi)) / 2
    return e


tmpdir = tempfile.TemporaryDirectory()
tmp = tmpdir.name
db = os.path.join(tmp, "e2e.db")
script = os.path.join(tmp, "nvml.txt")
with open(script, "w") as f:
    f.write("power 0 0 50000\npower 0 1.5 250000\nutil 0 50 20\nprocess 0 children\n")
# the live projections of `dlenergy run` use the same s, w and GPU-only setting
env = dict(os.environ, DLENERGY_NVML_LIB=FAKE, FAKE_NVML_SCRIPT=script,
           DLENERGY_PROJECTION=f"stable-epoch={S},window-epochs={W},gpu-only")
for k in ("DLENERGY_DB", "DLENERGY_MARKER_FD", "DLENERGY_MARKER"):
    env.pop(k, None)
p = subprocess.run([BIN, "run", "--db", db, "--interval", "0.05", "--no-rapl",
                    "--epochs", str(N), "--", "/usr/bin/python3",
                    os.path.join(HERE, "epochs_child.py"), str(N), str(EPOCH_S)],
                   env=env, capture_output=True, text=True, timeout=120)
if p.returncode != 0:
    print(p.stdout, p.stderr)
    sys.exit(1)

# Live epoch lines: "dlenergy: epoch E/8 ... projected 1.21 kJ (...) [...] by METHOD"
UNIT = {"J": 1.0, "kJ": 1e3, "MJ": 1e6}
live = {}
for line in p.stderr.splitlines():
    mt = re.match(r"dlenergy: epoch (\d+)/%d .*projected ([0-9.]+) (J|kJ|MJ)\b.* by (\S+)" % N,
                  line)
    if mt:
        live[int(mt.group(1)) + 1] = (mt.group(4), float(mt.group(2)) * UNIT[mt.group(3)])
check(len(live) == N, f"{len(live)} live projections in:\n{p.stderr}")
check(all(live[k][0] == ("step-power" if k >= S + W else "carbontracker") for k in live),
      f"live methods {live}")
check("Projected totals made at each epoch" in p.stderr, "summary table of projections")

c = sqlite3.connect(db)
load_samples(c, db, BIN)
run_id = c.execute("select max(id) from runs").fetchone()[0]
rows = c.execute("select s.t_s, g.power_w from samples s join gpu_samples g on "
                 "s.run_id = g.run_id and s.seq = g.seq and g.slot = 0 where s.run_id = ? "
                 "and g.power_w is not null order by s.seq", (run_id,)).fetchall()
ep = c.execute("select idx, t_begin_s, t_end_s from epochs where run_id = ? order by idx",
               (run_id,)).fetchall()
c.close()
t = [r[0] for r in rows]
pw = [r[1] for r in rows]
check(len(ep) == N, f"{len(ep)} epochs recorded")
t0, t_last = t[0], t[-1]
begin = [e[1] if e[1] is not None else (ep[i - 1][2] if i else t0) for i, e in enumerate(ep)]
end = [e[2] for e in ep]
dur = [end[i] - begin[i] for i in range(N)]

# The known per-epoch energy: 250 W x duration once the ramp is over.
for i in range(S, N):
    check(near(between(t, pw, begin[i], end[i]), 250 * dur[i], 1e-9), f"epoch {i} energy")


def D(k, e0, e1):
    if k == N:
        return t_last - t0
    return (end[k - 1] - t0) + (N - k) * sum(dur[e0:e1]) / (e1 - e0)


checked = 0
for k in range(1, N + 1):
    p = subprocess.run([BIN, "estimate", str(run_id), "--db", db, "--method", "all",
                        "--gpu-only", "--at-epoch", str(k), "--stable-epoch", str(S),
                        "--window-epochs", str(W), "--json"],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"estimate at epoch {k}: {p.stderr}")
    got = {e["method"]: e for e in json.loads(p.stdout)["estimates"]}
    want = {
        "mlco2": 350 * D(k, 0, k),
        "ga": 350 * 0.5 * D(k, 0, k),
        "carbontracker": between(t, pw, begin[0], end[0]) * N,
    }
    if k >= S + W:
        win = between(t, pw, begin[S], end[S + W - 1])
        wdur = end[S + W - 1] - begin[S]
        check(near(win / wdur, 250, 1e-9), f"window mean power {win / wdur}")
        want["step-power"] = 250 * D(k, S, S + W)
        want["step-energy"] = between(t, pw, t0, begin[S]) + win * (N - S) / W
    else:
        check("error" in got["step-power"] and "error" in got["step-energy"],
              f"no STEP projection before epoch {S + W}")
    for m, v in want.items():
        g = got[m].get("total_j")
        check(near(g, v), f"epoch {k} {m}: got {g}, by hand {v} ({got[m].get('assumptions')})")
        checked += 1
    check("error" in got["flops"], "flops has no FLOPs facts here")
    if k in live:  # the live line showed the same projection (printed to 3 digits)
        m, v = live[k]
        if m == "carbontracker":
            # Live, Carbontracker's rule uses every completed epoch (so it follows the
            # run), and a projection is never below the energy already spent.
            by_hand = sum(between(t, pw, begin[i], end[i]) for i in range(k)) * N / k
            want_live = max(by_hand, between(t, pw, t0, end[k - 1]))
            check(near(v, want_live, 6e-3), f"live epoch {k} {m}: {v} vs by hand {want_live}")
        else:
            check(near(v, got[m]["total_j"], 6e-3), f"live epoch {k} {m}: {v} vs {got[m]['total_j']}")
    if k == N:  # the finished run is compared with its measured GPU energy
        meas = between(t, pw, t0, t_last)
        check(near(got["step-energy"]["measured_j"], meas), "measured GPU energy")
print(f"{checked} projections checked, failures: {check.failed}")
sys.exit(1 if check.failed else 0)
