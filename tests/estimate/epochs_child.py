"""A training stand-in for test_estimate_e2e.py: sends epoch markers at a fixed pace.
Usage: epochs_child.py N EPOCH_SECONDS"""
import os
import sys
import time

n, epoch_s = int(sys.argv[1]), float(sys.argv[2])
fd = int(os.environ["DLENERGY_MARKER_FD"])
out = os.fdopen(fd, "w", buffering=1)
out.write(f"epochs_total {n}\n")
start = time.monotonic()
for e in range(n):
    out.write(f"epoch_begin {e}\n")
    deadline = start + (e + 1) * epoch_s
    while time.monotonic() < deadline:
        time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
    out.write(f"epoch_end {e} loss={1.0 / (e + 1):.3f}\n")
out.close()
