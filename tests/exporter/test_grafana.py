#!/usr/bin/python3
"""Issue 12: the Grafana dashboard data/grafana/dlenergy.json against the exporter.
A real `dlenergy run --metrics-listen 127.0.0.1:0` with two fake NVML GPUs serves
/metrics; every metric a panel or variable queries must be a family the exporter
serves (its # TYPE lines), with the labels the query uses (by (...), {label=~...},
legend {{label}}); every expression must parse as PromQL (promtool check rules);
panels have unique ids, a Prometheus datasource and at least one target."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, fake_nvml_lib  # noqa: E402

BIN = os.environ["DLENERGY_BIN"]
SRC = os.environ.get("DLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
check = Checks()
FAKE = fake_nvml_lib()
dash = json.load(open(os.path.join(SRC, "data", "grafana", "dlenergy.json")))

# ---- what the dashboard asks for ----
exprs = []  # (where, expr, legend)
ids = []
for p in dash["panels"]:
    ids.append(p["id"])
    check(p.get("datasource", {}).get("type") == "prometheus", f"panel {p['id']} datasource")
    check(len(p.get("targets", [])) > 0, f"panel {p['id']} has no target")
    for t in p.get("targets", []):
        exprs.append((f"panel {p['id']} {t['refId']}", t["expr"], t.get("legendFormat", "")))
for v in dash["templating"]["list"]:
    if v["type"] == "query":
        m = re.match(r"label_values\((.*),\s*(\w+)\)$", v["query"]["query"])
        check(m is not None, f"variable {v['name']}: {v['query']}")
        if m:
            exprs.append((f"variable {v['name']}", m.group(1), "{{%s}}" % m.group(2)))
check(len(ids) == len(set(ids)), f"panel ids not unique: {ids}")

# ---- what the exporter serves ----
# A training that reports epochs, so that the live projections are served too.
TRAIN = ("import sys, time; sys.path.insert(0, %r); import dlenergy_markers as dm\n"
         "dm.epochs_total(50)\n"
         "for e in range(50):\n    dm.epoch_begin(e); time.sleep(0.2); dm.epoch_end(e)\n"
         % os.path.join(SRC, "clients", "python"))
with tempfile.TemporaryDirectory() as tmp:
    script = os.path.join(tmp, "nvml.txt")
    with open(script, "w") as f:
        f.write("devices 2\npower 0 0 150000\npower 1 0 50000\nprocess 0 children\n")
    env = dict(os.environ, DLENERGY_NVML_LIB=FAKE, FAKE_NVML_SCRIPT=script)
    proc = subprocess.Popen([BIN, "run", "--db", os.path.join(tmp, "g.db"), "--cpu-tdp", "100",
                             "--metrics-listen", "127.0.0.1:0", "--interval", "0.05", "--",
                             "/usr/bin/python3", "-c", TRAIN],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        port = int(re.search(r"metrics on port (\d+)", line).group(1))
        body = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ("dlenergy_gpu_power_watts{" in body and
                                                   "dlenergy_projected_energy_joules{" in body):
            time.sleep(0.3)
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
                body = r.read().decode()
    finally:
        proc.terminate()
        proc.communicate(timeout=60)

families = set(re.findall(r"^# TYPE (\w+) \w+$", body, re.M))
labels = {}
for name, lab in re.findall(r"^(\w+)\{([^}]*)\}", body, re.M):
    labels.setdefault(name, set()).update(re.findall(r'(\w+)="', lab))
check(len(families) >= 10, f"exporter families: {sorted(families)}")

used_families = set()
for where, e, legend in exprs:
    metrics = set(re.findall(r"\b(dlenergy_\w+)", e))
    check(metrics, f"{where}: no dlenergy metric in {e}")
    for m in metrics:
        used_families.add(m)
        check(m in families, f"{where}: {m} is not served by the exporter")
    want = set(re.findall(r"(\w+)\s*=~?\s*\"", e))
    for grp in re.findall(r"by\s*\(([^)]*)\)", e):
        want.update(x.strip() for x in grp.split(",") if x.strip())
    want.update(re.findall(r"\{\{(\w+)\}\}", legend))
    have = set().union(*(labels.get(m, set()) for m in metrics)) if metrics else set()
    for lab in want:
        check(lab in have, f"{where}: label '{lab}' not on {sorted(metrics)} (has {sorted(have)})")
missing = families - used_families
check(not missing, f"families the dashboard does not show: {sorted(missing)}")

# ---- PromQL syntax ----
promtool = shutil.which("promtool")
if promtool:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}",
         "expr": e.replace("$__rate_interval", "1m").replace("$host", ".*").replace("$run_id", ".*")}
        for i, (_, e, _) in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(rules, f)  # JSON is YAML
    r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    check(r.returncode == 0, f"promtool check rules: {r.stdout} {r.stderr}")
else:
    print("note: promtool not installed; PromQL syntax not checked")

print(f"{check.passed} passed, {check.failed} failed ({len(exprs)} expressions, "
      f"{len(families)} exporter families)")
sys.exit(1 if check.failed else 0)
