#!/usr/bin/python3
"""Runs bench_matrix_profile (dlenergy, C, 1 and 2 threads) and mp_numpy.py on the same
random-walk series (n = 36,000, m = 10 by default), checks that the two profiles agree
and prints times, distance updates per second per core and the speed ratios.
Usage: compare.py BUILD_DIR [N] [M]"""
import os
import subprocess
import sys
import tempfile

import numpy as np

build = sys.argv[1]
n = sys.argv[2] if len(sys.argv) > 2 else "36000"
m = sys.argv[3] if len(sys.argv) > 3 else "10"
here = os.path.dirname(os.path.abspath(__file__))
exe = os.path.join(build, "bench", "matrix_profile", "bench_matrix_profile")


def fields(line):
    it = line.split()
    return {it[i]: it[i + 1] for i in range(0, len(it) - 1, 2)}


with tempfile.TemporaryDirectory() as tmp:
    series, prof_c, prof_np = (os.path.join(tmp, f) for f in ("x.bin", "c.bin", "np.bin"))
    c = {}
    for threads in ("1", "2"):
        out = subprocess.run([exe, n, m, threads, "3", series, prof_c], check=True,
                             capture_output=True, text=True).stdout
        c[threads] = fields(out)
        print("dlenergy C:", out.strip())
    out = subprocess.run(["/usr/bin/python3", os.path.join(here, "mp_numpy.py"), series, m,
                          prof_np], check=True, capture_output=True, text=True).stdout
    t_np = float(fields(out)["wall_s"])
    pairs = int(c["2"]["pairs"])
    print(f"numpy     : wall_s {t_np:.4f} updates_per_s_per_core {pairs / t_np:.4g} (1 thread)")
    # Exact check on 200 sampled subsequences: z-normalize every window once and take
    # the true nearest neighbour outside the exclusion zone.
    x = np.fromfile(series)
    mm = int(m)
    W = np.lib.stride_tricks.sliding_window_view(x, mm)
    Z = (W - W.mean(axis=1, keepdims=True)) / W.std(axis=1, keepdims=True)
    excl = -(-mm // 4)
    pc, pn = np.fromfile(prof_c), np.fromfile(prof_np)
    idx = np.random.default_rng(1).choice(len(Z), 200, replace=False)
    err_c = err_np = 0.0
    for i in idx:
        d = np.sqrt(((Z - Z[i]) ** 2).sum(axis=1))
        d[max(0, i - excl): i + excl + 1] = np.inf  # STUMPY: |i - j| <= excl
        exact = d.min()
        err_c = max(err_c, abs(pc[i] - exact))
        err_np = max(err_np, abs(pn[i] - exact))
    diff = err_c
    print(f"max error against exact distances (200 samples): dlenergy {err_c:.3g}, "
          f"numpy {err_np:.3g}")
    for threads in ("1", "2"):
        print(f"ratio numpy / dlenergy ({threads} thread{'s' if threads == '2' else ''}): "
              f"{t_np / float(c[threads]['wall_s']):.1f}x")
    if diff > 1e-6:
        sys.exit("dlenergy profile off the exact distances")
