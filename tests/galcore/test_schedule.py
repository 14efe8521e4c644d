"""The schedule across stages: best weights of the run, early stopping, one learning rate."""

from __future__ import annotations

import dataclasses
import json
import math

import keras
import numpy as np
import pytest

from galcore.errors import TrainingError
from galcore.training import get_profile
from galcore.training._schedule import STATE_FOLDER, Schedule

PROFILE = dataclasses.replace(
    get_profile("test"), epochs=(3, 3, 3), patience=2, reduce_lr_patience=2
)


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse", metrics=["accuracy"])
    return model


def _set(model: keras.Model, value: float) -> None:
    """Give every weight the value `value`, so an epoch's weights can be recognised."""
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])


def _epoch(schedule: Schedule, model: keras.Model, value: float, *, loss: float, val_loss: float):
    """Play one epoch: weights `value`, then the epoch-end callback with these losses."""
    _set(model, value)
    logs = {"loss": loss, "val_loss": val_loss, "accuracy": 0.5, "val_accuracy": 1 - val_loss}
    schedule.callback().on_epoch_begin(schedule.state.epoch)
    schedule.callback().on_epoch_end(schedule.state.epoch, logs)


@pytest.fixture
def schedule(tmp_path):
    return Schedule(PROFILE, tmp_path, learning_rate=0.1, is_main=True)


class TestBestWeights:
    def test_a_worse_later_stage_ends_with_the_earlier_best(self, schedule, tmp_path):
        model = _model()
        schedule.begin_stage(model)
        for value, val_loss in [(1.0, 0.5), (2.0, 0.2), (3.0, 0.3)]:
            _epoch(schedule, model, value, loss=1.0, val_loss=val_loss)
        schedule.end_stage()
        assert model.get_weights()[0][0, 0] == 2.0
        schedule.begin_stage(model)
        for value, val_loss in [(4.0, 0.4), (5.0, 0.6)]:
            _epoch(schedule, model, value, loss=1.0, val_loss=val_loss)
        schedule.end_stage()
        assert model.get_weights()[0][0, 0] == 2.0
        state = schedule.state
        assert (state.best_stage, state.best_epoch, state.best_val_loss) == (1, 2, 0.2)
        resumed = Schedule.load(PROFILE, tmp_path, learning_rate=0.1, is_main=True)
        resumed.begin_stage(_model())
        assert resumed.best_weights[0][0][0, 0] == 2.0

    def test_a_better_later_stage_wins(self, schedule):
        model = _model()
        schedule.begin_stage(model)
        _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.5)
        schedule.end_stage()
        schedule.begin_stage(model)
        _epoch(schedule, model, 7.0, loss=1.0, val_loss=0.1)
        schedule.end_stage()
        assert model.get_weights()[0][0, 0] == 7.0
        assert schedule.state.best_stage == 2
        assert schedule.stage_epochs == (1, 1, 0)


class TestAveragedWeights:
    PROFILE = dataclasses.replace(PROFILE, average_best=2)

    def _three_stages(self, schedule, model):
        """Stage 1: epochs 1 (0.5), 3 (0.2); stage 2: 5 (0.3), 7 (0.9); stage 3: 9 (0.4)."""
        plays = [[(1.0, 0.5), (3.0, 0.2)], [(5.0, 0.3), (7.0, 0.9)], [(9.0, 0.4)]]
        for stage in plays:
            schedule.begin_stage(model)
            for value, val_loss in stage:
                _epoch(schedule, model, value, loss=1.0, val_loss=val_loss)
            schedule.end_stage()

    def test_the_run_ends_with_the_mean_of_its_best_epochs(self, tmp_path):
        schedule = Schedule(self.PROFILE, tmp_path, learning_rate=0.1, is_main=True)
        model = _model()
        self._three_stages(schedule, model)
        assert model.get_weights()[0][0, 0] == 3.0  # each stage ends with the best epoch
        schedule.finish(model)
        assert model.get_weights()[0][0, 0] == 4.0  # (3 + 5) / 2
        assert schedule.state.best_val_losses == [0.2, 0.3]
        assert (schedule.state.best_stage, schedule.state.best_epoch) == (1, 2)

    def test_only_the_best_epochs_checkpoints_stay(self, tmp_path):
        schedule = Schedule(self.PROFILE, tmp_path, learning_rate=0.1, is_main=True)
        self._three_stages(schedule, _model())
        names = {p.name.split(".")[0] for p in (tmp_path / STATE_FOLDER).glob("*-stage-*")}
        assert schedule.state.best_checkpoints == ["best-0002-stage-1", "best-0003-stage-2"]
        assert names == {*schedule.state.best_checkpoints, schedule.state.checkpoint}

    def test_a_run_stopped_after_its_last_epoch_ends_the_same(self, tmp_path):
        schedule = Schedule(self.PROFILE, tmp_path, learning_rate=0.1, is_main=True)
        self._three_stages(schedule, _model())
        resumed = Schedule.load(self.PROFILE, tmp_path, learning_rate=0.1, is_main=True)
        assert resumed.done
        model = _model()
        resumed.finish(model)
        assert model.get_weights()[0][0, 0] == 4.0

    def test_one_epoch_is_the_best_alone(self, schedule):
        model = _model()
        schedule.begin_stage(model)
        for value, val_loss in [(1.0, 0.5), (2.0, 0.2), (3.0, 0.3)]:
            _epoch(schedule, model, value, loss=1.0, val_loss=val_loss)
        schedule.end_stage()
        _set(model, 0.0)
        schedule.finish(model)
        assert model.get_weights()[0][0, 0] == 2.0


class TestStopping:
    def test_a_stage_stops_after_patience_epochs_without_a_better_val_loss(self, schedule):
        model = _model()
        schedule.begin_stage(model)
        _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.5)
        _epoch(schedule, model, 1.0, loss=0.9, val_loss=0.6)
        assert not model.stop_training
        _epoch(schedule, model, 1.0, loss=0.8, val_loss=0.5)
        assert model.stop_training

    def test_the_next_stage_counts_afresh(self, schedule):
        model = _model()
        schedule.begin_stage(model)
        for val_loss in (0.5, 0.6, 0.7):
            _epoch(schedule, model, 1.0, loss=1.0, val_loss=val_loss)
        schedule.end_stage()
        model.stop_training = False
        schedule.begin_stage(model)
        _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.9)
        assert not model.stop_training

    def test_nan_loss_stops_and_fails(self, schedule):
        model = _model()
        schedule.begin_stage(model)
        schedule.callback().on_train_batch_end(4, {"loss": math.nan})
        assert model.stop_training
        with pytest.raises(TrainingError, match="NaN at stage 1 epoch 1 batch 5"):
            schedule.end_stage()


class TestLearningRate:
    def test_shrinks_when_the_training_loss_stalls_whatever_val_loss_does(self, schedule):
        model = _model()
        schedule.begin_stage(model)
        for val_loss in (0.5, 0.4, 0.3):
            _epoch(schedule, model, 1.0, loss=1.0, val_loss=val_loss)
        assert schedule.state.learning_rate == pytest.approx(0.1 * PROFILE.reduce_lr_factor)
        assert keras.backend.get_value(model.optimizer.learning_rate) == pytest.approx(0.05)

    def test_does_not_shrink_while_the_training_loss_falls(self, schedule):
        model = _model()
        schedule.begin_stage(model)
        for loss in (1.0, 0.5, 0.2):
            _epoch(schedule, model, 1.0, loss=loss, val_loss=0.9)
        assert schedule.state.learning_rate == pytest.approx(0.1)

    def test_a_stage_starts_at_the_rate_the_previous_ended_with(self, schedule):
        model = _model()
        schedule.begin_stage(model)
        for _ in range(3):
            _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.5)
        schedule.end_stage()
        model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
        schedule.begin_stage(model)
        assert keras.backend.get_value(model.optimizer.learning_rate) == pytest.approx(0.05)

    def test_warm_up_epochs_do_not_count(self, tmp_path):
        schedule = Schedule(PROFILE, tmp_path, learning_rate=0.1, is_main=True, warmup_epochs=2)
        model = _model()
        schedule.begin_stage(model)
        for _ in range(3):
            _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.5)
        assert schedule.state.learning_rate == pytest.approx(0.1)


class TestSavedState:
    def test_every_epoch_saves_a_state_to_continue_from(self, schedule, tmp_path):
        model = _model()
        schedule.begin_stage(model)
        _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.5)
        _epoch(schedule, model, 2.0, loss=1.0, val_loss=0.7)
        progress = json.loads((tmp_path / STATE_FOLDER / "progress.json").read_text())
        assert (progress["stage"], progress["epoch"], progress["best_epoch"]) == (1, 2, 1)
        checkpoints = {p.name.split(".")[0] for p in (tmp_path / STATE_FOLDER).glob("*-stage-*")}
        assert checkpoints == {"last-0002-stage-1", "best-0001-stage-1"}
        assert (progress["checkpoint"], progress["best_checkpoints"]) == (
            "last-0002-stage-1",
            ["best-0001-stage-1"],
        )

        resumed = Schedule.load(PROFILE, tmp_path, learning_rate=0.1, is_main=True)
        other = _model()
        resumed.begin_stage(other)
        assert other.get_weights()[0][0, 0] == 2.0  # the last epoch's weights
        assert resumed.best_weights[0][0][0, 0] == 1.0  # and the best so far
        assert resumed.state.history == schedule.state.history

    def test_inside_a_stage_the_optimiser_continues(self, schedule, tmp_path):
        model = _model()
        schedule.begin_stage(model)
        x, y = np.random.default_rng(0).normal(size=(16, 3)), np.zeros((16, 2))
        model.fit(
            x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=[schedule.callback()]
        )
        resumed = Schedule.load(PROFILE, tmp_path, learning_rate=0.1, is_main=True)
        other = _model()
        resumed.begin_stage(other)
        assert int(other.optimizer.iterations) == int(model.optimizer.iterations) > 0
        for saved, restored in zip(
            model.optimizer.variables, other.optimizer.variables, strict=True
        ):
            np.testing.assert_array_equal(saved.numpy(), restored.numpy())
        for saved, restored in zip(model.get_weights(), other.get_weights(), strict=True):
            np.testing.assert_array_equal(saved, restored)

    def test_nothing_saved_starts_from_the_beginning(self, tmp_path):
        resumed = Schedule.load(PROFILE, tmp_path, learning_rate=0.3, is_main=True)
        assert (resumed.state.stage, resumed.state.epoch, resumed.state.learning_rate) == (
            1,
            0,
            0.3,
        )

    def test_other_workers_write_nothing(self, tmp_path):
        schedule = Schedule(PROFILE, tmp_path, learning_rate=0.1, is_main=False)
        model = _model()
        schedule.begin_stage(model)
        _epoch(schedule, model, 1.0, loss=1.0, val_loss=0.5)
        assert list(tmp_path.iterdir()) == []
