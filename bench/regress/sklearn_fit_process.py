#!/usr/bin/python3
"""The scikit-learn side of `dlenergy fit` as one whole process, for like-with-like timing.

Everything a user of scikit-learn pays for, in one process: interpreter start, imports
(numpy, pandas, scipy, scikit-learn), read_csv of the training table and the GPU catalogue,
the features of bench/regress/fit_vs_sklearn.py, RandomizedSearchCV on the given folds
(n_jobs=1, refit of the best), and the model written with pickle. Timed from outside by
bench/regress/fit_process_vs_sklearn.py against the whole `dlenergy fit` process.

usage: sklearn_fit_process.py ROOT FOLD_FILE TARGET MODEL DRAWS OUT.pkl  (/usr/bin/python3)
"""
import pickle
import sys
import warnings

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


def features(root, target):
    """X, y of the search (log batch, log GFLOPs, log steps, power limit / TDP; architecture
    and dataset), and, to score on watts / joules: scale (raw target = exp(y) x scale) and
    the raw target. fit_vs_sklearn.py uses the same."""
    t = pd.read_csv(f"{root}/data/pre/training.csv")
    g = pd.read_csv(f"{root}/data/gpus.csv", comment="#").set_index("name")
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
    scale = pl if target == "power" else pl * peak
    raw = (t.avg_gpu_power_w if target == "power" else t.epoch_energy_j).values
    return X, y, scale, raw


def search(kind, draws, fold):
    """The RandomizedSearchCV for one model (the distributions fit_vs_sklearn.py documents)
    and its number of draws."""
    grids = {
        "linear": (LinearRegression(), {"regressor__fit_intercept": [True]}, 1),
        "ridge": (Ridge(), {"regressor__alpha": expon(scale=0.1)}, draws),
        "krr": (KernelRidge(kernel="rbf"), {"regressor__alpha": expon(scale=0.01),
                                            "regressor__gamma": expon(scale=0.01)}, draws),
        "svr": (SVR(kernel="rbf", tol=1e-3, cache_size=200),
                {"regressor__C": expon(scale=300), "regressor__epsilon": expon(scale=0.1),
                 "regressor__gamma": expon(scale=0.01)}, draws),
    }
    est, dist, n = grids[kind]
    pre = ColumnTransformer([("num", StandardScaler(), ["lb", "lg", "ls", "pf"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"),
                              ["architecture", "dataset"])])
    pipe = Pipeline([("pre", pre), ("reg", TransformedTargetRegressor(
        est, transformer=StandardScaler()))])
    sdist = {k.replace("regressor__", "reg__regressor__"): v for k, v in dist.items()}
    return RandomizedSearchCV(pipe, sdist, n_iter=n, cv=PredefinedSplit(fold), scoring="r2",
                              refit=True, n_jobs=1, random_state=42), n


def main():
    root, folds, target, kind, draws, out = sys.argv[1:7]
    warnings.filterwarnings("ignore")
    X, y, _, _ = features(root, target)
    s, _ = search(kind, int(draws), np.loadtxt(folds, dtype=int))
    s.fit(X, y)
    with open(out, "wb") as f:
        pickle.dump(s.best_estimator_, f)


if __name__ == "__main__":
    main()
