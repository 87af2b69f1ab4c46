#!/usr/bin/python3
"""Issue 12: jobs across nodes. Four `dlenergy run` recorders, each with its own host
name (--host) and 2 fake NVML GPUs of different scripted power, record one
distributed job into one store at the same time (the job key from $SLURM_JOB_ID
for two of them, $TORCHELASTIC_RUN_ID and --job for the others). Then:
 - `show --job J --json`: the job total equals the sum of the runs' own totals
   (`show RUN --json`), per host and per GPU too; emissions add up;
 - `list --jobs`: one line for J and one for another job, nothing for runs without;
 - `analyze --by job` groups the store's runs by the key;
 - bad --job values are usage errors.
Usage: test_jobs.py sqlite|pg (pg: under with_pg.sh, DLE_PG_URI set)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from dletest import Checks, fake_nvml_lib  # noqa: E402

BIN = os.environ["DLENERGY_BIN"]
check = Checks()
FAKE = fake_nvml_lib()
backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=300)


with tempfile.TemporaryDirectory() as tmp:
    db = os.environ["DLE_PG_URI"] if backend == "pg" else os.path.join(tmp, "jobs.db")
    procs = []
    job_env = [{"SLURM_JOB_ID": "4242"}, {"SLURM_JOB_ID": "4242"},
               {"TORCHELASTIC_RUN_ID": "4242"}, {}]
    for node in range(4):
        script = os.path.join(tmp, f"nvml{node}.txt")
        with open(script, "w") as f:  # node k: GPUs at 100+10k W and 50+5k W
            f.write(f"devices 2\npower 0 0 {(100 + 10 * node) * 1000}\n"
                    f"power 1 0 {(50 + 5 * node) * 1000}\n"
                    "process 0 children\nprocess 1 children\n")  # the run uses both
        e = dict(os.environ, DLENERGY_NVML_LIB=FAKE, FAKE_NVML_SCRIPT=script)
        for k in ("SLURM_JOB_ID", "TORCHELASTIC_RUN_ID"):
            e.pop(k, None)
        e.update(job_env[node])
        args = ["run", "--db", db, "--host", f"node-{node}", "--interval", "0.05", "--quiet",
                "--cpu-tdp", "100", "--carbon-intensity", "200"]
        if node == 3:
            args += ["--job", "4242"]
        args += ["--", "/usr/bin/python3", "-c", "import time; time.sleep(1.5)"]
        procs.append(subprocess.Popen([BIN, *args], env=e, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    for p in procs:
        out, err = p.communicate(timeout=300)
        check(p.returncode == 0, f"recorder exit {p.returncode}: {err}")
    # another job and a run without one
    e = dict(os.environ)
    for k in ("SLURM_JOB_ID", "TORCHELASTIC_RUN_ID"):
        e.pop(k, None)
    r = run("run", "--db", db, "--host", "other", "--job", "other-job", "--no-gpu", "--quiet",
            "--cpu-tdp", "50", "--", "/usr/bin/python3", "-c", "pass", env=e)
    check(r.returncode == 0, f"other job: {r.stderr}")
    r = run("run", "--db", db, "--no-gpu", "--quiet", "--cpu-tdp", "50", "--",
            "/usr/bin/python3", "-c", "pass", env=e)
    check(r.returncode == 0, f"no job: {r.stderr}")

    r = run("show", "--job", "4242", "--json", "--db", db)
    check(r.returncode == 0, f"show --job: {r.stderr}")
    job = json.loads(r.stdout) if r.returncode == 0 else {}
    check(job.get("runs") == 4 and job.get("hosts") == 4, f"runs/hosts {job.get('runs')}/{job.get('hosts')}")
    total = gpu = emis = 0.0
    per_host = {}
    for rid in job.get("run_ids", []):
        rr = run("show", str(rid), "--json", "--db", db)
        o = json.loads(rr.stdout)
        total += o["total_energy_j"]
        gpu += o["energy_j"]["gpu"]
        emis += o["emissions_g"]
        meta = o.get("meta", {})
        check(meta.get("job") == "4242", f"run {rid} job {meta.get('job')}")
        per_host[o["host"]] = o
    srcs = sorted(json.loads(run("show", str(rid), "--json", "--db", db).stdout)["meta"]["job_source"]
                  for rid in job.get("run_ids", []))
    check(srcs == ["--job", "SLURM_JOB_ID", "SLURM_JOB_ID", "TORCHELASTIC_RUN_ID"], f"job sources {srcs}")
    rel = lambda a, b: abs(a - b) <= 1e-12 * max(abs(a), abs(b), 1.0)
    check(total > 0 and rel(job.get("total_j", -1), total),
          f"job total {job.get('total_j')} J vs sum of runs {total} J")
    check(rel(job.get("gpu_j", -1), gpu), f"job GPU {job.get('gpu_j')} vs {gpu}")
    check(rel(job.get("emissions_g") or -1, emis), f"job emissions {job.get('emissions_g')} vs {emis}")
    hosts = {h["host"]: h for h in job.get("per_host", [])}
    check(sorted(hosts) == [f"node-{k}" for k in range(4)], f"hosts {sorted(hosts)}")
    for name, h in hosts.items():
        o = per_host.get(name, {})
        check(rel(h["total_j"], o.get("total_energy_j", -1)), f"{name} total")
        gsum = sum(g["energy_j"] for g in h["per_gpu"])
        check(len(h["per_gpu"]) == 2 and rel(gsum, o["energy_j"]["gpu"]), f"{name} per GPU {h['per_gpu']}")
        check(rel(gsum, o.get("gpu_energy_all_j", -1)), f"{name} per GPU vs all GPUs")
        # the scripted powers: GPU 0 draws twice GPU 1 on every node. The two energy
        # counters are read at their own instants, tens of ms apart on a ~2 s run, more
        # under ASan on a loaded machine (2.112 seen in CI): 15 % still tells the right
        # attribution (2) from swapped GPUs (0.5) or one GPU's energy counted twice (1).
        g = {x["index"]: x["energy_j"] for x in h["per_gpu"]}
        check(abs(g[0] / g[1] - 2.0) < 0.3, f"{name} GPU ratio {g}")
    r = run("show", "--job", "4242", "--db", db)
    check(r.returncode == 0 and "4 runs on 4 hosts" in r.stdout and "node-3" in r.stdout, r.stdout)

    r = run("list", "--jobs", "--json", "--db", db)
    check(r.returncode == 0, f"list --jobs: {r.stderr}")
    jobs = {j["job"]: j for j in json.loads(r.stdout)} if r.returncode == 0 else {}
    check(sorted(jobs) == ["4242", "other-job"], f"jobs {sorted(jobs)}")
    check(jobs.get("4242", {}).get("total_j") == job.get("total_j"), "list and show agree")
    r = run("list", "--jobs", "--db", db)
    check(r.returncode == 0 and "2 jobs" in r.stdout, r.stdout)

    r = run("analyze", "--by", "job", "--metric", "energy", "--json", "--db", db)
    check(r.returncode in (0, 1) and "4242" in r.stdout, f"analyze --by job: {r.returncode} {r.stdout[:300]} {r.stderr[:300]}")

    for bad in ("", "a,b", "k=v"):
        r = run("run", "--db", db, "--job", bad, "--", "true")
        check(r.returncode == 2, f"--job '{bad}' exit {r.returncode}")
    r = run("show", "--job", "nope", "--db", db)
    check(r.returncode == 1 and "no runs of job" in r.stderr, r.stderr)

print(f"{check.passed} passed, {check.failed} failed")
sys.exit(1 if check.failed else 0)
