"""Profiles, configs, the Zarr-to-tf.data input, the Horovod helper and the training schedule."""

from __future__ import annotations

import dataclasses
import json
import sys
from unittest import mock

import keras
import numpy as np
import pytest

from galcore.errors import TrainingError
from galcore.training import (
    CONFIG_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    N_STAGES,
    PROFILES,
    Augmentation,
    Examples,
    TrainConfig,
    Workers,
    default_examples,
    evaluation_dataset,
    get_profile,
    init_workers,
    launched_by_horovod,
    prediction_dataset,
    train,
    training_dataset,
    weights_sha256,
)
from galcore.training._data import _augmenter
from galcore.training._run_record import run_attrs
from galcore.training._schedule import STATE_FOLDER
from store import LABELS, RunExistsError, RunStatus, set_mask
from store.runs import PROVENANCE_ATTRS
from tests.conftest import make_toy_workspace

LOADER = {"image_size": 32, "batch_size": 8}
TRAIN_OPTIONS = {
    "augmentation": Augmentation(),
    "seed": 0,
    "shuffle_buffer": 64,
    "preload_bytes": 1 << 20,
}


class TestProfiles:
    def test_paper_is_the_papers_schedule(self):
        paper = PROFILES["paper"]
        assert (paper.backbone, paper.weights, paper.image_size) == ("xception", "imagenet", 299)
        assert (paper.learning_rate, paper.batch_size, paper.dropout_rate) == (1e-4, 16, 0.7)
        assert paper.warmup_epochs == 2
        assert paper.augmentation == Augmentation(flip=True, rotation_deg=45, shift=0.3, zoom=0.3)
        assert len(paper.epochs) == N_STAGES

    @pytest.mark.parametrize(("name", "size"), [("test", 32), ("demo", 64)])
    def test_cpu_profiles_use_the_compact_backbone(self, name, size):
        profile = get_profile(name)
        assert (profile.backbone, profile.weights, profile.image_size) == ("compact", "none", size)

    def test_test_profile_runs_one_epoch_per_stage(self):
        assert PROFILES["test"].epochs == (1, 1, 1)

    def test_unknown_profile(self):
        with pytest.raises(TrainingError, match="profile='huge' is not known; use one of test"):
            get_profile("huge")

    @pytest.mark.parametrize(
        ("change", "match"),
        [
            pytest.param({"backbone": "vgg"}, "backbone='vgg' is not known", id="backbone"),
            pytest.param({"epochs": (1, 2)}, r"epochs=\(1, 2\) must be 3 counts", id="stages"),
            pytest.param({"epochs": (0, 0, 0)}, "at least one of them > 0", id="no-epochs"),
            pytest.param({"epochs": (1, -1, 1)}, "must be 3 counts >= 0", id="negative"),
            pytest.param({"batch_size": 0}, "batch_size=0 must be > 0", id="batch"),
            pytest.param({"learning_rate": 0.0}, "learning_rate=0.0 must be > 0", id="lr"),
            pytest.param({"average_best": 0}, "average_best=0 must be > 0", id="average"),
            pytest.param({"dropout_rate": 1.0}, r"dropout_rate=1.0 must be in \[0, 1\)", id="drop"),
            pytest.param(
                {"reduce_lr_factor": 1.0}, r"reduce_lr_factor=1.0 in \(0, 1\)", id="factor"
            ),
        ],
    )
    def test_bad_values(self, change, match):
        with pytest.raises(TrainingError, match=match):
            dataclasses.replace(PROFILES["test"], **change)


class TestTrainConfig:
    def test_overrides_replace_profile_values(self, tmp_path):
        config = TrainConfig.from_profile(
            str(tmp_path),
            "r1",
            profile="paper",
            backbone="compact",
            weights="none",
            epochs=(1, 2, 3),
        )
        assert config.workspace == tmp_path
        assert config.profile == dataclasses.replace(
            PROFILES["paper"], backbone="compact", weights="none", epochs=(1, 2, 3)
        )

    def test_no_override_keeps_the_profile(self, tmp_path):
        config = TrainConfig.from_profile(tmp_path, "r1", profile="demo", seed=3, parent="r0")
        assert (config.profile, config.seed, config.parent) == (PROFILES["demo"], 3, "r0")

    def test_to_dict_is_json(self, tmp_path):
        config = TrainConfig.from_profile(tmp_path, "r1", profile="test", ledger_state=7)
        values = json.loads(json.dumps(config.to_dict()))
        assert values["workspace"] == str(tmp_path)
        assert values["profile"]["epochs"] == [1, 1, 1]
        assert values["profile"]["augmentation"]["rotation_deg"] == 45
        assert values["ledger_state"] == 7

    def test_bad_override(self, tmp_path):
        with pytest.raises(TrainingError, match=r"epochs=\(1,\) must be 3 counts"):
            TrainConfig.from_profile(tmp_path, "r1", profile="test", epochs=(1,))


class TestExamples:
    @pytest.mark.parametrize(
        ("rows", "labels", "match"),
        [
            pytest.param([1, 2], [0], "must be 1-D and of equal length", id="length"),
            pytest.param([1, 1], [0, 1], "rows must be distinct; 1 rows repeat", id="repeat"),
            pytest.param([1, 2], [0, 2], "labels must be class indices 0 to 1", id="label"),
        ],
    )
    def test_bad_examples(self, rows, labels, match):
        with pytest.raises(TrainingError, match=match):
            Examples(np.array(rows), np.array(labels))

    def test_shard_by_chunks(self):
        examples = Examples(np.arange(300)[::-1], np.arange(300)[::-1] % 2)
        shards = [examples.shard(rank=rank, size=2, chunk=64) for rank in range(2)]
        assert np.unique(shards[0].rows // 64).tolist() == [0, 2, 4]
        assert np.unique(shards[1].rows // 64).tolist() == [1, 3]
        assert sorted(np.concatenate([s.rows for s in shards]).tolist()) == list(range(300))
        assert all(np.array_equal(s.labels, s.rows % 2) for s in shards)

    def test_shard_by_rows_when_chunks_are_few(self):
        examples = Examples(np.arange(10), np.zeros(10, dtype=int))
        shards = [examples.shard(rank=rank, size=3, chunk=64) for rank in range(3)]
        assert [s.rows.tolist() for s in shards] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]

    def test_default_examples(self, toy_workspace):
        catalog = toy_workspace.catalog(mode="r")
        examples = default_examples(catalog, "train")
        in_train = set_mask(catalog.column("sets"), "train")
        assert examples.rows.tolist() == np.flatnonzero(in_train).tolist()
        assert np.array_equal(examples.labels, catalog.column("label")[examples.rows])
        assert (
            len(default_examples(catalog, "unlabelled"))
            < set_mask(catalog.column("sets"), "unlabelled").sum()
        )


class TestDatasets:
    def test_training_batches(self, toy_workspace):
        catalog = toy_workspace.catalog(mode="r")
        examples = default_examples(catalog)
        options = TRAIN_OPTIONS | {"image_size": 48, "batch_size": 8}
        images, labels = next(iter(training_dataset(catalog, examples, **options)))
        assert images.shape == (8, 48, 48, 3)
        assert images.dtype.name == "float32"
        assert 0 <= float(np.min(images)) <= float(np.max(images)) <= 255
        assert labels.shape == (8, len(LABELS))
        np.testing.assert_array_equal(np.sum(labels, axis=1), 1)

    def test_training_is_endless_and_augmented(self, toy_workspace):
        catalog = toy_workspace.catalog(mode="r")
        examples = Examples(np.arange(4), np.zeros(4, dtype=int))
        options = TRAIN_OPTIONS | {"image_size": 32, "batch_size": 4}
        batches = list(training_dataset(catalog, examples, **options).take(3))
        plain = np.sort(catalog.read_images(np.arange(4)).astype(np.float32), axis=None)
        assert len(batches) == 3
        assert not np.array_equal(np.sort(batches[0][0].numpy(), axis=None), plain)

    def test_augmentation_resamples_without_smoothing(self, toy_workspace):
        # Bilinear resampling would smooth the sky noise of every training image and of no
        # test image; nearest-neighbour resampling only moves pixels.
        catalog = toy_workspace.catalog(mode="r")
        examples = Examples(np.arange(8), np.zeros(8, dtype=int))
        still = Augmentation(flip=False, rotation_deg=45, shift=0.3, zoom=0.3)
        options = TRAIN_OPTIONS | {"augmentation": still, "image_size": 32, "batch_size": 8}
        images = next(iter(training_dataset(catalog, examples, **options)))[0].numpy()
        assert np.array_equal(images, np.round(images))  # every value a stored uint8 value
        assert np.std(images) == pytest.approx(np.std(catalog.read_images(np.arange(8))), rel=0.2)

    def test_each_augmentation_layer_has_its_own_seed(self):
        layers = _augmenter(Augmentation(), seed=3).layers
        seeds = [layer.seed for layer in layers]
        assert len(set(seeds)) == len(layers) == 4
        assert [layer.seed for layer in _augmenter(Augmentation(), seed=3).layers] == seeds
        zoom = layers[-1]
        assert zoom.width_factor is None  # the same zoom along both axes keeps the axis ratio
        assert {layer.interpolation for layer in layers[1:]} == {"nearest"}

    def test_training_without_augmentation_keeps_the_pixels(self, toy_workspace):
        catalog = toy_workspace.catalog(mode="r")
        examples = Examples(np.arange(4), np.zeros(4, dtype=int))
        still = Augmentation(flip=False, rotation_deg=0, shift=0, zoom=0)
        options = TRAIN_OPTIONS | {"image_size": 32, "batch_size": 4, "augmentation": still}
        images, _ = next(iter(training_dataset(catalog, examples, **options)))
        plain = catalog.read_images(np.arange(4)).astype(np.float32)
        np.testing.assert_array_equal(np.sort(images.numpy(), axis=None), np.sort(plain, axis=None))

    def test_evaluation_is_ordered_and_not_augmented(self, toy_workspace):
        catalog = toy_workspace.catalog(mode="r")
        examples = Examples(np.array([70, 3, 5]), np.array([1, 0, 1]))
        (images, labels), *rest = list(evaluation_dataset(catalog, examples, **LOADER))
        assert rest == []
        expected = catalog.read_images([3, 5, 70]).astype(np.float32)
        np.testing.assert_array_equal(images.numpy(), expected)
        np.testing.assert_array_equal(labels.numpy().argmax(axis=1), [0, 1, 1])

    def test_prediction_streams_and_resizes(self, toy_workspace):
        catalog = toy_workspace.catalog(mode="r")
        rows = np.arange(0, 150, 3)
        batches = list(prediction_dataset(catalog, rows, image_size=16, batch_size=32))
        assert [b.shape[0] for b in batches] == [32, 18]
        assert batches[0].shape[1:] == (16, 16, 3)


class TestWorkers:
    def test_one_process_without_launcher(self, monkeypatch):
        for name in ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
            monkeypatch.delenv(name, raising=False)
        assert not launched_by_horovod()
        workers = init_workers()
        assert workers == Workers(rank=0, size=1, local_rank=0, hvd=None)
        assert workers.is_main
        assert workers.broadcast({"a": 1}) == {"a": 1}
        assert workers.callbacks(None, learning_rate=1e-3, warmup_epochs=2, steps_per_epoch=5) == []

    def test_learning_rate_scales_with_workers(self):
        optimizer = Workers(rank=1, size=4).optimizer(1e-4)
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(4e-4)

    def test_launcher_without_horovod(self, monkeypatch):
        monkeypatch.setenv("HOROVOD_RANK", "0")
        monkeypatch.setitem(sys.modules, "horovod.tensorflow.keras", None)
        assert launched_by_horovod()
        with pytest.raises(TrainingError, match="started by horovodrun/mpirun but Horovod is"):
            init_workers()


def _config(workspace, run="r1", **overrides):
    return TrainConfig.from_profile(workspace.root, run, profile="test", **overrides)


class TestTrainRefuses:
    def test_existing_run_before_any_work(self, toy_workspace):
        toy_workspace.catalog().create_run("taken")
        with (
            mock.patch("galcore.training._fit.build_model") as build,
            pytest.raises(RunExistsError, match="run 'taken' exists"),
        ):
            train(_config(toy_workspace, "taken"))
        build.assert_not_called()
        assert not toy_workspace.model_dir("taken").exists()

    def test_existing_model_folder(self, toy_workspace):
        toy_workspace.model_dir("old").mkdir(parents=True)
        with pytest.raises(RunExistsError, match="model folder .*old exists"):
            train(_config(toy_workspace, "old"))
        assert toy_workspace.catalog().runs() == []

    def test_failed_rows(self, toy_workspace):
        failed = len(toy_workspace.catalog()) - 1
        examples = Examples(np.array([0, failed]), np.array([0, 1]))
        with pytest.raises(TrainingError, match=f"1 training rows failed curation.*{failed}"):
            train(_config(toy_workspace), examples=examples)

    def test_rows_outside_the_catalog(self, toy_workspace):
        examples = Examples(np.array([0, 10_000]), np.array([0, 1]))
        with pytest.raises(TrainingError, match=r"training rows must be in \[0, 200\)"):
            train(_config(toy_workspace), examples=examples)

    def test_empty_examples(self, toy_workspace):
        examples = Examples(np.array([], dtype=int), np.array([], dtype=int))
        with pytest.raises(TrainingError, match="training set has 0 objects; 1 worker"):
            train(_config(toy_workspace), examples=examples)

    def test_provenance_clash(self, toy_workspace):
        with pytest.raises(TrainingError, match="parent='r9' \\(train writes 'r0'\\)"):
            train(_config(toy_workspace, parent="r0"), provenance={"parent": "r9"})
        assert toy_workspace.catalog().runs() == []

    def test_bad_weights_leave_the_store_alone(self, toy_workspace, tmp_path):
        config = _config(toy_workspace, weights=str(tmp_path / "missing.h5"))
        with pytest.raises(TrainingError, match="missing.h5 does not exist"):
            train(config)
        assert toy_workspace.catalog().runs() == []
        assert not toy_workspace.model_dir("r1").exists()

    def test_the_run_records_its_provenance(self, toy_workspace):
        examples = default_examples(toy_workspace.catalog(), "train")
        config = _config(toy_workspace, parent="r0", ledger_state=3)
        attrs = run_attrs(config, {"n_pseudo": 5}, examples, examples, workers=2)
        assert set(attrs) == {*PROVENANCE_ATTRS, "status", "n_pseudo"}
        assert (attrs["parent"], attrs["ledger_state"], attrs["workers"]) == ("r0", 3, 2)
        assert attrs["status"] == RunStatus.TRAINING

    def test_failure_marks_the_run(self, toy_workspace):
        with (
            mock.patch("galcore.training._train.fit", side_effect=RuntimeError("disk full")),
            pytest.raises(RuntimeError, match="disk full"),
        ):
            train(_config(toy_workspace))
        attrs = toy_workspace.catalog().run("r1").attrs
        assert (attrs["status"], attrs["error"]) == ("failed", "RuntimeError: disk full")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 400-object toy workspace and the result of training the test profile on it."""
    workspace = make_toy_workspace(tmp_path_factory.mktemp("train") / "ws", n=400)
    return workspace, train(_config(workspace, epochs=(2, 2, 3)))


@pytest.mark.slow
class TestTrain:
    def test_run_attrs(self, trained):
        workspace, result = trained
        attrs = workspace.catalog().run("r1").attrs
        assert attrs["status"] == "trained"
        assert (attrs["profile"], attrs["workers"], attrs["parent"]) == ("test", 1, None)
        assert attrs["stage_epochs"] == list(result.stage_epochs)
        assert attrs["metrics"]["val_accuracy"] == result.val_accuracy
        assert attrs["config"]["profile"]["epochs"] == [2, 2, 3]
        assert attrs["weights_sha256"] == result.weights_sha256
        assert attrs["wall_time_s"] > 0

    def test_training_set_is_recorded(self, trained):
        workspace, _ = trained
        catalog = workspace.catalog()
        expected = default_examples(catalog, "train")
        np.testing.assert_array_equal(catalog.run("r1").read("train_index"), expected.rows)
        np.testing.assert_array_equal(catalog.run("r1").read("train_label"), expected.labels)

    def test_model_folder(self, trained):
        workspace, result = trained
        folder = workspace.model_dir("r1")
        assert result.model_path == folder / MODEL_FILE
        assert not (folder / STATE_FOLDER).exists()  # removed once the run is complete
        history = json.loads((folder / HISTORY_FILE).read_text())
        assert [stage["stage"] for stage in history["stages"]] == [1, 2, 3]
        assert [stage["epochs"] for stage in history["stages"]] == list(result.stage_epochs)
        assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(
            history["stages"][0]["history"]
        )
        config = json.loads((folder / CONFIG_FILE).read_text())
        assert config == _config(workspace, epochs=(2, 2, 3)).to_dict()

    def test_saved_model_is_the_trained_one(self, trained):
        _, result = trained
        model = keras.models.load_model(result.model_path, compile=False)
        assert weights_sha256(model) == result.weights_sha256
        assert model.optimizer is None

    def test_high_accuracy_on_hp_test(self, trained):
        workspace, result = trained
        catalog = workspace.catalog(mode="r")
        rows = np.flatnonzero(set_mask(catalog.column("sets"), "hp_test") & catalog.ok())
        model = keras.models.load_model(result.model_path, compile=False)
        dataset = prediction_dataset(catalog, rows, image_size=32, batch_size=64)
        predicted = model.predict(dataset, verbose=0).argmax(axis=1)
        assert np.mean(predicted == catalog.column("label")[rows]) >= 0.9

    def test_given_examples_and_provenance(self, trained):
        workspace, _ = trained
        examples = Examples(np.arange(0, 100, 2), workspace.catalog().column("label")[:100:2])
        provenance = {"parent": "r1", "ledger_state": 0, "n_pseudo": 5}
        config = _config(workspace, "r2", epochs=(1, 0, 0), parent="r1")
        result = train(config, examples=examples, provenance=provenance)
        run = workspace.catalog().run("r2")
        assert (run.attrs["parent"], run.attrs["ledger_state"], run.attrs["n_pseudo"]) == (
            "r1",
            0,
            5,
        )
        assert result.stage_epochs == (1, 0, 0)
        np.testing.assert_array_equal(run.read("train_index"), examples.rows)
