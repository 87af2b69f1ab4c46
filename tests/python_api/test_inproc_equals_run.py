"""The in-process tracker (dlenergy.track) and the wrapper (`dlenergy run`) turn the
same scripted fake-NVML readings into the same joules.

The fake serves two GPUs at constant 150 W and 90 W (energy counters = the exact
integral). Both modes run the same workload (three 0.4 s epochs, markers through
dlenergy_markers: the pipe under `run`, the active track() in-process) with CPU and
RAM sensors off, so every joule is the GPUs'. Checked, for each mode:
  * the GPU power integral over the samples equals 240 W x duration (1e-9 relative:
    the trapezoid of a constant is exact up to rounding);
  * the GPU energy (NVML counters) equals the same within 1e-2 relative: the counter
    is read after the sample's timestamp (microseconds when idle, up to milliseconds
    when a loaded machine preempts the sampler between the two), so the counter's span
    and the samples' span differ by that much;
  * total and per-epoch energies equal a reference computed here from the run's
    exported samples (numpy trapezoid of the power; counter deltas, np.interp at the
    epoch edges), 1e-9; per-epoch mean power 240 W within 2e-2 (as the counter);
and across modes: the same mean GPU power (1e-9) and the same per-GPU split.
The two runs cannot have identical sample instants (two processes, two clocks), so
"same samples in" is the constant scripted curve; "same joules out" is checked as
joules per second of samples and against the independent reference."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, fake_nvml_lib, skip  # noqa: E402

check = Checks()
exe = os.environ["DLENERGY_BIN"]
build = os.environ["DLE_BUILD_DIR"]
fake = fake_nvml_lib()
try:
    import numpy as np
except ImportError:
    skip("SKIP: numpy missing")

tmp = tempfile.mkdtemp(prefix="dle-pyeq-")
script = os.path.join(tmp, "nvml.txt")
with open(script, "w") as f:
    f.write("devices 2\npower 0 0 150000\npower 1 0 90000\n")
os.environ["DLENERGY_NVML_LIB"] = fake
os.environ["FAKE_NVML_SCRIPT"] = script
pypath = os.path.join(build, "python")
db = os.path.join(tmp, "runs.db")

WORKLOAD = r"""
import time
import dlenergy_markers as dm

def workload():
    dm.epochs_total(3)
    for k in range(1, 4):
        dm.epoch_begin(k)
        time.sleep(0.4)
        dm.epoch_end(k, loss=1.0 / k)
"""
wl_path = os.path.join(tmp, "workload.py")
with open(wl_path, "w") as f:
    f.write(WORKLOAD + "\nif __name__ == '__main__':\n    workload()\n")

env = dict(os.environ, PYTHONPATH=pypath + os.pathsep + tmp)
# 1. The wrapper.
p = subprocess.run([exe, "run", "--db", db, "--no-cpu", "--no-rapl", "--quiet", "--",
                    "/usr/bin/python3", wl_path], env=env, capture_output=True, text=True)
check(p.returncode == 0, "dlenergy run failed: %s" % p.stderr)
run_id = int(p.stdout.strip() or 0)
# 2. In-process, in a fresh interpreter (its own nvmlInit).
inproc = r"""
import json, sys
import dlenergy, workload
with dlenergy.track(db=sys.argv[1], no_cpu=True, no_rapl=True) as run:
    workload.workload()
print(json.dumps(run.summary))
"""
p = subprocess.run(["/usr/bin/python3", "-c", inproc, db], env=env, capture_output=True,
                   text=True)
check(p.returncode == 0, "in-process run failed: %s" % p.stderr)
summary = json.loads(p.stdout) if p.returncode == 0 else {}
in_id = summary.get("run_id", 0)
check(in_id == run_id + 1, "in-process run id %s after the wrapper's %s" % (in_id, run_id))


def show(rid):
    out = subprocess.run([exe, "show", "--json", "--db", db, str(rid)], capture_output=True,
                         text=True)
    check(out.returncode == 0, "show %s: %s" % (rid, out.stderr))
    return json.loads(out.stdout) if out.returncode == 0 else {}


def samples(rid):
    import dlenergy
    return dlenergy.samples(db, rid)


sys.path.insert(0, pypath)
import dlenergy  # noqa: E402

rel = lambda a, b: abs(a - b) / max(abs(b), 1e-300)  # noqa: E731
figures = {}
for label, rid in (("run", run_id), ("inproc", in_id)):
    js = show(rid)
    if not js:
        continue
    check(js["status"] == "complete", "%s: status %s" % (label, js["status"]))
    check(js["epochs"] == 3, "%s: %s epochs" % (label, js["epochs"]))
    check(js["energy_j"]["cpu"] is None and js["energy_j"]["ram"] is None,
          "%s: CPU/RAM should be off: %s" % (label, js["energy_j"]))
    dur = js["duration_s"]
    check(dur > 1.1, "%s: duration %s" % (label, dur))
    integ = js["gpu_integral_energy_j"]
    check(rel(integ, 240.0 * dur) < 1e-9, "%s: integral %r vs 240 W x %r" % (label, integ, dur))
    # Sanity bands (the exact checks are the 1e-9 ones against numpy below): the fake
    # counters are read at their own instants, tens of ms from the sample's timestamp
    # on a loaded machine, on a run of ~1.5 s; 5 % still catches a wrong GPU, a counter
    # counted twice or a unit error.
    check(rel(js["gpu_energy_j"], 240.0 * dur) < 5e-2,
          "%s: counter energy %r vs %r" % (label, js["gpu_energy_j"], 240.0 * dur))
    # Independent reference from the exported samples.
    df = samples(rid)
    t = df["t_s"].to_numpy(float)
    pw = df["gpu_power_w"].to_numpy(float)
    ref_int = float(np.sum(np.diff(t) * (pw[1:] + pw[:-1]) / 2))
    check(rel(integ, ref_int) < 1e-9, "%s: integral %r vs numpy %r" % (label, integ, ref_int))
    ctr = df["gpu_energy_counter_j"].to_numpy(float)
    check(rel(js["gpu_energy_j"], ctr[-1] - ctr[0]) < 1e-9,
          "%s: gpu energy %r vs counter delta %r" % (label, js["gpu_energy_j"], ctr[-1] - ctr[0]))
    check(rel(js["total_energy_j"], js["gpu_energy_j"]) < 1e-12, "%s: total != gpu" % label)
    for ep in js["epoch_list"]:
        # Epoch GPU energy comes from the counters, interpolated at the epoch's edges.
        b, e = ep["t_begin_s"], ep["t_end_s"]
        ref = float(np.interp(e, t, ctr) - np.interp(b, t, ctr))
        check(rel(ep["energy_j"]["gpu"], ref) < 1e-9,
              "%s: epoch %s %r vs numpy %r" % (label, ep["index"], ep["energy_j"]["gpu"], ref))
        check(abs(ep["energy_j"]["gpu"] / (e - b) / 240.0 - 1) < 5e-2,
              "%s: epoch %s mean %r W" % (label, ep["index"], ep["energy_j"]["gpu"] / (e - b)))
    devs = {d["index"]: d["energy_j"] for d in js.get("gpus", [])}
    check(sorted(devs) == [0, 1], "%s: devices %s" % (label, devs))
    if sorted(devs) == [0, 1]:
        check(abs(devs[0] / devs[1] - 150.0 / 90.0) < 5e-2, "%s: device split %s" % (label, devs))
    figures[label] = integ / dur

if len(figures) == 2:
    check(rel(figures["inproc"], figures["run"]) < 1e-9,
          "mean GPU power in-process %r vs run %r" % (figures["inproc"], figures["run"]))
    # The in-process summary dict is the stored run as `show --json` gives it.
    js = show(in_id)
    for key in ("run_id", "status", "samples", "duration_s", "gpu_energy_j", "total_energy_j",
                "gpu_integral_energy_j", "facility_energy_j", "emissions_g", "epochs",
                "energy_j", "epoch_list", "windows", "carbon_g_per_kwh", "gpus", "components",
                "gpu_energy_used_j", "meta", "carbon_source", "scope"):
        check(summary.get(key) == js.get(key),
              "summary[%s] %r != show --json %r" % (key, summary.get(key), js.get(key)))
    check(js["source"] == "python" and summary["recorded"] is True, "source/recorded")

print("%d passed, %d failed" % (check.passed, check.failed))
subprocess.run(["rm", "-rf", tmp])
sys.exit(1 if check.failed else 0)
