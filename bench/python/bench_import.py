#!/usr/bin/python3
"""Import time of the dlenergy package, without pandas, in fresh interpreters.

Usage: bench/python/run.sh [BUILD_DIR]      (or, from a configured build:)
       /usr/bin/python3 bench/python/bench_import.py --build build [--n 30]

Each of N fresh /usr/bin/python3 processes (PYTHONPATH=BUILD/python) times
`import dlenergy` with time.perf_counter() around it (interpreter start-up excluded)
and reports whether pandas or numpy got imported. The anchor, timed the same way in
the same run: `import json` (a small stdlib package). Prints the median, the
minimum and the maximum, and the load average (the machine is shared).
Acceptance: median < 50 ms, and neither pandas nor numpy imported.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

PROBE = ("import sys, time\nt = time.perf_counter()\nimport %s\nd = time.perf_counter() - t\n"
         "import json as _j\nprint(_j.dumps({'s': d, 'pandas': 'pandas' in sys.modules,"
         " 'numpy': 'numpy' in sys.modules, 'ctypes': 'ctypes' in sys.modules}))")


def probe(module, env):
    out = subprocess.run(["/usr/bin/python3", "-c", PROBE % module], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("bench: importing %s failed: %s" % (module, out.stderr[-500:]))
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--n", type=int, default=30)
    a = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.abspath(a.build), "python"))
    env.pop("PYTHONSTARTUP", None)
    print("bench/python import: %d fresh /usr/bin/python3 each" % a.n)
    print("load average before: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    res = {"dlenergy": [], "json": []}
    heavy = set()
    for _ in range(a.n):
        for mod in ("dlenergy", "json"):
            r = probe(mod, env)
            res[mod].append(r["s"] * 1e3)
            if mod == "dlenergy":
                heavy |= {k for k in ("pandas", "numpy", "ctypes") if r[k]}
    for mod in ("dlenergy", "json"):
        v = res[mod]
        print("import %-8s median %.2f ms  min %.2f ms  max %.2f ms" % (
            mod, statistics.median(v), min(v), max(v)))
    med = statistics.median(res["dlenergy"])
    print("ratio dlenergy / json (median): %.2f" % (med / statistics.median(res["json"])))
    print("modules loaded by `import dlenergy`: %s" % (", ".join(sorted(heavy)) or
                                                      "neither pandas, numpy nor ctypes"))
    print("acceptance (median < 50 ms, no pandas/numpy): %s" % (
        "met" if med < 50 and not heavy & {"pandas", "numpy"} else "NOT met"))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
