"""Cross-checks the per-node output shapes of `dlenergy flops --per-node` with
ONNX's own shape inference (Debian python3-onnx) on shape-heavy graphs.
Skips (77) when python3-onnx or the shared models are absent."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import skip

try:
    import onnx
    from onnx import shape_inference
except ImportError:
    skip("python3-onnx not installed: skipped")

BIN = os.environ["DLENERGY_BIN"]
ONNX = os.path.join(os.environ.get("DLE_SHARED_DIR", ""), "data", "onnx")
models = ["vit_b_16-224.onnx", "shufflenet_v2_x1_0-224.onnx", "inception_v3-299.onnx",
          "convnext_tiny-224.onnx", "densenet121-224.onnx"]
if not os.path.exists(os.path.join(ONNX, models[0])):
    skip("shared ONNX models absent: skipped")

bad = 0
for m in models:
    path = os.path.join(ONNX, m)
    model = shape_inference.infer_shapes(onnx.load(path, load_external_data=False))
    ref = {}
    for vi in list(model.graph.value_info) + list(model.graph.output):
        if not vi.type.tensor_type.HasField("shape"):
            continue  # onnx could not infer it (e.g. Slice with computed bounds)
        dims = vi.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            ref[vi.name] = [d.dim_value for d in dims]
    first_out = {n.name: n.output[0] for n in model.graph.node if n.name}
    out = subprocess.run([BIN, "flops", "--json", "--per-node", path], capture_output=True,
                         text=True, check=True).stdout
    compared = 0
    for node in json.loads(out)["per_node"]:
        name = first_out.get(node["name"])
        if name is None or name not in ref:
            continue
        compared += 1
        if node["output_shape"] != ref[name]:
            bad += 1
            print("%s: node %s: ours %s, onnx %s" % (m, node["name"], node["output_shape"], ref[name]))
    print("%s: %d node shapes compared with onnx.shape_inference" % (m, compared))
    if compared < len(model.graph.node) // 2:  # guard against comparing nothing
        print("%s: too few shapes to compare" % m)
        bad += 1
sys.exit(1 if bad else 0)
