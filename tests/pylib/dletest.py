"""Shared pieces of the Python end-to-end tests (plain stdlib).

The scripts run from CTest with the build folder as their working directory; they
import this module through sys.path from their own location:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
"""
import os
import sys


class Checks:
    """A counter of passed and failed checks: `check(cond, what)` counts `cond` and, when
    it is false, prints `prefix what` to `file` (None: standard output)."""

    def __init__(self, file=None, prefix="FAIL:"):
        self.file = file
        self.prefix = prefix
        self.passed = 0
        self.failed = 0

    def __call__(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(self.prefix, what, file=self.file)


def skip(why, file=None):
    """Prints `why` (to `file`; None: standard output) and exits 77, CTest's "skipped"."""
    print(why, file=file)
    sys.exit(77)


def fake_nvml_lib():
    """The fake NVML library CTest names in DLE_FAKE_NVML_LIB; skips (77) when it is not built."""
    fake = os.environ.get("DLE_FAKE_NVML_LIB", "")
    if not fake or not os.path.exists(fake):
        skip("SKIP: fake NVML not built")
    return fake
