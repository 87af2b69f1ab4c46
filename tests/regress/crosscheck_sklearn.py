#!/usr/bin/python3
"""Acceptance cross-check of `dlenergy fit` against scikit-learn on runs.csv.

The features are rebuilt here independently (runs.csv + data/gpus.csv), the folds
are the ones dlenergy used (--fold-file, fed to PredefinedSplit), and the same
hyperparameters are given to both. Kernel ridge (average-power target) must agree
within 0.01 R2 and 2 % RMSE; ridge and linear are checked the same way, and kernel
ridge on the epoch-energy target too. Exit 77 when sklearn or the data is absent."""
import csv
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import skip

try:
    import numpy as np
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.model_selection import PredefinedSplit, cross_validate
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVR
except ImportError as e:
    skip(f"SKIP: scikit-learn not available: {e}")

BIN = os.environ.get("DLENERGY_BIN", "dlenergy")
SHARED = os.environ.get("DLE_SHARED_DIR", "")
DATA = os.environ.get("DLE_DATA_DIR", "")
RUNS = os.path.join(SHARED, "data", "seaa2023", "runs.csv")
if not os.path.exists(RUNS):
    skip(f"SKIP: {RUNS} absent")


def catalogue():
    specs = {}
    with open(os.path.join(DATA, "gpus.csv"), newline="") as f:
        rows = [l for l in f if not l.startswith("#")]
    for r in csv.DictReader(rows):
        specs[r["name"]] = r
    return specs


def dataset(target):
    specs = catalogue()
    X, y = [], []
    with open(RUNS, newline="") as f:
        for r in csv.DictReader(f):
            g = specs[r["gpu_model"]]
            X.append([float(r["batch_size"]), 128.0, 128.0, float(r["training_size"]),
                      float(r["validation_size"]), float(r["forward_pass_gflop"]), 0.0,
                      float(g["cuda_cores"]), float(g["memory_gb"]), float(g["tdp_w"]),
                      r["architecture"], r["environment_id"]])
            if target == "power":
                y.append(float(r["avg_gpu_power_w"]))
            else:
                y.append(float(r["gpu_energy_mj"]) * 1e6 / float(r["trained_epochs"]))
    return np.array(X, dtype=object), np.array(y)


def sk_scores(est, X, y, folds):
    pre = ColumnTransformer([("num", StandardScaler(), list(range(10))),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), [10, 11])])
    # dlenergy fits every model on the standardized target (kernel ridge has no
    # intercept, so a raw target would pull its predictions towards 0).
    pipe = Pipeline([("pre", pre), ("reg", TransformedTargetRegressor(est, transformer=StandardScaler()))])
    Xn = X.copy()
    for j in range(10):
        Xn[:, j] = X[:, j].astype(float)
    res = cross_validate(pipe, Xn, y, cv=PredefinedSplit(folds),
                         scoring=("r2", "neg_root_mean_squared_error",
                                  "neg_mean_absolute_percentage_error",
                                  "neg_mean_absolute_error"))
    return {"r2": res["test_r2"].mean(), "rmse": -res["test_neg_root_mean_squared_error"].mean(),
            "mape": -res["test_neg_mean_absolute_percentage_error"].mean(),
            "mae": -res["test_neg_mean_absolute_error"].mean()}


def dle(tmp, target, model, params=None, extra=()):
    ff = os.path.join(tmp, "folds.txt")
    cmd = [BIN, "fit", "--target", target, "--model", model, "--csv", RUNS, "--json",
           "--fold-file", ff, *extra]
    if params:
        cmd += ["--params", params]
    else:
        cmd += ["-o", os.path.join(tmp, "m.json")]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = json.loads(out)["models"][0]
    with open(ff) as f:
        folds = np.array([int(l) for l in f])
    return res, folds


failures = 0


def compare(label, ours, theirs, r2_tol=0.01, rmse_rel=0.02):
    global failures
    ok = (abs(ours["r2"] - theirs["r2"]) <= r2_tol and
          abs(ours["rmse"] - theirs["rmse"]) <= rmse_rel * theirs["rmse"])
    print(f"{label:38s} R2 {ours['r2']:.6f} vs {theirs['r2']:.6f}   RMSE {ours['rmse']:.6g} vs "
          f"{theirs['rmse']:.6g}   MAPE {ours['mape']:.5f} vs {theirs['mape']:.5f}   "
          f"MAE {ours['mae']:.6g} vs {theirs['mae']:.6g}   {'ok' if ok else 'MISMATCH'}")
    if not ok:
        failures += 1


with tempfile.TemporaryDirectory() as tmp:
    Xp, yp = dataset("power")
    Xe, ye = dataset("epoch-energy")
    assert len(yp) == 369
    # 1. The search's best kernel ridge, then the same hyperparameters in scikit-learn.
    best, folds = dle(tmp, "power", "krr")
    h = best["hyper"]
    compare(f"krr power best (a={h['alpha']:.3g}, g={h['gamma']:.3g})", best["cv"],
            sk_scores(KernelRidge(kernel="rbf", alpha=h["alpha"], gamma=h["gamma"]), Xp, yp, folds))
    # 2. Fixed settings, shuffled and in-order folds.
    for a, g, extra in ((0.01, 0.01, ()), (0.003, 0.05, ("--seed", "7")),
                        (0.02, 0.002, ("--no-shuffle",))):
        res, folds = dle(tmp, "power", "krr", f"alpha={a},gamma={g}", extra)
        compare(f"krr power a={a} g={g} {' '.join(extra)}", res["cv"],
                sk_scores(KernelRidge(kernel="rbf", alpha=a, gamma=g), Xp, yp, folds))
    res, folds = dle(tmp, "epoch-energy", "krr", "alpha=0.005,gamma=0.02")
    compare("krr epoch-energy a=0.005 g=0.02", res["cv"],
            sk_scores(KernelRidge(kernel="rbf", alpha=0.005, gamma=0.02), Xe, ye, folds))
    for target, X, y in (("power", Xp, yp), ("epoch-energy", Xe, ye)):
        res, folds = dle(tmp, target, "ridge", "alpha=0.1")
        compare(f"ridge {target} alpha=0.1", res["cv"], sk_scores(Ridge(alpha=0.1), X, y, folds))
        res, folds = dle(tmp, target, "linear", "alpha=0")
        compare(f"linear {target}", res["cv"], sk_scores(LinearRegression(), X, y, folds))

    # 3. The CV fast paths, which need a fold of >= 96 distinct unknowns, so without
    # merging: kernel ridge by pivoted-Cholesky-preconditioned CG (runs.csv's 12
    # configurations make the kernel's rank <= 12), SVR on libsvm's precomputed kernel.
    for a, g in ((0.01, 0.01), (1e-4, 0.05), (0.05, 2.0)):
        res, folds = dle(tmp, "power", "krr", f"alpha={a},gamma={g}", ("--no-merge",))
        compare(f"krr power a={a} g={g} --no-merge", res["cv"],
                sk_scores(KernelRidge(kernel="rbf", alpha=a, gamma=g), Xp, yp, folds),
                r2_tol=1e-9, rmse_rel=1e-8)
    res, folds = dle(tmp, "epoch-energy", "svr", "c=300,epsilon=0.1,gamma=0.01", ("--no-merge",))
    compare("svr epoch-energy C=300 e=0.1 g=0.01", res["cv"],
            sk_scores(SVR(kernel="rbf", C=300, epsilon=0.1, gamma=0.01, tol=1e-3), Xe, ye, folds),
            r2_tol=1e-3, rmse_rel=1e-3)

print(f"{failures} mismatches")
sys.exit(1 if failures else 0)
