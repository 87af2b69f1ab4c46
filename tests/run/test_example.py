"""examples/train.py (the demo's real PyTorch training) under `dlenergy run`, shrunk to
two tiny epochs: its markers reach the store. Skipped (77) without python3-torch."""
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip

BIN = os.environ.get("DLENERGY_BIN", "")
SRC = os.environ.get("DLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    if subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode:
        skip("SKIP: python3-torch is not installed")
    if not BIN:
        skip("SKIP: DLENERGY_BIN not set")
    check = Checks(prefix="FAILED:")

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "demo.db")
        env = dict(os.environ, DLENERGY_NVML_LIB="/nonexistent/libnvidia-ml.so.1")
        p = subprocess.run([BIN, "run", "--db", db, "--meta", "environment=test", "--",
                            "/usr/bin/python3", os.path.join(SRC, "examples", "train.py"),
                            "--epochs", "2", "--train-size", "256", "--val-size", "64",
                            "--threads", "1"], capture_output=True, text=True, env=env,
                           timeout=600)
        check(p.returncode == 0, "exit status %d: %s" % (p.returncode, p.stderr[-2000:]))
        check("epoch 2/2" in p.stdout, "training output: %r" % p.stdout)
        c = sqlite3.connect(db)
        run_id, planned, status = c.execute(
            "select id, epochs_planned, status from runs").fetchone()
        check(planned == 2 and status == 1, "planned %s status %s" % (planned, status))
        meta = dict(c.execute("select key, value from meta where run_id=?", (run_id,)))
        for k, v in (("architecture", "smallcnn"), ("dataset", "synthetic"),
                     ("batch_size", "64"), ("image", "32x32"), ("training_size", "256"),
                     ("environment", "test")):
            check(meta.get(k) == v, "meta %s = %r" % (k, meta.get(k)))
        ep = c.execute("select idx, t_begin_s, t_end_s, metrics from epochs where run_id=? "
                       "order by idx", (run_id,)).fetchall()
        check([e[0] for e in ep] == [1, 2], "epochs %r" % ep)
        for e in ep:
            check(e[1] is not None and e[2] is not None and e[1] < e[2], "epoch times %r" % (e,))
            check("loss=" in e[3] and "val_accuracy=" in e[3], "metrics %r" % e[3])
        c.close()
    print("%d passed, %d failed" % (check.passed, check.failed))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
