"""A Jupyter notebook executed headless (Debian's python3-nbclient + ipykernel): one
cell tracks a computation with dlenergy.track, the next reads the run's samples back
and renders a matplotlib plot of its power. Checked: every cell ran without error, the
plot came out as a PNG, and the stored run has the figure the notebook printed."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip  # noqa: E402

try:
    import nbformat
    from nbclient import NotebookClient
    import ipykernel  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError as exc:
    skip("SKIP: notebook packages missing (%s): scripts/install-deps.sh --test" % exc)

check = Checks()
exe = os.environ["DLENERGY_BIN"]
tmp = tempfile.mkdtemp(prefix="dle-nb-")
db = os.path.join(tmp, "nb.db")

# A kernel on Debian's interpreter (the first python3 on PATH may be another build).
kdir = os.path.join(tmp, "jupyter", "kernels", "dle-py3")
os.makedirs(kdir)
with open(os.path.join(kdir, "kernel.json"), "w") as f:
    json.dump({"argv": ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f",
                        "{connection_file}"],
               "display_name": "Python 3 (Debian)", "language": "python"}, f)
os.environ["JUPYTER_PATH"] = os.path.join(tmp, "jupyter")
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
os.environ["DLENERGY_NVML_LIB"] = os.path.join(tmp, "no-nvml.so")
os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # ipykernel's debugger notice

nb = nbformat.v4.new_notebook()
nb.cells = [
    nbformat.v4.new_code_cell("import time\nimport dlenergy\nDB = %r" % db),
    nbformat.v4.new_code_cell(
        "with dlenergy.track(db=DB, interval=0.05, meta={'notebook': 'yes'}) as run:\n"
        "    run.epoch_begin(1)\n"
        "    t = time.time()\n"
        "    while time.time() - t < 1.0:\n"
        "        sum(i * i for i in range(10000))\n"
        "    run.epoch_end(1, loss=0.5)\n"
        "print('RUN', run.run_id, repr(run.summary['total_energy_j']))"),
    nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "df = dlenergy.samples(DB, run.run_id)\n"
        "fig, ax = plt.subplots(figsize=(5, 2.5))\n"
        "ax.plot(df['t_s'], df['cpu_power_w'].fillna(0) + df['ram_power_w'].fillna(0))\n"
        "ax.set_xlabel('s'); ax.set_ylabel('W (modelled CPU + RAM)')\n"
        "plt.show()\n"
        "print('ROWS', len(df))"),
]
client = NotebookClient(nb, timeout=300, kernel_name="dle-py3", allow_errors=True,
                        resources={"metadata": {"path": tmp}})
client.execute()

errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
check(not errors, "cell errors: %s" % [(o.get("ename"), o.get("evalue")) for o in errors])
text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
               if o.get("output_type") == "stream")
pngs = [o for c in nb.cells for o in c.get("outputs", [])
        if o.get("output_type") in ("display_data", "execute_result")
        and "image/png" in o.get("data", {})]
check(len(pngs) == 1, "one PNG plot rendered (got %d)" % len(pngs))
if pngs:
    import base64
    raw = base64.b64decode(pngs[0]["data"]["image/png"])
    check(raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 2000, "a real PNG (%d bytes)" % len(raw))
run_line = [ln for ln in text.splitlines() if ln.startswith("RUN ")]
rows_line = [ln for ln in text.splitlines() if ln.startswith("ROWS ")]
check(len(run_line) == 1 and len(rows_line) == 1, "printed lines: %r" % text)
if run_line:
    _, rid, total = run_line[0].split(" ", 2)
    p = subprocess.run([exe, "show", "--json", "--db", db, rid], capture_output=True, text=True)
    check(p.returncode == 0, "show: %s" % p.stderr)
    js = json.loads(p.stdout) if p.returncode == 0 else {}
    check(repr(js.get("total_energy_j")) == total, "stored total %r vs notebook %s" % (
        js.get("total_energy_j"), total))
    check(js.get("meta", {}).get("notebook") == "yes" and js.get("epochs") == 1, "stored run")
    if rows_line:
        check(int(rows_line[0].split()[1]) == js.get("samples"), "plotted every sample")

nbformat.write(nb, os.path.join(tmp, "executed.ipynb"))
print("%d passed, %d failed" % (check.passed, check.failed))
subprocess.run(["rm", "-rf", tmp])
sys.exit(1 if check.failed else 0)
