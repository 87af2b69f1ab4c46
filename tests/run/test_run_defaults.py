"""`dlenergy run` with no options on a machine without GPU or RAPL (this VM, a
cloud guest): the CPU is modelled from data/cpu_tdp.csv (recomputed here from the
table and /proc/cpuinfo, independently of the C code), every modelled figure says
so with its assumption, emissions use the labelled world-average default, and
--scope, --country/--carbon-intensity, --quiet and --json behave as documented."""
import csv
import json
import os
import re
import sqlite3
import subprocess
import tempfile
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import load_samples  # noqa: E402

BIN = os.environ.get("DLENERGY_BIN", "")
SRC = os.environ.get("DLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BURNER = os.path.join(SRC, "tests", "run", "burner.py")
PY = "/usr/bin/python3"


def env():
    e = dict(os.environ)
    for k in ("DLENERGY_MARKER", "DLENERGY_MARKER_FD", "DLENERGY_DB"):
        e.pop(k, None)
    e["DLENERGY_NVML_LIB"] = "/nonexistent/libnvidia-ml.so.1"
    return e


def rapl_readable():
    try:
        with open("/sys/class/powercap/intel-rapl:0/energy_uj") as f:
            f.read()
        return True
    except OSError:
        return False


def expected_cpu_model_w():
    """Full-load modelled power of the visible CPUs, from the table's rules."""
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    best = None
    with open(os.path.join(SRC, "data", "cpu_tdp.csv")) as f:
        rows = [r for r in f if not r.startswith("#")]
    for r in csv.DictReader(rows):
        pat = r["pattern"]
        if pat != "*" and pat.lower() not in model.lower():
            continue
        n = 0 if pat == "*" else len(pat)
        if best is None or n > best[0]:
            best = (n, r)
    r = best[1]
    per_thread = float(r["tdp_w"]) / int(r["threads"])
    full = per_thread * os.cpu_count()
    if r["kind"] == "part":
        pkgs = set()
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("physical id"):
                    pkgs.add(line.split(":", 1)[1].strip())
        full = min(full, float(r["tdp_w"]) * max(1, len(pkgs)))
    return full, r


class Defaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "runs.db")

    def tearDown(self):
        self.tmp.cleanup()

    def run_dle(self, args, cmd):
        return subprocess.run([BIN, "run", "--db", self.db] + args + ["--"] + cmd, env=env(),
                              capture_output=True, text=True, timeout=300)

    def burner(self, *a):
        return [PY, BURNER, "--epochs", "2", "--epoch-s", "0.6"] + list(a)

    def test_no_options_models_cpu_and_default_emissions(self):
        if rapl_readable():
            self.skipTest("RAPL measures the CPU here")
        p = self.run_dle(["--json"], self.burner())
        self.assertEqual(p.returncode, 0, p.stderr)
        js = json.loads(p.stdout)
        cpu = js["components"]["cpu"]
        self.assertEqual(cpu["figure"], "modelled")
        self.assertGreater(cpu["energy_j"], 0)
        # mean power = energy / duration (time-weighted)
        self.assertAlmostEqual(cpu["avg_power_w"], cpu["energy_j"] / js["duration_s"],
                               delta=1e-9 * cpu["avg_power_w"] + 1e-12)
        self.assertIn("W/thread", js["cpu_power_model"])
        self.assertEqual(js["scope"], "process")
        full, row = expected_cpu_model_w()
        self.assertAlmostEqual(float(js["meta"]["cpu_model_w"]), full, delta=1e-3 * full)
        self.assertEqual(js["meta"].get("cpu_model_generic") == "1", row["kind"] == "family")
        # every sample: modelled CPU = full-load power x tree utilization
        c = sqlite3.connect(":memory:")
        load_samples(c, self.db, BIN)  # the store keeps samples as compressed chunks
        rows = c.execute("select cpu_util_pct, cpu_power_w from samples where run_id=? "
                         "and cpu_power_w is not null", (js["run_id"],)).fetchall()
        c.close()
        self.assertGreater(len(rows), 5)
        for u, w in rows:
            self.assertAlmostEqual(w, full * u / 100, delta=1e-3 * full)
        # emissions: the table's world average, labelled default
        self.assertTrue(js["carbon_default"])
        self.assertIn("World", js["carbon_source"])
        self.assertEqual(js["carbon_g_per_kwh"], 475)
        self.assertAlmostEqual(js["emissions_g"], js["facility_energy_j"] / 3.6e6 * 475,
                               delta=1e-9 * js["emissions_g"])
        self.assertIn("default", p.stderr)  # the summary says so
        self.assertIn("W/thread", p.stderr)
        self.assertIn("scope: process", p.stderr)
        # show says it too
        s = subprocess.run([BIN, "show", "--db", self.db, "last"], env=env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertIn("CPU model", s.stdout)
        self.assertIn("default: 475 g/kWh", s.stdout)
        # list: the unit printed, how the total was obtained, emissions
        lt = subprocess.run([BIN, "list", "--db", self.db], env=env(), capture_output=True,
                            text=True, timeout=60)
        self.assertEqual(lt.returncode, 0, lt.stderr)
        line = [l for l in lt.stdout.splitlines() if l.strip().startswith("1 ")][0]
        self.assertRegex(line, r"\d (J|kJ|MJ) ")
        self.assertIn("modelled", line)
        self.assertIn(" 2 ", line)  # completed epochs, as in the summary
        # list --csv: CodeCarbon's columns in their units, plus ours
        lc = subprocess.run([BIN, "list", "--db", self.db, "--csv"], env=env(),
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(lc.returncode, 0, lc.stderr)
        rows = list(csv.DictReader(lc.stdout.splitlines()))
        self.assertEqual(len(rows), 1)
        r = rows[0]
        self.assertAlmostEqual(float(r["energy_consumed"]) * 3.6e6, js["total_energy_j"],
                               delta=1e-6 * js["total_energy_j"])
        self.assertAlmostEqual(float(r["emissions"]) * 1e3, js["emissions_g"],
                               delta=1e-6 * js["emissions_g"])
        self.assertAlmostEqual(float(r["cpu_power"]), cpu["avg_power_w"], delta=1e-6 * cpu["avg_power_w"])
        self.assertEqual(r["tracking_mode"], "process")
        self.assertEqual(r["cpu_figure"], "modelled")
        self.assertEqual(r["gpu_energy"], "")  # absent, not 0
        self.assertEqual(int(r["epochs"]), js["epochs"])

    def test_live_projection_follows_the_run(self):
        # --pue 2: projections are facility energies like the measured ones; each is at
        # least what was already spent (x PUE) and carbontracker's changes with the epochs.
        p = self.run_dle(["--pue", "2"], [PY, BURNER, "--epochs", "4", "--epoch-s", "0.4"])
        self.assertEqual(p.returncode, 0, p.stderr)
        unit = {"J": 1, "kJ": 1e3, "MJ": 1e6}
        rx = re.compile(r"epoch (\d+)/4 .*?([\d.]+) (J|kJ|MJ) so far.*projected ([\d.]+) "
                        r"(J|kJ|MJ) \[([\d.]+) (J|kJ|MJ) \.\. ([\d.]+) (J|kJ|MJ)\] by "
                        r"carbontracker x PUE 2\.00")
        lines = [m for m in map(rx.search, p.stderr.splitlines()) if m]
        self.assertEqual(len(lines), 4, p.stderr)
        for m in lines:
            spent = float(m.group(2)) * unit[m.group(3)] * 2
            tot = float(m.group(4)) * unit[m.group(5)]
            lo = float(m.group(6)) * unit[m.group(7)]
            tol = 0.1 + 0.01 * spent  # one decimal printed
            self.assertGreaterEqual(tot + tol, spent, m.group(0))
            self.assertGreaterEqual(lo + tol, spent, m.group(0))
        self.assertIn("vs the measured total of the same components", p.stderr)
        self.assertNotIn("cannot be compared", p.stderr)
        # A run that stops early: no percentages against a part of the run.
        p = self.run_dle([], [PY, BURNER, "--epochs", "3", "--epoch-s", "0.3", "--exit", "3"])
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("cannot be compared", p.stderr)
        tail = p.stderr.split("Projected totals", 1)[1]
        self.assertNotIn("%", tail)

    def test_cpu_only_analyze_and_report(self):
        if rapl_readable():
            self.skipTest("RAPL measures the CPU here")
        for arch in ("a", "a", "b", "b"):
            p = self.run_dle(["--quiet", "--meta", "architecture=" + arch, "--meta",
                              "environment=vm"], [PY, BURNER, "--epochs", "2", "--epoch-s",
                                                  "0.3", "--no-markers"])
            self.assertEqual(p.returncode, 0, p.stderr)
        a = subprocess.run([BIN, "analyze", "--db", self.db], env=env(), capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(a.returncode, 0, a.stderr)
        first = a.stdout.splitlines()[0]
        self.assertTrue(first.startswith("total energy"), first)  # no GPU energy: the total
        self.assertIn("(modelled)", first)  # the CPU and RAM figures are modelled
        self.assertRegex(a.stdout, r"\d (J|kJ|MJ) ")
        out = os.path.join(self.tmp.name, "r.html")
        r = subprocess.run([BIN, "report", "--db", self.db, "-o", out], env=env(),
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            html = f.read()
        self.assertIn("modelled CPU + RAM power", html)
        self.assertNotIn("(measured power)", html)
        self.assertGreaterEqual(html.count("<polyline"), 4)  # a drawn profile per run
        # the single-run report of `run --report` and `report RUN` both work
        r1 = subprocess.run([BIN, "report", "1", "--db", self.db, "-o", out], env=env(),
                            capture_output=True, text=True, timeout=300)
        self.assertEqual(r1.returncode, 0, r1.stderr)
        with open(out) as f:
            html1 = f.read()
        self.assertIn("CPU modelled: ", html1)  # the assumption, as the run recorded it
        self.assertIn("W/thread", html1)
        self.assertIn("Carbon intensity: default: 475 g/kWh", html1)

    def test_country_and_intensity_together_is_a_usage_error(self):
        p = self.run_dle(["--country", "ES", "--carbon-intensity", "100"], ["true"])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--country", p.stderr)
        self.assertFalse(os.path.exists(self.db))

    def test_country_is_not_default(self):
        p = self.run_dle(["--json", "--country", "ES"], ["true"])
        self.assertEqual(p.returncode, 0, p.stderr)
        js = json.loads(p.stdout)
        self.assertFalse(js["carbon_default"])
        self.assertEqual(js["carbon_g_per_kwh"], 232)
        p = self.run_dle(["--json", "--carbon-intensity", "100"], ["true"])
        js = json.loads(p.stdout)
        self.assertFalse(js["carbon_default"])
        self.assertIn("--carbon-intensity", js["carbon_source"])

    def test_quiet_prints_the_run_id(self):
        p = self.run_dle(["--quiet"], ["true"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assertEqual(p.stdout, "1\n")
        p = self.run_dle(["--quiet"], ["true"])
        self.assertEqual(p.stdout, "2\n")

    def test_scope_machine(self):
        if rapl_readable():
            self.skipTest("RAPL measures the CPU here")
        p = self.run_dle(["--json", "--scope", "machine"], self.burner())
        self.assertEqual(p.returncode, 0, p.stderr)
        js = json.loads(p.stdout)
        self.assertEqual(js["scope"], "machine")
        self.assertIn("scope: machine", p.stderr)
        with open("/proc/meminfo") as f:
            kb = float(next(l for l in f if l.startswith("MemTotal")).split()[1])
        ram_w = 0.375 * kb * 1024 / 1e9
        self.assertAlmostEqual(js["components"]["ram"]["avg_power_w"], ram_w, delta=1e-6 * ram_w)
        # the host is at least as busy as the tree
        full, _ = expected_cpu_model_w()
        self.assertGreater(js["components"]["cpu"]["avg_power_w"], 0)
        self.assertLessEqual(js["components"]["cpu"]["avg_power_w"], full * 1.0001)
        p = self.run_dle(["--scope", "host"], ["true"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--scope", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
