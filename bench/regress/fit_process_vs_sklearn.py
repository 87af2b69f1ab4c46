#!/usr/bin/python3
"""`dlenergy fit` against scikit-learn, per model: the search alone, and whole processes.

Two rows per model, on the same rows (data/pre/training.csv, no merging: --no-merge), the
same 5 folds (dlenergy's --fold-file, replayed with PredefinedSplit), features,
distributions and draws as bench/regress/fit_vs_sklearn.py:
  search:  the whole `dlenergy fit` process against RandomizedSearchCV.fit() inside this
           already-started Python (imports and read_csv not counted on the sklearn side),
           as fit_vs_sklearn.py times it;
  process: like with like, both timed as whole processes from outside: `dlenergy fit`
           (start-up, CSV parse, search, refit, model JSON) against
           `/usr/bin/python3 bench/regress/sklearn_fit_process.py` (interpreter start,
           imports, read_csv, the same search, refit, pickle of the model).
Wall time and CPU time (the child's rusage; this process's process_time for the
in-process search) and the load average (the machine may be shared); ratio =
scikit-learn / dlenergy. Each model is run REPEATS times; every run is printed.

usage: /usr/bin/python3 bench/regress/fit_process_vs_sklearn.py BUILD_DIR [DRAWS] [TARGET]
           [MODELS] [REPEATS]
  e.g. /usr/bin/python3 bench/regress/fit_process_vs_sklearn.py build 100 power linear 3
  MODELS: comma-separated from linear,ridge,krr,svr (default all); REPEATS default 1.
"""
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import sklearn_fit_process as skp  # noqa: E402


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_process(cmd):
    """Runs cmd to completion; (wall s, CPU s of the child)."""
    c0 = child_cpu()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0, child_cpu() - c0


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    build = sys.argv[1]
    draws = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    target = sys.argv[3] if len(sys.argv) > 3 else "power"
    models = sys.argv[4].split(",") if len(sys.argv) > 4 else ["linear", "ridge", "krr", "svr"]
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    for m in models:
        if m not in ("linear", "ridge", "krr", "svr"):
            sys.exit(f"unknown model '{m}' (linear, ridge, krr, svr)")
    bin_ = os.path.join(build, "src", "cli", "dlenergy")
    table = os.path.join(ROOT, "data", "pre", "training.csv")
    X, y, _, _ = skp.features(ROOT, target)
    print(f"{len(X)} rows, target {target}, {draws} draws, 5 folds, no merging")
    print("| model | run | row | load avg | dlenergy fit wall (CPU) | scikit-learn wall (CPU) "
          "| ratio wall (CPU) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folds = os.path.join(tmp, "folds.txt")
        for kind in models:
            for run in range(1, repeats + 1):
                load = os.getloadavg()[0]
                c_w, c_c = timed_process(
                    [bin_, "fit", "--table", table, "--target", target, "--model", kind,
                     "--draws", str(draws), "--no-merge", "--fold-file", folds, "-o",
                     os.path.join(tmp, "m.json")])
                search, n = skp.search(kind, draws, np.loadtxt(folds, dtype=int))
                p0 = time.process_time()
                t0 = time.perf_counter()
                search.fit(X, y)
                s_w, s_c = time.perf_counter() - t0, time.process_time() - p0
                print(f"| {kind} | {run} | search | {load:.1f} | {c_w:.3f} s ({c_c:.3f} s) | "
                      f"{s_w:.3f} s ({s_c:.3f} s) | {s_w / c_w:.2f}x ({s_c / c_c:.2f}x) |",
                      flush=True)
                load = os.getloadavg()[0]
                p_w, p_c = timed_process(
                    ["/usr/bin/python3", os.path.join(HERE, "sklearn_fit_process.py"), ROOT,
                     folds, target, kind, str(draws), os.path.join(tmp, "m.pkl")])
                # dlenergy again, right after, so both processes see the same load.
                c_w, c_c = timed_process(
                    [bin_, "fit", "--table", table, "--target", target, "--model", kind,
                     "--draws", str(draws), "--no-merge", "-o", os.path.join(tmp, "m.json")])
                print(f"| {kind} | {run} | process | {load:.1f} | {c_w:.3f} s ({c_c:.3f} s) | "
                      f"{p_w:.3f} s ({p_c:.3f} s) | {p_w / c_w:.2f}x ({p_c / c_c:.2f}x) |",
                      flush=True)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    main()
