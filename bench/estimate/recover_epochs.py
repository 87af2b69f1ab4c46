#!/usr/bin/env python3
"""Can the epochs of a run without markers be recovered from its power period?
(issue 14: if so, carbontracker and step-energy could be evaluated on the SEAA traces.)

For every traced run of ../shared/data/seaa2023: the GPU power on a 1-s grid, the active
span (power above the 5th percentile + 15 % of the way to the median), and the number of
epochs counted as the integral of 1 / local period over that span (period = the same rule
as step-remain's: shortest autocorrelation peak >= 0.3 and >= 0.8 x the highest, lags
10 s .. 30 min, in 600 s windows every 150 s). Compared with runs.csv's trained_epochs.

Usage: /usr/bin/python3 bench/estimate/recover_epochs.py [SEAA_DIR]  (pandas, numpy)"""
import os
import sys

import numpy as np
import pandas as pd


def period(x):
    n = len(x)
    pmin, pmax = 10, min(n // 2, 1800)
    if pmax < pmin + 2:
        return None
    x = x - x.mean()
    var = np.mean(x * x)
    if not var > 0:
        return None
    ac = np.array([np.sum(x[:n - k] * x[k:]) / (n - k) / var for k in range(pmax + 1)])
    peaks = [k for k in range(pmin, pmax) if ac[k] >= ac[k - 1] and ac[k] >= ac[k + 1]
             and ac[k] >= 0.3]
    if not peaks:
        return None
    top = max(ac[k] for k in peaks)
    return next(k for k in peaks if ac[k] >= 0.8 * top)


def load(base, rel):
    g = pd.read_csv(os.path.join(base, rel), skipinitialspace=True)
    g.columns = [c.strip() for c in g.columns]
    pc = next(c for c in g.columns if "power" in c and "draw" in c)
    t = pd.to_datetime(g[g.columns[0]].str.replace("/", "-"), errors="coerce")
    p = pd.to_numeric(g[pc].astype(str).str.replace(" W", ""), errors="coerce")
    ok = (t.notna() & p.notna()).values
    t = t.astype("int64").values[ok] / 1e9
    p = p.values[ok]
    t, p = t[3:-3], p[3:-3]
    return t - t[0], p


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/seaa2023"
    runs = pd.read_csv(os.path.join(base, "runs.csv"))
    runs = runs[runs.gpu_trace.notna()].reset_index(drop=True)
    rows = []
    for _, r in runs.iterrows():
        t, p = load(base, r.gpu_trace)
        g = np.interp(np.arange(0, t[-1], 1.0), t, p)
        lo, med = np.percentile(g, 5), np.median(g)
        act = np.where(g > lo + 0.15 * (med - lo))[0]
        a, b = (act[0], act[-1]) if len(act) else (0, len(g))
        count, last, found = 0.0, None, 0
        for s in range(a, b, 150):
            seg = g[max(a, s - 225):min(b, s + 375)]
            per = period(seg) if len(seg) >= 40 else None
            if per:
                last, found = per, found + 1
            if last:
                count += min(150, b - s) / last
        rows.append(dict(arch=r.architecture, env=r.environment_id, epochs=r.trained_epochs,
                         recovered=count if found else np.nan))
    d = pd.DataFrame(rows)
    d["err"] = (d.recovered - d.epochs) / d.epochs
    print("| architecture | runs | recovered | median error | median abs. error | within 10 % |")
    print("|---|---|---|---|---|---|")
    for arch, x in list(d.groupby("arch")) + [("all", d)]:
        print(f"| {arch} | {len(x)} | {x.recovered.notna().sum()} | {100 * np.nanmedian(x.err):+.1f} % "
              f"| {100 * np.nanmedian(np.abs(x.err)):.1f} % | {100 * np.mean(np.abs(x.err) < 0.1):.1f} % |")


if __name__ == "__main__":
    main()
