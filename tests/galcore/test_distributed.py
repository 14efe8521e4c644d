"""Two Horovod workers (Gloo) train one run: equal weights on both ranks, one run written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from galcore.training import MODEL_FILE
from tests.conftest import make_toy_workspace

BIN = Path(sys.executable).parent
DIGEST = re.compile(r"rank (\d+)/2 weights sha256 ([0-9a-f]{64})")


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.timeout(420)
def test_two_workers_train_one_run(tmp_path):
    workspace = make_toy_workspace(tmp_path / "ws")
    command = [str(BIN / "horovodrun"), "-np", "2", "-H", "localhost:2", "--gloo"]
    command += [str(BIN / "galcore"), "train", "--workspace", str(workspace.root)]
    command += ["--run", "dist", "--profile", "test"]
    environment = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=400, env=environment, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
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
