"""Two Horovod workers (Gloo) train one run: equal weights on both ranks, one run written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from galcore.cli.main import main
from galcore.training import MODEL_FILE
from tests.conftest import make_toy_workspace

BIN = Path(sys.executable).parent
DIGEST = re.compile(r"rank (\d+)/2 weights sha256 ([0-9a-f]{64})")
START = re.compile(r"rank (\d+)/2 starts from weights sha256 ([0-9a-f]{64})")


def _horovodrun(*galcore_args: str) -> str:
    """Run `galcore` on two Gloo workers; return its output after checking it succeeded."""
    command = [str(BIN / "horovodrun"), "-np", "2", "-H", "localhost:2", "--gloo"]
    command += [str(BIN / "galcore"), *galcore_args]
    environment = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=400, env=environment, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.timeout(420)
def test_two_workers_train_one_run(tmp_path):
    workspace = make_toy_workspace(tmp_path / "ws")
    output = _horovodrun(
        "train", "--workspace", str(workspace.root), "--run", "dist", "--profile", "test"
    )
    starts = dict(START.findall(output))
    assert sorted(starts) == ["0", "1"], output[-4000:]
    assert starts["0"] == starts["1"]  # identical weights before the first step
    digests = dict(DIGEST.findall(output))
    assert len(DIGEST.findall(output)) == 2, output[-4000:]
    assert sorted(digests) == ["0", "1"]
    assert digests["0"] == digests["1"]
    catalog = workspace.catalog()
    assert catalog.runs() == ["dist"]
    attrs = catalog.run("dist").attrs
    assert (attrs["status"], attrs["workers"]) == ("trained", 2)
    assert attrs["weights_sha256"] == digests["0"]
    assert (workspace.model_dir("dist") / MODEL_FILE).is_file()
    assert output.count("stage 1/3 epoch 1/1") == 1


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.timeout(420)
def test_two_workers_train_a_recursive_run(tmp_path):
    workspace = make_toy_workspace(tmp_path / "ws", n=400)
    root = str(workspace.root)
    assert main(["train", "--workspace", root, "--run", "r1", "--profile", "test"]) == 0
    assert main(["predict", "--workspace", root, "--run", "r1"]) == 0
    approved = int(workspace.catalog().column("object_id")[-2])
    workspace.ledger().record_decision(approved, "approve", label=0, reviewer="ana")
    output = _horovodrun(
        "recurse", "--workspace", root, "--from", "r1", "--run", "r2", "--top", "20"
    )
    digests = DIGEST.findall(output)
    assert len(digests) == 2
    assert digests[0][1] == digests[1][1]
    attrs = workspace.catalog().run("r2").attrs
    assert (attrs["parent"], attrs["ledger_state"], attrs["workers"]) == ("r1", 1, 2)
    assert attrs["n_approved"] == 1
    assert attrs["profile"] == "test"
