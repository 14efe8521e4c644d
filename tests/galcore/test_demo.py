import numpy as np
import pytest

from galcore.demo import run_demo
from galcore.errors import TrainingError


@pytest.fixture
def demo_workspace(toy_workspace):
    sky = toy_workspace.root / "sky"
    sky.mkdir()
    (sky / "truth.csv").write_text("galaxy_index\n")
    return toy_workspace


def test_finished_steps_are_skipped(demo_workspace):
    catalog = demo_workspace.catalog()
    run = catalog.create_run("demo", status="trained")
    labels = catalog.column("label")
    run.write("train_index", np.arange(10))
    run.write("train_label", labels[:10])
    run.write("probs", np.where(labels[:, None] == 1, [0.1, 0.9], [0.9, 0.1]))
    run.write("embedding", np.zeros((len(catalog), 3)))
    metrics = run_demo(demo_workspace.root)
    assert metrics["hp_test/sdss"]["accuracy"] == 1.0
    assert not demo_workspace.model_dir("demo").joinpath("model.keras").exists()


def test_an_unfinished_run_is_not_resumed(demo_workspace):
    demo_workspace.catalog().create_run("demo", status="training")
    with pytest.raises(TrainingError, match="did not finish training .* delete the workspace"):
        run_demo(demo_workspace.root)
