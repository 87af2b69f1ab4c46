#!/usr/bin/python3
"""The pandas side of the import benchmark: the same pipeline as bench_import, written
the way a data scientist would with pandas (Debian's python3-pandas): read_csv of the
gzip logs with unit-stripping converters, to_datetime, merge_asof of the CPU samples
onto the GPU rows (nearest within 1 s), drop 3 rows at each end, numpy trapezoid.
Prints one CSV line per run and "elapsed_s" (after the imports) on stderr."""
import sys
import time

import numpy as np
import pandas as pd

t0 = time.perf_counter()
root = sys.argv[1]
runs = pd.read_csv(f"{root}/runs.csv", keep_default_na=False)


def number(s):
    s = s.strip()
    if not s or s.startswith("["):
        return np.nan
    return float(s.split(" ")[0])


GPU_NAMES = ["timestamp", "name", "util", "mem_util", "mem_total", "mem_used", "power",
             "max_power", "temp"]
conv = {c: number for c in GPU_NAMES[2:]}
print("environment_id,architecture,run,samples,gpu_energy_j,duration_s,avg_gpu_power_w,ram_energy_j")
n_samples = 0
for r in runs.itertuples():
    if not r.gpu_trace:
        continue
    gpu = pd.read_csv(f"{root}/{r.gpu_trace}", names=GPU_NAMES, header=0, converters=conv,
                      skipinitialspace=True)
    gpu = gpu.iloc[3:len(gpu) - 3]                 # the study's 3 s padding (cut line included)
    gpu = gpu.dropna(subset=["power"])
    gpu["ts"] = pd.to_datetime(gpu["timestamp"].str.replace("/", "-", regex=False),
                               format="%Y-%m-%d %H:%M:%S.%f")
    cpu = pd.read_csv(f"{root}/{r.cpu_trace}")
    cpu.columns = ["timestamp", "cpu", "rss_mib", "temp"]
    cpu["ts"] = pd.to_datetime(cpu["timestamp"])  # ISO 8601, fraction sometimes absent
    m = pd.merge_asof(gpu.sort_values("ts"), cpu[["ts", "cpu", "rss_mib"]].sort_values("ts"),
                      on="ts", direction="nearest", tolerance=pd.Timedelta("1s"))
    t = (m["ts"] - m["ts"].iloc[0]).dt.total_seconds().to_numpy()
    p = m["power"].to_numpy()
    e = float(np.sum(np.diff(t) * (p[1:] + p[:-1]) / 2))
    ram = (0.375 * m["rss_mib"] / 1024).to_numpy()
    ok = ~(np.isnan(ram[1:]) | np.isnan(ram[:-1]))
    e_ram = float(np.sum((np.diff(t) * (ram[1:] + ram[:-1]) / 2)[ok]))
    n_samples += len(m)
    print(f"{r.environment_id},{r.architecture},{r.run},{len(m)},{e!r},{t[-1] - t[0]!r},"
          f"{float(np.mean(p))!r},{e_ram!r}")
print(f"samples {n_samples}\nelapsed_s {time.perf_counter() - t0:.6f}", file=sys.stderr)
