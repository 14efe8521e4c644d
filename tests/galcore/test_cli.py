"""The CLI: each command turns its arguments into one library call; main reports errors."""

from pathlib import Path
from unittest import mock

import pytest

from galcore.cli.curate import curate_command_parser
from galcore.cli.demo import demo_command_parser
from galcore.cli.embed import embed_command_parser
from galcore.cli.evaluate import evaluate_command_parser
from galcore.cli.export import export_command_parser
from galcore.cli.main import main
from galcore.cli.recurse import recurse_command_parser
from galcore.curation import CurationConfig, CurationSummary, SurveyInputs
from galcore.demo import DemoConfig
from galcore.errors import MissingInputError

METRICS = {"hp_test/sdss": {"n": 2, "accuracy": 1.0, "accuracy_top50": 1.0, "precision": 1.0,
                            "recall": 1.0, "f1": 1.0}}  # fmt: skip


SUMMARY = CurationSummary(Path("ws/catalog.zarr"), 2, 3, 1, {}, {"train": 1}, 0.5)


class TestMain:
    def test_errors_are_one_line_and_exit_1(self, tmp_path, capsys):
        assert main(["export", "--workspace", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("ERROR: no catalog at")
        assert "galcore curate" in err
        assert "Traceback" not in err

    def test_debug_shows_the_traceback(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no catalog at"):
            main(["--debug", "export", "--workspace", str(tmp_path), "--out", str(tmp_path / "x")])

    def test_no_command_prints_help_and_fails(self, capsys):
        assert main([]) == 1
        assert "usage: galcore" in capsys.readouterr().out


class TestCurate:
    def test_sky_folder_and_options_become_one_call(self, tmp_path):
        inputs = SurveyInputs(*(tmp_path / name for name in "abcde"))
        argv = ["--workspace", "ws", "--sky", "sky", "--gz", "gz.csv", "--size", "48", "--strict"]
        args = curate_command_parser().parse_args(argv)
        with (
            mock.patch("galcore.curation.SurveyInputs.from_sky", return_value=inputs) as from_sky,
            mock.patch("galcore.curation.curate_catalog", return_value=SUMMARY) as curate,
        ):
            assert args.func(args) == 0
        from_sky.assert_called_once_with(Path("sky"), gz=Path("gz.csv"))
        config = CurationConfig(size=48, mode="strict")
        curate.assert_called_once_with(inputs, Path("ws"), config=config, replace=False)

    def test_without_sky_every_input_is_needed(self):
        args = curate_command_parser().parse_args(["--workspace", "ws", "--gz", "gz.csv"])
        with pytest.raises(MissingInputError, match="missing --sdss-photo, --sdss-frames, --des"):
            args.func(args)


@pytest.mark.parametrize(
    ("parser", "argv", "target", "call"),
    [
        pytest.param(
            embed_command_parser,
            ["--workspace", "ws", "--run", "r1", "--perplexity", "20"],
            "galcore.embedding.embed_run",
            mock.call(Path("ws"), "r1", perplexity=20.0, fit_size=5000, seed=0),
            id="embed",
        ),
        pytest.param(
            evaluate_command_parser,
            ["--workspace", "ws", "--run", "r1"],
            "galcore.evaluation.evaluate_run",
            mock.call(Path("ws"), "r1"),
            id="evaluate",
        ),
        pytest.param(
            export_command_parser,
            ["--workspace", "ws", "--run", "r1", "--out", "c.csv"],
            "galcore.export.export_catalog",
            mock.call(Path("ws"), Path("c.csv"), run="r1"),
            id="export",
        ),
        pytest.param(
            recurse_command_parser,
            ["--workspace", "ws", "--from", "r1", "--run", "r2", "--top", "50"],
            "galcore.recursion.recurse",
            mock.call(Path("ws"), "r1", "r2", top=50, profile=None, seed=0),
            id="recurse",
        ),
        pytest.param(
            demo_command_parser,
            ["--workspace", "ws", "--n-sdss", "100", "--n-des", "120"],
            "galcore.demo.run_demo",
            mock.call(Path("ws"), config=DemoConfig(n_sdss=100, n_des=120)),
            id="demo",
        ),
    ],
)
def test_commands_call_one_library_function(parser, argv, target, call, capsys):
    args = parser().parse_args(argv)
    with mock.patch(target, return_value=_return_value(target)) as function:
        assert args.func(args) == 0
    assert function.call_args_list == [call]
    assert capsys.readouterr().out


def _return_value(target):
    if target.endswith(("evaluate_run", "run_demo")):
        return METRICS
    if target.endswith("embed_run"):
        import numpy as np

        return np.zeros((3, 3))
    if target.endswith("recurse"):
        return mock.Mock(rank=0, run="r2", val_accuracy=0.9, wall_time_s=1.0, model_path="m")
    return 7
