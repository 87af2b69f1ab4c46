#!/usr/bin/env python3
"""Builds data/pre/training.csv, the table the default PRE models are fitted on, from
the shared data only (nothing else is read, so that evaluations on other public
measurements stay honest):

  ../shared/data/seaa2023/runs.csv   del Rey et al., CC BY 4.0 (369 runs, 3 GPUs)
  ../shared/data/zeus2023/summary_power_{p100,v100}.csv
                                     Zeus NSDI'23 (You, Chung, Chowdhury), Apache-2.0
  data/pre/workloads.csv             the facts about each workload (sizes, FLOPs)

One output row per input row (identical configurations are kept, not merged).
Standard library only; the output is byte-for-byte reproducible.

usage: pre_training_table.py [--shared DIR] [-o data/pre/training.csv]
"""
import argparse
import csv
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The Zeus summaries name no board; their largest power limit (250 W) is the PCIe
# boards' maximum (zeus2023/README.md).
ZEUS_GPUS = {"p100": "Tesla P100-PCIE-16GB", "v100": "Tesla V100-PCIE-16GB"}
SEAA_DATASET = "chess-square-occupancy"

COLS = ["source_dataset", "gpu_model", "workload", "dataset", "architecture", "optimizer",
        "environment",
        "batch_size", "training_size", "validation_size", "forward_pass_gflop", "image_h",
        "image_w", "power_limit_w", "avg_gpu_power_w", "time_per_epoch_s", "epoch_energy_j"]


def fmt(x):
    return repr(float(x)) if isinstance(x, float) else str(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "data", "pre", "training.csv"))
    a = ap.parse_args()
    wl = {}
    with open(os.path.join(ROOT, "data", "pre", "workloads.csv"), newline="") as f:
        for r in csv.DictReader(f):
            wl[(r["dataset"], r["network"])] = r
    rows = []
    with open(os.path.join(a.shared, "seaa2023", "runs.csv"), newline="") as f:
        for r in csv.DictReader(f):
            w = wl[(SEAA_DATASET, r["architecture"])]
            epochs = int(r["trained_epochs"])
            energy = float(r["gpu_energy_mj"]) * 1e6 / epochs
            rows.append(["seaa2023", r["gpu_model"], f"{SEAA_DATASET}/{r['architecture']}",
                         SEAA_DATASET, r["architecture"], "",
                         r["environment_id"], r["batch_size"], r["training_size"],
                         r["validation_size"], r["forward_pass_gflop"], w["image_h"], w["image_w"],
                         "", r["avg_gpu_power_w"],
                         fmt(float(r["training_duration_h"]) * 3600 / epochs), fmt(energy)])
    for key, gpu in ZEUS_GPUS.items():
        with open(os.path.join(a.shared, "zeus2023", f"summary_power_{key}.csv"), newline="") as f:
            for r in csv.DictReader(f):
                w = wl[(r["dataset"], r["network"])]
                p, t = float(r["average_power"]), float(r["time_per_epoch"])
                rows.append(["zeus2023", gpu, f"{r['dataset']}/{r['network']}", r["dataset"],
                             r["network"], r["optimizer"], "",
                             r["batch_size"], w["training_size"], w["validation_size"],
                             w["forward_pass_gflop"], w["image_h"], w["image_w"],
                             r["power_limit"], r["average_power"], r["time_per_epoch"],
                             fmt(p * t)])
    out = io.StringIO()
    wr = csv.writer(out, lineterminator="\n")
    wr.writerow(COLS)
    wr.writerows(rows)
    tmp = a.output + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write(out.getvalue())
    os.replace(tmp, a.output)
    print(f"{a.output}: {len(rows)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
