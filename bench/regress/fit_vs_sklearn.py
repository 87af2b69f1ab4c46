#!/usr/bin/python3
"""`dlenergy fit` against scikit-learn's RandomizedSearchCV, per model, in one run.

Both sides: every row of data/pre/training.csv (the shared data, 1115 rows; identical
configurations are NOT merged: dlenergy runs with --no-merge), the same 5 folds
(dlenergy's --fold-file, replayed with PredefinedSplit), the same features
(log batch, log GFLOPs, log steps, power limit / TDP standardized; architecture and
dataset one-hot) and target (log of power / power limit, standardized), 100 draws from
the same distributions (ridge alpha ~ Exp(0.1); kernel ridge alpha, gamma ~ Exp(0.01);
SVR C ~ Exp(300), epsilon ~ Exp(0.1), gamma ~ Exp(0.01); linear: 1), refit of the best.
Wall time of the whole `dlenergy fit` process (start-up, parsing and the model file
included) against RandomizedSearchCV.fit(n_jobs=1); prints the ratio.

usage: fit_vs_sklearn.py BUILD_DIR [DRAWS] [TARGET]   (Debian's /usr/bin/python3)
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from scipy.stats import expon
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import PredefinedSplit, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVR

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    build = sys.argv[1]
    draws = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    target = sys.argv[3] if len(sys.argv) > 3 else "power"
    bin_ = os.path.join(build, "src", "cli", "dlenergy")
    table = os.path.join(ROOT, "data", "pre", "training.csv")
    t = pd.read_csv(table)
    g = pd.read_csv(os.path.join(ROOT, "data", "gpus.csv"), comment="#").set_index("name")
    spec = g.loc[t.gpu_model]
    tdp = spec.tdp_w.values
    pl = t.power_limit_w.fillna(pd.Series(tdp, index=t.index)).values
    peak = ((3 * t.training_size + t.validation_size) * t.forward_pass_gflop * 1e9 /
            (spec.fp32_tflops.values * 1e12)).values
    X = pd.DataFrame({"lb": np.log(t.batch_size), "lg": np.log(t.forward_pass_gflop),
                      "ls": np.log((t.training_size + t.validation_size) / t.batch_size),
                      "pf": pl / tdp, "architecture": t.architecture, "dataset": t.dataset})
    y = np.log(t.avg_gpu_power_w / pl) if target == "power" else \
        np.log(t.epoch_energy_j / (pl * peak))
    grids = {
        "linear": (LinearRegression(), {"regressor__fit_intercept": [True]}, 1),
        "ridge": (Ridge(), {"regressor__alpha": expon(scale=0.1)}, draws),
        "krr": (KernelRidge(kernel="rbf"), {"regressor__alpha": expon(scale=0.01),
                                            "regressor__gamma": expon(scale=0.01)}, draws),
        "svr": (SVR(kernel="rbf", tol=1e-3, cache_size=200),
                {"regressor__C": expon(scale=300), "regressor__epsilon": expon(scale=0.1),
                 "regressor__gamma": expon(scale=0.01)}, draws),
    }
    print(f"{len(t)} rows, target {target}, {draws} draws, 5 folds, no merging; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| model | draws | dlenergy fit | scikit-learn RandomizedSearchCV | ratio |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, (est, dist, n) in grids.items():
            folds = os.path.join(tmp, "folds.txt")
            t0 = time.perf_counter()
            subprocess.run([bin_, "fit", "--table", table, "--target", target, "--model", kind,
                            "--draws", str(draws), "--no-merge", "--fold-file", folds, "-o",
                            os.path.join(tmp, "m.json")], check=True, capture_output=True)
            c_s = time.perf_counter() - t0
            fold = np.loadtxt(folds, dtype=int)
            pre = ColumnTransformer([("num", StandardScaler(), ["lb", "lg", "ls", "pf"]),
                                     ("cat", OneHotEncoder(handle_unknown="ignore"),
                                      ["architecture", "dataset"])])
            pipe = Pipeline([("pre", pre), ("reg", TransformedTargetRegressor(
                est, transformer=StandardScaler()))])
            dist = {k.replace("regressor__", "reg__regressor__"): v for k, v in dist.items()}
            search = RandomizedSearchCV(pipe, dist, n_iter=n, cv=PredefinedSplit(fold),
                                        scoring="r2", refit=True, n_jobs=1, random_state=42)
            t0 = time.perf_counter()
            search.fit(X, y)
            sk_s = time.perf_counter() - t0
            print(f"| {kind} | {n} | {c_s:.3f} s | {sk_s:.3f} s | {sk_s / c_s:.1f}x |", flush=True)


if __name__ == "__main__":
    import warnings
    warnings.filterwarnings("ignore")
    main()
