#!/usr/bin/python3
"""Where the in-process recorder's CPU goes: several dlenergy.track recorders with different
options, run at the same time over one window, their library threads' CPU by role.

Usage: /usr/bin/python3 bench/python/bench_wake_cost.py --build build [--seconds 20]
           [--runs 3] [--variant NAME=JSON ...]
  default variants (all at --interval 0.1, fake NVML with two GPUs as in
  bench_sampler_cpu.py):
    default     the defaults (every sensor, drain period 1 s)
    drain0.1    drain_period=0.1: the drain thread wakes ten times a second
    no-sensors  no_gpu, no_cpu, no_rapl: the sampler thread wakes and reads nothing
Each run starts every variant at once (start order rotating) and reads the CPU of their
dle-sampler and dle-drain threads (schedstat) between 1.5 s after the start and 1 s
before the end; prints each run, the medians per variant and the load average. A
sampler that reads nothing still pays for its wakeups: the gap between no-sensors and
default is what reading the sensors costs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sampler_cpu import recorder_cpu_ns  # noqa: E402

CODE = ("import json, sys, time\n"
        "import dlenergy, dlenergy._lib as L\n"
        "L.lib()\n"
        "with dlenergy.track(db=sys.argv[1], interval=float(sys.argv[2]),"
        " **json.loads(sys.argv[4])):\n"
        "    time.sleep(float(sys.argv[3]))\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--variant", action="append", metavar="NAME=JSON",
                    help="a recorder with these dlenergy.track options (repeatable)")
    a = ap.parse_args()
    if a.seconds < 4:
        sys.exit("bench: --seconds must be at least 4 (the window is 1.5 s .. S-1 s)")
    variants = {}
    for v in a.variant or ['default={}', 'drain0.1={"drain_period": 0.1}',
                           'no-sensors={"no_gpu": true, "no_cpu": true, "no_rapl": true}']:
        name, _, opts = v.partition("=")
        try:
            variants[name] = json.loads(opts or "{}")
        except ValueError as e:
            sys.exit("bench: --variant %s: %s" % (v, e))
    build = os.path.abspath(a.build)
    tmp = tempfile.mkdtemp(prefix="dle-bench-wake-")
    script = os.path.join(tmp, "nvml.txt")
    with open(script, "w") as f:
        f.write("devices 2\npower 0 0 150000\npower 1 0 90000\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"),
               DLENERGY_NVML_LIB=os.path.join(build, "tests", "fake_nvml", "lib",
                                              "libnvidia-ml.so.1"),
               FAKE_NVML_SCRIPT=script)
    print("bench/python wake cost: %s at once, %.3g s, interval %g s, %d runs; load average "
          "before: %s" % (", ".join(variants), a.seconds, a.interval, a.runs,
                          " ".join("%.2f" % x for x in os.getloadavg())))
    names = list(variants)
    res = {n: [] for n in names}
    for run in range(a.runs):
        order = names[run % len(names):] + names[:run % len(names)]
        t0 = time.monotonic()
        procs = {n: subprocess.Popen(
            ["/usr/bin/python3", "-c", CODE, os.path.join(tmp, "%s-%d.db" % (n, run)),
             str(a.interval), str(a.seconds), json.dumps(variants[n])], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for n in order}
        time.sleep(max(0.0, 1.5 - (time.monotonic() - t0)))
        c0 = {n: recorder_cpu_ns("inprocess", p.pid) for n, p in procs.items()}
        w0 = time.monotonic()
        time.sleep(max(0.0, a.seconds - 1.0 - (time.monotonic() - t0)))
        c1 = {n: recorder_cpu_ns("inprocess", p.pid) for n, p in procs.items()}
        w1 = time.monotonic()
        for n, p in procs.items():
            err = p.communicate()[1]
            if p.returncode != 0:
                sys.exit("bench: %s failed (%d): %s" % (n, p.returncode, err[-500:]))
            if c0[n] is None or c1[n] is None:
                sys.exit("bench: could not read the CPU of %s" % n)
        parts = []
        for n in names:
            r = {k: (c1[n][k] - c0[n][k]) / 1e6 / (w1 - w0) for k in ("sampler", "drain")}
            res[n].append(r)
            parts.append("%s: sampler %.3f drain %.3f total %.3f" % (
                n, r["sampler"], r["drain"], r["sampler"] + r["drain"]))
        print("run %d (ms CPU per s): %s | load %.2f" % (run + 1, " | ".join(parts),
                                                          os.getloadavg()[0]), flush=True)
    for n in names:
        med = {k: statistics.median(r[k] for r in res[n]) for k in ("sampler", "drain")}
        print("median %s: sampler %.3f drain %.3f total %.3f ms/s"
              % (n, med["sampler"], med["drain"],
                 statistics.median(r["sampler"] + r["drain"] for r in res[n])))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
