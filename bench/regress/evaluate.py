#!/usr/bin/python3
"""Honest evaluation of PRE on the shared data (data/pre/training.csv): leave-one-GPU-
out and leave-one-workload-out R2, MAPE and RMSE of each dlenergy model (the draws are
chosen by the same grouped CV: nothing of a held-out group is seen), next to

  study KRR  the study's recipe: its features (batch, image, set sizes, GFLOPs, GPU
             cores, memory, TDP; architecture and dataset one-hot), raw target, kernel
             ridge without intercept, alpha and gamma ~ Exp(0.01) chosen by shuffled
             5-fold R2 (100 draws), then scored on the held-out groups;
  sklearn    a scikit-learn pipeline on the same rows, features and folds with the
             hyperparameters dlenergy's krr chose (a cross-check: it must agree).

Scores are means over the held-out groups; "4 GPUs" is the mean over P100, V100,
RTX 3090 and RTX 3070 (the acceptance set); pooled MAPE weights every row alike.

usage: evaluate.py BUILD_DIR [DRAWS]       (Debian's /usr/bin/python3: numpy, sklearn)
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
from scipy.stats import expon
from sklearn.compose import ColumnTransformer
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import KFold, LeaveOneGroupOut, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOUR = ["Tesla P100-PCIE-16GB", "Tesla V100-PCIE-16GB", "NVIDIA GeForce RTX 3090",
        "NVIDIA GeForce RTX 3070"]
TARGETS = {"power": "avg_gpu_power_w", "epoch-energy": "epoch_energy_j"}


def gpus():
    g = pd.read_csv(os.path.join(ROOT, "data", "gpus.csv"), comment="#")
    return g.set_index("name")


def scores(y, p, groups):
    out = {}
    for g in sorted(set(groups)):
        m = groups == g
        yt, pt = y[m], p[m]
        ss = ((yt - yt.mean()) ** 2).sum()
        out[g] = {"r2": 1 - ((yt - pt) ** 2).sum() / ss if ss > 0 else float("nan"),
                  "mape": float(np.mean(np.abs(pt - yt) / yt)),
                  "rmse": float(np.sqrt(np.mean((pt - yt) ** 2))), "n": int(m.sum())}
    return out


def summary(per, pooled_mape):
    keys = list(per)
    s = {k: float(np.mean([per[g][k] for g in keys])) for k in ("r2", "mape", "rmse")}
    s["pooled_mape"] = pooled_mape
    four = [g for g in keys if g in FOUR]
    if four:
        s["mape4"] = float(np.mean([per[g]["mape"] for g in four]))
    return s


def main():
    build = sys.argv[1]
    draws = sys.argv[2] if len(sys.argv) > 2 else "100"
    bin_ = os.path.join(build, "src", "cli", "dlenergy")
    table = os.path.join(ROOT, "data", "pre", "training.csv")
    t = pd.read_csv(table)
    cat = gpus()
    spec = cat.loc[t.gpu_model]
    tdp = spec.tdp_w.values
    pl = t.power_limit_w.fillna(pd.Series(tdp, index=t.index)).values
    peak = ((3 * t.training_size + t.validation_size) * t.forward_pass_gflop * 1e9 /
            (spec.fp32_tflops.values * 1e12)).values
    phys = np.c_[np.log(t.batch_size), np.log(t.forward_pass_gflop),
                 np.log((t.training_size + t.validation_size) / t.batch_size), pl / tdp]
    study = np.c_[t.batch_size, t.image_h.fillna(0), t.image_w.fillna(0), t.training_size,
                  t.validation_size, t.forward_pass_gflop, spec.cuda_cores.values,
                  spec.memory_gb.values, tdp]
    cats = t[["architecture", "dataset"]].values
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for target, col in TARGETS.items():
            y = t[col].values
            ref = pl if target == "power" else pl * peak
            for group in ("gpu_model", "workload"):
                groups = t[group].values
                logo = LeaveOneGroupOut()
                for kind in ("linear", "ridge", "krr", "svr"):
                    out = os.path.join(tmp, "m.json")
                    p = subprocess.run([bin_, "fit", "--table", table, "--target", target,
                                        "--model", kind, "--group-by", group, "--draws", draws,
                                        "--json", "-o", out], capture_output=True, text=True)
                    if p.returncode != 0:
                        sys.exit(p.stderr)
                    res = json.loads(p.stdout)["models"][0]
                    per = {g["group"]: g for g in res["per_group"]}
                    pooled = sum(g["mape"] * g["rows"] for g in per.values()) / len(t)
                    rows.append((target, group, "dlenergy " + kind, summary(per, pooled),
                                 res["hyper"]))
                    if kind == "krr":
                        h = res["hyper"]
                        pred = np.zeros(len(t))
                        for tr, te in logo.split(phys, y, groups):
                            pre = ColumnTransformer([("num", StandardScaler(), [0, 1, 2, 3]),
                                                     ("cat", OneHotEncoder(handle_unknown="ignore"),
                                                      [4, 5])])
                            X = np.c_[phys, cats].astype(object)
                            Xtr = pre.fit_transform(X[tr])
                            yt = np.log(y[tr] / ref[tr])
                            mu, sd = yt.mean(), yt.std()
                            m = KernelRidge(kernel="rbf", alpha=h["alpha"], gamma=h["gamma"])
                            m.fit(Xtr, (yt - mu) / sd)
                            pred[te] = np.exp(m.predict(pre.transform(X[te])) * sd + mu) * ref[te]
                        per = scores(y, pred, groups)
                        rows.append((target, group, "sklearn (same krr)",
                                     summary(per, float(np.mean(np.abs(pred - y) / y))), h))
                # The study's recipe.
                X = np.c_[study, cats].astype(object)
                pipe = Pipeline([("pre", ColumnTransformer(
                    [("num", StandardScaler(), list(range(9))),
                     ("cat", OneHotEncoder(handle_unknown="ignore"), [9, 10])])),
                    ("krr", KernelRidge(kernel="rbf"))])
                search = RandomizedSearchCV(pipe, {"krr__alpha": expon(scale=0.01),
                                                   "krr__gamma": expon(scale=0.01)},
                                            n_iter=int(draws), cv=KFold(5, shuffle=True,
                                                                        random_state=42),
                                            scoring="r2", random_state=42, n_jobs=1)
                search.fit(X, y)
                pred = np.zeros(len(t))
                for tr, te in logo.split(X, y, groups):
                    m = search.best_estimator_.fit(X[tr], y[tr])
                    pred[te] = m.predict(X[te])
                per = scores(y, pred, groups)
                rows.append((target, group, "study KRR (sklearn)",
                             summary(per, float(np.mean(np.abs(pred - y) / y))),
                             {k.split("__")[1]: v for k, v in search.best_params_.items()}))
                print(f"done {target} {group}", file=sys.stderr, flush=True)
    unit = {"power": "W", "epoch-energy": "J"}
    print("| target | held out | model | R2 | MAPE | RMSE | pooled MAPE | MAPE 4 GPUs |")
    print("|---|---|---|---|---|---|---|---|")
    for target, group, name, s, h in rows:
        m4 = f"{100 * s['mape4']:.2f} %" if "mape4" in s else "-"
        print(f"| {target} | {'GPU' if group == 'gpu_model' else 'workload'} | {name} | "
              f"{s['r2']:.3f} | {100 * s['mape']:.2f} % | {s['rmse']:.4g} {unit[target]} | "
              f"{100 * s['pooled_mape']:.2f} % | {m4} |")


if __name__ == "__main__":
    main()
