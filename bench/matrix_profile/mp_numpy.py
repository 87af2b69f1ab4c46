#!/usr/bin/python3
"""Straightforward NumPy matrix profile (STOMP rows: one vectorized distance profile per
subsequence, dot products updated from the previous row). The anchor of
bench_matrix_profile. Usage: mp_numpy.py SERIES M [PROFILE_OUT]; prints wall_s."""
import sys
import time

import numpy as np


def matrix_profile(T, m):
    n = len(T)
    l = n - m + 1
    cs = np.concatenate(([0.0], np.cumsum(T)))
    cs2 = np.concatenate(([0.0], np.cumsum(T * T)))
    mu = (cs[m:] - cs[:-m]) / m
    sig = np.sqrt(np.maximum((cs2[m:] - cs2[:-m]) / m - mu * mu, 0))
    excl = int(np.ceil(m / 4))
    qt0 = np.correlate(T, T[:m], mode="valid")
    qt = qt0.copy()
    mp = np.empty(l)
    for i in range(l):
        if i > 0:
            qt[1:] = qt[:-1] - T[i - 1] * T[: l - 1] + T[i + m - 1] * T[m:n]
            qt[0] = qt0[i]
        d = 2 * m * (1 - (qt - m * mu[i] * mu) / (m * sig[i] * sig))
        d[max(0, i - excl): i + excl + 1] = np.inf  # STUMPY: |i - j| <= excl
        mp[i] = np.sqrt(max(d.min(), 0.0))
    return mp


def main():
    T = np.fromfile(sys.argv[1], dtype="<f8")
    m = int(sys.argv[2])
    t = time.perf_counter()
    mp = matrix_profile(T, m)
    wall = time.perf_counter() - t
    print(f"wall_s {wall:.4f}")
    if len(sys.argv) > 3:
        mp.astype("<f8").tofile(sys.argv[3])


main()
