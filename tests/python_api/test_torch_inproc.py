"""A real PyTorch training (Debian's python3-torch, CPU) recorded in-process with
dlenergy.track: epochs through run.epoch_begin/epoch_end and through the
dlenergy_markers helper (as the Keras/Lightning callbacks send them, no wrapper),
a named validation window per epoch, metadata; the run read back with
dlenergy.run/runs/samples and checked against `dlenergy show --json` of the same run;
the decorator form records each call; estimate() answers for the stored run."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip  # noqa: E402

try:
    import torch
except ImportError:
    skip("SKIP: python3-torch missing")

import dlenergy  # noqa: E402  (PYTHONPATH=build/python)
import dlenergy_markers as dm  # noqa: E402

check = Checks()
exe = os.environ["DLENERGY_BIN"]
tmp = tempfile.mkdtemp(prefix="dle-pytorch-")
db = os.path.join(tmp, "runs.db")
os.environ["DLENERGY_NVML_LIB"] = os.path.join(tmp, "no-nvml.so")  # no GPU here: absent
torch.manual_seed(0)
torch.set_num_threads(1)

X = torch.randn(512, 16)
y = (X[:, :4].sum(dim=1) > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = torch.nn.CrossEntropyLoss()
EPOCHS = 3

with dlenergy.track(db=db, country="ES", meta={"architecture": "mlp", "batch_size": 64},
                    interval=0.05) as run:
    check(dlenergy.active_run() is run, "active_run() is the run")
    check(dm.enabled(), "dlenergy_markers sees the in-process run")
    run.epochs_total(EPOCHS)
    for epoch in range(1, EPOCHS + 1):
        if epoch == 2:
            dm.epoch_begin(epoch)  # the helper (what the callbacks call)
        else:
            run.epoch_begin(epoch)
        # at least 40 passes and 0.3 s an epoch, so the 0.05 s sampler has samples to
        # take however fast this machine trains the tiny model
        passes, t_stop = 0, time.monotonic() + 0.3
        while passes < 40 or time.monotonic() < t_stop:
            passes += 1
            for i in range(0, 512, 64):
                opt.zero_grad()
                loss = loss_fn(model(X[i:i + 64]), y[i:i + 64])
                loss.backward()
                opt.step()
        with run.window("validation") as w:
            with torch.no_grad():
                acc = (model(X).argmax(dim=1) == y).float().mean()
        check(w.energy_j is None or w.energy_j >= 0, "window energy so far %r" % w.energy_j)
        if epoch == 2:
            dm.epoch_end(epoch, loss=loss, accuracy=acc)  # torch scalars
        else:
            run.epoch_end(epoch, loss=loss, accuracy=acc)
    dm.meta(optimizer="sgd")
check(dlenergy.active_run() is None, "no active run after the block")
s = run.summary
check(isinstance(s, dict) and s.get("recorded") is True, "summary recorded: %r" % (s,))
check(s["status"] == "complete", "status %s" % s["status"])
check(s["epochs"] == EPOCHS and s["epochs_planned"] == EPOCHS, "epochs %s/%s" % (
    s["epochs"], s["epochs_planned"]))
check(len(s["windows"]) == EPOCHS and all(x["name"] == "validation" for x in s["windows"]),
      "windows %r" % s["windows"])
check(s["meta"].get("architecture") == "mlp" and s["meta"].get("batch_size") == "64",
      "meta %r" % s["meta"])
check(s["meta"].get("optimizer") == "sgd", "meta from dlenergy_markers")
check(s["meta"].get("country") == "ES" and "Spain" in s.get("carbon_source", ""),
      "country: %r" % s.get("carbon_source"))
check(s["source"] == "python" and s["samples"] > 5, "source/samples %s %s" % (
    s["source"], s["samples"]))
check(s["energy_j"]["cpu"] is not None and s["energy_j"]["cpu"] > 0,
      "modelled CPU energy %r" % s["energy_j"]["cpu"])
check(s["components"]["cpu"]["figure"] == "modelled", "CPU figure is modelled")
check(s["epoch_list"][1]["metrics"].startswith("loss="), "epoch 2 metrics %r" %
      s["epoch_list"][1]["metrics"])
check(s["emissions_g"] is not None and s["emissions_g"] > 0, "emissions %r" % s["emissions_g"])

# Read back: `dlenergy show --json` of the same run has the same figures.
p = subprocess.run([exe, "show", "--json", "--db", db, str(s["run_id"])], capture_output=True,
                   text=True)
check(p.returncode == 0, "show: %s" % p.stderr)
js = json.loads(p.stdout) if p.returncode == 0 else {}
for key in ("run_id", "status", "samples", "duration_s", "epochs", "energy_j", "components",
            "total_energy_j", "facility_energy_j", "emissions_g", "epoch_list", "windows",
            "meta", "gpus", "carbon_source", "scope"):
    check(s.get(key) == js.get(key), "summary[%s] %r != show --json %r" % (
        key, s.get(key), js.get(key)))
again = dlenergy.run(s["run_id"], db=db)
check(again.get("total_energy_j") == js.get("total_energy_j"), "dlenergy.run() figure")
check(again.get("windows") == js.get("windows"), "dlenergy.run() windows")

# runs(): a DataFrame (pandas is installed for the tests) with a filter.
df = dlenergy.runs(db, architecture="mlp")
check(len(df) == 1 and int(df["run_id"].iloc[0]) == s["run_id"], "runs(filter)")
check(df["total_energy_j"].iloc[0] == js["total_energy_j"], "runs() total")
check(len(dlenergy.runs(db, architecture="none-such")) == 0, "runs(filter) no match")
sm = dlenergy.samples(db, s["run_id"])
check(len(sm) == s["samples"], "samples() rows %d vs %d" % (len(sm), s["samples"]))
check(list(sm["t_s"]) == sorted(sm["t_s"]), "samples in time order")

# The decorator records each call.
@dlenergy.track(db=db, meta={"phase": "eval"})
def evaluate(n):
    r = dlenergy.active_run()
    with r.window("forward"):
        with torch.no_grad():
            for _ in range(n):
                model(X)
    return n


check(evaluate(50) == 50 and evaluate(10) == 10, "decorated function returns its value")
check(evaluate.last_summary and evaluate.last_summary["meta"].get("phase") == "eval",
      "decorator summary")
check(len(dlenergy.runs(db, phase="eval")) == 2, "two decorated calls, two runs")

# estimate(): a projection of the stored run (modelled), or the library's reason.
try:
    est = dlenergy.estimate(s["run_id"], method="carbontracker", db=db)
    check(est["figure"] == "modelled" and est["total_j"] > 0, "estimate %r" % est)
except dlenergy.Error as exc:
    check(False, "estimate raised %s" % exc)

print("%d passed, %d failed" % (check.passed, check.failed))
subprocess.run(["rm", "-rf", tmp])
sys.exit(1 if check.failed else 0)
