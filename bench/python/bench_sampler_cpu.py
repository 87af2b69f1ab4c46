#!/usr/bin/python3
"""The sampler's CPU cost in-process (dlenergy.track) against the wrapper (`dlenergy run`),
for the same sleeping workload, interval and sensors, in one run.

Usage: bench/python/run.sh [BUILD_DIR]      (or, from a configured build:)
       /usr/bin/python3 bench/python/bench_sampler_cpu.py --build build \
           [--seconds 10] [--interval 0.1] [--reps 3] [--no-fake-nvml]

Each repetition, in alternating order, in fresh processes:
  wrapper   CPU (user + system, wait4 rusage) of `dlenergy run --quiet -- python3 -c
            sleep(S)` minus that of the same `python3 -c sleep(S)` run alone: what the
            wrapper adds (exec, sensors, sampler and drain, store writes).
  inprocess CPU of a fresh interpreter doing `with dlenergy.track(): sleep(S)` (library
            load included) minus that of the same interpreter doing `sleep(S)` alone.
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
    sleep = "import time; time.sleep(%r)" % a.seconds
    inproc = ("import resource, time, json, sys\n"
              "import dlenergy, dlenergy._lib as L\n"
              "L.lib()\n"
              "with dlenergy.track(db=sys.argv[1], interval=%r) as run:\n"
              "    time.sleep(%r)\n"
              "print(json.dumps({'sampler_cpu_s': run.summary['meta'].get('sampler_cpu_s'),"
              " 'samples': run.summary['samples']}))\n") % (a.interval, a.seconds)
    inproc_base = "import dlenergy\n" + sleep  # same interpreter and import, no tracking
    py = "/usr/bin/python3"
    print("bench/python sampler CPU: %.3g s sleeping workload, interval %g s, %d reps, %s"
          % (a.seconds, a.interval, a.reps, "fake NVML (2 GPUs)" if not a.no_fake_nvml
             else "no NVML"))
    print("load average before: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    rows = []
    for rep in range(a.reps):
        res = {}
        order = ("wrapper", "inprocess") if rep % 2 == 0 else ("inprocess", "wrapper")
        for mode in order:
            db = os.path.join(tmp, "%s-%d.db" % (mode, rep))
            if mode == "wrapper":
                c, out = cpu_of([exe, "run", "--db", db, "--quiet", "--interval",
                                 str(a.interval), "--", py, "-c", sleep], env)
                base, _ = cpu_of([py, "-c", sleep], env)
                rid = out.strip()
                js = json.loads(subprocess.run([exe, "show", "--json", "--db", db, rid],
                                               capture_output=True, text=True, env=env).stdout)
                res["wrapper"] = (c - base, float(js["meta"]["sampler_cpu_s"]), js["samples"])
            else:
                c, out = cpu_of([py, "-c", inproc, db], env)
                base, _ = cpu_of([py, "-c", inproc_base], env)
                info = json.loads(out.strip().splitlines()[-1])
                res["inprocess"] = (c - base, float(info["sampler_cpu_s"]), info["samples"])
        rows.append(res)
        w, i = res["wrapper"], res["inprocess"]
        print("rep %d: wrapper %.4f s CPU (sampler thread %.4f s, %d samples) | in-process "
              "%.4f s CPU (sampler thread %.4f s, %d samples) | ratio %.3f (sampler %.3f)"
              % (rep + 1, w[0], w[1], w[2], i[0], i[1], i[2], i[0] / w[0] if w[0] > 0 else
                 float("nan"), i[1] / w[1] if w[1] > 0 else float("nan")))
    med = {m: [statistics.median(r[m][k] for r in rows) for k in range(2)]
           for m in ("wrapper", "inprocess")}
    print("median: wrapper %.4f s (sampler %.4f s), in-process %.4f s (sampler %.4f s)"
          % (med["wrapper"][0], med["wrapper"][1], med["inprocess"][0], med["inprocess"][1]))
    print("ratio in-process / wrapper: added CPU %.3f, sampler thread %.3f "
          "(acceptance: within 10%%, i.e. <= 1.10)"
          % (med["inprocess"][0] / med["wrapper"][0], med["inprocess"][1] / med["wrapper"][1]))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
