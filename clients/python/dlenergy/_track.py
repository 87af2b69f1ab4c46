"""dlenergy.track: an in-process run (context manager or decorator) over the C tracker."""
import math
import os
import sys
import warnings

from . import _lib
from ._errors import ConfigError, Error, StateError, from_code
# One rule for tokens and values, shared with the marker helper (installed beside this
# package; zero dependencies, cheap to import).
from dlenergy_markers import _fmt, _pairs  # noqa: E402

_active = []  # running Run objects of this process, innermost last

# Codes that say the environment failed (store, I/O, sensors), not the caller.
_ENV_CODES = (-2, -6, -7)


_atexit_done = []


def _stop_at_exit():
    """The interpreter exits with runs still going (start() without stop()): record
    them as failed rather than leave them "running"."""
    for r in list(reversed(_active)):
        try:
            r.stop("failed", "the interpreter exited before the run was stopped")
        except Exception:  # noqa: BLE001
            pass


def _register_atexit():
    if not _atexit_done:
        import atexit
        atexit.register(_stop_at_exit)
        _atexit_done.append(True)


def active_run():
    """The innermost running `track` run of this process, or None."""
    pid = os.getpid()
    for r in reversed(_active):
        if r._pid == pid:
            return r
    return None


def _metrics_text(metrics):
    return " ".join(_pairs(metrics))[:255]


_OPTION_KEYS = {"interval", "gpus", "carbon_intensity", "pue", "scope", "job", "host",
                "epochs", "command", "cpu_tdp", "ram_w_per_gb", "drain_period", "source"}
_FLAG_KEYS = {"no_gpu", "no_rapl", "no_cpu"}


def _options(db, country, meta, kw):
    opts = []
    if db is not None:
        opts.append(("db", os.fspath(db)))
    if country is not None:
        opts.append(("country", country))
    for key, value in kw.items():
        if key in _FLAG_KEYS:
            if value:
                opts.append((key, ""))
        elif key in _OPTION_KEYS:
            if value is not None:
                opts.append((key, value if isinstance(value, str) else repr(value)
                             if isinstance(value, float) else str(value)))
        else:
            raise ConfigError("track() got an unknown option %r" % key)
    if "command" not in kw:
        argv = [a for a in (getattr(sys, "argv", None) or []) if a]
        opts.append(("command", "python " + " ".join(argv) if argv else "python (interactive)"))
    if "source" not in kw:
        opts.append(("source", "python"))
    for key, value in (meta or {}).items():
        opts.append(("meta." + str(key), _fmt(value) if not isinstance(value, str) else value))
    return opts


class Window:
    """A named window of a run (Zeus-style); a context manager. `energy_j` after it
    ends: its energy from the samples so far (the summary's "windows" has the final
    figure, from every sample)."""

    def __init__(self, run, name):
        self.run = run
        self.name = name
        self.energy_j = None

    def __enter__(self):
        self.run.begin_window(self.name)
        return self

    def __exit__(self, exc_type, exc, tb):
        self.energy_j = self.run.end_window(self.name)
        return False


class Run:
    """One in-process run. Use through `dlenergy.track(...)`."""

    def __init__(self, options, on_error="warn"):
        if on_error not in ("warn", "raise", "ignore"):
            raise ConfigError("on_error wants 'warn', 'raise' or 'ignore', not %r" % (on_error,))
        self._opts = list(options)
        self._on_error = on_error
        self._h = None
        self._pid = os.getpid()
        self._started = False
        self._stopped = False
        self._untracked = None  # why the run is not recorded (start failed)
        self._epoch = 0  # last epoch begun (automatic numbering)
        self.summary = None
        self.run_id = None

    # ---- life cycle
    def _env_failure(self, message):
        if self._on_error == "raise":
            raise Error(message)
        if self._on_error == "warn":
            warnings.warn("dlenergy: " + message + " (the training goes on)", RuntimeWarning,
                          stacklevel=3)

    def start(self):
        if self._started:
            raise StateError("this run was already started")
        lib = _lib.lib()
        h = lib.dle_tracker_new()
        if not h:
            raise MemoryError("dlenergy: out of memory")
        try:
            for key, value in self._opts:
                rc = lib.dle_tracker_set(h, _lib.enc(key), _lib.enc(value))
                if rc != 0:
                    raise from_code(rc, _lib.dec(lib.dle_tracker_error(h)))
            rc = lib.dle_tracker_start(h)
            if rc != 0:
                msg = _lib.dec(lib.dle_tracker_error(h))
                if rc not in _ENV_CODES:
                    raise from_code(rc, msg)
                lib.dle_tracker_free(h)
                h = None
                self._untracked = msg
                self.summary = {"recorded": False, "run_id": None, "error": msg}
                self._env_failure("not recording: " + msg)
        except BaseException:
            if h:
                lib.dle_tracker_free(h)
            raise
        self._h = h
        self._started = True
        self._pid = os.getpid()
        if h:
            self.run_id = int(lib.dle_tracker_run_id(h))
        _active.append(self)
        _register_atexit()
        return self

    def stop(self, status="complete", error=None):
        """Ends the run (status "complete", "failed" or "killed") and returns the summary
        dict (also in .summary)."""
        if not self._started:
            raise StateError("this run was not started")
        if self._stopped or os.getpid() != self._pid:
            return self.summary
        self._stopped = True
        if self in _active:
            _active.remove(self)
        if not self._h:
            return self.summary
        import json
        lib = _lib.lib()
        rc = lib.dle_tracker_stop(self._h, _lib.enc(status), _lib.enc(error))
        raw = lib.dle_tracker_summary_json(self._h)
        msg = _lib.dec(lib.dle_tracker_error(self._h))
        self.summary = json.loads(_lib.dec(raw)) if raw else {"recorded": False, "error": msg}
        lib.dle_tracker_free(self._h)
        self._h = None
        if rc != 0 and raw is None and rc not in _ENV_CODES:
            raise from_code(rc, msg)
        if rc != 0:
            self._env_failure(msg)
        return self.summary

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or (issubclass(exc_type, SystemExit) and
                                getattr(exc, "code", None) in (None, 0)):
            self.stop("complete")
        else:
            status = "killed" if issubclass(exc_type, KeyboardInterrupt) else "failed"
            self.stop(status, "%s: %s" % (exc_type.__name__, exc))
        return False

    def __del__(self):
        h = getattr(self, "_h", None)
        if h and os.getpid() == self._pid:
            try:
                _lib.lib().dle_tracker_free(h)
            except Exception:  # noqa: BLE001
                pass

    # ---- marks
    def _live(self):
        """The tracker handle when marks should reach it; None to skip silently."""
        if os.getpid() != self._pid:
            return None  # a forked worker: its parent records
        if not self._started:
            raise StateError("the run is not started (use it in a `with` block)")
        if self._stopped:
            raise StateError("the run has ended")
        return self._h  # None: untracked (start failed), marks are no-ops

    def _check(self, rc):
        if rc != 0:
            raise from_code(rc, _lib.dec(_lib.lib().dle_tracker_error(self._h)))

    @property
    def now_s(self):
        """Seconds since the run started (NaN before)."""
        return _lib.lib().dle_tracker_now_s(self._h) if self._h else float("nan")

    def epochs_total(self, n):
        h = self._live()
        if h:
            self._check(_lib.lib().dle_tracker_epochs_total(h, int(n)))

    def epoch_begin(self, epoch=None):
        """Epoch `epoch` (default: the next one, from 1) begins now."""
        if epoch is None:
            epoch = self._epoch + 1
        self._epoch = int(epoch)
        h = self._live()
        if h:
            self._check(_lib.lib().dle_tracker_epoch_begin(h, int(epoch)))
        return self._epoch

    def epoch_end(self, epoch=None, metrics=None, **kw):
        """The epoch ends now: epoch_end(3, loss=0.4), epoch_end({"loss": 0.4}) (the
        epoch last begun) or epoch_end(metrics={...})."""
        if isinstance(epoch, dict) and metrics is None:
            epoch, metrics = None, epoch
        if epoch is None:
            epoch = self._epoch if self._epoch else 1
        all_metrics = dict(metrics or {})
        all_metrics.update(kw)
        h = self._live()
        if h:
            text = _metrics_text(all_metrics) if all_metrics else None
            self._check(_lib.lib().dle_tracker_epoch_end(h, int(epoch), _lib.enc(text)))
        return int(epoch)

    def meta(self, values=None, **kw):
        """Run metadata: meta(batch_size=32) or meta({"batch_size": 32})."""
        kv = dict(values or {})
        kv.update(kw)
        h = self._live()
        if h:
            for key, value in kv.items():
                text = value if isinstance(value, str) else _fmt(value)
                self._check(_lib.lib().dle_tracker_meta(h, _lib.enc(key), _lib.enc(text)))

    def begin_window(self, name):
        h = self._live()
        if h:
            self._check(_lib.lib().dle_tracker_window_begin(h, _lib.enc(name)))

    def end_window(self, name):
        """Ends window `name`; returns its energy in joules from the samples so far
        (None when there are none, or the run is not recorded)."""
        h = self._live()
        if not h:
            return None
        import ctypes
        energy = ctypes.c_double(float("nan"))
        self._check(_lib.lib().dle_tracker_window_end(h, _lib.enc(name), ctypes.byref(energy)))
        return energy.value if math.isfinite(energy.value) else None

    def window(self, name):
        """`with run.window("validation"):` — a named window (nestable, overlapping)."""
        return Window(self, name)


class track:  # noqa: N801 - used as a function and a decorator, like CodeCarbon's
    """track(db=None, country=None, meta=None, *, on_error="warn", interval=0.1,
    gpus=None, carbon_intensity=None, pue=None, scope=None, job=None, host=None,
    epochs=None, command=None, cpu_tdp=None, ram_w_per_gb=None, no_gpu=False,
    no_rapl=False, no_cpu=False)

    `with dlenergy.track(...) as run:` records the block; `t = dlenergy.track(...);
    run = t.start(); ...; t.stop()` the same across notebook cells; `@dlenergy.track(...)`
    records each call of the function (the run is dlenergy.active_run() inside it,
    the last summary is the wrapper's .last_summary). Options as `dlenergy run`'s.
    on_error: what a failing store or sensor does: "warn" (default), "ignore", or
    "raise". Bad options always raise dlenergy.ConfigError."""

    def __init__(self, db=None, country=None, meta=None, *, on_error="warn", **options):
        self._args = _options(db, country, meta, options)
        self._on_error = on_error
        self._run = None

    def __enter__(self):
        if self._run is not None:
            raise StateError("this track() is already in use; make one per `with`")
        self._run = Run(self._args, self._on_error)
        return self._run.start()

    def __exit__(self, exc_type, exc, tb):
        run, self._run = self._run, None
        return run.__exit__(exc_type, exc, tb)

    def start(self):
        """Starts recording without a `with` block (a notebook across cells); returns
        the Run. End it with stop()."""
        return self.__enter__()

    def stop(self, status="complete", error=None):
        """Ends what start() began; returns the summary dict."""
        if self._run is None:
            raise StateError("this track() is not started")
        run, self._run = self._run, None
        return run.stop(status, error)

    def __call__(self, fn):
        import functools
        args, on_error = self._args, self._on_error

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with Run(args, on_error) as run:
                result = fn(*a, **kw)
            wrapper.last_summary = run.summary
            return result

        wrapper.last_summary = None
        return wrapper


def _marker_line(line):
    """A dlenergy_markers line ("epoch_end 3 loss=0.4", ...) for the active run; used by
    the Keras/Lightning callbacks when no `dlenergy run` wrapper is there. Never raises."""
    run_ = active_run()
    if run_ is None:
        return False
    try:
        verb, _, rest = line.strip().partition(" ")
        if verb == "epochs_total":
            run_.epochs_total(int(rest))
        elif verb == "epoch_begin":
            run_.epoch_begin(int(rest))
        elif verb == "epoch_end":
            num, _, pairs = rest.partition(" ")
            metrics = dict(p.split("=", 1) for p in pairs.split() if "=" in p)
            run_.epoch_end(int(num), metrics)
        elif verb == "meta":
            run_.meta(dict(p.split("=", 1) for p in rest.split() if "=" in p))
        else:
            return False
        return True
    except Exception:  # noqa: BLE001 - markers never raise into the training
        return False
