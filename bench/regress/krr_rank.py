#!/usr/bin/python3
"""Numerical rank of the kernel ridge systems of the search, the reason the fast path
(src/regress/krr_pcg.c) is fast: for DRAWS draws alpha, gamma ~ Exp(0.01) (scipy,
seed 42: the study's distributions, not dlenergy's own stream) and one 80 % training
fold of data/pre/training.csv (892 rows, features as fit --table, no merging), the
rank r at which a pivoted partial Cholesky factor of the RBF kernel leaves out a trace
<= 0.1 alpha (the fast path's stopping rule), and the distinct feature vectors among
the rows (the rank bound). numpy only; prints the distribution of r.

usage: krr_rank.py [DRAWS]   (Debian's /usr/bin/python3)
"""
import os
import sys

import numpy as np
import pandas as pd
from scipy.stats import expon

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    draws = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    t = pd.read_csv(os.path.join(ROOT, "data", "pre", "training.csv"))
    g = pd.read_csv(os.path.join(ROOT, "data", "gpus.csv"), comment="#").set_index("name")
    tdp = g.loc[t.gpu_model].tdp_w.values
    pl = t.power_limit_w.fillna(pd.Series(tdp, index=t.index)).values
    num = np.c_[np.log(t.batch_size), np.log(t.forward_pass_gflop),
                np.log((t.training_size + t.validation_size) / t.batch_size), pl / tdp]
    idx = np.random.default_rng(42).permutation(len(t))[: len(t) * 4 // 5]
    x = num[idx]
    x = (x - x.mean(0)) / x.std(0)
    x = np.c_[x, pd.get_dummies(t[["architecture", "dataset"]].iloc[idx]).values.astype(float)]
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    n = len(x)
    print(f"{n} training rows, {x.shape[1]} encoded features, "
          f"{len(np.unique(x.round(12), axis=0))} distinct feature vectors")
    rs = np.random.RandomState(42)
    ranks = []
    for _ in range(draws):
        gamma = expon(scale=0.01).rvs(random_state=rs)
        alpha = expon(scale=0.01).rvs(random_state=rs)
        k = np.exp(-gamma * d2)
        diag = np.diag(k).copy()
        cols = []
        while diag.sum() > 0.1 * alpha and len(cols) < n:
            p = int(np.argmax(diag))
            col = k[:, p] - (np.array(cols).T @ np.array(cols)[:, p] if cols else 0)
            col = col / np.sqrt(diag[p])
            cols.append(col)
            diag = np.maximum(diag - col * col, 0)
            diag[p] = 0
        ranks.append(len(cols))
    q = np.percentile(ranks, [0, 50, 90, 100])
    print(f"rank for left-out trace <= 0.1 alpha over {draws} draws: min {q[0]:.0f}, "
          f"median {q[1]:.0f}, 90th percentile {q[2]:.0f}, max {q[3]:.0f} (of {n})")


if __name__ == "__main__":
    main()
