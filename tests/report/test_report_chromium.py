#!/usr/bin/python3
"""The report of the study's five cloud architectures, rendered by headless Chromium.

Imports the SEAA 2023 traces into a fresh run store, writes
`dlenergy report --csv runs.csv --db STORE --runs environment_id=cloud --by architecture`,
then has Chromium dump the DOM (the page parsed and every section and plot is there
by id) and take a 1280-px-wide screenshot (a real PNG of that width), with console
logging on: any console message, uncaught error or failed resource load fails the test.
Skips (77) without chromium or the shared data."""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, skip

BIN = os.environ.get("DLENERGY_BIN", "dlenergy")
SHARED = os.environ.get("DLE_SHARED_DIR", "")
DATA = os.path.join(SHARED, "data", "seaa2023")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(os.path.join(DATA, "runs.csv")):
    skip("SKIP: shared data absent")
if not os.access(CHROMIUM, os.X_OK):
    skip("SKIP: chromium not installed")

check = Checks()


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        print("command failed:", " ".join(cmd), "\n", p.stdout[-2000:], p.stderr[-4000:])
    return p


work = tempfile.mkdtemp(prefix="dle_report_", dir=os.getcwd())
db = os.path.join(work, "seaa.db")
html = os.path.join(work, "report.html")
png = os.path.join(os.getcwd(), "report_cloud.png")

p = run([BIN, "import", "seaa2023", DATA, "--db", db])
check(p.returncode == 0, "import seaa2023")
# The store path of analyze: energies integrated from the imported traces (full-precision
# watts) sit 0.1-0.5 % above runs.csv's integer-watt reference, group by group.
import json
a_db = run([BIN, "analyze", "--db", db, "--runs", "environment_id=cloud", "--by", "architecture", "--json"])
a_csv = run([BIN, "analyze", "--csv", os.path.join(DATA, "runs.csv"), "--runs", "environment_id=cloud",
             "--by", "architecture", "--json"])
check(a_db.returncode == 0 and a_csv.returncode == 0, "analyze on store/CSV")
if a_db.returncode == 0 and a_csv.returncode == 0:
    gdb, gcsv = json.loads(a_db.stdout)["groups"], json.loads(a_csv.stdout)["groups"]
    check([g["name"] for g in gdb] == [g["name"] for g in gcsv] and len(gdb) == 5, "same 5 groups")
    for x, y in zip(gdb, gcsv):
        check(x["n"] == y["n"] == 30, "30 runs in %s" % x["name"])
        rel = x["median"] / y["median"] - 1
        check(0 < rel < 0.006, "store median of %s is %.4f%% off runs.csv" % (x["name"], 100 * rel))

p = run([BIN, "report", "--csv", os.path.join(DATA, "runs.csv"), "--db", db,
         "--runs", "environment_id=cloud", "--by", "architecture",
         "--title", "SEAA 2023: five architectures on the cloud RTX 3090", "-o", html])
check(p.returncode == 0, "report exited %d" % p.returncode)
text = open(html, encoding="utf-8").read() if os.path.exists(html) else ""

SECTIONS = ["summary", "profiles", "energy", "boxplots", "pareto", "tests", "estimates"]
PLOTS = ["boxplot", "scatter-pareto", "pareto-medians", "error-window",
         "estimate-step-power", "estimate-mlco2"]
TABLES = ["table-groups", "table-omnibus", "table-dunn", "table-spearman", "table-estimates"]
# Energy table only for <= 12 runs; the 150 cloud runs get one profile per group instead.
SECTIONS.remove("energy")

# The static file: self-contained, no scripts.
check("<script" not in text, "the report contains a script")
check(not re.search(r'(src|href)\s*=\s*"(https?:)?//', text), "the report links an external asset")
profiles = re.findall(r'id="profile-(\d+)"', text)
check(len(profiles) == 5, "one power profile per architecture: got %d" % len(profiles))
for arch in ["mobilenet_v2", "nasnet_mobile", "resnet50", "vgg16", "xception"]:
    check(arch in text, "architecture %s missing" % arch)
check("Local ML" not in text, "the filter let a non-cloud run in")

# Every inline SVG is well-formed XML (escaping and tag balance).
import xml.etree.ElementTree as ET
svgs = re.findall(r"<svg .*?</svg>", text, flags=re.S)
check(len(svgs) >= 12, "only %d SVG plots" % len(svgs))
for i, svg in enumerate(svgs):
    try:
        ET.fromstring(svg)
    except ET.ParseError as e:
        check(False, "SVG %d is not well-formed: %s" % (i, e))

# Chromium: DOM after parsing, and a screenshot, with console logging.
flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]
url = "file://" + html
prof1 = tempfile.mkdtemp(prefix="chromium-", dir=work)
d = run([CHROMIUM, *flags, "--user-data-dir=" + prof1, "--dump-dom", url], timeout=180)
dom = d.stdout
check(d.returncode == 0 and "</html>" in dom, "chromium --dump-dom failed")
for i in SECTIONS:
    check(re.search(r'<section id="%s"' % i, dom), "section %s not in the DOM" % i)
for i in PLOTS:
    check(re.search(r'<svg id="%s"' % i, dom), "plot %s not in the DOM" % i)
for i in TABLES:
    check(re.search(r'<table id="%s"' % i, dom), "table %s not in the DOM" % i)
for pid in profiles:
    check('<svg id="profile-%s"' % pid in dom, "profile %s not in the DOM" % pid)
check(len(re.findall(r"<svg ", dom)) >= 12, "fewer SVG plots than expected")

prof2 = tempfile.mkdtemp(prefix="chromium-", dir=work)
s = run([CHROMIUM, *flags, "--user-data-dir=" + prof2, "--screenshot=" + png,
         "--window-size=1280,2700", url], timeout=180)
check(s.returncode == 0 and os.path.exists(png), "chromium --screenshot failed")
if os.path.exists(png):
    with open(png, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG")
    w, h = struct.unpack(">II", head[16:24])
    check(w == 1280 and h == 2700, "screenshot size %dx%d" % (w, h))
    check(os.path.getsize(png) > 50000, "screenshot suspiciously small (blank page?)")

bad = []
for line in (d.stderr + s.stderr).splitlines():
    if re.search(r"CONSOLE|Uncaught|Failed to load resource|net::ERR_", line):
        bad.append(line)
check(not bad, "browser reported errors:\n" + "\n".join(bad[:10]))

if check.failed == 0:
    shutil.rmtree(work, ignore_errors=True)
print("report test: %d failures (screenshot %s)" % (check.failed, png))
sys.exit(1 if check.failed else 0)
