#!/usr/bin/python3
"""Acceptance test of `dlenergy analyze` against scipy on the study's runs.csv.

Every statistic must equal scipy's (shapiro, levene(center='median'), kruskal,
spearmanr) to 1e-6 relative -- except Shapiro-Wilk's p, which scipy 1.10 computes in
single precision (its swilk casts the data to float32): there the p-value must equal
the same algorithm evaluated here in double precision to 1e-6, and scipy's to 1e-4; Dunn/Holm equal a reference computed here from
scipy.stats.norm; Cliff's delta is exact; the interaction F equals an aligned rank
transform computed here with numpy least squares; the largest saving between group
medians and the Pareto front equal the same computation in Python.
Skips (77) when scipy is not installed or the shared data is absent."""
import csv
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip

try:
    import numpy as np
    from scipy import stats
except ImportError:
    skip("SKIP: python3-numpy/scipy not installed")

BIN = os.environ.get("DLENERGY_BIN", "dlenergy")
SHARED = os.environ.get("DLE_SHARED_DIR", "")
RUNS = os.path.join(SHARED, "data", "seaa2023", "runs.csv")
if not os.path.exists(RUNS):
    skip("SKIP: %s absent" % RUNS)

check = Checks()


def rel_eq(a, b, rel=1e-6, what=""):
    ok = (a is None and b is None) or (
        a is not None and b is not None and abs(a - b) <= rel * max(abs(a), abs(b), 1e-300))
    check(ok, "%s: dlenergy %r vs reference %r" % (what, a, b))


def analyze(*args):
    out = subprocess.run([BIN, "analyze", "--json", *args], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr)
    check(out.returncode == 0, "analyze %s exited %d" % (" ".join(args), out.returncode))
    return json.loads(out.stdout)


with open(RUNS, newline="") as f:
    rows = list(csv.DictReader(f))


def shapiro_ref(x):
    """scipy 1.10's swilk works in single precision (its input is cast to float32),
    which limits its agreement with a double-precision AS R94 to ~1e-6. So the
    reference is scipy.stats.shapiro where scipy computes in double, and otherwise the
    same algorithm evaluated here in double precision from scipy's own pieces
    (norm.ppf, norm.sf); the test also checks that the two agree to float32 accuracy."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = len(x)
    nn2 = n // 2
    if n == 3:
        a = np.array([math.sqrt(0.5)])
    else:
        m = stats.norm.ppf((np.arange(1, nn2 + 1) - 0.375) / (n + 0.25))
        summ2 = 2 * np.sum(m ** 2)
        ssumm2 = math.sqrt(summ2)
        rsn = 1 / math.sqrt(n)
        poly = lambda c, v: sum(ci * v ** i for i, ci in enumerate(c))
        c1 = [0.0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056]
        c2 = [0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633]
        a = np.zeros(nn2)
        a1 = poly(c1, rsn) - m[0] / ssumm2
        if n > 5:
            a2 = -m[1] / ssumm2 + poly(c2, rsn)
            fac = math.sqrt((summ2 - 2 * m[0] ** 2 - 2 * m[1] ** 2) / (1 - 2 * a1 ** 2 - 2 * a2 ** 2))
            a[1] = a2
            i1 = 2
        else:
            fac = math.sqrt((summ2 - 2 * m[0] ** 2) / (1 - 2 * a1 ** 2))
            i1 = 1
        a[0] = a1
        a[i1:] = -m[i1:] / fac
    coef = np.zeros(n)
    coef[:nn2] = -a
    coef[n - nn2:] = a[::-1]
    xc = x - x.mean()
    w = np.dot(coef, xc) ** 2 / (np.dot(coef, coef) * np.dot(xc, xc))
    w1 = 1 - w
    if n == 3:
        return w, max(0.0, 6 / math.pi * (math.asin(math.sqrt(w)) - math.pi / 3))
    ln = math.log(n)
    if n <= 11:
        gamma = -2.273 + 0.459 * n
        y = -math.log(gamma - math.log(w1))
        mu = 0.544 - 0.39978 * n + 0.025054 * n ** 2 - 6.714e-4 * n ** 3
        sd = math.exp(1.3822 - 0.77857 * n + 0.062767 * n ** 2 - 0.0020322 * n ** 3)
    else:
        y = math.log(w1)
        mu = -1.5861 - 0.31082 * ln - 0.083751 * ln ** 2 + 0.0038915 * ln ** 3
        sd = math.exp(-0.4803 - 0.082676 * ln + 0.0030302 * ln ** 2)
    return w, stats.norm.sf(y, mu, sd)


def cliffs_exact(x, y):
    gt = sum(1 for a in x for b in y if a > b)
    lt = sum(1 for a in x for b in y if a < b)
    return (gt - lt) / (len(x) * len(y))


def holm(p):
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    run = 0.0
    for i, idx in enumerate(order):
        run = max(run, min(1.0, (m - i) * p[idx]))
        adj[idx] = run
    return adj


def art_interaction(y, fa, fb):
    y = np.asarray(y, float)
    levels_a = sorted(set(fa)); levels_b = sorted(set(fb))
    ia = np.array([levels_a.index(v) for v in fa]); ib = np.array([levels_b.index(v) for v in fb])
    gm = y.mean()
    am = {i: y[ia == i].mean() for i in set(ia)}
    bm = {j: y[ib == j].mean() for j in set(ib)}
    cells = {}
    for i, j, v in zip(ia, ib, y):
        cells.setdefault((i, j), []).append(v)
    cm = {k: np.mean(v) for k, v in cells.items()}
    al = np.array([(v - cm[(i, j)]) + (cm[(i, j)] - am[i] - bm[j] + gm) for i, j, v in zip(ia, ib, y)])
    r = stats.rankdata(al)
    rc = {}
    for i, j, v in zip(ia, ib, r):
        rc.setdefault((i, j), []).append(v)
    rss_full = sum(np.sum((np.array(v) - np.mean(v)) ** 2) for v in rc.values())
    X = np.zeros((len(y), 1 + len(levels_a) - 1 + len(levels_b) - 1))
    X[:, 0] = 1
    for n_, (i, j) in enumerate(zip(ia, ib)):
        if i > 0: X[n_, i] = 1
        if j > 0: X[n_, len(levels_a) - 1 + j] = 1
    beta, _, rank, _ = np.linalg.lstsq(X, r, rcond=None)
    rss_add = float(np.sum((r - X @ beta) ** 2))
    df1 = len(rc) - rank
    df2 = len(y) - len(rc)
    F = ((rss_add - rss_full) / df1) / (rss_full / df2)
    return F, stats.f.sf(F, df1, df2), df1, df2


def verify(by, metric_col, metric_arg, rows_sel, extra=()):
    res = analyze("--csv", RUNS, "--by", ",".join(by), "--metric", metric_arg, *extra)
    groups = {}
    for r in rows_sel:
        try:
            v = float(r[metric_col])
        except ValueError:
            continue
        if not math.isfinite(v):
            continue
        groups.setdefault(" / ".join(r[c] for c in by), []).append((v, r))
    names = sorted(groups)
    vals = [np.array([v for v, _ in groups[n]]) for n in names]
    check([g["name"] for g in res["groups"]] == names, "group names/order %s" % metric_arg)
    for g, n, x in zip(res["groups"], names, vals):
        check(g["n"] == len(x), "n of %s" % n)
        rel_eq(g["median"], float(np.median(x)), 1e-12, "median %s" % n)
        rel_eq(g["mean"], float(np.mean(x)), 1e-12, "mean %s" % n)
        q1, q3 = np.percentile(x, [25, 75])
        rel_eq(g["iqr"], float(q3 - q1), 1e-9, "IQR %s" % n)
    # Shapiro-Wilk
    for s, n, x in zip(res["shapiro"], names, vals):
        if len(x) < 3:
            check(s["w"] is None and s["p"] is None and "note" in s, "shapiro n<3 is null %s" % n)
            continue
        w_ref, p_ref = shapiro_ref(x)
        rel_eq(s["w"], w_ref, 1e-6, "shapiro W %s" % n)
        rel_eq(s["p"], p_ref, 1e-6, "shapiro p %s" % n)
        w_sp, p_sp = stats.shapiro(x)
        # scipy's single-precision swilk: agreement to float32 accuracy only.
        rel_eq(s["w"], float(w_sp), 1e-6, "shapiro W vs scipy %s" % n)
        rel_eq(s["p"], float(p_sp), 1e-4, "shapiro p vs scipy (float32 p) %s" % n)
    # Levene, Kruskal
    lw, lp = stats.levene(*vals, center="median")
    rel_eq(res["levene"]["w"], lw, 1e-6, "levene W")
    rel_eq(res["levene"]["p"], lp, 1e-6, "levene p")
    h, p = stats.kruskal(*vals)
    rel_eq(res["kruskal"]["h"], h, 1e-6, "kruskal H")
    rel_eq(res["kruskal"]["p"], p, 1e-6, "kruskal p")
    k = len(vals); N = sum(len(x) for x in vals)
    rel_eq(res["kruskal"]["eta2"], (h - k + 1) / (N - k), 1e-6, "eta2")
    # Dunn + Holm from scipy.stats.norm, Cliff's delta exact
    allv = np.concatenate(vals)
    ranks = stats.rankdata(allv)
    _, counts = np.unique(allv, return_counts=True)
    ties = np.sum(counts ** 3 - counts)
    var = N * (N + 1) / 12 - ties / (12 * (N - 1))
    mr, off = [], 0
    for x in vals:
        mr.append(ranks[off:off + len(x)].mean()); off += len(x)
    zs, ps, pairs = [], [], []
    for i in range(k):
        for j in range(i + 1, k):
            z = (mr[i] - mr[j]) / math.sqrt(var * (1 / len(vals[i]) + 1 / len(vals[j])))
            zs.append(z); ps.append(2 * stats.norm.sf(abs(z))); pairs.append((i, j))
    ph = holm(np.array(ps))
    check(len(res["dunn"]) == len(pairs), "number of Dunn pairs")
    for d, c, (i, j), z, pa in zip(res["dunn"], res["cliffs_delta"], pairs, zs, ph):
        check(d["a"] == names[i] and d["b"] == names[j], "pair order")
        rel_eq(d["z"], z, 1e-6, "dunn z %s vs %s" % (names[i], names[j]))
        rel_eq(d["p_holm"], pa, 1e-6, "dunn p_holm %s vs %s" % (names[i], names[j]))
        cd = cliffs_exact(vals[i], vals[j])
        check(c["delta"] == cd, "cliff's delta exact %s vs %s: %r != %r" % (names[i], names[j], c["delta"], cd))
        ad = abs(cd)
        mag = "negligible" if ad < 0.147 else "small" if ad < 0.33 else "medium" if ad < 0.474 else "large"
        check(c["magnitude"] == mag, "magnitude %s vs %s" % (names[i], names[j]))
    # Spearman with the other columns
    for sp in res["spearman"]:
        xs, ys = [], []
        for r in rows_sel:
            try:
                a, b = float(r[metric_col]), float(r[sp["y"]])
            except ValueError:
                continue
            xs.append(a); ys.append(b)
        rho, p = stats.spearmanr(xs, ys)
        rel_eq(sp["rho"], rho, 1e-6, "spearman rho %s" % sp["y"])
        rel_eq(sp["p"], p, 1e-6, "spearman p %s" % sp["y"])
    # Interaction (ART)
    if len(by) == 2:
        ysel = [v for n in names for v, _ in groups[n]]
        fa = [r[by[0]] for n in names for _, r in groups[n]]
        fb = [r[by[1]] for n in names for _, r in groups[n]]
        F, p, df1, df2 = art_interaction(ysel, fa, fb)
        rel_eq(res["interaction"]["f"], F, 1e-6, "ART F")
        rel_eq(res["interaction"]["p"], p, 1e-6, "ART p")
        check(res["interaction"]["df1"] == df1 and res["interaction"]["df2"] == df2, "ART df")
    # Largest saving between medians and the Pareto front
    med = [float(np.median(x)) for x in vals]
    hi, lo = int(np.argmax(med)), int(np.argmin(med))
    ls = res["largest_saving"]
    check(ls["from"] == names[hi] and ls["to"] == names[lo], "largest saving pair %s -> %s" % (ls["from"], ls["to"]))
    rel_eq(ls["fraction"], 1 - med[lo] / med[hi], 1e-12, "largest saving fraction")
    q = [float(np.median([float(r["f1_score"]) for _, r in groups[n]])) for n in names]
    rel_eq(ls["quality_change"], q[lo] - q[hi], 1e-12, "F1 change of the saving")
    eff = [n for i, n in enumerate(names)
           if not any(med[j] <= med[i] and q[j] >= q[i] and (med[j] < med[i] or q[j] > q[i])
                      for j in range(len(names)) if j != i)]
    check(res["pareto"] == eff, "pareto front %s vs %s" % (res["pareto"], eff))
    return res


res = verify(["architecture", "environment"], "gpu_energy_mj", "energy", rows)
print("largest saving: %s -> %s, %.4f, F1 change %+.4f" % (
    res["largest_saving"]["from"], res["largest_saving"]["to"],
    res["largest_saving"]["fraction"], res["largest_saving"]["quality_change"]))
verify(["architecture", "environment"], "training_duration_h", "duration", rows)
verify(["architecture"], "avg_gpu_power_w", "power", rows)
cloud = [r for r in rows if r["environment_id"] == "cloud"]
verify(["architecture"], "gpu_energy_mj", "gpu_energy_mj", cloud, ("--runs", "environment_id=cloud"))
# Small groups exercise AS R94's other branches (n = 3, 4..5, 6..11, >= 12).
import tempfile
rng = np.random.RandomState(7)
tmp = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, dir=os.getcwd())
tmp.write("architecture,gpu_energy_mj,f1_score\n")
sizes = [3, 4, 5, 6, 7, 9, 11, 12, 20]
for gi, n in enumerate(sizes):
    for v in rng.lognormal(0, 0.5, n):
        tmp.write("g%02d_n%d,%r,0.9\n" % (gi, n, float(v)))
tmp.close()
small = analyze("--csv", tmp.name, "--by", "architecture", "--metric", "energy", "--corr", "")
os.unlink(tmp.name)
check([s_["n"] for s_ in small.get("shapiro", [])] == sizes, "small group sizes")
rows_small = {}
# Rebuild the values exactly as written (repr round-trips).
rng = np.random.RandomState(7)
for gi, n in enumerate(sizes):
    rows_small["g%02d_n%d" % (gi, n)] = np.array([float(v) for v in rng.lognormal(0, 0.5, n)])
for s_ in small.get("shapiro", []):
    x = rows_small[s_["group"]]
    w_ref, p_ref = shapiro_ref(x)
    rel_eq(s_["w"], w_ref, 1e-6, "small-n shapiro W %s" % s_["group"])
    rel_eq(s_["p"], p_ref, 1e-6, "small-n shapiro p %s" % s_["group"])
    w_sp, p_sp = stats.shapiro(x)
    rel_eq(s_["w"], float(w_sp), 1e-6, "small-n shapiro W vs scipy %s" % s_["group"])
    rel_eq(s_["p"], float(p_sp), 1e-4, "small-n shapiro p vs scipy %s" % s_["group"])

print("%d checks, %d failed" % (check.passed + check.failed, check.failed))
sys.exit(1 if check.failed else 0)
