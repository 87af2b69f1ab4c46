"""bench/flops: the ONNX counter against onnx.load + a Python count, same run.
Reports wall time and peak RSS (of each child process, via wait4) for vit_b_16
and, to show that memory stays bounded, a synthetic model that embeds its
weights (BIG_MIB of float32 raw_data, written to a temp dir and deleted).
Peak RSS is VmHWM read by each measured process itself (ru_maxrss of a child
would include the forked parent's pages). The big model is written by a child
process so that this script stays small.
Usage: compare.py BUILD_DIR ONNX_DIR REPS BIG_MIB
       compare.py --make-big PATH MIB"""
import json
import os
import subprocess
import sys
import tempfile
import time



def make_big(path, mib):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    width = 4096
    layers = max(1, mib * 2**20 // (width * width * 4))
    nodes, inits = [], []
    for i in range(layers):
        w = np.random.default_rng(i).random((width, width), dtype=np.float32)
        inits.append(numpy_helper.from_array(w, "w%d" % i))
        nodes.append(helper.make_node("MatMul", ["h%d" % i, "w%d" % i], ["h%d" % (i + 1)]))
    g = helper.make_graph(nodes, "big",
                          [helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, width])],
                          [helper.make_tensor_value_info("h%d" % layers, TensorProto.FLOAT, None)],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    print(layers * width * width)


if sys.argv[1] == "--make-big":
    make_big(sys.argv[2], int(sys.argv[3]))
    sys.exit(0)
build, onnx_dir, reps, big_mib = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
here = os.path.dirname(os.path.abspath(__file__))
bench = os.path.join(build, "bench", "flops", "bench_flops")
cli = os.path.join(build, "src", "cli", "dlenergy")


def child(argv):
    """Runs argv, returns (stdout, wall s, peak RSS KiB of that child alone)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit("%s failed: %s" % (argv[0], err.decode()))
    return out.decode(), wall, ru.ru_maxrss


def row(name, wall, rss, extra=""):
    print("%-46s %11.6f s %9.1f MiB  %s" % (name, wall, rss / 1024, extra))


def compare(model):
    path = os.path.join(onnx_dir, model) if not os.path.isabs(model) else model
    size = os.path.getsize(path)
    print("\n== %s (%.1f MiB file)" % (os.path.basename(path), size / 2**20))
    out, wall, rss = child([bench, path, str(reps)])
    ours = json.loads(out)
    row("library dle_onnx_analyze (median of %d)" % reps, ours["median_s"], ours["peak_rss_kib"],
        "MACs %d params %d" % (ours["macs"], ours["params"]))
    cli_wall = None
    if os.path.exists(cli):
        walls = []
        for _ in range(reps):
            _, w, crss = child([cli, "flops", "--json", path])
            walls.append(w)
        walls.sort()
        cli_wall = walls[len(walls) // 2]
        row("dlenergy flops --json (process wall, median)", cli_wall, crss,
            "(RSS: ru_maxrss, includes the forked parent)")
    try:
        out, pwall, prss = child(["/usr/bin/python3", os.path.join(here, "py_count.py"), path,
                                  str(reps)])
    except SystemExit as e:
        print("python anchor unavailable:", e)
        return
    py = json.loads(out)
    row("onnx.load+infer_shapes+count (median)", py["median_s"], py["peak_rss_kib"],
        "MACs %d params %d (%d conv/matmul without shapes)" %
        (py["macs"], py["params"], py["matmul_conv_without_shapes"]))
    one = py["import_s"] + py["median_s"]
    row("python: import onnx + one median count", one, py["peak_rss_kib"])
    print("ratio python/library time %.1fx, peak RSS %.1fx" %
          (py["median_s"] / ours["median_s"], py["peak_rss_kib"] / ours["peak_rss_kib"]))
    if cli_wall:
        print("ratio python (import + one count) / dlenergy flops process time %.1fx" %
              (one / cli_wall))


compare("vit_b_16-224.onnx")
compare("squeezenet1_1-224-full.onnx")
if big_mib > 0:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "embedded-%dMiB.onnx" % big_mib)
        try:
            expect = int(subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--make-big",
                                         path, str(big_mib)], check=True, capture_output=True,
                                        text=True).stdout)
        except (subprocess.CalledProcessError, ValueError) as e:
            print("could not write the embedded-weights model (numpy/onnx missing?):", e)
            sys.exit(0)
        compare(path)
        print("expected MACs = params = %d" % expect)
