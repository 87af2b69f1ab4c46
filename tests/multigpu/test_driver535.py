#!/usr/bin/env python3
"""Issue 9 acceptance: on a stand-in library behaving like driver 535.54.03 (32-byte
nvmlDeviceGetComputeRunningProcesses_v3 records, nvmlDeviceGetConfComputeMemSizeInfo
exported, no DetailList), two GPUs, foreign processes on GPU 0, and the run's child
listed second on GPU 1 after a foreign pid, `dlenergy run -- sleep 3` attributes the
run to GPU 1 alone and gpu_energy_j is GPU 1's energy only."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

DLE = os.environ["DLENERGY_BIN"]
FAKE = os.environ["DLE_FAKE_NVML_R535_54_LIB"]
check = Checks(file=sys.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="dle-535-")
    script = os.path.join(tmp, "gpus.txt")
    me = os.getpid()  # exists here, never in dlenergy's tree: a foreign process
    with open(script, "w") as f:
        f.write("devices 2\ndriver 535.54.03\n")
        f.write("power 0 0 210000\npower 1 0 90000\n")
        f.write("process 0 1\nprocess 0 %d\n" % me)        # foreign processes on GPU 0
        f.write("process 1 %d\nprocess 1 children\n" % me)  # foreign first, the run's child second
    env = dict(os.environ, DLENERGY_NVML_LIB=FAKE, FAKE_NVML_SCRIPT=script)
    db = os.path.join(tmp, "a.db")
    p = subprocess.run([DLE, "run", "--db", db, "--gpus", "all", "--", "sleep", "3"],
                       env=env, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "run failed: " + p.stderr)
    out = subprocess.run([DLE, "show", "last", "--db", db, "--json"], capture_output=True,
                         text=True)
    check(out.returncode == 0, "show failed: " + out.stderr)
    show = json.loads(out.stdout)
    gpus = show.get("gpus", [])
    check(len(gpus) == 2, "two GPUs: %s" % gpus)
    if len(gpus) == 2:
        check(gpus[1]["used_by_run"] is True, "gpus[1].used_by_run: %s" % gpus[1])
        check(gpus[0]["used_by_run"] is False, "gpus[0].used_by_run: %s" % gpus[0])
        check(gpus[1]["shared"] is True and gpus[0]["shared"] is False, "shared flags")
        g1 = gpus[1]["energy_j"]
        check(abs(show["gpu_energy_j"] - g1) <= 1e-9 * g1,
              "gpu_energy_j %s vs GPU 1 %s" % (show["gpu_energy_j"], g1))
        both = gpus[0]["energy_j"] + g1
        check(abs(show["gpu_energy_all_j"] - both) <= 1e-9 * both, "gpu_energy_all_j")
        # GPU 1 runs at 90 W for about 3 s: its energy, not 300 W worth.
        dur = show["duration_s"]
        check(abs(g1 - 90 * dur) < 0.01 * 90 * dur, "GPU 1 energy %s over %s s" % (g1, dur))
        # mean power = energy / duration (issue 10), the energy from GPU 1's counter
        check(abs(show["avg_gpu_power_w"] - g1 / dur) <= 1e-9 * 90
              and abs(show["avg_gpu_power_w"] - 90) < 0.01 * 90,
              "headline mean power %s" % show["avg_gpu_power_w"])
    meta = show.get("meta", {})
    check(meta.get("gpus_used") == "1", "gpus_used %s" % meta.get("gpus_used"))
    check(meta.get("gpus_headline") == "1", "gpus_headline %s" % meta.get("gpus_headline"))
    check(meta.get("nvml_driver") == "535.54.03", "driver %s" % meta.get("nvml_driver"))
    check("used by the run, shared" in p.stderr and "not used by the run" in p.stderr,
          "summary:\n" + p.stderr)
    # The list and the total agree with the headline.
    lst = json.loads(subprocess.run([DLE, "list", "--db", db, "--json"], capture_output=True,
                                    text=True).stdout)
    check(abs(lst[0]["gpu_energy_j"] - show["gpu_energy_j"]) < 1e-9, "list gpu_energy_j")

    # A container: the driver lists pids of another namespace (none exists here),
    # the tree says CUDA_VISIBLE_DEVICES=<GPU 1's UUID>: attribution is unknown,
    # not "none", and the GPU figure is GPU 1's by the visible devices.
    with open(script, "w") as f:
        f.write("devices 2\ndriver 535.54.03\npower 0 0 210000\npower 1 0 90000\n")
        f.write("process 0 4190001\nprocess 1 4190002\n")
    env2 = dict(env, CUDA_VISIBLE_DEVICES="GPU-fake-0001")
    p = subprocess.run([DLE, "run", "--db", db, "--", "sleep", "2"], env=env2,
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "container run failed: " + p.stderr)
    show = json.loads(subprocess.run([DLE, "show", "last", "--db", db, "--json"],
                                     capture_output=True, text=True).stdout)
    meta = show.get("meta", {})
    check(meta.get("gpus_used") == "unknown", "container gpus_used %s" % meta.get("gpus_used"))
    check("namespace" in meta.get("gpu_attribution_unknown", ""), "why unknown: %s"
          % meta.get("gpu_attribution_unknown"))
    check(meta.get("gpus_headline") == "1", "container headline %s" % meta.get("gpus_headline"))
    check(meta.get("gpus_headline_basis", "").startswith("visible devices (CUDA_VISIBLE_DEVICES="),
          "basis %s" % meta.get("gpus_headline_basis"))
    gpus = show.get("gpus", [])
    check(len(gpus) == 2 and all(g["used_by_run"] is None for g in gpus),
          "used_by_run null when unknown: %s" % gpus)
    if len(gpus) == 2:
        check(abs(show["gpu_energy_j"] - gpus[1]["energy_j"]) <= 1e-9 * gpus[1]["energy_j"],
              "container headline energy is GPU 1's")
    print("%d passed, %d failed" % (check.passed, check.failed))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
