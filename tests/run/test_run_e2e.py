"""End-to-end tests of `dlenergy run` and `dlenergy attach` with a CPU-burning child
that sends epoch markers (tests/run/burner.py). The database is read with Python's
sqlite3 and every energy is recomputed here independently (trapezoid with the power
interpolated at the epoch edges)."""
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import load_samples  # noqa: E402

BIN = os.environ.get("DLENERGY_BIN", "")
SRC = os.environ.get("DLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BURNER = os.path.join(SRC, "tests", "run", "burner.py")
PY = "/usr/bin/python3"
FAKE_NVML = os.environ.get("DLE_FAKE_NVML_LIB", "")
TIMEOUT = 120

STATUS = {0: "running", 1: "complete", 2: "failed", 3: "killed"}


def env(**extra):
    e = dict(os.environ)
    e["DLE_SOURCE_DIR"] = SRC
    for k in ("DLENERGY_MARKER", "DLENERGY_MARKER_FD", "DLENERGY_DB"):
        e.pop(k, None)
    e.setdefault("DLENERGY_NVML_LIB", "/nonexistent/libnvidia-ml.so.1")
    e.update(extra)
    return e


def trapezoid(t, p, t0=-math.inf, t1=math.inf):
    """Energy of the piecewise-linear power over [t0, t1] (samples outside clipped)."""
    total = 0.0
    for i in range(1, len(t)):
        a, b = t[i - 1], t[i]
        lo, hi = max(a, t0), min(b, t1)
        if hi <= lo or b <= a:
            continue
        pa = p[i - 1] + (p[i] - p[i - 1]) * (lo - a) / (b - a)
        pb = p[i - 1] + (p[i] - p[i - 1]) * (hi - a) / (b - a)
        total += (hi - lo) * (pa + pb) / 2
    return total


class Db:
    def __init__(self, path):
        self.c = sqlite3.connect(path)
        load_samples(self.c, path, BIN)

    def run(self, run_id=None):
        q = "select id, status, source, command, exit_code, term_signal, epochs_planned, " \
            "gpu_source, cpu_source, end_wall_s from runs order by id desc limit 1"
        row = self.c.execute(q).fetchone()
        keys = ["id", "status", "source", "command", "exit_code", "term_signal",
                "epochs_planned", "gpu_source", "cpu_source", "end_wall_s"]
        r = dict(zip(keys, row))
        r["status"] = STATUS[r["status"]]
        return r

    def meta(self, run_id):
        return dict(self.c.execute("select key, value from meta where run_id=?", (run_id,)))

    def epochs(self, run_id):
        return self.c.execute("select idx, t_begin_s, t_end_s, metrics from epochs "
                              "where run_id=? order by idx", (run_id,)).fetchall()

    def samples(self, run_id, cols="t_s, cpu_util_pct, cpu_power_w, ram_power_w, wall_s"):
        return self.c.execute("select %s from samples where run_id=? order by seq" % cols,
                              (run_id,)).fetchall()

    def close(self):
        self.c.close()


class StoreTestCase(unittest.TestCase):
    """Each test gets a fresh temporary folder holding its run store, runs.db."""

    def setUp(self):
        if not BIN or not os.access(BIN, os.X_OK):
            self.skipTest("DLENERGY_BIN not set")
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "runs.db")

    def tearDown(self):
        self.tmp.cleanup()


class RunTests(StoreTestCase):

    def dle(self, args, cmd, **kw):
        full = [BIN, "run", "--db", self.db, "--no-gpu", "--cpu-tdp", "100"] + args + ["--"] + cmd
        return subprocess.run(full, env=kw.pop("env", env()), capture_output=True, text=True,
                              timeout=TIMEOUT, **kw)

    def burner(self, *args):
        return [PY, BURNER] + list(args)

    def test_epochs_energy_and_live_line(self):
        p = self.dle([], self.burner("--epochs", "4", "--epoch-s", "0.6"))
        self.assertEqual(p.returncode, 0, p.stderr)
        db = Db(self.db)
        r = db.run()
        self.assertEqual((r["status"], r["exit_code"], r["term_signal"]), ("complete", 0, 0))
        self.assertEqual(r["epochs_planned"], 4)  # from the script's epochs_total
        self.assertEqual(r["cpu_source"], "model")
        meta = db.meta(r["id"])
        self.assertEqual(meta["architecture"], "burner")
        self.assertEqual(meta["cpu_tdp_w"], "100")
        ep = db.epochs(r["id"])
        self.assertEqual([e[0] for e in ep], [1, 2, 3, 4])
        self.assertEqual([e[3] for e in ep], ["n=1", "n=2", "n=3", "n=4"])
        for a, b in zip(ep, ep[1:]):
            self.assertEqual(a[2], b[1])  # one write: end of k == begin of k+1
        for e in ep:
            self.assertLess(e[1], e[2])
        s = db.samples(r["id"])
        db.close()
        t = [x[0] for x in s]
        self.assertEqual(t, sorted(t))
        self.assertGreater(len(s), 10)
        self.assertGreaterEqual(t[-1], ep[-1][2])  # sampling reaches the last marker
        power = [x[2] + x[3] for x in s[1:]]  # first sample has no rates (NaN -> NULL)
        tt = t[1:]
        per_epoch = [trapezoid(tt, power, e[1], e[2]) for e in ep]
        whole = trapezoid(tt, power, ep[0][1], ep[-1][2])
        self.assertAlmostEqual(sum(per_epoch), whole, delta=1e-9 * whole)
        self.assertGreater(trapezoid(tt, power), whole)  # start-up and exit lie outside
        # Markers land in the right epochs: odd epochs burn CPU, even ones sleep.
        def mean_util(e):
            u = [x[1] for x in s if x[1] is not None and e[1] + 0.15 < x[0] <= e[2]]
            return sum(u) / len(u)
        burn = (mean_util(ep[0]) + mean_util(ep[2])) / 2
        idle = (mean_util(ep[1]) + mean_util(ep[3])) / 2
        self.assertGreater(burn, 3 * idle + 1, (burn, idle))
        self.assertGreater(per_epoch[0], per_epoch[1])
        # Live line per epoch and the summary.
        lines = [l for l in p.stderr.splitlines() if l.startswith("dlenergy: epoch ")]
        self.assertEqual([l.split()[2] for l in lines], ["1/4", "2/4", "3/4", "4/4"])
        self.assertIn("so far", lines[0])
        self.assertIn("run %d complete (exit 0)" % r["id"], p.stderr)
        self.assertIn("4 of 4 epochs", p.stderr)
        self.assertRegex(p.stderr, r"CPU +\S+ k?J.*modelled \(TDP 100 W")
        self.assertIn("ready", p.stdout)  # the child's stdout is its own (no regex)

    def test_report_at_end(self):
        html = os.path.join(self.tmp.name, "run.html")
        p = self.dle(["--report", html], self.burner("--epochs", "3", "--epoch-s", "0.3"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("report written to " + html, p.stderr)
        with open(html, encoding="utf-8") as f:
            page = f.read()
        run_id = Db(self.db).run()["id"]
        self.assertTrue(page.startswith("<!DOCTYPE html>"), page[:80])
        self.assertIn("<svg", page)
        self.assertNotIn("<script", page)
        self.assertIn("run %d" % run_id, page)
        # An unwritable report path: the run is still recorded, dlenergy says why and fails.
        bad = os.path.join(self.tmp.name, "no-such-dir", "r.html")
        p = self.dle(["--quiet", "--report", bad], self.burner("--epochs", "1", "--epoch-s", "0.1"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("report not written", p.stderr)
        self.assertEqual(Db(self.db).run()["status"], "complete")

    def test_exit_code_propagated(self):
        p = self.dle(["--quiet"], self.burner("--epochs", "1", "--epoch-s", "0.1", "--exit", "3"))
        self.assertEqual(p.returncode, 3)
        self.assertEqual(p.stderr, "")  # --quiet
        r = Db(self.db).run()
        self.assertEqual((r["status"], r["exit_code"], r["term_signal"]), ("failed", 3, 0))
        self.assertIsNotNone(r["end_wall_s"])

    def test_killed_by_signal(self):
        p = self.dle([], self.burner("--epochs", "1", "--epoch-s", "0.1", "--kill-self", "TERM"))
        self.assertEqual(p.returncode, 128 + signal.SIGTERM)
        r = Db(self.db).run()
        self.assertEqual((r["status"], r["exit_code"], r["term_signal"]),
                         ("killed", -1, signal.SIGTERM))
        self.assertIn("killed by signal %d" % signal.SIGTERM, p.stderr)

    def test_missing_command(self):
        p = self.dle([], ["dlenergy-test-no-such-command", "--flag"])
        self.assertEqual(p.returncode, 127)
        self.assertIn("dlenergy-test-no-such-command", p.stderr)
        self.assertIn("not found", p.stderr)
        db = Db(self.db)
        r = db.run()
        self.assertEqual((r["status"], r["exit_code"]), ("failed", 127))
        self.assertIn("not found", db.meta(r["id"])["error"])
        self.assertIn("dlenergy-test-no-such-command --flag", r["command"])

    def test_child_gets_only_stdio_and_the_marker_fd(self):
        # Every descriptor dlenergy holds (store, sensors, sockets, pipes) is close-on-exec.
        for extra in ([], ["--epoch-regex", "keras", "--metrics-listen", "127.0.0.1:0"]):
            probe = ("import os\n"
                     "def is_open(fd):\n"
                     "    try:\n"
                     "        os.fstat(fd)\n"
                     "        return True\n"
                     "    except OSError:\n"
                     "        return False\n"
                     "print(' '.join(str(fd) for fd in range(256) if is_open(fd)))\n"
                     "print(os.environ['DLENERGY_MARKER_FD'])\n")
            e = env(DLENERGY_NVML_LIB=FAKE_NVML) if FAKE_NVML else env()
            p = subprocess.run([BIN, "run", "--db", self.db, "--quiet"] + extra +
                               ["--", PY, "-S", "-c", probe], env=e, capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            fds, marker, run_id = p.stdout.splitlines()  # --quiet prints the run id last
            self.assertEqual(fds.split(), ["0", "1", "2", marker], extra)
            self.assertTrue(run_id.isdigit(), run_id)

    def test_store_full_mid_run(self):
        # A file-size limit stands in for a full disk: the store's writes fail with EFBIG
        # (dlenergy ignores SIGXFSZ). Before the command starts that is a clear error and
        # the command is not run; during the run, recording stops with a message, the
        # command runs to its end, and dlenergy exits 1 instead of the command's 0.
        import resource
        seen_mid_run = False
        for limit in (30000, 60000, 100000, 150000, 250000, 400000):
            for f in os.listdir(self.tmp.name):
                os.unlink(os.path.join(self.tmp.name, f))

            def cap(limit=limit):
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            p = subprocess.run([BIN, "run", "--db", self.db, "--no-gpu", "--cpu-tdp", "100",
                                "--interval", "0.01", "--"] +
                               self.burner("--epochs", "6", "--epoch-s", "0.5"),
                               env=env(), capture_output=True, text=True, timeout=TIMEOUT,
                               preexec_fn=cap)
            self.assertNotIn("Sanitizer", p.stderr)
            if "ready" not in p.stdout:  # failed while recording the run's start
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn("dlenergy run: ", p.stderr)
                self.assertIn("error", p.stderr)
                continue
            self.assertIn("epoch 6 done", p.stdout)  # the command ran to its end
            if "recording stopped" in p.stderr:
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn("the run store failed during the run", p.stderr)
                seen_mid_run = True
                break
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(seen_mid_run, "no limit made the store fail during the run")

    def test_markers_from_a_posix_shell(self):
        script = ("echo epochs_total 2 >&$DLENERGY_MARKER_FD; "
                  "echo epoch_begin 1 >&$DLENERGY_MARKER_FD; sleep 0.2; "
                  "echo 'epoch_end 1 loss=1.5' >&$DLENERGY_MARKER_FD")
        p = self.dle(["--quiet"], ["/bin/sh", "-c", script])
        self.assertEqual(p.returncode, 0, p.stderr)
        db = Db(self.db)
        r = db.run()
        self.assertEqual(r["epochs_planned"], 2)
        ep = db.epochs(r["id"])
        db.close()
        self.assertEqual([(e[0], e[3]) for e in ep], [(1, "loss=1.5")])
        self.assertLess(ep[0][1], ep[0][2])

    def test_usage_errors(self):
        for args in (["--interval", "0"], ["--pue", "0.5"], ["--meta", "novalue"],
                     ["--epoch-regex", "no group"], ["--gpus", "x"], ["--bogus"]):
            p = self.dle(args, ["true"])
            self.assertEqual(p.returncode, 2, (args, p.stderr))
        p = subprocess.run([BIN, "run", "--db", self.db], capture_output=True, text=True,
                           env=env(), timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no command", p.stderr)
        p = subprocess.run([BIN, "run", "--help"], capture_output=True, text=True, env=env(),
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        self.assertIn("Usage: dlenergy run", p.stdout)
        self.assertFalse(os.path.exists(self.db))  # nothing was recorded
        marker = os.path.join(self.tmp.name, "ran")
        p = subprocess.run([BIN, "run", "--db", "/nonexistent/dir/x.db", "--no-gpu", "--",
                            "touch", marker], capture_output=True, text=True, env=env(),
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/dir/x.db", p.stderr)
        self.assertFalse(os.path.exists(marker))  # not started when it cannot be recorded

    def _popen(self, args, cmd):
        full = [BIN, "run", "--db", self.db, "--no-gpu", "--cpu-tdp", "100"] + args + ["--"] + cmd
        return subprocess.Popen(full, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def _wait_line(self, proc, text):
        for line in proc.stdout:
            if line.strip() == text:
                return
        self.fail("child never printed %r" % text)

    def test_sigint_forwarded_once(self):
        proc = self._popen([], self.burner("--epochs", "1", "--epoch-s", "0.1", "--wait-signal"))
        self._wait_line(proc, "epoch 1 done")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 42, err)
        db = Db(self.db)
        r = db.run()
        self.assertEqual((r["status"], r["exit_code"]), ("failed", 42))
        self.assertEqual(db.meta(r["id"])["sigints"], "1")  # delivered once, not twice

    def test_sigterm_forwarded(self):
        proc = self._popen([], self.burner("--epochs", "1000", "--epoch-s", "0.1"))
        self._wait_line(proc, "ready")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM)
        r = Db(self.db).run()
        self.assertEqual((r["status"], r["term_signal"]), ("killed", signal.SIGTERM))

    def test_ctrl_z_stops_and_fg_resumes_the_command(self):
        def state(pid):
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0]

        def wait_state(pid, want):
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                if (state(pid) == "T") == want:
                    return True
                time.sleep(0.02)
            return False

        proc = self._popen(["--quiet"], self.burner("--epochs", "1000", "--epoch-s", "0.1"))
        try:
            self._wait_line(proc, "ready")
            with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
                child = int(f.read().split()[0])
            proc.send_signal(signal.SIGTSTP)
            self.assertTrue(wait_state(child, True))      # the command is stopped...
            self.assertTrue(wait_state(proc.pid, True))   # ...and so is dlenergy
            proc.send_signal(signal.SIGCONT)
            self.assertTrue(wait_state(proc.pid, False))
            self.assertTrue(wait_state(child, False))     # both resume
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM)

    def test_marker_flood(self):
        p = self.dle([], self.burner("--epochs", "2", "--epoch-s", "0.2", "--junk"))
        self.assertEqual(p.returncode, 0, p.stderr)
        db = Db(self.db)
        r = db.run()
        self.assertEqual(r["status"], "complete")
        self.assertEqual([e[0] for e in db.epochs(r["id"])], [1, 2])
        meta = db.meta(r["id"])
        # 1 oversized line + 20000 malformed + 1 unknown verb
        self.assertEqual(meta["marker_lines_ignored"], "20002")
        self.assertIn("ignoring a marker line", p.stderr)  # warned once...
        self.assertEqual(p.stderr.count("ignoring a marker line"), 1)
        self.assertIn("20002 lines ignored (1 unknown verb, 20000 malformed, 1 too long)",
                      p.stderr)  # ...and counted in the summary

    def test_epoch_regex_passthrough(self):
        p = self.dle(["--epoch-regex", "keras"],
                     self.burner("--epochs", "3", "--epoch-s", "0.2", "--print-epochs",
                                 "--no-markers"))
        self.assertEqual(p.returncode, 0, p.stderr)
        expect = ["ready"]
        for k in (1, 2, 3):
            expect += ["Epoch %d/3" % k, "epoch %d done" % k]
        self.assertEqual(p.stdout.splitlines(), expect)  # relayed unchanged
        db = Db(self.db)
        r = db.run()
        self.assertEqual(r["epochs_planned"], 3)
        ep = db.epochs(r["id"])
        self.assertEqual([e[0] for e in ep], [1, 2, 3])
        self.assertTrue(all(e[2] is not None for e in ep))  # the last closes at exit 0
        self.assertEqual(ep[0][2], ep[1][1])

    def test_kill9_of_dlenergy(self):
        done = os.path.join(self.tmp.name, "done")
        proc = self._popen(["--quiet"], self.burner("--epochs", "6", "--epoch-s", "0.8",
                                                    "--done-file", done))
        self._wait_line(proc, "epoch 2 done")
        time.sleep(1.5)  # epochs 1-2 are then older than the store's 1 s commit period
        proc.kill()
        kill_wall = time.time()
        proc.wait(timeout=TIMEOUT)
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        # The child lives on in its own session and finishes normally (its markers to
        # the vanished pipe fail silently).
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(done) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(done) as f:
            self.assertEqual(f.read(), "ok\n")
        self.assertIn("epoch 6 done", proc.stdout.read())  # it printed to the end, too
        proc.stdout.close()
        proc.stderr.close()
        db = Db(self.db)
        self.assertEqual(db.c.execute("pragma integrity_check").fetchone()[0], "ok")
        r = db.run()
        self.assertEqual(r["status"], "running")  # never finalized
        s = db.samples(r["id"])
        self.assertGreater(len(s), 10)
        last_wall = s[-1][4]
        # All but the last second (+ one drain period and scheduling slack).
        self.assertGreater(last_wall, kill_wall - 2.0, (last_wall, kill_wall))
        ep = db.epochs(r["id"])
        self.assertEqual([e[0] for e in ep[:2]], [1, 2])
        self.assertIsNotNone(ep[1][2])
        db.close()

    def test_metrics_listen(self):
        import re
        import urllib.request
        full = [BIN, "run", "--db", self.db, "--no-gpu", "--cpu-tdp", "100", "--metrics-listen",
                "127.0.0.1:0", "--"] + self.burner("--epochs", "1000", "--epoch-s", "0.1")
        proc = subprocess.Popen(full, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            line = proc.stderr.readline()
            port = int(re.search(r"metrics on port (\d+)", line).group(1))
            self._wait_line(proc, "epoch 2 done")
            bodies = []
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:  # until the counter has moved (or timeout)
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
                    bodies.append(r.read().decode())
                if len(bodies) >= 2 and self._cpu_j(bodies[-1]) > self._cpu_j(bodies[0]):
                    break
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=TIMEOUT)
        run_id = Db(self.db).run()["id"]
        values = []
        for body in bodies:
            self.assertIn("# TYPE dlenergy_energy_joules_total counter", body)
            m = re.search(r'dlenergy_energy_joules_total\{[^}]*component="cpu"[^}]*\} (\S+)', body)
            self.assertIsNotNone(m, body)
            self.assertIn('run_id="%d"' % run_id, m.group(0))
            values.append(float(m.group(1)))
        self.assertEqual(values, sorted(values))  # monotonic...
        self.assertGreater(values[-1], values[0])  # ...and live

    @staticmethod
    def _cpu_j(body):
        import re
        m = re.search(r'dlenergy_energy_joules_total\{[^}]*component="cpu"[^}]*\} (\S+)', body)
        return float(m.group(1)) if m else float("nan")

    @unittest.skipUnless(FAKE_NVML and os.path.exists(FAKE_NVML), "fake NVML not built")
    def test_gpu_run_with_fake_nvml(self):
        script = os.path.join(self.tmp.name, "nvml.txt")
        with open(script, "w") as f:
            f.write("devices 2\npower 0 0 150000\npower 1 0 50000\nprocess 0 children\n")
        e = env(DLENERGY_NVML_LIB=FAKE_NVML, FAKE_NVML_SCRIPT=script)
        full = [BIN, "run", "--db", self.db, "--gpus", "all", "--cpu-tdp", "100", "--"] + \
            self.burner("--epochs", "2", "--epoch-s", "0.4")
        p = subprocess.run(full, env=e, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        db = Db(self.db)
        r = db.run()
        self.assertEqual(r["gpu_source"], "nvml")
        meta = db.meta(r["id"])
        # gpu_count/gpu_tdp_w cover the GPUs the run used (GPU 0); per-device facts beside.
        self.assertEqual(meta["gpu_count"], "1")
        self.assertEqual(meta["gpus_used"], "0")
        self.assertEqual(meta["gpus_headline"], "0")
        self.assertEqual(meta["gpu_tdp_w"], "350")
        self.assertEqual(meta["gpu1_tdp_w"], "350")
        self.assertEqual(meta["gpu0_power_field"], "instant")
        rows = db.c.execute("select s.t_s, g.slot, g.device_index, g.power_w, g.energy_counter_j "
                            "from samples s join gpu_samples g on s.run_id=g.run_id and "
                            "s.seq=g.seq where s.run_id=? order by s.seq, g.slot",
                            (r["id"],)).fetchall()
        db.close()
        by_dev = {0: [], 1: []}
        for t, slot, dev, pw, cj in rows:
            by_dev[dev].append((t, pw, cj))
        self.assertEqual({x[1] for x in by_dev[0]}, {150.0})
        self.assertEqual({x[1] for x in by_dev[1]}, {50.0})
        t = [x[0] for x in by_dev[0]]
        integral = sum(trapezoid(t, [x[1] for x in by_dev[d]]) for d in (0, 1))
        self.assertAlmostEqual(integral, 200.0 * (t[-1] - t[0]), delta=1e-6 * integral)
        counter = sum(by_dev[d][-1][2] - by_dev[d][0][2] for d in (0, 1))
        self.assertAlmostEqual(counter, integral, delta=0.02 * integral)
        self.assertIn("GPU integral", p.stderr)
        # The GPU figure is GPU 0's (the run's); GPU 1 (50 W) is listed apart.
        # mean power = the counter energy / duration: about 150 W (the counter is read
        # at its own instant, tens of ms off under ASan on a loaded VM)
        self.assertRegex(p.stderr, r"GPU +\S+ k?J.*1(4[5-9]|5[0-4])\.\d\d W +measured "
                                   r"\(nvml energy counter, GPUs the run used\)")
        self.assertRegex(p.stderr, r"GPU all +\S+")
        # One device only, and a device that does not exist.
        full[full.index("all")] = "1"
        p = subprocess.run(full, env=e, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        db = Db(self.db)
        r = db.run()
        devs = db.c.execute("select distinct device_index, power_w from gpu_samples "
                            "where run_id=?", (r["id"],)).fetchall()
        db.close()
        self.assertEqual(devs, [(1, 50.0)])
        full[full.index("1")] = "5"
        p = subprocess.run(full, env=e, capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn("5", p.stderr)
        self.assertNotIn("ready", p.stdout)  # the command was not started


class AttachTests(StoreTestCase):
    def setUp(self):
        super().setUp()
        self.fifo = os.path.join(self.tmp.name, "markers")

    def start_burner(self, *args):
        child = subprocess.Popen([PY, BURNER, "--attach-wait"] + list(args),
                                 env=env(DLENERGY_MARKER=self.fifo), stdout=subprocess.PIPE,
                                 text=True)
        pid = int(child.stdout.readline().split()[1])
        return child, pid

    def attach(self, pid, *args):
        return subprocess.Popen([BIN, "attach", "--db", self.db, "--no-gpu", "--cpu-tdp", "100",
                                 "--marker-fifo", self.fifo] + list(args) + [str(pid)],
                                env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def test_attach_until_exit(self):
        child, pid = self.start_burner("--epochs", "3", "--epoch-s", "0.4")
        mon = self.attach(pid, "--meta", "who=test")
        child.communicate(timeout=TIMEOUT)
        self.assertEqual(child.returncode, 0)
        _, err = mon.communicate(timeout=TIMEOUT)
        self.assertEqual(mon.returncode, 0, err)
        self.assertIn("DLENERGY_MARKER=" + self.fifo, err)
        db = Db(self.db)
        r = db.run()
        self.assertEqual((r["status"], r["source"], r["exit_code"]), ("complete", "attach", -1))
        self.assertIn("burner.py", r["command"])
        self.assertEqual(r["epochs_planned"], 3)
        meta = db.meta(r["id"])
        self.assertEqual((meta["attach_end"], meta["who"]), ("process exited", "test"))
        self.assertEqual([e[0] for e in db.epochs(r["id"])], [1, 2, 3])
        util = [x[1] for x in db.samples(r["id"]) if x[1] is not None]
        self.assertGreater(max(util), 10)  # the attached tree's CPU is measured
        db.close()
        self.assertFalse(os.path.exists(self.fifo))  # removed at the end

    def test_ctrl_c_detaches_without_touching_the_process(self):
        child, pid = self.start_burner("--epochs", "1000", "--epoch-s", "0.1")
        mon = self.attach(pid)
        deadline = time.monotonic() + TIMEOUT
        db = None
        while time.monotonic() < deadline:  # until the recorder has written an epoch
            if os.path.exists(self.db):
                db = Db(self.db)
                try:
                    if db.c.execute("select count(*) from epochs").fetchone()[0] > 0:
                        break
                except sqlite3.OperationalError:
                    pass
                db.close()
                db = None
            time.sleep(0.1)
        mon.send_signal(signal.SIGINT)
        _, err = mon.communicate(timeout=TIMEOUT)
        self.assertEqual(mon.returncode, 0, err)
        self.assertIsNone(child.poll())  # still running
        child.terminate()
        child.wait(timeout=TIMEOUT)
        child.stdout.close()
        db = Db(self.db)
        r = db.run()
        self.assertEqual(db.meta(r["id"])["attach_end"], "detached")
        db.close()

    def test_attach_missing_pid(self):
        for bad in ("abc", "-3", "0"):
            p = subprocess.run([BIN, "attach", "--db", self.db, "--no-gpu", bad],
                               capture_output=True, text=True, env=env(), timeout=TIMEOUT)
            self.assertEqual(p.returncode, 2, bad)  # not a process id: usage error
        p = subprocess.run([BIN, "attach", "--db", self.db, "--no-gpu", "999999999"],
                           capture_output=True, text=True, env=env(), timeout=TIMEOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no running process", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
