"""`galcore train` and `galcore predict`: arguments to typed configs, one library call each."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

from galcore.cli.predict import predict_command, predict_command_parser
from galcore.cli.train import train_command, train_command_parser
from galcore.engine import Engine
from galcore.errors import TrainingError
from galcore.inference import Predictions
from galcore.training import BACKBONES, PROFILES, TrainConfig, TrainResult
from store import Workspace


def _result(rank=0):
    return TrainResult(
        run="r1",
        model_path=Path("ws/models/r1/model.keras"),
        stage_epochs=(1, 1, 1),
        history=({}, {}, {}),
        val_loss=0.1,
        val_accuracy=0.95,
        best_stage=2,
        averaged_epochs=1,
        wall_time_s=3.0,
        weights_sha256="0" * 64,
        rank=rank,
        size=2,
    )


class TestTrainCommand:
    def test_defaults(self, tmp_path, capsys):
        args = train_command_parser().parse_args(["--workspace", str(tmp_path), "--run", "r1"])
        with mock.patch("galcore.training.train", return_value=_result()) as train:
            assert train_command(args) == 0
        config = TrainConfig.from_profile(tmp_path, "r1", profile="demo")
        train.assert_called_once_with(config, resume=False)
        out = capsys.readouterr().out
        assert "trained run r1 on 2 worker(s)" in out
        assert "val_accuracy 0.9500 (stage 2)" in out

    def test_overrides(self, tmp_path):
        argv = ["--workspace", str(tmp_path), "--run", "r2", "--profile", "paper"]
        argv += ["--backbone", "compact", "--weights", "none", "--epochs", "2,0,3", "--seed", "5"]
        args = train_command_parser().parse_args(argv)
        with mock.patch("galcore.training.train", return_value=_result()) as train:
            train_command(args)
        expected = TrainConfig.from_profile(
            tmp_path,
            "r2",
            profile="paper",
            backbone="compact",
            weights="none",
            epochs=(2, 0, 3),
            seed=5,
        )
        train.assert_called_once_with(expected, resume=False)

    def test_resume_continues_with_the_runs_own_config(self, tmp_path):
        argv = ["--workspace", str(tmp_path), "--run", "r1", "--resume"]
        args = train_command_parser().parse_args(argv)
        stored = TrainConfig.from_profile(tmp_path, "r1", profile="test", seed=3)
        with (
            mock.patch("galcore.training.TrainConfig.of_run", return_value=stored) as of_run,
            mock.patch("galcore.training.train", return_value=_result()) as train,
        ):
            assert train_command(args) == 0
        of_run.assert_called_once_with(tmp_path, "r1")
        train.assert_called_once_with(stored, resume=True)

    def test_resume_refuses_new_settings(self, tmp_path):
        argv = ["--workspace", str(tmp_path), "--run", "r1", "--resume", "--profile", "test"]
        args = train_command_parser().parse_args(argv)
        with (
            mock.patch("galcore.training.train") as train,
            pytest.raises(TrainingError, match="drop --profile"),
        ):
            train_command(args)
        train.assert_not_called()

    def test_only_rank_zero_prints(self, tmp_path, capsys):
        args = train_command_parser().parse_args(["--workspace", str(tmp_path), "--run", "r1"])
        with mock.patch("galcore.training.train", return_value=_result(rank=1)):
            assert train_command(args) == 0
        assert capsys.readouterr().out == ""

    def test_bad_epochs(self, tmp_path, capsys):
        parser = train_command_parser()
        with pytest.raises(SystemExit):
            parser.parse_args(["--workspace", str(tmp_path), "--run", "r1", "--epochs", "1,x,2"])
        assert "give one whole number per stage" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("argv", "match"),
        [
            pytest.param(["--profile", "huge"], "profile='huge' is not known", id="profile"),
            pytest.param(["--backbone", "vgg"], "backbone='vgg' is not known", id="backbone"),
            pytest.param(["--epochs", "1,2"], r"epochs=\(1, 2\) must be 3 counts", id="stages"),
        ],
    )
    def test_bad_values_stop_before_training(self, tmp_path, argv, match):
        args = train_command_parser().parse_args(
            ["--workspace", str(tmp_path), "--run", "r", *argv]
        )
        with (
            mock.patch("galcore.training.train") as train,
            pytest.raises(TrainingError, match=match),
        ):
            train_command(args)
        train.assert_not_called()

    def test_help_names_every_profile_and_backbone(self):
        text = train_command_parser().format_help()
        assert all(name in text for name in (*PROFILES, *BACKBONES))


class TestPredictCommand:
    def test_calls_predict(self, tmp_path, capsys):
        argv = ["--workspace", str(tmp_path), "--run", "r1", "--batch-size", "16"]
        args = predict_command_parser().parse_args(argv)
        result = Predictions(Workspace(tmp_path), "r1", n_predicted=1, n_skipped=1)
        with mock.patch("galcore.inference.predict", return_value=result) as predict:
            assert predict_command(args) == 0
        predict.assert_called_once_with(
            tmp_path, "r1", batch_size=16, engine=Engine(), resume=False, block_rows=4096
        )
        assert "of 1 objects (1 not curated, left NaN)" in capsys.readouterr().out

    def test_default_batch_size(self, tmp_path):
        args = predict_command_parser().parse_args(["--workspace", str(tmp_path), "--run", "r1"])
        assert args.batch_size == 64
        assert args.func is predict_command

    def test_engine_options(self, tmp_path):
        argv = ["--workspace", str(tmp_path), "--run", "r1", "--scheduler", "tcp://h:8786"]
        argv += ["--workers", "3", "--resume", "--block-rows", "512"]
        args = predict_command_parser().parse_args(argv)
        with mock.patch("galcore.inference.predict") as predict:
            predict.return_value = Predictions(Workspace(tmp_path), "r1", 0, 0)
            predict_command(args)
        engine = Engine(scheduler="tcp://h:8786", workers=3)
        predict.assert_called_once_with(
            tmp_path, "r1", batch_size=64, engine=engine, resume=True, block_rows=512
        )

    @pytest.mark.parametrize("option", ["--workers", "--block-rows"])
    @pytest.mark.parametrize("value", ["0", "-2", "two"])
    def test_counts_must_be_positive(self, tmp_path, capsys, option, value):
        argv = ["--workspace", str(tmp_path), "--run", "r1", option, value]
        with pytest.raises(SystemExit):
            predict_command_parser().parse_args(argv)
        assert f"{option}: '{value}': give a whole number of at least 1" in capsys.readouterr().err
