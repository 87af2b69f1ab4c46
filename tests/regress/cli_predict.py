#!/usr/bin/python3
"""End-to-end checks of `dlenergy gpus`, `fit` and `predict` (standard library only)."""
import csv
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks

BIN = os.environ["DLENERGY_BIN"]
SHARED = os.environ.get("DLE_SHARED_DIR", "")
RUNS = os.path.join(SHARED, "data", "seaa2023", "runs.csv")


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


check = Checks()


rc, out, _ = run("gpus", "--help")
check(rc == 0 and "Usage" in out, "gpus --help")
rc, out, _ = run("gpus", "--json")
lst = json.loads(out) if rc == 0 else []
check(rc == 0 and len(lst) >= 30 and all("tdp_w" in g and "source" in g for g in lst), "gpus --json")
rc, out, _ = run("gpus", "--json", "GeForce RTX 3090")
check(rc == 0 and json.loads(out)["name"] == "NVIDIA GeForce RTX 3090", "gpus NAME")
rc, _, err = run("gpus", "V100")
check(rc == 1 and "ambiguous" in err, "gpus ambiguous")
rc, _, _ = run("gpus", "--bogus")
check(rc == 2, "gpus bad option")

with tempfile.TemporaryDirectory() as tmp:
    # A small runs.csv-style table: power grows with GFLOPs and TDP.
    small = os.path.join(tmp, "small.csv")
    with open(small, "w") as f:
        f.write("gpu_model,batch_size,training_size,validation_size,forward_pass_gflop,"
                "architecture,environment_id,avg_gpu_power_w,gpu_energy_mj,trained_epochs\n")
        for i in range(40):
            gpu, env, tdp = (("NVIDIA GeForce RTX 3090", "cloud", 350) if i % 2 else
                             ("NVIDIA GeForce RTX 3070", "local", 220))
            arch, gf = (("a", 1.0), ("b", 4.0))[i % 4 // 2]
            p = 0.3 * tdp + 10 * gf + (i % 5)
            f.write(f"{gpu},32,1000,200,{gf},{arch},{env},{p},{p * 50 / 1e6},{10}\n")
    model = os.path.join(tmp, "m.json")
    rc, out, err = run("fit", "--target", "power", "--model", "all", "--csv", small, "--draws", "10",
                       "-o", model, "--json")
    res = json.loads(out) if rc == 0 else {}
    check(rc == 0 and len(res.get("models", [])) == 4 and os.path.exists(model), f"fit all: {err}")
    check(all(m["cv"]["r2"] > 0.8 for m in res.get("models", [])[:3]), "fit scores")
    rc, _, err = run("fit", "--csv", small, "-o", model)
    check(rc == 2 and "--target" in err, "fit without --target")
    rc, _, _ = run("fit", "--target", "power", "--csv", small, "--db", "x.db", "-o", model)
    check(rc == 2, "fit with --csv and --db")
    rc, _, err = run("fit", "--target", "power", "--csv", os.path.join(tmp, "none.csv"), "-o", model)
    check(rc == 1 and "none.csv" in err, "fit missing csv")

    base = ["predict", "--gflops", "1.0", "--gpu", "NVIDIA GeForce RTX 3090", "--epochs", "10",
            "--batch-size", "32", "--train-size", "1000", "--val-size", "200"]
    rc, _, err = run(*base, "--model", model)
    check(rc == 2 and "--duration-h" in err, "power model needs a duration")
    rc, out, err = run(*base, "--model", model, "--duration-h", "2", "--meta", "architecture=a",
                       "--meta", "environment_id=cloud", "--pue", "1.5", "--carbon-intensity", "200",
                       "--json")
    check(rc == 0, f"predict --json: {err}")
    if rc == 0:
        r = json.loads(out)
        est = {e["method"]: e for e in r["estimates"]}
        check(set(est) == {"pre", "flops", "mlco2", "ga"}, "four estimates")
        # Training rows with architecture a on the 3090 have power 0.3*350 + 10 + 0..4 W.
        pre_w = est["pre"]["energy_j"] / 7200
        check(112 <= pre_w <= 122, f"pre power {pre_w}")
        check(abs(est["mlco2"]["energy_j"] - 350 * 7200) < 1e-6, "mlco2 = TDP x duration")
        fl = 10 * (3 * 1000 + 200) * 1e9 / (35.58e12 * 0.3)
        check(abs(r["flops_duration_s"] - fl) < 1e-9 * fl, "flops duration")
        for e in est.values():
            check(abs(e["facility_kwh"] - e["energy_j"] * 1.5 / 3.6e6) < 1e-12, "PUE applied")
            check(abs(e["emissions_g"] - e["facility_kwh"] * 200) < 1e-9, "emissions")
            check(e["kind"] == "modelled" and e["inputs"], "labelled and explained")
    # An A100 is outside the training rows' TDP/cores/memory: predict says it extrapolates.
    rc, out, err = run(*base[:3], "--gpu", "NVIDIA A100-SXM4-80GB", *base[5:], "--model", model,
                       "--duration-h", "1")
    check(rc == 0 and "extrapolating" in out and "outside the training range" in out and
          "gpu_tdp_w 400" in out,
          f"extrapolation note: {out}")
    rc, _, err = run(*base[:3], "--gpu", "Imaginary 9000", *base[5:])
    check(rc == 1 and "Imaginary 9000" in err, "unknown GPU")
    with open(model) as f:
        text = f.read()
    broken = os.path.join(tmp, "broken.json")
    with open(broken, "w") as f:
        f.write(text.replace('"version":\t1', '"version":\t7'))
    rc, _, err = run(*base, "--model", broken, "--duration-h", "1")
    check(rc == 1 and "version 7" in err, f"damaged model refused: {err}")
    rc, _, _ = run(*base[:2])
    check(rc == 2, "predict missing options")

    if os.path.exists(RUNS):
        ee = os.path.join(tmp, "ee.json")
        rc, _, err = run("fit", "--target", "epoch-energy", "--csv", RUNS, "--draws", "20", "-o", ee)
        check(rc == 0, f"fit runs.csv: {err}")
        # Measured mean epoch energy of cloud vgg16 runs vs PRE's prediction for 50 epochs.
        with open(RUNS) as f:
            rows = [r for r in csv.DictReader(f)
                    if r["environment_id"] == "cloud" and r["architecture"] == "vgg16"]
        meas = sum(float(r["gpu_energy_mj"]) * 1e6 / float(r["trained_epochs"]) for r in rows) / len(rows)
        rc, out, err = run("predict", "--gflops", rows[0]["forward_pass_gflop"], "--gpu",
                           rows[0]["gpu_model"], "--epochs", "50", "--batch-size", "32",
                           "--train-size", "23807", "--val-size", "10203", "--image", "128x128",
                           "--model", ee, "--meta", "architecture=vgg16",
                           "--meta", "environment_id=cloud", "--json")
        if rc == 0:
            pre = [e for e in json.loads(out)["estimates"] if e["method"] == "pre"][0]
            check(abs(pre["energy_j"] / 50 - meas) < 0.1 * meas,
                  f"PRE epoch energy {pre['energy_j'] / 50:.0f} J vs measured mean {meas:.0f} J")
        else:
            check(False, f"predict runs.csv model: {err}")

    # fit --db: a few traces imported into a fresh store with the PRE metadata;
    # one run without gflops is skipped and counted.
    traces = os.path.join(SHARED, "data", "seaa2023", "traces")
    if os.path.isdir(traces):
        db = os.path.join(tmp, "runs.db")
        picks = [("cloud", "mobilenet_v2", "0.06402816", "00"), ("cloud", "mobilenet_v2", "0.06402816", "01"),
                 ("cloud", "vgg16", "2.5", "00"), ("cloud", "vgg16", "2.5", "01"),
                 ("local-v2", "vgg16", "2.5", "00")]
        ok = True
        for env, arch, gf, run_no in picks:
            meta = ["--meta", f"architecture={arch}", "--meta", f"environment={env}",
                    "--meta", "batch_size=32", "--meta", "training_size=23807",
                    "--meta", "validation_size=10203", "--meta", "epochs_total=10"]
            if run_no != "01" or arch != "vgg16":
                meta += ["--meta", f"gflops={gf}"]
            rc, _, err = run("import", "nvidia-smi",
                             os.path.join(traces, env, arch, f"run-{run_no}.gpu.csv.gz"), "--db", db, *meta)
            ok = ok and rc == 0
        check(ok, f"import for fit --db: {err}")
        rc, out, err = run("fit", "--target", "epoch-energy", "--model", "ridge", "--db", db,
                           "--folds", "2", "--draws", "5", "-o", os.path.join(tmp, "db.json"), "--json")
        r = json.loads(out) if rc == 0 else {}
        check(rc == 0 and r.get("rows") == 4 and r.get("skipped_runs") == 1, f"fit --db: {err} {r}")
        # --group-by with --db: groups from run metadata; gpu_model is the gpu_name
        # metadata (cloud: RTX 3090, local-v2: RTX 3070), so two held-out GPUs.
        for key, groups in (("gpu_model", {3: 1, 1: 1}), ("architecture", {2: 2})):
            rc, out, err = run("fit", "--target", "epoch-energy", "--model", "ridge", "--db", db,
                               "--group-by", key, "--folds", "2", "--draws", "5",
                               "-o", os.path.join(tmp, "dbg.json"), "--json")
            r = json.loads(out) if rc == 0 else {}
            pg = r.get("models", [{}])[0].get("per_group", [])
            sizes = {}
            for g in pg:
                sizes[g["rows"]] = sizes.get(g["rows"], 0) + 1
            check(rc == 0 and r["models"][0]["cv"].get("group_by") == key and sizes == groups,
                  f"fit --db --group-by {key}: {err} {pg}")
            if rc == 0:
                with open(os.path.join(tmp, "dbg.json")) as f:
                    check(json.load(f)["cv"]["group_by"] == key, "model records the grouping")
        rc, out, err = run("fit", "--target", "epoch-energy", "--model", "ridge", "--db", db,
                           "--group-by", "nosuchkey", "--draws", "5", "-o", os.path.join(tmp, "x.json"))
        check(rc != 0 and "nosuchkey" in err and "run " in err and not out.strip().endswith("json"),
              f"fit --db --group-by with a key no run has: {rc} {err}")

    onnx = os.path.join(SHARED, "data", "onnx", "resnet18-224.onnx")
    if os.path.exists(onnx):
        rc, out, err = run("predict", "--onnx", onnx, "--gpu", "T4", "--epochs", "1",
                           "--batch-size", "32", "--train-size", "100", "--val-size", "0", "--json")
        g = json.loads(out)["inputs"]["gflops"] if rc == 0 else 0
        # torchvision: resnet18 1.81 GMACs per image -> 3.63 GFLOP.
        check(rc == 0 and abs(g - 3.63) < 0.05 * 3.63, f"--onnx GFLOPs {g}: {err}")

print(f"{check.failed} failures")
sys.exit(1 if check.failed else 0)
