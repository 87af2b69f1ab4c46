#!/usr/bin/env python3
"""The matrix profile against a NumPy reference of STUMPY's definition (the study's
tool; STUMPY itself is not in Debian): z-normalized Euclidean distance, neighbours
with |i - j| <= ceil(m / 4) excluded (stumpy.core's exclusion zone), two constant
subsequences at distance 0 and a constant vs a non-constant one at sqrt(m). Checked on
a random walk and on three real GPU power traces of ../shared/data/seaa2023 (skipped
when absent). The reference with the zone one diagonal narrower (the old defect) must
differ on the real traces, so this test tells the two definitions apart. The streaming
profile (dle_mp_stream, grown one point at a time) must equal the batch bit for bit."""
import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

TOOL = sys.argv[1]
SHARED = os.environ.get("DLE_SHARED_DIR", "")
check = Checks(file=sys.stderr)


def reference(T, m, excl):
    """Exact profile row by row: O(n^2) with vectorized rows (fine for a few thousand)."""
    n = len(T)
    l = n - m + 1
    W = np.lib.stride_tricks.sliding_window_view(T, m)
    mu = W.mean(axis=1)
    sd = W.std(axis=1)
    const = sd <= 1e-8 * np.maximum(1, np.abs(mu))
    Z = np.where(const[:, None], 0.0, (W - mu[:, None]) / np.where(const, 1, sd)[:, None])
    mp = np.empty(l)
    for i in range(l):
        if const[i]:
            d = np.where(const, 0.0, np.sqrt(m))
        else:
            d2 = ((Z - Z[i]) ** 2).sum(axis=1)
            d = np.where(const, np.sqrt(m), np.sqrt(np.maximum(d2, 0)))
        d[max(0, i - excl): i + excl + 1] = np.inf  # STUMPY: |i - j| <= excl is trivial
        mp[i] = d.min()
    return mp


def ours(T, m, threads, tmp, stream=False):
    src, dst = os.path.join(tmp, "x.bin"), os.path.join(tmp, "mp.bin")
    T.astype("<f8").tofile(src)
    subprocess.run([TOOL, src, dst, str(m), str(threads)] + (["stream"] if stream else []),
                   check=True)
    l = len(T) - m + 1
    raw = np.fromfile(dst, dtype="<f8", count=l)
    idx = np.fromfile(dst, dtype="<i8", offset=8 * l, count=l)
    return raw, idx


def gpu_power(path, limit=2500):
    with gzip.open(path, "rt", errors="replace") as f:
        head = [c.strip() for c in f.readline().split(",")]
        col = next(i for i, c in enumerate(head) if "power" in c and "draw" in c)
        vals = []
        for line in f:
            parts = line.split(",")
            try:
                vals.append(float(parts[col].strip().split()[0]))
            except (IndexError, ValueError):
                continue
            if len(vals) >= limit:
                break
    return np.array(vals)


def main():
    rng = np.random.default_rng(7)
    series = [("random walk", 150 + np.cumsum(rng.normal(size=1500)))]
    data = os.path.join(SHARED, "data", "seaa2023", "traces")
    real = ["cloud/resnet50/run-04.gpu.csv.gz", "local-v2/vgg16/run-00.gpu.csv.gz",
            "cloud/nasnet_mobile/run-03.gpu.csv.gz"]
    have_real = all(os.path.exists(os.path.join(data, r)) for r in real)
    if have_real:
        series += [(r, gpu_power(os.path.join(data, r))) for r in real]
    else:
        print("no seaa2023 traces: checking the random walk only", file=sys.stderr)
    m = 10
    excl = int(np.ceil(m / 4))
    worst_old = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, T in series:
            ref = reference(T, m, excl)
            for threads in (1, 2):
                mp, idx = ours(T, m, threads, tmp)
                diff = np.max(np.abs(mp - ref))
                check(diff <= 1e-6, f"{name} ({threads} threads): max |mp - stumpy ref| = {diff:g}")
                gap = np.abs(np.arange(len(idx)) - idx)
                check(np.all(idx >= 0) and np.all(gap > excl),
                      f"{name}: a neighbour inside STUMPY's exclusion zone (min gap {gap.min()})")
            print(f"{name}: n={len(T)} max |mp - ref| = {diff:.3g}", file=sys.stderr)
            # the streaming profile (one point at a time, O(n) each) is the batch's, exactly
            smp, sidx = ours(T, m, 1, tmp, stream=True)
            check(np.array_equal(smp, mp) and np.array_equal(sidx, idx),
                  f"{name}: streaming profile differs from the batch "
                  f"(max {np.max(np.abs(smp - mp)):g}, {np.sum(sidx != idx)} indices)")
            if name != "random walk":
                worst_old = max(worst_old, np.max(np.abs(reference(T, m, excl - 1) - ref)))
    if have_real:
        check(worst_old > 1e-3,
              f"the narrower zone should change the real profiles, max change {worst_old:g}")
        print(f"narrower zone (|i-j| <= {excl - 1}) changes real profiles by up to "
              f"{worst_old:.3g}", file=sys.stderr)
    print(f"{check.passed} passed, {check.failed} failed", file=sys.stderr)
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
