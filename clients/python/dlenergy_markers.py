"""dlenergy_markers: tell dlenergy where the epochs of a training run begin and end.

Zero dependencies, Python 3.7+. Under `dlenergy run` the markers go through the pipe
named by DLENERGY_MARKER_FD; under `dlenergy attach` through the FIFO named by
DLENERGY_MARKER. Without either, the marks go to the run that `dlenergy.track` (the
in-process package) records in this process, when there is one. Otherwise, or once
dlenergy has gone away, every call is a silent no-op: nothing here ever raises into
(or blocks) the training.

    import dlenergy_markers as dle
    dle.epochs_total(10)
    dle.meta(architecture="resnet50", dataset="caltech101", batch_size=32)
    for epoch in range(1, 11):
        dle.epoch_begin(epoch)
        ...
        dle.epoch_end(epoch, loss=0.41, accuracy=0.93)

Frameworks (their modules are imported only when these names are first used):
    model.fit(..., callbacks=[dle.KerasCallback()])          # Keras / tf.keras
    Trainer(callbacks=[dle.LightningCallback()])              # PyTorch Lightning
Both number epochs from 1, as Keras prints them ("Epoch 1/10").
"""

import math
import os
import stat
import sys

__all__ = ["epochs_total", "epoch_begin", "epoch_end", "meta", "enabled",
           "KerasCallback", "LightningCallback"]

LINE_MAX = 4096  # bytes per line; also the pipe's atomic write size

_dead_fds = set()  # descriptors that failed with EPIPE/EBADF or are not our pipe


def _clean(text):
    """One token: no whitespace, no '=' confusion in keys handled by the caller."""
    out = "".join("_" if ch.isspace() or ord(ch) < 32 or ord(ch) == 127 else ch
                  for ch in str(text))
    return out or "_"


def _fmt(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            value = value.item()
        except Exception:  # noqa: BLE001 - a marker must never raise
            pass
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value).lower()
    return _clean(value)


def _pairs(kv):
    parts = []
    for key, value in kv.items():
        parts.append("%s=%s" % (_clean(key).replace("=", "_"), _fmt(value)))
    return parts


def _marker_fd():
    raw = os.environ.get("DLENERGY_MARKER_FD")
    if not raw:
        return None
    try:
        fd = int(raw)
    except ValueError:
        return None
    if fd < 0 or fd in _dead_fds:
        return None
    # The variable outlives the descriptor in grandchildren that closed it, and the
    # number may then name an unrelated file: only write to the pipe dlenergy made.
    try:
        st = os.fstat(fd)
    except OSError:
        _dead_fds.add(fd)
        return None
    want_ino = os.environ.get("DLENERGY_MARKER_INO")
    if not stat.S_ISFIFO(st.st_mode) or (want_ino and want_ino != str(st.st_ino)):
        _dead_fds.add(fd)
        return None
    return fd


def _send(line):
    data = (line + "\n").encode("utf-8", "replace")
    if len(data) > LINE_MAX + 1:
        return False
    if not _wrapper_channel():
        return _inproc(line)
    try:
        fd = _marker_fd()
        if fd is not None:
            try:
                os.write(fd, data)  # one write: atomic on a pipe (<= PIPE_BUF)
                return True
            except BlockingIOError:
                return False  # dlenergy is behind: drop this marker, never block
            except OSError:
                _dead_fds.add(fd)  # EPIPE (dlenergy gone), EBADF, ...
                return False
        path = os.environ.get("DLENERGY_MARKER")
        if path:
            try:
                # O_NONBLOCK: ENXIO at once when no dlenergy reads the FIFO.
                wfd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                return False
            try:
                if not stat.S_ISFIFO(os.fstat(wfd).st_mode):
                    return False
                os.write(wfd, data)
                return True
            except OSError:
                return False
            finally:
                os.close(wfd)
    except Exception:  # noqa: BLE001 - a marker must never take the training down
        return False
    return False


def _inproc(line):
    """No wrapper: hand the line to the active `dlenergy.track` run of this process, if
    the dlenergy package is loaded and tracking (it is never imported from here)."""
    try:
        mod = sys.modules.get("dlenergy")
        fn = getattr(mod, "_marker_line", None) if mod is not None else None
        return bool(fn(line)) if fn is not None else False
    except Exception:  # noqa: BLE001 - a marker must never take the training down
        return False


def _wrapper_channel():
    return _marker_fd() is not None or bool(os.environ.get("DLENERGY_MARKER"))


def enabled():
    """True when a dlenergy marker channel is configured for this process, or a
    `dlenergy.track` run records it in-process."""
    if _wrapper_channel():
        return True
    try:
        mod = sys.modules.get("dlenergy")
        active = getattr(mod, "active_run", None) if mod is not None else None
        return bool(active is not None and active() is not None)
    except Exception:  # noqa: BLE001
        return False


def _count(n):
    try:
        n = int(n)
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def epochs_total(n):
    """Announce the planned number of epochs."""
    n = _count(n)
    return n is not None and _send("epochs_total %d" % n)


def epoch_begin(k):
    """Epoch k starts now."""
    k = _count(k)
    return k is not None and _send("epoch_begin %d" % k)


def epoch_end(k, **metrics):
    """Epoch k ends now; keyword arguments are its metrics (loss=0.41, accuracy=0.9)."""
    k = _count(k)
    if k is None:
        return False
    parts = ["epoch_end %d" % k] + _pairs(metrics)
    while len(" ".join(parts).encode("utf-8", "replace")) > min(LINE_MAX, 1000) and len(parts) > 1:
        parts.pop()  # keep the epoch even when its metrics are too many
    return _send(" ".join(parts))


def meta(**kv):
    """Run metadata: meta(architecture="vgg16", dataset="caltech101", batch_size=32)."""
    parts = _pairs(kv)
    if not parts:
        return False
    return _send("meta " + " ".join(parts))


def _logs_metrics(logs):
    out = {}
    for key, value in (logs or {}).items():
        try:
            if hasattr(value, "item"):
                value = value.item()
            out[key] = float(value)
        except Exception:  # noqa: BLE001
            continue
    return out


class _KerasHooks:
    """The Keras callback's behaviour, kept apart from Keras itself."""

    def on_train_begin(self, logs=None):
        try:
            epochs = (getattr(self, "params", None) or {}).get("epochs")
            if epochs:
                epochs_total(epochs)
        except Exception:  # noqa: BLE001
            pass

    def on_epoch_begin(self, epoch, logs=None):
        epoch_begin(epoch + 1)

    def on_epoch_end(self, epoch, logs=None):
        epoch_end(epoch + 1, **_logs_metrics(logs))


class _LightningHooks:
    """The Lightning callback's behaviour, kept apart from Lightning itself."""

    def on_train_start(self, trainer, pl_module):
        try:
            if getattr(trainer, "max_epochs", None) and trainer.max_epochs > 0:
                epochs_total(trainer.max_epochs)
        except Exception:  # noqa: BLE001
            pass

    def on_train_epoch_start(self, trainer, pl_module):
        epoch_begin(trainer.current_epoch + 1)

    def on_train_epoch_end(self, trainer, pl_module):
        try:
            metrics = _logs_metrics(getattr(trainer, "callback_metrics", None))
        except Exception:  # noqa: BLE001
            metrics = {}
        epoch_end(trainer.current_epoch + 1, **metrics)


def _import_first(names, attr):
    import importlib
    for name in names:
        try:
            module = importlib.import_module(name)
            return getattr(module, attr)
        except (ImportError, AttributeError):
            continue
    return None


_lazy = {}


def __getattr__(name):  # PEP 562: the framework classes are built on first use
    if name in _lazy:
        return _lazy[name]
    if name == "KerasCallback":
        base = _import_first(["keras.callbacks", "tensorflow.keras.callbacks"], "Callback")
        if base is None:
            raise AttributeError("KerasCallback needs keras or tensorflow installed")
        cls = type("KerasCallback", (_KerasHooks, base),
                   {"__doc__": "Keras callback sending dlenergy epoch markers."})
    elif name == "LightningCallback":
        base = _import_first(["lightning.pytorch", "pytorch_lightning"], "Callback")
        if base is None:
            raise AttributeError("LightningCallback needs lightning or pytorch_lightning installed")
        cls = type("LightningCallback", (_LightningHooks, base),
                   {"__doc__": "PyTorch Lightning callback sending dlenergy epoch markers."})
    else:
        raise AttributeError("module 'dlenergy_markers' has no attribute %r" % name)
    _lazy[name] = cls
    return cls
