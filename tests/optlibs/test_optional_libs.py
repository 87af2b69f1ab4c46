#!/usr/bin/env python3
"""Optional libraries: libpq, libmicrohttpd, LAPACK, libsvm and GSL are dlopen'ed on first use.

1. `readelf -d` of the dlenergy CLI and of libdlenergy.so lists none of them (nor LAPACKE,
   BLAS, gfortran, libstdc++ that they pull in) as NEEDED, and `ldd` (the whole load
   closure) does not pull them in either.
2. A postgresql:// store with the library absent ($DLENERGY_LIBPQ names a file that does
   not exist) fails with a message naming the library and the package; a file that is not
   libpq names the missing function; with the real library the error comes from libpq
   itself (connection refused), proving it was loaded on demand.
3. The exporter (`run --metrics-listen`) with libmicrohttpd absent says so likewise.
4. ridge / kernel ridge / SVR with LAPACK absent ($DLENERGY_LIBLAPACK) or not LAPACK, and
   SVR with libsvm absent ($DLENERGY_LIBSVM), fail naming the library and the package; with
   the real libraries the same commands fit; linear regression (GSL) and `predict` with
   the shipped models need neither.
5. With GSL absent ($DLENERGY_LIBGSL) `analyze` and `fit --model linear` fail naming it;
   `predict` and `show` do not need it.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

BIN = os.environ["DLENERGY_BIN"]
BUILD = os.environ["DLE_BUILD_DIR"]
LIB = os.path.join(BUILD, "libdlenergy.so")
OPTIONAL = re.compile(r"libpq\.so|libmicrohttpd\.so|liblapacke?\.so|libblas\.so|libgfortran\.so|"
                      r"libsvm\.so|libstdc\+\+\.so|libgsl\.so|libgslcblas\.so")
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)


for path in (BIN, LIB):
    libs = needed(path)
    # The parse must see the libraries that are linked, or "no libpq" would prove nothing.
    check(any(n.startswith(("libdlenergy.so", "libsqlite3.so")) for n in libs),
          f"{os.path.basename(path)} NEEDED parsed: {libs}")
    bad = [n for n in libs if OPTIONAL.search(n)]
    check(not bad, f"{os.path.basename(path)} NEEDED has no optional library: {bad}")
    closure = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    check("libsqlite3.so" in closure, f"{os.path.basename(path)} ldd lists libsqlite3")
    # The sanitizer runtimes (an ASan+UBSan build) bring libstdc++ themselves.
    san = re.search(r"lib(a|ub)san\.so", closure) is not None
    bad = [l.split()[0] for l in closure.splitlines() if OPTIONAL.search(l)
           and not (san and "libstdc++" in l)]
    check(not bad, f"{os.path.basename(path)} load closure has no optional library: {bad}")


def dle(args, **env):
    e = dict(os.environ)
    e.pop("DLENERGY_LIBPQ", None)
    e.pop("DLENERGY_LIBMICROHTTPD", None)
    e.pop("DLENERGY_LIBLAPACK", None)
    e.pop("DLENERGY_LIBSVM", None)
    e.pop("DLENERGY_LIBGSL", None)
    e.update(env)
    return subprocess.run([BIN] + args, capture_output=True, text=True, env=e, timeout=60)


# Port 1 on loopback: nothing listens, so a loaded libpq fails fast with its own message.
URL = "postgresql://dle@127.0.0.1:1/none?connect_timeout=5"
with tempfile.TemporaryDirectory() as tmp:
    absent = os.path.join(tmp, "libpq-absent.so.5")
    r = dle(["list", "--db", URL], DLENERGY_LIBPQ=absent)
    check(r.returncode != 0, f"list with libpq absent fails (rc {r.returncode})")
    check(f"PostgreSQL store needs {absent}" in r.stderr and "apt-get install libpq5" in r.stderr,
          f"libpq absent message: {r.stderr.strip()!r}")

    # A library that loads but is not libpq: the first missing function is named.
    sqlite = next(l.split()[2] for l in subprocess.run(["ldd", BIN], capture_output=True,
                  text=True).stdout.splitlines() if "libsqlite3.so" in l)
    r = dle(["list", "--db", URL], DLENERGY_LIBPQ=sqlite)
    check(r.returncode != 0 and "lacks PQconnectdb" in r.stderr,
          f"not-libpq message: {r.stderr.strip()!r}")

    r = dle(["list", "--db", URL])
    check(r.returncode != 0 and "cannot connect" in r.stderr and "needs" not in r.stderr,
          f"real libpq loaded on demand, its own error: {r.stderr.strip()!r}")

    marker = os.path.join(tmp, "trained")
    r = dle(["run", "--db", os.path.join(tmp, "r.db"), "--cpu-tdp", "100",
             "--metrics-listen", "127.0.0.1:0", "--interval", "0.05", "--",
             "/usr/bin/touch", marker], DLENERGY_LIBMICROHTTPD=os.path.join(tmp, "nomhd.so"))
    check(r.returncode != 0, f"run --metrics-listen with libmicrohttpd absent fails "
          f"(rc {r.returncode})")
    check("Prometheus exporter needs" in r.stderr and
          "apt-get install libmicrohttpd12" in r.stderr,
          f"libmicrohttpd absent message: {r.stderr.strip()!r}")

    # LAPACK and libsvm: the PRE fit loads them when it solves, predict never.
    table = os.path.join(os.environ["DLE_SOURCE_DIR"], "data", "pre", "training.csv")
    fit = ["fit", "--table", table, "--target", "power", "--json", "-o", os.path.join(tmp, "m.json")]
    nolapack = os.path.join(tmp, "liblapack-absent.so.3")
    r = dle(fit + ["--model", "ridge", "--draws", "2"], DLENERGY_LIBLAPACK=nolapack)
    check(r.returncode != 0 and f"the SVR cross-validation need {nolapack}" in r.stderr and
          "apt-get install liblapack3" in r.stderr,
          f"fit ridge with LAPACK absent (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(fit + ["--model", "krr", "--draws", "2"], DLENERGY_LIBLAPACK=sqlite)
    check(r.returncode != 0 and "lacks dpotrf_" in r.stderr,
          f"not-LAPACK message (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(fit + ["--model", "ridge", "--draws", "2"])
    check(r.returncode == 0 and json.loads(r.stdout)["models"][0]["cv"]["r2"] > 0.5,
          f"fit ridge with the real LAPACK loaded on demand (rc {r.returncode}): "
          f"{r.stderr.strip()!r}")
    # Linear regression's least squares is GSL's: no LAPACK at all.
    r = dle(fit + ["--model", "linear"], DLENERGY_LIBLAPACK=nolapack)
    check(r.returncode == 0 and json.loads(r.stdout)["models"][0]["cv"]["r2"] > 0.5,
          f"fit linear without LAPACK (rc {r.returncode}): {r.stderr.strip()!r}")
    nosvm = os.path.join(tmp, "libsvm-absent.so.3")
    r = dle(fit + ["--model", "svr", "--draws", "2"], DLENERGY_LIBSVM=nosvm)
    check(r.returncode != 0 and f"SVR needs {nosvm}" in r.stderr and
          "apt-get install libsvm3" in r.stderr,
          f"fit svr with libsvm absent (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(fit + ["--model", "svr", "--draws", "2"], DLENERGY_LIBSVM=sqlite)
    check(r.returncode != 0 and "lacks svm_train" in r.stderr,
          f"not-libsvm message (rc {r.returncode}): {r.stderr.strip()!r}")
    # The SVR cross-validation's own solver takes its Newton steps with LAPACK.
    r = dle(fit + ["--model", "svr", "--draws", "2"], DLENERGY_LIBLAPACK=nolapack)
    check(r.returncode != 0 and f"the SVR cross-validation need {nolapack}" in r.stderr,
          f"fit svr with LAPACK absent (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(fit + ["--model", "svr", "--draws", "2"])
    check(r.returncode == 0, f"fit svr with the real libsvm (rc {r.returncode}): "
          f"{r.stderr.strip()!r}")
    r = dle(["predict", "--gflops", "1.8", "--gpu", "NVIDIA GeForce RTX 3090", "--epochs", "10",
             "--batch-size", "32", "--train-size", "50000", "--val-size", "10000", "--json"],
            DLENERGY_LIBLAPACK=nolapack, DLENERGY_LIBSVM=nosvm)
    check(r.returncode == 0 and "estimates" in r.stdout,
          f"predict with the shipped models needs neither (rc {r.returncode}): "
          f"{r.stderr.strip()!r}")

    # GSL: the statistics and linear regression load it, nothing else.
    nogsl = os.path.join(tmp, "libgsl-absent.so.27")
    gsl_msg = f"the statistics and linear regression need {nogsl}"
    csv = os.path.join(tmp, "an.csv")
    with open(csv, "w") as f:
        f.write("architecture,energy\n" + "".join(f"{g},{v}\n" for g in "ab" for v in (1, 2, 3, 5)))
    an = ["analyze", "--csv", csv, "--by", "architecture", "--metric", "energy", "--json"]
    r = dle(an, DLENERGY_LIBGSL=nogsl)
    check(r.returncode != 0 and gsl_msg in r.stderr and "apt-get install libgsl27" in r.stderr,
          f"analyze with GSL absent (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(an, DLENERGY_LIBGSL=sqlite)
    check(r.returncode != 0 and "lacks gsl_" in r.stderr,
          f"not-GSL message (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(an)
    check(r.returncode == 0 and json.loads(r.stdout)["kruskal"]["p"] is not None,
          f"analyze with the real GSL loaded on demand (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(fit + ["--model", "linear"], DLENERGY_LIBGSL=nogsl)
    check(r.returncode != 0 and gsl_msg in r.stderr,
          f"fit linear with GSL absent (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(["predict", "--gflops", "1.8", "--gpu", "NVIDIA GeForce RTX 3090", "--epochs", "10",
             "--batch-size", "32", "--train-size", "50000", "--val-size", "10000", "--json"],
            DLENERGY_LIBGSL=nogsl)
    check(r.returncode == 0 and "estimates" in r.stdout,
          f"predict without GSL (rc {r.returncode}): {r.stderr.strip()!r}")
    r = dle(["show", "--db", os.path.join(tmp, "r.db"), "--json", "1"], DLENERGY_LIBGSL=nogsl)
    check("libgsl" not in r.stderr, f"show does not load GSL (rc {r.returncode}): "
          f"{r.stderr.strip()!r}")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all optional-library checks passed")
