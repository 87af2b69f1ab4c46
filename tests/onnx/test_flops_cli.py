"""End-to-end checks of `dlenergy flops`: usage errors, clear failures on bad
files, and the JSON/table output on the shared torchvision exports."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

BIN = os.environ["DLENERGY_BIN"]
SHARED = os.environ.get("DLE_SHARED_DIR", "")
ONNX = os.path.join(SHARED, "data", "onnx")
check = Checks(file=sys.stderr)


def run(*args):
    p = subprocess.run([BIN, "flops", *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


rc, out, err = run("--help")
check(rc == 0 and "Usage: dlenergy flops" in out, "--help exits 0 with usage")
rc, out, err = run()
check(rc == 2 and "--help" in err, "no model is a usage error")
rc, out, err = run("--bogus", "x.onnx")
check(rc == 2, "unknown option is a usage error")
rc, out, err = run("--input", "x=0x3", "x.onnx")
check(rc == 2 and "dims" in err, "bad --input is a usage error")
rc, out, err = run("/nonexistent/m.onnx")
check(rc == 1 and "No such file" in err, "missing file fails clearly: " + err)

with tempfile.TemporaryDirectory() as tmp:
    junk = os.path.join(tmp, "junk.onnx")
    with open(junk, "wb") as f:
        f.write(bytes(range(256)) * 8)
    rc, out, err = run(junk)
    check(rc == 1 and "ONNX" in err and out == "", "random bytes fail clearly: " + err)
    empty = os.path.join(tmp, "empty.onnx")
    open(empty, "wb").close()
    rc, out, err = run(empty)
    check(rc == 1 and "empty" in err, "empty file fails clearly: " + err)
    src = os.path.join(ONNX, "resnet18-224.onnx")
    if os.path.exists(src):
        data = open(src, "rb").read()
        for cut in (len(data) // 3, len(data) // 2, len(data) - 7):
            t = os.path.join(tmp, "trunc.onnx")
            with open(t, "wb") as f:
                f.write(data[:cut])
            rc, out, err = run(t)
            check(rc == 1 and err.strip() != "", "truncated at %d fails clearly: %s" % (cut, err))

if not os.path.exists(os.path.join(ONNX, "alexnet-224.onnx")):
    print("shared ONNX models absent: skipped the model checks")
else:
    rc, out, err = run("--json", os.path.join(ONNX, "alexnet-224.onnx"))
    check(rc == 0, "alexnet --json runs: " + err)
    d = json.loads(out)
    for k in ("macs", "flops", "params", "training_flops_per_sample", "unknown_ops", "per_op_type"):
        check(k in d, "JSON has " + k)
    check(d["flops"] == 2 * d["macs"], "flops = 2 x macs")
    check(d["params"] == 61100840, "alexnet params")
    check(d["unknown_ops"] == {}, "no unknown ops")
    check(abs(d["training_flops_per_sample"] - 3 * d["flops"]) < 1, "training = 3 x forward")
    check(sum(e["macs"] for e in d["per_op_type"]) == d["macs"], "per-op MACs add up")
    check(d["per_op_type"][0]["op_type"] == "Conv", "Conv leads alexnet's table")
    check(d["kind"] == "modelled", "figures say modelled")
    rc, out, err = run("--json", "--per-node", os.path.join(ONNX, "alexnet-224.onnx"))
    nodes = json.loads(out)["per_node"]
    check(len(nodes) == 20, "alexnet has 20 nodes")
    check(nodes[-1]["output_shape"] == [1, 1000], "last node outputs 1x1000")
    rc, out, err = run("--per-node", os.path.join(ONNX, "alexnet-224.onnx"))
    check(rc == 0 and "modelled" in out and "Conv" in out and "1x1000" in out, "table output")
    r1 = json.loads(run("--json", os.path.join(ONNX, "resnet18-224.onnx"))[1])
    r4 = json.loads(run("--json", "-i", "input=4x3x224x224", os.path.join(ONNX, "resnet18-224.onnx"))[1])
    check(r4["macs"] == 4 * r1["macs"] and r4["batch"] == 4, "--input scales the batch")
    rc, out, err = run("-i", "nope=1x3x224x224", os.path.join(ONNX, "resnet18-224.onnx"))
    check(rc == 1 and "nope" in err, "--input with an unknown name fails clearly")

print("%d failures" % check.failed)
sys.exit(1 if check.failed else 0)
