"""Errors of the Python package: the library's messages as dlenergy.Error subclasses for
what the caller got wrong; never an exception into the training for what the machine
got wrong (a failing sensor, a store that cannot be opened or fails mid-run), which is
reported in the summary instead. Also: a forked child's marks are ignored, and a
missing library is a clear error."""
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, fake_nvml_lib  # noqa: E402

import dlenergy  # noqa: E402

check = Checks()
tmp = tempfile.mkdtemp(prefix="dle-pyerr-")
db = os.path.join(tmp, "runs.db")
fake = fake_nvml_lib()


def raises(exc_type, fn, *args, contains=None, **kw):
    try:
        fn(*args, **kw)
    except exc_type as exc:
        if contains and contains not in str(exc):
            check(False, "%s: message %r lacks %r" % (exc_type.__name__, str(exc), contains))
        else:
            check(True, "")
        return exc
    except Exception as exc:  # noqa: BLE001
        check(False, "expected %s, got %r" % (exc_type.__name__, exc))
        return None
    check(False, "expected %s, nothing raised" % exc_type.__name__)
    return None


def enter(**kw):
    with dlenergy.track(db=db, no_gpu=True, **kw):
        pass


# Caller errors: the library's message, a subclass of dlenergy.Error (and of ValueError).
e = raises(dlenergy.ConfigError, enter, pue="0.5", contains="pue wants a number in [1, 10]")
check(isinstance(e, dlenergy.Error) and isinstance(e, ValueError), "ConfigError hierarchy")
check(e is not None and e.code == -1, "error code DLE_EINVAL")
raises(dlenergy.ConfigError, enter, interval="fast", contains="interval wants seconds")
raises(dlenergy.ConfigError, enter, scope="galaxy", contains="scope wants process or machine")
raises(dlenergy.ConfigError, enter, carbon_intensity=100, country="ES",
       contains="both give the carbon intensity")
raises(dlenergy.NotFoundError, enter, country="Atlantis", contains="Atlantis")
raises(dlenergy.ConfigError, dlenergy.track, db=db, colour="blue", contains="colour")
raises(dlenergy.NotFoundError, dlenergy.run, 999, db=db)
raises(dlenergy.ConfigError, dlenergy.estimate, "last", method="crystal-ball", db=db)
raises(dlenergy.ConfigError, dlenergy.runs, db, **{"a": "b,c"})

# predict() goes through `dlenergy predict --json`: its answer, or its message.
pr = dlenergy.predict(gpu="Tesla V100-SXM2-16GB", gflops=4.1, epochs=10, batch_size=32,
                      train_size=5000, val_size=1000)
check(pr.get("inputs", {}).get("gpu_tdp_w") == 300, "predict inputs %r" % pr.get("inputs"))
raises(dlenergy.ConfigError, dlenergy.predict, gpu="Tesla V100-SXM2-16GB", gflops=4.1,
       contains="are required")

with dlenergy.track(db=db, no_gpu=True) as run:
    raises(dlenergy.NotFoundError, run.end_window, "never-opened", contains="no window 'never-opened' is open")
    run.begin_window("w")
    raises(dlenergy.StateError, run.begin_window, "w", contains="already open")
    raises(dlenergy.ConfigError, run.begin_window, "", contains="non-empty name")
    raises(dlenergy.ConfigError, run.meta, {"bad key": 1}, contains="without spaces")
    run.end_window("w")
    # A forked child (e.g. a DataLoader worker) may call marks: ignored, no deadlock.
    pid = os.fork()
    if pid == 0:
        try:
            run.epoch_begin(99)
            run.begin_window("child")
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "forked child's marks: %r" % status)
raises(dlenergy.StateError, run.epoch_begin, 1, contains="ended")
check(run.summary["epochs"] == 0 and run.summary["epochs_open"] == 0, "child's epoch ignored")
check([w["name"] for w in run.summary["windows"]] == ["w"], "child's window ignored")

# start()/stop() across notebook cells, without a `with` block.
t = dlenergy.track(db=db, no_gpu=True)
r = t.start()
r.epoch_begin(); r.epoch_end({"loss": 0.1})
raises(dlenergy.StateError, t.start, contains="already in use")
summ = t.stop()
check(summ["status"] == "complete" and summ["epochs"] == 1 and r.summary is summ, "start/stop")
raises(dlenergy.StateError, t.stop, contains="not started")

# sys.exit(0) inside the block is a complete run; a run never stopped is recorded as
# failed when the interpreter exits (not left "running").
code = ("import sys, dlenergy\n"
        "t = dlenergy.track(db=sys.argv[1], no_gpu=True)\n"
        "t.start()\n"
        "with dlenergy.track(db=sys.argv[1], no_gpu=True):\n"
        "    sys.exit(0)\n")
p = subprocess.run(["/usr/bin/python3", "-c", code, db], capture_output=True, text=True)
check(p.returncode == 0, "sys.exit(0) in a block: %d %s" % (p.returncode, p.stderr))
last = dlenergy.runs(db)
if hasattr(last, "to_dict"):
    last = last.to_dict("records")
st = {r["run_id"]: (r["status"], r.get("meta.error")) for r in last[-2:]}
check(sorted(v[0] for v in st.values()) == ["complete", "failed"] and any(
    v[1] and "interpreter exited" in v[1] for v in st.values()), "at-exit statuses %r" % st)

# The Keras and Lightning callbacks' hooks (what dlenergy_markers.KerasCallback and
# LightningCallback run; the frameworks are not installed here) mark the in-process run.
import types  # noqa: E402
import dlenergy_markers as dm  # noqa: E402
check(not dm.enabled(), "no channel and no run: markers disabled")
with dlenergy.track(db=db, no_gpu=True) as run:
    keras = dm._KerasHooks()
    keras.params = {"epochs": 2}
    keras.on_train_begin()
    keras.on_epoch_begin(0)
    keras.on_epoch_end(0, {"loss": 0.25, "accuracy": 0.5})
    trainer = types.SimpleNamespace(max_epochs=2, current_epoch=1,
                                    callback_metrics={"val_loss": 0.125})
    lit = dm._LightningHooks()
    lit.on_train_start(trainer, None)
    lit.on_train_epoch_start(trainer, None)
    lit.on_train_epoch_end(trainer, None)
eps = run.summary["epoch_list"]
check([e["index"] for e in eps] == [1, 2] and run.summary["epochs_planned"] == 2,
      "callback epochs: %r" % [(e["index"], e["metrics"]) for e in eps])
check(eps and eps[0]["metrics"] == "loss=0.25 accuracy=0.5", "keras metrics %r" % (
    eps[0]["metrics"] if eps else None))
check(len(eps) == 2 and eps[1]["metrics"] == "val_loss=0.125", "lightning metrics")

# An exception in the block: recorded as failed with the error, and re-raised.
try:
    with dlenergy.track(db=db, no_gpu=True) as run:
        raise RuntimeError("loss is nan")
except RuntimeError:
    check(True, "")
check(run.summary["status"] == "failed" and "loss is nan" in run.summary["meta"].get("error", ""),
      "failed run: %r" % run.summary.get("meta"))

# The store cannot be opened: the training goes on, untracked, with a warning.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with dlenergy.track(db=os.path.join(tmp, "no", "such", "dir", "x.db"), no_gpu=True) as run:
        run.epoch_begin(1)
        with run.window("still-fine"):
            pass
        run.epoch_end(1, loss=1)
check(run.summary["recorded"] is False and run.summary["error"], "untracked: %r" % run.summary)
check(any("not recording" in str(w.message) for w in caught), "a warning says so")
raises(dlenergy.Error, lambda: [None for _ in ()] or
       dlenergy.track(db=os.path.join(tmp, "no", "x.db"), no_gpu=True, on_error="raise").__enter__())

# A failing GPU sensor (reads fail for a while, then the GPU is lost): no exception, the
# summary and metadata say so. The store failing mid-run (file size limit): no exception
# either (Python ignores SIGXFSZ), the summary comes from memory with the store's error.
script = os.path.join(tmp, "nvml.txt")
with open(script, "w") as f:
    f.write("devices 2\npower 0 0 100000\npower_fail 0 0.2 0.5\nlost 1 0.3\n")
child = r"""
import json, os, resource, sys, time
import dlenergy
out = {}
with dlenergy.track(db=sys.argv[1], interval=0.02) as run:
    for k in range(1, 4):
        run.epoch_begin(k); time.sleep(0.3); run.epoch_end(k)
out["sensor"] = run.summary
db2 = sys.argv[2]
with dlenergy.track(db=db2, interval=0.005, no_gpu=True) as run2:
    size = os.path.getsize(db2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
    for k in range(1, 4):
        run2.epoch_begin(k); time.sleep(0.4); run2.epoch_end(k)
out["store"] = run2.summary
print(json.dumps(out))
"""
env = dict(os.environ, DLENERGY_NVML_LIB=fake, FAKE_NVML_SCRIPT=script)
p = subprocess.run(["/usr/bin/python3", "-c", child, db, os.path.join(tmp, "small.db")],
                   env=env, capture_output=True, text=True, timeout=120)
check(p.returncode == 0, "child with failing sensor/store exited %d: %s" % (p.returncode, p.stderr))
if p.returncode == 0:
    import json
    out = json.loads(p.stdout.strip().splitlines()[-1])
    s = out["sensor"]
    check(s["status"] == "complete" and s["recorded"] is True, "sensor run recorded")
    check(s["meta"].get("gpus_lost") == "1", "GPU 1 lost: %r" % s["meta"].get("gpus_lost"))
    check("0:" in s["meta"].get("gpu_read_failures", ""), "read failures: %r" %
          s["meta"].get("gpu_read_failures"))
    check(s["epochs"] == 3, "epochs despite the failing sensor")
    s2 = out["store"]
    check(s2["recorded"] is False and s2.get("store_error"), "store failed mid-run: %r" % {
        k: s2.get(k) for k in ("recorded", "store_error")})
    check(s2["epochs"] == 3 and s2["samples"] > 20, "summary from memory: %s epochs, %s samples"
          % (s2["epochs"], s2["samples"]))
    check("store" in p.stderr.lower(), "a warning on stderr: %r" % p.stderr[-300:])

# A library that cannot be loaded: a clear dlenergy.Error naming what was tried.
p = subprocess.run(["/usr/bin/python3", "-c",
                    "import dlenergy\ntry:\n dlenergy.runs('x.db')\nexcept dlenergy.Error as e:"
                    "\n print('ERR', e)"],
                   env=dict(os.environ, DLENERGY_LIB=os.path.join(tmp, "nope.so")),
                   capture_output=True, text=True)
check(p.stdout.startswith("ERR cannot load libdlenergy") and "DLENERGY_LIB" in p.stdout,
      "missing library: %r %r" % (p.stdout, p.stderr))

print("%d passed, %d failed" % (check.passed, check.failed))
subprocess.run(["rm", "-rf", tmp])
sys.exit(1 if check.failed else 0)
