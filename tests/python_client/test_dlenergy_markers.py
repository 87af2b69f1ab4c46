"""Unit tests of clients/python/dlenergy_markers.py (stdlib unittest only)."""
import importlib
import os
import sys
import tempfile
import types
import unittest

SRC = os.environ.get("DLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "clients", "python"))
import dlenergy_markers as dle  # noqa: E402


def read_all(fd):
    chunks = []
    while True:
        try:
            b = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks).decode()


class Env:
    def __init__(self, **kv):
        self.kv = kv

    def __enter__(self):
        self.old = {k: os.environ.get(k) for k in
                    ("DLENERGY_MARKER_FD", "DLENERGY_MARKER", "DLENERGY_MARKER_INO")}
        for k in self.old:
            os.environ.pop(k, None)
        os.environ.update({k: str(v) for k, v in self.kv.items()})
        dle._dead_fds.clear()

    def __exit__(self, *a):
        for k, v in self.old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class PipeTests(unittest.TestCase):
    def setUp(self):
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)

    def tearDown(self):
        for fd in (self.r, self.w):
            try:
                os.close(fd)
            except OSError:
                pass

    def test_protocol_lines(self):
        with Env(DLENERGY_MARKER_FD=self.w, DLENERGY_MARKER_INO=os.fstat(self.w).st_ino):
            self.assertTrue(dle.enabled())
            self.assertTrue(dle.epochs_total(3))
            self.assertTrue(dle.epoch_begin(1))
            self.assertTrue(dle.epoch_end(1, loss=0.5, accuracy=0.25, note="two words"))
            self.assertTrue(dle.meta(architecture="cnn", batch_size=32, image="32x32"))
            self.assertFalse(dle.epoch_begin(-1))  # not a count: nothing sent
            self.assertFalse(dle.meta())
        lines = read_all(self.r).splitlines()
        self.assertEqual(lines, [
            "epochs_total 3",
            "epoch_begin 1",
            "epoch_end 1 loss=0.5 accuracy=0.25 note=two_words",
            "meta architecture=cnn batch_size=32 image=32x32",
        ])

    def test_wrong_inode_is_not_written(self):
        # The variable may outlive the pipe: a reused descriptor number must not be written.
        with Env(DLENERGY_MARKER_FD=self.w, DLENERGY_MARKER_INO="1"):
            self.assertFalse(dle.epoch_begin(1))
        self.assertEqual(read_all(self.r), "")

    def test_regular_file_fd_is_not_written(self):
        with tempfile.TemporaryFile() as f:
            with Env(DLENERGY_MARKER_FD=f.fileno()):
                self.assertFalse(dle.epoch_begin(1))
            f.seek(0)
            self.assertEqual(f.read(), b"")

    def test_reader_gone_is_silent(self):
        os.close(self.r)
        with Env(DLENERGY_MARKER_FD=self.w):
            self.assertFalse(dle.epoch_begin(1))  # EPIPE swallowed
            self.assertFalse(dle.epoch_end(1, loss=1.0))
            self.assertFalse(dle.enabled())

    def test_full_pipe_never_blocks(self):
        os.set_blocking(self.w, False)
        with Env(DLENERGY_MARKER_FD=self.w):
            sent = [dle.epoch_end(i, loss=1.0) for i in range(20000)]
        self.assertTrue(sent[0])
        self.assertFalse(sent[-1])  # dropped once the pipe is full, no exception, no hang
        data = read_all(self.r)
        self.assertTrue(data.endswith("\n"))  # whole lines only
        self.assertEqual(data.count("\n"), sum(sent))

    def test_long_metrics_are_cut_not_the_epoch(self):
        with Env(DLENERGY_MARKER_FD=self.w):
            self.assertTrue(dle.epoch_end(7, **{"m%d" % i: float(i) for i in range(500)}))
        line = read_all(self.r).splitlines()[0]
        self.assertTrue(line.startswith("epoch_end 7 m0=0.0 m1=1.0"))
        self.assertLessEqual(len(line), 1000)


class NoChannelTests(unittest.TestCase):
    def test_noop(self):
        with Env():
            self.assertFalse(dle.enabled())
            self.assertFalse(dle.epoch_begin(1))
            self.assertFalse(dle.epoch_end(1, loss=0.1))

    def test_bad_fd_values(self):
        for bad in ("x", "-1", "987654"):
            with Env(DLENERGY_MARKER_FD=bad):
                self.assertFalse(dle.epoch_begin(1))


class FifoTests(unittest.TestCase):
    def test_fifo_with_and_without_reader(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "m")
        os.mkfifo(path)
        try:
            with Env(DLENERGY_MARKER=path):
                self.assertFalse(dle.epoch_begin(1))  # no reader: ENXIO, dropped at once
                r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                try:
                    self.assertTrue(dle.epoch_begin(2))
                    self.assertTrue(dle.meta(dataset="synthetic"))
                    self.assertEqual(read_all(r).splitlines(),
                                     ["epoch_begin 2", "meta dataset=synthetic"])
                finally:
                    os.close(r)
            with Env(DLENERGY_MARKER=os.path.join(d, "missing")):
                self.assertFalse(dle.epoch_begin(3))
        finally:
            os.unlink(path)
            os.rmdir(d)


class FrameworkTests(unittest.TestCase):
    def setUp(self):
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.saved = {k: sys.modules.get(k) for k in
                      ("keras", "keras.callbacks", "lightning", "lightning.pytorch")}
        dle._lazy.clear()

    def tearDown(self):
        os.close(self.r)
        os.close(self.w)
        for k, v in self.saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
        dle._lazy.clear()

    def test_keras_callback(self):
        class Callback:  # stands in for keras.callbacks.Callback
            def __init__(self):
                self.params = {}
        keras = types.ModuleType("keras")
        cbmod = types.ModuleType("keras.callbacks")
        cbmod.Callback = Callback
        keras.callbacks = cbmod
        sys.modules["keras"] = keras
        sys.modules["keras.callbacks"] = cbmod
        cb = dle.KerasCallback()
        self.assertIsInstance(cb, Callback)
        cb.params = {"epochs": 2}
        with Env(DLENERGY_MARKER_FD=self.w):
            cb.on_train_begin()
            cb.on_epoch_begin(0)
            cb.on_epoch_end(0, {"loss": 0.75, "accuracy": 0.5, "name": "x"})
        self.assertEqual(read_all(self.r).splitlines(),
                         ["epochs_total 2", "epoch_begin 1", "epoch_end 1 loss=0.75 accuracy=0.5"])

    def test_lightning_callback(self):
        class Callback:
            pass
        pl = types.ModuleType("lightning.pytorch")
        pl.Callback = Callback
        sys.modules["lightning"] = types.ModuleType("lightning")
        sys.modules["lightning.pytorch"] = pl
        cb = dle.LightningCallback()
        self.assertIsInstance(cb, Callback)
        trainer = types.SimpleNamespace(max_epochs=4, current_epoch=2,
                                        callback_metrics={"train_loss": 0.125})
        with Env(DLENERGY_MARKER_FD=self.w):
            cb.on_train_start(trainer, None)
            cb.on_train_epoch_start(trainer, None)
            cb.on_train_epoch_end(trainer, None)
        self.assertEqual(read_all(self.r).splitlines(),
                         ["epochs_total 4", "epoch_begin 3", "epoch_end 3 train_loss=0.125"])

    def test_missing_framework_is_a_clear_error(self):
        for k in ("keras", "keras.callbacks", "tensorflow", "tensorflow.keras",
                  "tensorflow.keras.callbacks"):
            sys.modules[k] = None  # makes import fail
        try:
            with self.assertRaises(AttributeError):
                dle.KerasCallback  # noqa: B018
        finally:
            for k in ("tensorflow", "tensorflow.keras", "tensorflow.keras.callbacks"):
                sys.modules.pop(k, None)

    def test_import_is_lazy(self):
        with open(dle.__file__) as f:
            src = f.read()
        self.assertNotIn("\nimport keras", src)
        self.assertNotIn("\nimport torch", src)
        mod = importlib.reload(dle)
        self.assertNotIn("KerasCallback", vars(mod))


if __name__ == "__main__":
    unittest.main(verbosity=1)
