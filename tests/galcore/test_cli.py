"""The CLI: each command turns its arguments into one library call; main reports errors."""

import json
import re
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from galcore.cli.curate import curate_command_parser
from galcore.cli.demo import demo_command_parser
from galcore.cli.embed import embed_command_parser
from galcore.cli.evaluate import evaluate_command_parser
from galcore.cli.export import export_command_parser
from galcore.cli.main import main
from galcore.cli.recurse import recurse_command_parser
from galcore.curation import (
    ColourStretch,
    CurationConfig,
    CurationSummary,
    SetFractions,
    SurveyInputs,
)
from galcore.demo import DemoConfig
from galcore.embedding import EmbedSummary
from galcore.engine import Engine
from galcore.errors import CurationError, MissingInputError
from galcore.evaluation import classification_metrics
from store import set_mask

METRICS = {
    "hp_test/sdss": classification_metrics(
        np.array([0, 1, 1, 0]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    )
}


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

    def test_stretch_and_hp_share(self, tmp_path):
        inputs = SurveyInputs(*(tmp_path / name for name in "abcde"))
        argv = ["--workspace", "ws", "--sky", "sky", "--black-point", "0.05", "--stretch-q", "4"]
        args = curate_command_parser().parse_args([*argv, "--hp-test", "1"])
        with (
            mock.patch("galcore.curation.SurveyInputs.from_sky", return_value=inputs),
            mock.patch("galcore.curation.curate_catalog", return_value=SUMMARY) as curate,
        ):
            assert args.func(args) == 0
        config = CurationConfig(
            stretch=ColourStretch(minimum=0.05, q=4.0), fractions=SetFractions(hp_test=1.0)
        )
        curate.assert_called_once_with(inputs, Path("ws"), config=config, replace=False)

    @pytest.mark.parametrize(
        ("option", "match"),
        [("--hp-test=1.5", "hp_test share 1.5 must be between 0 and 1"), ("--stretch-q=0", "q 0")],
    )
    def test_bad_stretch_or_share(self, option, match):
        args = curate_command_parser().parse_args(["--workspace", "ws", "--sky", "sky", option])
        with pytest.raises(CurationError, match=match):
            args.func(args)

    def test_a_survey_needs_all_its_inputs(self, tmp_path):
        argv = ["--workspace", str(tmp_path / "ws"), "--gz", "gz.csv"]
        args = curate_command_parser().parse_args(argv)
        with pytest.raises(MissingInputError, match="missing --sdss-photo, --sdss-frames"):
            args.func(args)
        assert not (tmp_path / "ws").exists()

    def test_one_survey_alone_is_passed_on(self):
        argv = ["--workspace", "ws", "--des-catalog", "d.csv", "--des-tiles", "tiles"]
        args = curate_command_parser().parse_args(argv)
        with mock.patch("galcore.curation.curate_catalog", return_value=SUMMARY) as curate:
            assert args.func(args) == 0
        (inputs, _), _ = curate.call_args
        assert inputs == SurveyInputs(des_catalog=Path("d.csv"), des_tiles=Path("tiles"))
        assert (inputs.has_sdss, inputs.has_des) == (False, True)


class TestEvaluate:
    def test_plots_names_a_folder(self):
        argv = ["--workspace", "ws", "--run", "r1", "--plots", "figures"]
        assert evaluate_command_parser().parse_args(argv).plots == Path("figures")
        assert evaluate_command_parser().parse_args(argv[:4]).plots is None

    def test_plots_writes_roc_and_confidence_figures(self, toy_workspace, tmp_path, capsys):
        catalog = toy_workspace.catalog()
        labels = catalog.column("label")
        rng = np.random.default_rng(0)
        spiral = np.clip(np.where(labels == 1, 0.8, 0.2) + rng.normal(0, 0.2, len(labels)), 0, 1)
        probs = np.c_[1 - spiral, spiral].astype(np.float32)
        probs[~catalog.ok()] = np.nan
        catalog.create_run("r1").write("probs", probs)
        folder = tmp_path / "figures"
        argv = ["--workspace", str(toy_workspace.root), "--run", "r1", "--plots", str(folder)]
        args = evaluate_command_parser().parse_args(argv)
        assert args.func(args) == 0
        names = {"r1-roc.png", "r1-roc.html", "r1-confidence.png", "r1-confidence.html"}
        assert {path.name for path in folder.iterdir()} == names
        out = capsys.readouterr().out
        assert all(f"wrote {folder / name}" in out for name in names)
        for stem, min_width in (("r1-roc", 300), ("r1-confidence", 600)):
            with Image.open(folder / f"{stem}.png") as image:
                image.load()
                assert image.format == "PNG"
                assert image.width >= min_width
                assert 250 <= image.height <= 1500
            document = _bokeh_document(folder / f"{stem}.html")
            assert document["roots"]
            assert "HP SDSS" in json.dumps(document)
        hp_test = set_mask(catalog.column("sets"), "hp_test")
        auc = toy_workspace.catalog().run("r1").attrs["test_metrics"]["hp_test/sdss"]["auc"]
        assert 0.5 < auc <= 1.0
        assert auc == classification_metrics(labels[hp_test], probs[hp_test])["auc"]
        assert f"HP SDSS (AUC {auc:.3f})" in json.dumps(_bokeh_document(folder / "r1-roc.html"))


def _bokeh_document(path):
    """The one Bokeh document that an HTML file embeds as JSON."""
    scripts = re.findall(
        r'<script type="application/json"[^>]*>(.*?)</script>', path.read_text(), re.DOTALL
    )
    assert len(scripts) == 1
    (document,) = json.loads(scripts[0]).values()
    return document


@pytest.mark.parametrize(
    ("parser", "argv", "target", "call"),
    [
        pytest.param(
            embed_command_parser,
            ["--workspace", "ws", "--run", "r1", "--perplexity", "20"],
            "galcore.embedding.embed_run",
            mock.call(
                Path("ws"),
                "r1",
                perplexity=20.0,
                fit_size=5000,
                seed=0,
                add=False,
                engine=Engine(),
                resume=False,
                block_rows=4096,
            ),
            id="embed",
        ),
        pytest.param(
            embed_command_parser,
            ["--workspace", "ws", "--run", "r1", "--add", "--workers", "2", "--resume"],
            "galcore.embedding.embed_run",
            mock.call(
                Path("ws"),
                "r1",
                perplexity=30.0,
                fit_size=5000,
                seed=0,
                add=True,
                engine=Engine(workers=2),
                resume=True,
                block_rows=4096,
            ),
            id="embed-add",
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
        pytest.param(
            demo_command_parser,
            ["--workspace", "ws"],
            "galcore.demo.run_demo",
            mock.call(Path("ws"), config=DemoConfig()),
            id="demo-defaults",
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
        return EmbedSummary("r1", n_embedded=3, n_fitted=2, n_placed=1)
    if target.endswith("recurse"):
        result = mock.Mock(rank=0, run="r2", val_accuracy=0.9, wall_time_s=1.0, model_path="m")
        return result, mock.Mock(**{"describe.return_value": "7 labels"})
    return 7
