#!/usr/bin/env python3
"""Held-out choice of step-remain's parameters on the SEAA 2023 traces (issue 14).

The study has three environments; two have traces (cloud: RTX 3090, local-v2: RTX 3070;
"local" has none), so the rotation is two-fold: every parameter is chosen on one
environment and scored on the other.
  tail fraction: the candidate with the lowest RMSE on the choosing environment;
  bound k: the smallest k of the grid whose bounds cover >= 90 % of the choosing
           environment's runs (with that environment's tail fraction).
The defaults (include/dlenergy/estimate.h) are the folds' choices combined: the smaller
tail fraction (the more recent level) and the larger k (so either fold's coverage target
holds); where both folds agree that is their common choice.

Usage: bench/estimate/heldout.py DLENERGY_BIN DB [--at-fraction F]
(DB from `dlenergy import seaa2023 ../shared/data/seaa2023 --db DB`). Prints a Markdown
table for docs/estimate.md. Standard library only."""
import json
import subprocess
import sys

TAILS = [0.1, 0.2, 0.25, 0.33, 0.5, 0.75, 1.0]
KS = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0]
ENVS = ["cloud", "local-v2"]


def evaluate(binary, db, env, tail, k, frac):
    args = [binary, "evaluate", "--db", db, "--gpu-only", "--json", "--methods", "step-remain",
            "--runs", f"environment_id={env}", "--tail-fraction", str(tail),
            "--bound-k", str(k), "--at-fraction", str(frac)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    m = json.loads(out)["methods"][0]
    return m["rmse_j"], m["bound_coverage"], m["n"]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, db = sys.argv[1], sys.argv[2]
    frac = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--at-fraction" else 0.25
    rmse = {(e, t): evaluate(binary, db, e, t, 3.0, frac)[0] for e in ENVS for t in TAILS}
    print(f"step-remain from {frac:g} of each run, GPU only; RMSE (kJ) per tail fraction:\n")
    print("| tail fraction | " + " | ".join(f"{t:g}" for t in TAILS) + " |")
    print("|---|" + "---|" * len(TAILS))
    for e in ENVS:
        print(f"| {e} | " + " | ".join(f"{rmse[(e, t)] / 1e3:.2f}" for t in TAILS) + " |")
    print()
    chosen = {}
    print("| chosen on | tail | k (>= 90 % there) | scored on | RMSE | coverage | n |")
    print("|---|---|---|---|---|---|---|")
    for e in ENVS:
        other = [x for x in ENVS if x != e][0]
        tail = min(TAILS, key=lambda t: rmse[(e, t)])
        k = next((k for k in KS if evaluate(binary, db, e, tail, k, frac)[1] >= 0.9), KS[-1])
        r, cov, n = evaluate(binary, db, other, tail, k, frac)
        chosen[e] = (tail, k)
        print(f"| {e} | {tail:g} | {k:g} | {other} | {r / 1e3:.2f} kJ | {100 * cov:.1f} % | {n} |")
    tail = min(c[0] for c in chosen.values())
    k = max(c[1] for c in chosen.values())
    print(f"\ndefaults: tail fraction {tail:g}, bound k {k:g}")


if __name__ == "__main__":
    main()
