#!/usr/bin/python3
"""The sampler's CPU cost in-process (dlenergy.track) against the wrapper (`dlenergy run`),
for the same sleeping workload, interval and sensors, in one run.

Usage: bench/python/run.sh [BUILD_DIR]      (or, from a configured build:)
       /usr/bin/python3 bench/python/bench_sampler_cpu.py --build build \
           [--seconds 10] [--short-seconds 2] [--interval 0.1] [--reps 3] [--no-fake-nvml]

Each repetition, in alternating order, in fresh processes:
  wrapper   CPU (user + system, wait4 rusage) of `dlenergy run --quiet -- python3 -c
            sleep(S)` minus that of the same `python3 -c sleep(S)` run alone: what the
            wrapper adds (exec, sensors, sampler and drain, store writes).
  inprocess CPU of a fresh interpreter doing `with dlenergy.track(): sleep(S)` (library
            load included) minus that of the same interpreter doing `sleep(S)` alone.
  steady    added CPU of the SECONDS run minus that of a SHORT-SECONDS run of the same
            mode: the cost of sampling itself, one-time costs (exec or library load,
            sensor and store set-up, the summary at the end) cancelled.
  sampler   the sampler thread's own CPU as each run recorded it (meta sampler_cpu_s).
Both monitor one sleeping Python process with the same sensors (the fake NVML with
two GPUs by default, procfs; RAPL where readable) into a fresh SQLite store.
Prints every repetition, the medians and the ratios in-process / wrapper, with the load
average before and after (the machine is shared: ratios swing with load).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile


def cpu_of(argv, env):
    """CPU seconds (user + system) of argv and the children it waited for; its stdout."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (argv[:3], proc.returncode, err[-500:]))
    return ru.ru_utime + ru.ru_stime, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--short-seconds", type=float, default=2.0)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-fake-nvml", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    exe = os.path.join(build, "src", "cli", "dlenergy")
    tmp = tempfile.mkdtemp(prefix="dle-bench-py-")
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"))
    if not a.no_fake_nvml:
        script = os.path.join(tmp, "nvml.txt")
        with open(script, "w") as f:
            f.write("devices 2\npower 0 0 150000\npower 1 0 90000\n")
        env["DLENERGY_NVML_LIB"] = os.path.join(build, "tests", "fake_nvml", "lib",
                                                "libnvidia-ml.so.1")
        env["FAKE_NVML_SCRIPT"] = script
    py = "/usr/bin/python3"
    inproc = ("import time, json, sys\n"
              "import dlenergy, dlenergy._lib as L\n"
              "L.lib()\n"
              "with dlenergy.track(db=sys.argv[1], interval=float(sys.argv[2])) as run:\n"
              "    time.sleep(float(sys.argv[3]))\n"
              "print(json.dumps({'sampler_cpu_s': run.summary['meta'].get('sampler_cpu_s'),"
              " 'samples': run.summary['samples']}))\n")
    inproc_base = "import sys, time, dlenergy\ntime.sleep(float(sys.argv[1]))"
    sleep = "import sys, time\ntime.sleep(float(sys.argv[1]))"

    def measure(mode, seconds, db):
        """(CPU added, sampler thread CPU, samples) of one run of mode."""
        if mode == "wrapper":
            c, out = cpu_of([exe, "run", "--db", db, "--quiet", "--interval", str(a.interval),
                             "--", py, "-c", sleep, str(seconds)], env)
            base, _ = cpu_of([py, "-c", sleep, str(seconds)], env)
            js = json.loads(subprocess.run([exe, "show", "--json", "--db", db, out.strip()],
                                           capture_output=True, text=True, env=env).stdout)
            return c - base, float(js["meta"]["sampler_cpu_s"]), js["samples"]
        c, out = cpu_of([py, "-c", inproc, db, str(a.interval), str(seconds)], env)
        base, _ = cpu_of([py, "-c", inproc_base, str(seconds)], env)
        info = json.loads(out.strip().splitlines()[-1])
        return c - base, float(info["sampler_cpu_s"]), info["samples"]

    short = a.short_seconds
    print("bench/python sampler CPU: %.3g s sleeping workload (and %.3g s for the steady "
          "state), interval %g s, %d reps, %s" % (a.seconds, short, a.interval, a.reps,
                                                  "fake NVML (2 GPUs)" if not a.no_fake_nvml
                                                  else "no NVML"))
    print("load average before: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    rows = []
    ratio = lambda x, y: x / y if y > 0 else float("nan")  # noqa: E731
    for rep in range(a.reps):
        res = {}
        order = ("wrapper", "inprocess") if rep % 2 == 0 else ("inprocess", "wrapper")
        for mode in order:
            full = measure(mode, a.seconds, os.path.join(tmp, "%s-%d.db" % (mode, rep)))
            brief = measure(mode, short, os.path.join(tmp, "%s-%d-s.db" % (mode, rep)))
            # steady state: the CPU of (seconds - short) s of sampling, one-time costs
            # (exec or library load, sensor and store set-up, the summary) cancelled
            res[mode] = (full[0], full[1], full[2], full[0] - brief[0])
        rows.append(res)
        w, i = res["wrapper"], res["inprocess"]
        print("rep %d: wrapper added %.4f s CPU, steady %.4f s, sampler thread %.4f s (%d "
              "samples) | in-process added %.4f s, steady %.4f s, sampler thread %.4f s (%d "
              "samples) | ratios added %.3f steady %.3f sampler %.3f"
              % (rep + 1, w[0], w[3], w[1], w[2], i[0], i[3], i[1], i[2], ratio(i[0], w[0]),
                 ratio(i[3], w[3]), ratio(i[1], w[1])))
    med = {m: [statistics.median(r[m][k] for r in rows) for k in range(4)]
           for m in ("wrapper", "inprocess")}
    print("median: wrapper added %.4f s, steady %.4f s, sampler %.4f s | in-process added "
          "%.4f s, steady %.4f s, sampler %.4f s" % (
              med["wrapper"][0], med["wrapper"][3], med["wrapper"][1], med["inprocess"][0],
              med["inprocess"][3], med["inprocess"][1]))
    print("ratio in-process / wrapper (medians): added CPU %.3f, steady state %.3f, sampler "
          "thread %.3f (acceptance: sampler cost within 10%%, i.e. <= 1.10)"
          % (ratio(med["inprocess"][0], med["wrapper"][0]),
             ratio(med["inprocess"][3], med["wrapper"][3]),
             ratio(med["inprocess"][1], med["wrapper"][1])))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
