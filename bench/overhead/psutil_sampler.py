#!/usr/bin/python3
"""The anchor of the overhead benchmark: a Python sampler as the study ran it.

Per sample it does what the study's psutil sampler did (psutil.Process(pid)
cpu_percent() and memory_info()) plus what its nvidia-smi query did, replaced
by the same NVML calls dlenergy makes, through ctypes on the same (fake)
libnvidia-ml.so.1: power, energy counter, utilization, memory, temperature and
enforced limit per device. Samples are kept in a list (dlenergy keeps them in
a ring), so neither side pays for file I/O here.

Usage: psutil_sampler.py PID HZ SECONDS NVML_LIB
Prints one line: "cpu_s=<process CPU seconds while sampling> samples=<n> wall_s=<s>".
"""
import ctypes
import resource
import sys
import time

import psutil


class Util(ctypes.Structure):
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


class Mem(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong),
                ("used", ctypes.c_ulonglong)]


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    pid, hz, seconds, lib = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    nvml = ctypes.CDLL(lib)
    if nvml.nvmlInit_v2() != 0:
        sys.exit("nvmlInit failed")
    count = ctypes.c_uint()
    nvml.nvmlDeviceGetCount_v2(ctypes.byref(count))
    handles = []
    for i in range(count.value):
        h = ctypes.c_void_p()
        nvml.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h))
        handles.append(h)
    proc = psutil.Process(pid)
    proc.cpu_percent()
    rows = []
    interval = 1.0 / hz
    c0, t0 = cpu_s(), time.monotonic()
    k = 0
    while True:
        deadline = t0 + k * interval
        now = time.monotonic()
        if now - t0 >= seconds:
            break
        if deadline > now:
            time.sleep(deadline - now)
        row = [time.time(), proc.cpu_percent(), proc.memory_info().rss]
        for h in handles:
            mw = ctypes.c_uint()
            mj = ctypes.c_ulonglong()
            u = Util()
            m = Mem()
            temp = ctypes.c_uint()
            lim = ctypes.c_uint()
            nvml.nvmlDeviceGetPowerUsage(h, ctypes.byref(mw))
            nvml.nvmlDeviceGetTotalEnergyConsumption(h, ctypes.byref(mj))
            nvml.nvmlDeviceGetUtilizationRates(h, ctypes.byref(u))
            nvml.nvmlDeviceGetMemoryInfo(h, ctypes.byref(m))
            nvml.nvmlDeviceGetTemperature(h, 0, ctypes.byref(temp))
            nvml.nvmlDeviceGetEnforcedPowerLimit(h, ctypes.byref(lim))
            row += [mw.value / 1000.0, mj.value / 1000.0, u.gpu, u.memory, m.used, temp.value,
                    lim.value]
        rows.append(row)
        k += 1
    c1, t1 = cpu_s(), time.monotonic()
    nvml.nvmlShutdown()
    print(f"cpu_s={c1 - c0:.6f} samples={len(rows)} wall_s={t1 - t0:.6f}")


if __name__ == "__main__":
    main()
