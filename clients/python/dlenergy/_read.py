"""Reading a store back: runs, samples, estimates (libdlenergy), predictions (the CLI)."""
import os

from . import _lib
from ._errors import ConfigError, Error


def _frame(rows_or_cols, columns=False):
    """A pandas DataFrame when pandas is importable, else the plain structure (a list of
    dicts; for columns, a list of row dicts too)."""
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if columns:
        if pd is not None:
            return pd.DataFrame(rows_or_cols)
        keys = list(rows_or_cols)
        n = len(rows_or_cols[keys[0]]) if keys else 0
        return [{k: rows_or_cols[k][i] for k in keys} for i in range(n)]
    if pd is not None:
        return pd.DataFrame(rows_or_cols)
    return rows_or_cols


def _flat(summary):
    """One run's summary as a flat row: scalars, energy_j.* and meta.* columns."""
    row = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            if key == "components":
                continue
            for k2, v2 in value.items():
                if key == "meta" and k2.startswith("window."):
                    continue  # the windows' encoding; dlenergy.run() has them decoded
                row["%s.%s" % (key, k2)] = v2
        elif not isinstance(value, list):
            row[key] = value
    return row


def _db(db):
    return None if db is None else os.fspath(db)


def runs(db=None, **filter):
    """The runs of a store (db None: $DLENERGY_DB, else ./dlenergy.db), one row each,
    filtered on metadata or status/source/host: runs("x.db", architecture="vgg16",
    status="complete"). Columns: the fields of `dlenergy show --json` (energy_j.gpu,
    meta.country, ...)."""
    for key, value in filter.items():
        if "," in str(key) + str(value) or "=" in str(key):
            raise ConfigError("filter %s=%s: no ',' or '=' inside keys and values" % (key, value))
    text = ",".join("%s=%s" % (k, v) for k, v in filter.items()) or None
    return _frame([_flat(r) for r in _lib.call_json("dle_api_runs_json", _db(db), text)])


def run(run_id="last", db=None):
    """One run's summary dict (as `dlenergy show --json`, plus "windows")."""
    return _lib.call_json("dle_api_run_json", _db(db), str(run_id))


def samples(db=None, run_id="last"):
    """A run's samples (t_s, wall_s, gpu_power_w, cpu_power_w, dram_power_w, ram_power_w,
    cpu_util_pct, rss_mib, gpu_energy_counter_j, gpu_util_pct, gpu_mem_used_mib,
    n_gpus), one row per sample; None where a reading is absent."""
    return _frame(_lib.call_json("dle_api_samples_json", _db(db), str(run_id)), columns=True)


def estimate(run_id="last", method="step-auto", db=None, **params):
    """A projection of a stored run (modelled), as `dlenergy estimate --method`:
    estimate(7, method="carbontracker", db="x.db", at_epoch=2). Parameters are the
    CLI's with '_' for '-' (at_epoch, window_epochs, gpu_only=True, ...)."""
    parts = []
    for key, value in params.items():
        key = key.replace("_", "-")
        if value is True:
            parts.append(key)
        elif value is not False and value is not None:
            if ";" in str(value):
                raise ConfigError("estimate parameter %s: no ';' in values" % key)
            parts.append("%s=%s" % (key, value))
    return _lib.call_json("dle_api_estimate_json", _db(db), str(run_id), method,
                          ";".join(parts) or None)


def _cli():
    exe = os.environ.get("DLENERGY_BIN")
    if exe:
        return exe
    try:
        from . import _paths
        for path in getattr(_paths, "CLIS", ()):
            if path and os.access(path, os.X_OK):
                return path
    except ImportError:
        pass
    import shutil
    exe = shutil.which("dlenergy")
    if not exe:
        raise Error("dlenergy.predict needs the dlenergy program (set DLENERGY_BIN)")
    return exe


def predict(**options):
    """A prediction before training (modelled), through `dlenergy predict --json`:
    predict(gpu="Tesla V100-SXM2-16GB", gflops=4.1, epochs=10, batch_size=32,
    train_size=5000, val_size=1000, model="pre.json", meta={"architecture": "resnet50"}).
    A usage error of the CLI is a ConfigError with its message.
    Options are the CLI's with '_' for '-'; True for a flag."""
    import json
    import subprocess
    argv = [_cli(), "predict", "--json"]
    for key, value in options.items():
        if key == "meta":
            for k, v in (value or {}).items():
                argv += ["--meta", "%s=%s" % (k, v)]
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is not False and value is not None:
            argv += [flag, os.fspath(value) if hasattr(value, "__fspath__") else str(value)]
    proc = subprocess.run(argv, capture_output=True, text=True)  # no shell
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines()
                 if ln.strip() and not ln.startswith("Try ")]
        msg = "; ".join(ln.replace("dlenergy predict: ", "", 1) for ln in lines)
        raise (ConfigError if proc.returncode == 2 else Error)(
            msg or "dlenergy predict failed (%d)" % proc.returncode, proc.returncode)
    return json.loads(proc.stdout)
