"""Batch steps on Dask: a local cluster, and a real one started by its command lines.

The real cluster is ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; the
steps reach it through ``--scheduler``, as a user's would. One test kills a worker while it
predicts (Dask runs its task again elsewhere), one kills the driver and resumes.
"""

from __future__ import annotations

import operator
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from distributed import Client

from galcore.embedding import MAP_FILE
from galcore.engine import Engine, run_tasks
from galcore.errors import EngineError
from galcore.inference import predict
from tests.conftest import make_toy_workspace
from tests.galcore.test_inference import _saved_run

BIN = Path(sys.executable).parent
ONE_THREAD = dict.fromkeys(("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"), "1")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The address of a running ``dask scheduler`` with two ``dask worker`` processes."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    env = {**os.environ, **ONE_THREAD}
    commands = [
        [
            BIN / "dask",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
            "--dashboard-address",
            "127.0.0.1:0",
        ],
        *[
            [BIN / "dask", "worker", address, "--nthreads", "1", "--no-dashboard", "--name", name]
            for name in ("w1", "w2")
        ],
    ]
    processes, files = [], []
    try:
        for number, command in enumerate(commands):
            files.append((logs / f"{number}.log").open("wb"))
            processes.append(subprocess.Popen(command, env=env, stdout=files[-1], stderr=files[-1]))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for file in files:
            file.close()


@pytest.fixture
def workspace(tmp_path):
    """A 1,200-object toy workspace with an untrained compact run ``r1`` saved."""
    space = make_toy_workspace(tmp_path / "ws", n=1200)
    _saved_run(space)
    return space


def _galcore(*args: str) -> subprocess.Popen:
    command = [str(BIN / "galcore"), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_blocks(workspace, run: str, count: int, process: subprocess.Popen) -> None:
    """Wait until `count` blocks of the run's probabilities are recorded as written."""
    done = workspace.catalog_path / "runs" / run / "probs.blocks" / "done"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if done.is_dir() and len(list(done.iterdir())) >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"{count} blocks were not written (galcore exited {process.poll()})")


def test_a_local_cluster_gives_the_in_process_numbers(workspace):
    here = predict(workspace, "r1", block_rows=256)
    probs, features = here.probs, here.features
    there = predict(workspace, "r1", block_rows=256, engine=Engine(workers=2))
    np.testing.assert_allclose(there.probs, probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(there.features, features, rtol=1e-5, atol=1e-5)


def test_predict_through_a_scheduler_address(workspace, scheduler):
    reference = predict(workspace, "r1", block_rows=128, engine=Engine(workers=2)).probs
    process = _galcore(
        "predict", "--workspace", str(workspace.root), "--run", "r1", "--scheduler", scheduler,
        "--block-rows", "128",
    )  # fmt: skip
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert f"10 task(s) on the Dask cluster at {scheduler}" in output
    assert "probabilities and features of 1199 objects (1 not curated" in output
    np.testing.assert_array_equal(workspace.catalog().run("r1").read("probs"), reference)


def test_a_killed_worker_has_its_task_run_again(workspace, scheduler):
    reference = predict(workspace, "r1", block_rows=32).probs
    with Client(scheduler) as client:
        pids = client.run(os.getpid)
    process = _galcore(
        "predict", "--workspace", str(workspace.root), "--run", "r1", "--scheduler", scheduler,
        "--block-rows", "32", "--batch-size", "4",
    )  # fmt: skip
    _wait_for_blocks(workspace, "r1", 3, process)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    probs = workspace.catalog().run("r1").read("probs")
    np.testing.assert_allclose(probs, reference, atol=1e-6)
    with Client(scheduler) as client:  # the nanny started a new worker in its place
        client.wait_for_workers(2, timeout=120)


def test_a_killed_driver_resumes_to_the_same_bytes(workspace, scheduler, tmp_path):
    options = ["--run", "r1", "--scheduler", scheduler, "--block-rows", "32", "--batch-size", "4"]
    whole = _galcore("predict", "--workspace", str(workspace.root), *options)
    output, _ = whole.communicate(timeout=300)
    assert whole.returncode == 0, output
    run = workspace.catalog().run("r1")
    probs, features = run.read("probs"), run.read("features")

    process = _galcore("predict", "--workspace", str(workspace.root), *options)
    _wait_for_blocks(workspace, "r1", 5, process)
    process.kill()
    process.communicate()
    resumed = _galcore("predict", "--workspace", str(workspace.root), *options, "--resume")
    output, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, output
    assert "resuming, " in output
    left = int(output.split("resuming, ")[1].split(" of ")[0])
    assert 0 < left < 38
    np.testing.assert_array_equal(run.read("probs"), probs)
    np.testing.assert_array_equal(run.read("features"), features)


def test_an_unreachable_scheduler_is_one_clear_error():
    engine = Engine(scheduler=f"tcp://127.0.0.1:{_free_port()}")
    with pytest.raises(EngineError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:"):
        run_tasks(engine, len, [("ab",)], what="test", total=1)


def test_a_failing_task_stops_the_step_with_its_error():
    with pytest.raises(ZeroDivisionError):
        run_tasks(Engine(workers=1), operator.floordiv, [(1, 1), (1, 0)], what="test", total=2)


def test_embed_through_a_scheduler_address(workspace, scheduler):
    predict(workspace, "r1", block_rows=256)
    options = ["--run", "r1", "--perplexity", "10", "--fit-size", "300", "--block-rows", "256"]
    local = _galcore("embed", "--workspace", str(workspace.root), *options, "--workers", "2")
    output, _ = local.communicate(timeout=300)
    assert local.returncode == 0, output
    reference = workspace.catalog().run("r1").read("embedding")
    process = _galcore(
        "embed", "--workspace", str(workspace.root), *options, "--scheduler", scheduler
    )
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert "embedded 1199 objects of run r1 in 3-D (300 fitted the map, 899 placed" in output
    embedding = workspace.catalog().run("r1").read("embedding")
    with (workspace.model_dir("r1") / MAP_FILE).open("rb") as saved:
        fitted = pickle.load(saved).rows_  # noqa: S301 - written by galcore embed
    np.testing.assert_array_equal(embedding[fitted], reference[fitted])  # fitted by the driver
    # Placing is an optimisation too: rounding that differs between worker processes moves a
    # placed point by a little of the map's extent, never to another part of it.
    span = np.nanmax(reference) - np.nanmin(reference)
    np.testing.assert_allclose(embedding, reference, atol=0.005 * span)
