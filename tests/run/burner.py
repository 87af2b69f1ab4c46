"""Test child for `dlenergy run`: epochs that alternately burn CPU and sleep, with
markers through the Python helper; plus the misbehaviours the end-to-end tests need.

    burner.py [--epochs N] [--epoch-s S] [--exit CODE] [--kill-self SIG]
              [--wait-signal] [--junk] [--print-epochs] [--done-file PATH]
Odd epochs burn CPU, even epochs sleep. Prints "ready" (stdout, flushed) once its
first epoch has begun.
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("DLE_SOURCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."), "clients", "python"))
import dlenergy_markers as dle  # noqa: E402


def burn(seconds):
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        for i in range(2000):
            x += i * i
    return x


def write_all_fd(data):
    """Pushes raw bytes at the marker pipe (non-blocking: retries while full)."""
    fd = int(os.environ["DLENERGY_MARKER_FD"])
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            time.sleep(0.001)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--epoch-s", type=float, default=0.5)
    ap.add_argument("--exit", type=int, default=0)
    ap.add_argument("--kill-self", default="")
    ap.add_argument("--wait-signal", action="store_true")
    ap.add_argument("--junk", action="store_true")
    ap.add_argument("--print-epochs", action="store_true")
    ap.add_argument("--done-file", default="")
    ap.add_argument("--no-markers", action="store_true")
    ap.add_argument("--attach-wait", action="store_true",
                    help="repeat epochs_total until a dlenergy attach reads the FIFO")
    a = ap.parse_args()
    if a.no_markers:
        dle._send = lambda line: False
    if a.attach_wait:
        print("pid %d" % os.getpid(), flush=True)
        while not dle.epochs_total(a.epochs):
            time.sleep(0.02)

    sigints = []
    if a.wait_signal:
        signal.signal(signal.SIGINT, lambda s, f: sigints.append(time.monotonic()))

    dle.epochs_total(a.epochs)
    dle.meta(architecture="burner", pid=os.getpid())
    if a.junk:
        # 3 MB of one line without a newline, then thousands of junk lines, then a
        # valid marker right after: the run must go on and keep the valid ones.
        write_all_fd(b"X" * (3 << 20) + b"\n")
        write_all_fd(b"".join(b"garbage line %d \xff\n" % i for i in range(20000)))
        write_all_fd(b"epoch_bogus 1\n")
    dle.epoch_begin(1)
    print("ready", flush=True)
    for k in range(1, a.epochs + 1):
        if a.print_epochs:
            print("Epoch %d/%d" % (k, a.epochs), flush=True)
        if k % 2:
            burn(a.epoch_s)
        else:
            time.sleep(a.epoch_s)
        # End of k and begin of k+1 in one write: the epochs tile the time.
        if k < a.epochs:
            dle._send("epoch_end %d n=%d\nepoch_begin %d" % (k, k, k + 1))
        else:
            dle.epoch_end(k, n=k)
        print("epoch %d done" % k, flush=True)
    if a.wait_signal:
        while not sigints:
            time.sleep(0.01)
        time.sleep(0.3)  # a second, duplicated delivery would arrive meanwhile
        dle.meta(sigints=len(sigints))
        return 42
    if a.kill_self:
        sys.stdout.flush()
        os.kill(os.getpid(), getattr(signal, "SIG" + a.kill_self))
        time.sleep(5)
    if a.done_file:
        with open(a.done_file + ".tmp", "w") as f:
            f.write("ok\n")
        os.rename(a.done_file + ".tmp", a.done_file)
    return a.exit


if __name__ == "__main__":
    sys.exit(main())
