"""Python anchor: onnx.load(load_external_data=False) + onnx.shape_inference and a
MAC count of Conv/ConvTranspose/Gemm/MatMul from the inferred shapes. Prints one
JSON line with the time of the load+infer+count and the peak RSS."""
import json
import resource
import sys
import time

t0 = time.perf_counter()
import onnx  # noqa: E402  (import time counted: it is part of what a user waits for)
from onnx import shape_inference  # noqa: E402

t_import = time.perf_counter() - t0
path, reps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
times = []
for _ in range(reps):
    t1 = time.perf_counter()
    m = shape_inference.infer_shapes(onnx.load(path, load_external_data=False))
    g = m.graph
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    params = 0
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
        if t.data_type in (1, 10, 11, 16):
            n = 1
            for d in t.dims:
                n *= d
            params += n
    macs, missing = 0, 0

    def prod(xs):
        p = 1
        for x in xs:
            p *= x
        return p

    for n in g.node:
        if n.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        ins = [shapes.get(i) for i in n.input[:2]]
        out = shapes.get(n.output[0])
        if any(s is None or None in s for s in ins) or out is None or None in out:
            missing += 1
            continue
        a, w = ins
        if n.op_type == "Conv":
            macs += prod(out) * prod(w[1:])
        elif n.op_type == "ConvTranspose":
            macs += prod(a) * prod(w[1:])
        elif n.op_type == "Gemm":
            ta = any(x.name == "transA" and x.i for x in n.attribute)
            macs += prod(out) * (a[0] if ta else a[1])
        else:
            macs += prod(out) * a[-1]
    times.append(time.perf_counter() - t1)
times.sort()


def vm_hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


print(json.dumps({"median_s": times[len(times) // 2], "import_s": t_import, "macs": macs,
                  "params": params, "matmul_conv_without_shapes": missing,
                  "peak_rss_kib": vm_hwm_kib(),
                  "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
