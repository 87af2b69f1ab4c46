#!/usr/bin/python3
"""The sampler's CPU cost in-process (dlenergy.track) against the wrapper (`dlenergy run`),
for the same sleeping workload, interval and sensors, in one run.

Usage: bench/python/run.sh [BUILD_DIR] [SECONDS] [REPS] [PAIRS]   (or, from a build:)
       /usr/bin/python3 bench/python/bench_sampler_cpu.py --build build \
           [--seconds 10] [--interval 0.1] [--reps 3] [--no-fake-nvml] \
           [--paired N [--pair wrapper,inprocess] [--build-b DIR] [--pin CPU]]
  as measured for docs/python.md: --seconds 20 --reps 0 --paired 12 (and
  --pair wrapper,wrapper for the control); --seconds 10 --reps 5 (sequential).

Each repetition, in alternating order, in fresh processes:
  wrapper   CPU (user + system, wait4 rusage) of `dlenergy run --quiet -- python3 -c
            sleep(S)` minus that of the same `python3 -c sleep(S)` run alone: what the
            wrapper adds (exec, sensors, sampler and drain, store writes).
  inprocess CPU of a fresh interpreter doing `with dlenergy.track(): sleep(S)` (library
            load included) minus that of the same interpreter doing `sleep(S)` alone.
  steady    CPU per second of the recording threads (schedstat) between 1.5 s after the
            start and 1 s before the end: for the wrapper every thread of `dlenergy` (its
            dle-sampler thread and the main thread's poll loop, which drains; not its
            child), in-process the library's threads only (dle-sampler, dle-drain; not the
            interpreter's). The cost of sampling and draining itself, one-time costs (exec
            or library load, sensor and store set-up, the summary) left out. This is the
            acceptance figure.
  sampler   the sampler thread's own CPU as each run recorded it (meta sampler_cpu_s).
  paired    (--paired N) two recorders started together (--pair A,B, default
            wrapper,inprocess; the same mode twice is the control: how far two equal
            recorders read apart), N times, start order alternating, pinned to one CPU
            with --pin: the steady CPU of each over the same wall-clock window, so the
            machine's state (other load, frequency) is the same for both; per pair the
            ratio B / A in total and by role (sampler thread; drain thread or poll loop),
            each role's minor page faults in the window, how far apart the two samplers
            tick, the load average; then median, mean,
            p90, min and max of the ratios.
Both monitor one sleeping Python process with the same sensors (the fake NVML with
two GPUs by default, procfs; RAPL where readable) into a fresh SQLite store.
Prints every repetition, the medians and the ratios in-process / wrapper, with the load
average before and after (the machine is shared: ratios swing with load).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def thread_cpu_ns(pid):
    """{tid: (name, CPU ns so far, minor page faults so far)} of every thread of pid
    (/proc/PID/task/*/schedstat, comm and stat), or None once pid is gone."""
    out = {}
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                ns = int(f.read().split()[0])
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                minflt = int(f.read().rsplit(")", 1)[1].split()[7])  # field 10
        except (OSError, ValueError, IndexError):
            continue
        out[tid] = (name, ns, minflt)
    return out


def recorder_cpu_ns(mode, pid):
    """CPU ns so far of the threads that record, by role: {"sampler": ns, "drain": ns},
    and their minor page faults ("sampler_flt", "drain_flt"). In-process: the library's
    own threads only (named dle-sampler and dle-drain), not the interpreter's. Wrapper:
    every thread of the `dlenergy` process (its child is another process): the
    dle-sampler thread, and the main thread's poll loop, which drains."""
    th = thread_cpu_ns(pid)
    if th is None:
        return None
    roles = {"sampler": 0, "drain": 0, "sampler_flt": 0, "drain_flt": 0}
    for name, ns, flt in th.values():
        if name == "dle-sampler":
            roles["sampler"] += ns
            roles["sampler_flt"] += flt
        elif name == "dle-drain" or mode == "wrapper":
            roles["drain"] += ns
            roles["drain_flt"] += flt
    return roles


def task_cpu_ns(mode, pid):
    """CPU ns so far of the recording threads of pid (recorder_cpu_ns, summed)."""
    r = recorder_cpu_ns(mode, pid)
    return None if r is None else r["sampler"] + r["drain"]


def sampler_phase_s(db, interval):
    """When in each interval a run's sampler ticks: the circular mean of its samples'
    wall-clock times modulo the interval (read back through the dlenergy package)."""
    import cmath
    import math
    import dlenergy
    rows = dlenergy.samples(db)
    walls = list(rows["wall_s"]) if hasattr(rows, "columns") else [r["wall_s"] for r in rows]
    z = sum(cmath.exp(2j * math.pi * (w % interval) / interval) for w in walls if w is not None)
    return (cmath.phase(z) / (2 * math.pi) * interval) % interval


def percentile(xs, q):
    """The q-quantile (0..1) of xs, linear between order statistics (numpy's default)."""
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def cpu_of(mode, argv, env, window=None):
    """CPU seconds (user + system, wait4 rusage) of argv and the children it waited for,
    its stdout, and, when window = (t1, t2) seconds after the start, the CPU seconds
    its recording threads (task_cpu_ns: not its children's, not the interpreter's) used
    between t1 and t2 (schedstat)."""
    import time
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    win = None
    if window:
        time.sleep(max(0.0, window[0] - (time.monotonic() - t0)))
        a0, w0 = task_cpu_ns(mode, proc.pid), time.monotonic()
        time.sleep(max(0.0, window[1] - (time.monotonic() - t0)))
        a1, w1 = task_cpu_ns(mode, proc.pid), time.monotonic()
        if a0 is not None and a1 is not None:
            win = (a1 - a0) / 1e9 / (w1 - w0)  # CPU seconds per second
    _, status, ru = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (argv[:3], proc.returncode, err[-500:]))
    return ru.ru_utime + ru.ru_stime, out, win


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-fake-nvml", action="store_true")
    ap.add_argument("--paired", type=int, default=0, metavar="N",
                    help="also N runs with both modes recording at the same time")
    ap.add_argument("--pair", default="wrapper,inprocess", metavar="A,B",
                    help="paired runs: the two modes (wrapper or inprocess) to run at once; "
                         "the ratio is B / A. The same mode twice (inprocess,inprocess) is "
                         "the control: how far pairs of equal recorders read apart")
    ap.add_argument("--build-b", default=None, metavar="DIR",
                    help="paired runs: side B's recorder from this other build (its CLI and "
                         "Python package), to compare two versions of the code")
    ap.add_argument("--pin", type=int, default=None, metavar="CPU",
                    help="paired runs: both recording processes pinned to this one CPU, so "
                         "neither gets a quieter core")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.abspath(a.build), "python"))
    a.pair = a.pair.split(",")
    if len(a.pair) != 2 or any(m not in ("wrapper", "inprocess") for m in a.pair):
        sys.exit("bench: --pair wants two of wrapper, inprocess (e.g. wrapper,inprocess)")
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

    window = (1.5, a.seconds - 1.0)

    def measure(mode, db):
        """(CPU added, sampler thread CPU, samples, steady CPU s/s) of one run of mode."""
        if mode == "wrapper":
            c, out, win = cpu_of(mode, [exe, "run", "--db", db, "--quiet", "--interval",
                                  str(a.interval), "--", py, "-c", sleep, str(a.seconds)], env,
                                 window)
            base, _, _ = cpu_of(mode, [py, "-c", sleep, str(a.seconds)], env)
            js = json.loads(subprocess.run([exe, "show", "--json", "--db", db, out.strip()],
                                           capture_output=True, text=True, env=env).stdout)
            return c - base, float(js["meta"]["sampler_cpu_s"]), js["samples"], win
        c, out, win = cpu_of(mode, [py, "-c", inproc, db, str(a.interval), str(a.seconds)], env,
                             window)
        base, _, _ = cpu_of(mode, [py, "-c", inproc_base, str(a.seconds)], env)
        info = json.loads(out.strip().splitlines()[-1])
        return c - base, float(info["sampler_cpu_s"]), info["samples"], win

    if a.seconds < 4:
        sys.exit("bench: --seconds must be at least 4 (the steady window is 1.5 s .. S-1 s)")
    print("bench/python sampler CPU: %.3g s sleeping workload, interval %g s, %d reps, %s"
          % (a.seconds, a.interval, a.reps, "fake NVML (2 GPUs)" if not a.no_fake_nvml
             else "no NVML"))
    print("load average before: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    rows = []
    ratio = lambda x, y: x / y if y and y > 0 else float("nan")  # noqa: E731
    for rep in range(a.reps):
        res = {}
        order = ("wrapper", "inprocess") if rep % 2 == 0 else ("inprocess", "wrapper")
        for mode in order:
            res[mode] = measure(mode, os.path.join(tmp, "%s-%d.db" % (mode, rep)))
        rows.append(res)
        w, i = res["wrapper"], res["inprocess"]
        print("rep %d: wrapper steady %.3f ms/s, sampler thread %.4f s, added %.4f s (%d "
              "samples) | in-process steady %.3f ms/s, sampler thread %.4f s, added %.4f s "
              "(%d samples) | ratios steady %.3f sampler %.3f added %.3f"
              % (rep + 1, 1e3 * w[3], w[1], w[0], w[2], 1e3 * i[3], i[1], i[0], i[2],
                 ratio(i[3], w[3]), ratio(i[1], w[1]), ratio(i[0], w[0])))
    if rows:
        med = {m: [statistics.median(r[m][k] for r in rows) for k in range(4)]
               for m in ("wrapper", "inprocess")}
        print("median: wrapper steady %.3f ms/s, sampler %.4f s, added %.4f s | in-process steady "
              "%.3f ms/s, sampler %.4f s, added %.4f s" % (
                  1e3 * med["wrapper"][3], med["wrapper"][1], med["wrapper"][0],
                  1e3 * med["inprocess"][3], med["inprocess"][1], med["inprocess"][0]))
        print("ratio in-process / wrapper (medians): steady state %.3f, sampler thread %.3f, "
              "added CPU %.3f (acceptance: the sampler's cost within 10%%, i.e. <= 1.10)"
              % (ratio(med["inprocess"][3], med["wrapper"][3]),
                 ratio(med["inprocess"][1], med["wrapper"][1]),
                 ratio(med["inprocess"][0], med["wrapper"][0])))
    if a.paired > 0:
        paired(a, exe, env, tmp, [py, "-c", sleep, str(a.seconds)], inproc, window)
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    subprocess.run(["rm", "-rf", tmp])


def paired(a, exe, env, tmp, sleep_argv, inproc, window):
    """Two recorders at the same time (modes a.pair: wrapper,inprocess by default; the
    same mode twice is the A/A control, the noise of the method itself); the steady CPU
    of each over one window, per role (sampler thread; drain thread or poll loop)."""
    import time
    first, second = a.pair
    print("paired: %d runs, %s and %s at once (start order alternating), steady window "
          "%.1f .. %.1f s%s%s" % (a.paired, first, second, window[0], window[1],
                                  "" if a.pin is None else ", both pinned to CPU %d" % a.pin,
                                  ", B from " + a.build_b if a.build_b else ""))
    pin = None if a.pin is None else (lambda: os.sched_setaffinity(0, {a.pin}))

    # Side B may come from another build (--build-b): its CLI and Python package, the
    # same fake NVML and workload.
    build_b = os.path.abspath(a.build_b) if a.build_b else None
    exes = {"A": exe, "B": os.path.join(build_b, "src", "cli", "dlenergy") if build_b else exe}
    envs = {"A": env, "B": dict(env, PYTHONPATH=os.path.join(build_b, "python"))
            if build_b else env}

    def start(side, mode, db):
        if mode == "wrapper":
            argv = [exes[side], "run", "--db", db, "--quiet", "--interval", str(a.interval),
                    "--"] + sleep_argv
        else:
            argv = ["/usr/bin/python3", "-c", inproc, db, str(a.interval), str(a.seconds)]
        return subprocess.Popen(argv, env=envs[side], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, preexec_fn=pin)

    ratios, sampler_ratios, drain_ratios = [], [], []
    for rep in range(a.paired):
        sides = [("A", first), ("B", second)]
        if rep % 2:
            sides.reverse()
        t0 = time.monotonic()
        procs = {}
        for side, mode in sides:
            procs[side] = (mode, start(side, mode, os.path.join(tmp, "p%s-%d.db" % (side, rep))))
        time.sleep(max(0.0, window[0] - (time.monotonic() - t0)))
        c0 = {s: recorder_cpu_ns(m, p.pid) for s, (m, p) in procs.items()}
        w0 = time.monotonic()
        time.sleep(max(0.0, window[1] - (time.monotonic() - t0)))
        c1 = {s: recorder_cpu_ns(m, p.pid) for s, (m, p) in procs.items()}
        w1 = time.monotonic()
        for s, (m, p) in procs.items():
            err = p.communicate()[1]
            if p.returncode != 0:
                sys.exit("bench: paired %s failed (%d): %s" % (m, p.returncode, err[-500:]))
        if any(c0[s] is None or c1[s] is None for s in procs):
            sys.exit("bench: paired run %d could not read both processes' CPU" % (rep + 1))
        st = {s: {k: (c1[s][k] - c0[s][k]) / 1e9 / (w1 - w0) for k in ("sampler", "drain")}
              for s in procs}
        tot = {s: st[s]["sampler"] + st[s]["drain"] for s in procs}
        flt = {s: {k: c1[s][k] - c0[s][k] for k in ("sampler_flt", "drain_flt")} for s in procs}
        if tot["A"] <= 0 or st["A"]["sampler"] <= 0 or st["A"]["drain"] <= 0:
            sys.exit("bench: paired run %d: no CPU time on the %s side" % (rep + 1, first))
        ph = [sampler_phase_s(os.path.join(tmp, "p%s-%d.db" % (side, rep)), a.interval)
              for side in ("A", "B")]
        gap = abs(ph[0] - ph[1])
        gap = min(gap, a.interval - gap)  # how far apart the two samplers tick
        ratios.append(tot["B"] / tot["A"])
        sampler_ratios.append(st["B"]["sampler"] / st["A"]["sampler"])
        drain_ratios.append(st["B"]["drain"] / st["A"]["drain"])
        print("pair %d: %s %.3f ms/s (sampler %.3f, drain %.3f; page faults %d, %d) | %s %.3f "
              "ms/s (sampler %.3f, drain %.3f; page faults %d, %d) | ratio %.3f (sampler %.3f, "
              "drain %.3f) | ticks %.1f ms apart | load %.2f"
              % (rep + 1, first, 1e3 * tot["A"], 1e3 * st["A"]["sampler"],
                 1e3 * st["A"]["drain"], flt["A"]["sampler_flt"], flt["A"]["drain_flt"],
                 second, 1e3 * tot["B"], 1e3 * st["B"]["sampler"], 1e3 * st["B"]["drain"],
                 flt["B"]["sampler_flt"], flt["B"]["drain_flt"], ratios[-1],
                 sampler_ratios[-1], drain_ratios[-1], 1e3 * gap, os.getloadavg()[0]),
              flush=True)
    for what, xs in (("", ratios), (" (sampler threads)", sampler_ratios),
                     (" (drain thread / poll loop)", drain_ratios)):
        print("paired ratio %s / %s%s over %d pairs: median %.3f, mean %.3f, p90 %.3f, "
              "min %.3f, max %.3f, %d above 1.10"
              % (second, first, what, len(xs), statistics.median(xs), statistics.mean(xs),
                 percentile(xs, 0.9), min(xs), max(xs), sum(x > 1.10 for x in xs)))
    print("(acceptance: in-process / wrapper <= 1.10)")


if __name__ == "__main__":
    main()
