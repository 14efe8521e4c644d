"""Training that goes wrong: a NaN loss, a killed process resumed, a dead Horovod rank."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from galcore.cli.main import main
from galcore.errors import TrainingError
from galcore.training import HISTORY_FILE, TrainConfig, train
from galcore.training._schedule import STATE_FOLDER
from tests.conftest import make_toy_workspace

BIN = Path(sys.executable).parent
ENVIRONMENT = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}


def _wait_for(process: subprocess.Popen, text: str, lines: list[str], timeout: float) -> None:
    """Read the process's output into `lines` until a line holds `text`."""
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line)
        if text in line:
            return
        assert time.monotonic() < deadline, "".join(lines[-20:])
    pytest.fail(f"the process ended before printing {text!r}:\n{''.join(lines[-20:])}")


def test_a_nan_loss_fails_the_run(toy_workspace):
    config = TrainConfig.from_profile(toy_workspace.root, "r1", profile="test")
    config = dataclasses.replace(
        config, profile=dataclasses.replace(config.profile, learning_rate=1e30)
    )
    with pytest.raises(TrainingError, match="training loss became NaN at stage 1"):
        train(config)
    attrs = toy_workspace.catalog().run("r1").attrs
    assert attrs["status"] == "failed"
    assert "lower the learning rate" in attrs["error"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_killed_training_resumes_from_its_last_epoch(tmp_path, caplog):
    workspace = make_toy_workspace(tmp_path / "ws", n=400)
    root = str(workspace.root)
    command = [str(BIN / "galcore"), "train", "--workspace", root, "--run", "r1"]
    command += ["--profile", "test", "--epochs", "1,3,2"]
    lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENVIRONMENT
    ) as process:
        try:
            _wait_for(process, "stage 2/3 epoch 1/3", lines, timeout=300)
        finally:
            process.send_signal(signal.SIGKILL)
    assert workspace.catalog().run("r1").attrs["status"] == "training"

    caplog.set_level("INFO")
    assert main(["train", "--workspace", root, "--run", "r1", "--resume"]) == 0
    assert "continuing at stage 2 epoch 2" in caplog.text
    attrs = workspace.catalog().run("r1").attrs
    assert attrs["status"] == "trained"
    stages = json.loads((workspace.model_dir("r1") / HISTORY_FILE).read_text())["stages"]
    assert stages[0]["epochs"] == 1
    assert stages[1]["epochs"] >= 2  # one epoch before the kill, the rest after it
    assert len(stages[1]["history"]["val_loss"]) == stages[1]["epochs"]
    assert not (workspace.model_dir("r1") / STATE_FOLDER).exists()
    assert main(["train", "--workspace", root, "--run", "r1", "--resume"]) == 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_cancelled_training_is_marked_failed(tmp_path):
    workspace = make_toy_workspace(tmp_path / "ws")
    command = [str(BIN / "galcore"), "train", "--workspace", str(workspace.root), "--run", "r1"]
    command += ["--profile", "test", "--epochs", "1,50,0"]
    lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENVIRONMENT
    ) as process:
        try:
            _wait_for(process, "stage 1/3 epoch 1/1", lines, timeout=200)
        finally:
            process.send_signal(signal.SIGTERM)
        lines.extend(process.stdout)
    assert process.returncode == 1, "".join(lines[-20:])
    assert "ERROR: stopped by SIGTERM" in "".join(lines)
    attrs = workspace.catalog().run("r1").attrs
    assert attrs["status"] == "failed"
    assert "stopped by SIGTERM" in attrs["error"]


def _rank_processes(mark: str) -> dict[int, int]:
    """Rank -> pid of the Horovod workers whose environment holds GALCORE_TEST_MARK=`mark`."""
    ranks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        variables = dict(v.split(b"=", 1) for v in environ if b"=" in v)
        ours = variables.get(b"GALCORE_TEST_MARK") == mark.encode()
        if ours and b"HOROVOD_RANK" in variables and b"python" in cmdline.split(b"\0")[0]:
            ranks[int(variables[b"HOROVOD_RANK"])] = int(entry.name)
    return ranks


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.timeout(600)
def test_a_dead_rank_ends_every_rank(tmp_path):
    workspace = make_toy_workspace(tmp_path / "ws", n=400)
    command = [str(BIN / "horovodrun"), "-np", "2", "-H", "localhost:2", "--gloo"]
    command += [str(BIN / "galcore"), "train", "--workspace", str(workspace.root)]
    command += ["--run", "dist", "--profile", "test", "--epochs", "1,20,20"]
    lines: list[str] = []
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENVIRONMENT | {"GALCORE_TEST_MARK": str(tmp_path)},
        start_new_session=True,
    ) as launcher:
        try:
            _wait_for(launcher, "stage 2/3 epoch 1/20", lines, timeout=400)
            ranks = _rank_processes(str(tmp_path))
            assert sorted(ranks) == [0, 1], ranks
            os.kill(ranks[1], signal.SIGKILL)
            killed = time.monotonic()
            lines.extend(launcher.stdout)
            launcher.wait(timeout=60)
            assert time.monotonic() - killed < 60, "".join(lines[-20:])
        finally:
            if launcher.poll() is None:
                os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode != 0
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in ranks.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(_alive(pid) for pid in ranks.values())
    assert workspace.catalog().run("dist").attrs["status"] == "failed"  # rank 0 said why


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
