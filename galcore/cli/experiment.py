"""`galcore experiment`: K models with different seeds (and backbones), averaged as in the paper."""

from __future__ import annotations

import argparse

from galcore.cli._common import add_workspace, command_parser, stage_epochs
from store.selection import DEFAULT_TOP

__all__ = ["experiment_command", "experiment_command_parser"]


def experiment_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore experiment``."""
    parser = command_parser(
        subparsers,
        "experiment",
        "Train, predict and evaluate one model per seed (and backbone), optionally each followed"
        " by one recursion, and write the mean and spread of every metric to"
        " WORKSPACE/experiments/NAME/summary.json with figures. Run it again to resume.",
    )
    add_workspace(parser)
    parser.add_argument("--name", required=True, help="the experiment's name (prefix of its runs)")
    parser.add_argument("--seeds", type=int, default=10, help="models per backbone (10)")
    parser.add_argument("--profile", default="demo", help="training profile (demo)")
    parser.add_argument(
        "--backbone",
        nargs="+",
        metavar="NAME",
        help="one or more backbones to compare (default: the profile's); their ROC curves on"
        " the FO tests are drawn side by side",
    )
    parser.add_argument(
        "--recurse", action="store_true", help="follow each model with one recursion"
    )
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        help=f"predictions per class a recursion adds ({DEFAULT_TOP})",
    )
    parser.add_argument(
        "--epochs", type=stage_epochs, metavar="N,N,N", help="override the epochs of each stage"
    )
    parser.add_argument(
        "--weights", help="override the backbone weights: imagenet, none or a local .h5 file"
    )
    parser.set_defaults(func=experiment_command)
    return parser


def experiment_command(args: argparse.Namespace) -> int:
    """Run ``galcore experiment``."""
    from galcore.experiment import ExperimentConfig, format_summary, run_experiment

    config = ExperimentConfig(
        args.workspace,
        args.name,
        seeds=args.seeds,
        profile=args.profile,
        backbones=tuple(args.backbone or (None,)),
        recurse=args.recurse,
        top=args.top,
        epochs=args.epochs,
        weights=args.weights,
    )
    summary = run_experiment(config)
    print(format_summary(summary))
    print(f"summary: {config.folder / 'summary.json'}; figures in {config.folder / 'figures'}")
    return 0
