"""Finding and loading libdlenergy (ctypes), and its error codes as exceptions.

Search order: $DLENERGY_LIB (a file), a libdlenergy.so* next to this package, the
library the build or install recorded in _paths.py, then the system loader
(libdlenergy.so.0 on the default path). Loaded once, on first use: ctypes itself is
imported then, not when the package is (import time matters in notebooks).
"""
import _thread
import os

from ._errors import Error, from_code

_LOAD_LOCK = _thread.allocate_lock()
_lib = None


def _candidates():
    import glob
    env = os.environ.get("DLENERGY_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for pattern in ("libdlenergy.so.0", "libdlenergy.so", "libdlenergy.so.*"):
        for path in sorted(glob.glob(os.path.join(here, pattern))):
            yield path
    try:
        from . import _paths  # written by CMake: build tree or install prefix
        for path in getattr(_paths, "LIBS", ()):
            if path and os.path.exists(path):
                yield path
    except ImportError:
        pass
    yield "libdlenergy.so.0"
    yield "libdlenergy.so"


def _declare(lib):
    import ctypes
    c = ctypes
    p = c.c_void_p
    s = c.c_char_p
    sigs = {
        "dle_tracker_new": (p, []),
        "dle_tracker_set": (c.c_int, [p, s, s]),
        "dle_tracker_start": (c.c_int, [p]),
        "dle_tracker_now_s": (c.c_double, [p]),
        "dle_tracker_run_id": (c.c_int64, [p]),
        "dle_tracker_epochs_total": (c.c_int, [p, c.c_int]),
        "dle_tracker_epoch_begin": (c.c_int, [p, c.c_int]),
        "dle_tracker_epoch_end": (c.c_int, [p, c.c_int, s]),
        "dle_tracker_meta": (c.c_int, [p, s, s]),
        "dle_tracker_window_begin": (c.c_int, [p, s]),
        "dle_tracker_window_end": (c.c_int, [p, s, c.POINTER(c.c_double)]),
        "dle_tracker_stop": (c.c_int, [p, s, s]),
        "dle_tracker_summary_json": (s, [p]),
        "dle_tracker_error": (s, [p]),
        "dle_tracker_free": (None, [p]),
        "dle_api_run_json": (c.c_int, [s, s, c.POINTER(p), s, c.c_size_t]),
        "dle_api_runs_json": (c.c_int, [s, s, c.POINTER(p), s, c.c_size_t]),
        "dle_api_samples_json": (c.c_int, [s, s, c.POINTER(p), s, c.c_size_t]),
        "dle_api_estimate_json": (c.c_int, [s, s, s, s, c.POINTER(p), s, c.c_size_t]),
        "dle_api_free": (None, [p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def lib():
    """The loaded library (raises dlenergy.Error when none can be loaded)."""
    global _lib
    if _lib is not None:
        return _lib
    import ctypes
    with _LOAD_LOCK:
        if _lib is not None:
            return _lib
        tried = []
        for path in _candidates():
            try:
                handle = ctypes.CDLL(path)
                _declare(handle)
            except (OSError, AttributeError) as exc:
                tried.append("%s (%s)" % (path, exc))
                continue
            _lib = handle
            return _lib
        raise Error("cannot load libdlenergy; tried: " + "; ".join(tried) +
                    ". Set DLENERGY_LIB to the library's path.")


def enc(text):
    return None if text is None else str(text).encode("utf-8")


def dec(raw):
    return None if raw is None else raw.decode("utf-8", "replace")


def call_json(fn_name, *args):
    """Calls one of the dle_api_*_json readers; returns the parsed JSON."""
    import ctypes
    import json
    l = lib()
    out = ctypes.c_void_p()
    err = ctypes.create_string_buffer(512)
    rc = getattr(l, fn_name)(*[enc(a) for a in args], ctypes.byref(out), err, len(err))
    if rc != 0:
        raise from_code(rc, dec(err.value) or "error %d" % rc)
    try:
        text = ctypes.string_at(out.value).decode("utf-8", "replace")
    finally:
        l.dle_api_free(out)
    return json.loads(text)
