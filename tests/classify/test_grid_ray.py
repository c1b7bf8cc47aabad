"""The grid on Ray: a local cluster (`ray start --head`, two CPUs: two workers) runs a tiny grid through
`synthmed experiment --ray-address`; every cell's result equals the in-process run's at one thread per run,
both workers took cells, only the driver wrote the output, and a re-run resumes (trains nothing)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthmed.classify import engine, experiment
from synthmed.classify.results import load_results
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray>=2.40')")

# Everything of a row that the computation decides (not how long it took, nor where it ran).
SAME = ("run_id", "metrics", "n_train_real", "n_train_synthetic", "best_epoch", "steps", "epoch_steps", "threads")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the nodes and the driver: token authentication on (as the README says), token in tmp."""
    token = tmp_path_factory.mktemp("ray") / "ray_token"
    token.write_text(secrets.token_hex(32))
    src = str(Path(engine.__file__).parents[2])  # this checkout's synthmed, for the workers
    return {**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token), "PYTHONPATH": os.pathsep.join(
                p for p in (src, os.environ.get("PYTHONPATH")) if p)}


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory, ray_env: dict[str, str]):
    """`ray start --head` with two CPUs (two workers), in its own session: the test kills exactly what it started."""
    port = _free_port()
    log = tmp_path_factory.mktemp("ray") / "head.log"
    with open(log, "w") as fh:
        head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={port}",
                                 "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats",
                                 "--block"], env=ray_env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in log.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head failed:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(head.pid, signal.SIGKILL)  # a throwaway cluster: its whole process group, at once
        head.wait(timeout=30)


def test_two_ray_workers_give_the_in_process_results(breast28: PreparedDataset, ray_cluster: str, ray_env: dict,
                                                     tmp_path: Path) -> None:
    grid = dict(ratios=[0], sources=["real"], seeds=[1, 2], real_fractions=[0.1, 0.2], arch="cnn", epochs=1,
                batch_size=32)
    here = experiment.run_experiment(str(breast28.root), None, tmp_path / "here", workers=1, threads=1,
                                     progress=False, echo=lambda s: None, **grid)

    out = tmp_path / "ray"
    args = [sys.executable, "-m", "synthmed", "experiment", "--real", str(breast28.root), "--out", str(out),
            "--ratios", "0", "--sources", "real", "--seeds", "1,2", "--real-fractions", "0.1,0.2", "--arch", "cnn",
            "--epochs", "1", "--batch-size", "32", "--ray-address", ray_cluster, "--workers", "2", "--threads", "1"]
    done = subprocess.run(args, env=ray_env, capture_output=True, text=True, timeout=300)
    printed = done.stdout
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "2 worker(s) x 1 thread(s) per run (Ray cluster" in printed
    rows = [r.row for r in load_results(out)[1]]
    assert len(rows) == len(here) == 4
    by_cell = {(r.cell, r.seed): {k: r.row[k] for k in SAME} for r in load_results(tmp_path / "here")[1]}
    assert {(r.cell, r.seed): {k: r.row[k] for k in SAME} for r in load_results(out)[1]} == by_cell
    assert all(r["threads"] == 1 for r in rows)
    workers = set(re.findall(r"worker (\S+:\d+)\)", printed))
    assert len(workers) == 2, printed  # both nodes took cells
    # Only the driver wrote OUT: each run folder complete, nothing temporary left behind.
    for row in rows:
        run = out / "runs" / row["run_id"]
        assert (run / "model" / "model.pt").is_file() and (run / "predictions.csv").is_file()
    assert not list(out.rglob("*.partial"))

    # Resume: a finished grid trains nothing on the cluster.
    again = subprocess.run(args, env=ray_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count("done before, skipped") == 4, again.stdout


# A cell whose worker process dies the first time (marker file), run through the engine by a driver script:
# Ray runs it again on a new worker and the driver writes its folder once. Defined in __main__, the build
# function travels to the workers by value.
DIES_ONCE = """
import os, sys
from pathlib import Path
from synthmed.classify.engine import Job, Plan, run_cells
address, marker, runs = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

def build(folder):
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)  # the worker dies mid-run
    (folder / "result.json").write_text('{"ok": true}')
    return {"ok": True}

done = []
run_cells([Job("a", "[1/1] a", build)], runs, Plan(1, 1, 0.0, address), lambda j, r, w: done.append((r, w)),
          progress=False)
print("DONE", done[0][0], "worker", done[0][1].split(":")[1], "first", marker.read_text())
"""


def test_a_killed_worker_is_retried(ray_cluster: str, ray_env: dict, tmp_path: Path) -> None:
    marker, runs = tmp_path / "died", tmp_path / "runs"
    done = subprocess.run([sys.executable, "-c", DIES_ONCE, ray_cluster, str(marker), str(runs)], env=ray_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    found = re.search(r"DONE \{'ok': True\} worker (\d+) first (\d+)", done.stdout)
    assert found and found.group(1) != found.group(2), done.stdout  # a second worker process finished it
    assert json.loads((runs / "a" / "result.json").read_text()) == {"ok": True}
    assert [p.name for p in runs.iterdir()] == ["a"]  # written once, by the driver, nothing temporary left


def test_worker_plan_fits_the_cores(monkeypatch) -> None:
    monkeypatch.setattr(engine, "usable_cores", lambda: 8)
    assert engine.plan_local(None, None, "cpu") == engine.Plan(8, 1)
    assert engine.plan_local(None, 2, "cpu") == engine.Plan(4, 2)
    assert engine.plan_local(2, None, "cpu") == engine.Plan(2, 4)
    assert engine.plan_local(1, 3, "cpu") == engine.Plan(1, 3) and not engine.Plan(1, 3).uses_ray
    with pytest.raises(SynthmedError, match="3 x --threads 3 = 9 threads, more than this machine's 8 cores"):
        engine.plan_local(3, 3, "cpu")
    assert engine.parse_workers("auto") is None and engine.parse_workers("3") == 3
    with pytest.raises(SynthmedError, match="--workers must be"):
        engine.parse_workers("0")


def test_a_local_instance_prints_no_token_warning() -> None:
    """Ray's notice that it turned token authentication on must not land among the user's progress lines."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    env |= {"RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(Path(engine.__file__).parents[2]),
                                                      os.environ.get("PYTHONPATH")) if p)}
    code = ("from synthmed.classify import engine; ray = engine._ray(); engine._init_ray(ray, None, 1, 0); "
            "import os; print('mode', os.environ['RAY_AUTH_MODE']); ray.shutdown()")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mode token" in done.stdout  # still on
    assert "Token authentication" not in done.stdout + done.stderr
