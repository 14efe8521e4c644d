"""`galcore recurse`: the next run, trained with the reviews and confident predictions."""

from __future__ import annotations

import argparse

from galcore.cli._common import add_workspace, command_parser
from store.selection import DEFAULT_TOP

__all__ = ["recurse_command", "recurse_command_parser"]


def recurse_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore recurse``."""
    parser = command_parser(
        subparsers,
        "recurse",
        "Train a new run on a run's training set with the reviewers' decisions in the ledger"
        " (approved and relabelled galaxies join, artefacts and unsure ones leave) and the"
        " most confident unlabelled predictions.",
    )
    add_workspace(parser)
    parser.add_argument("--from", dest="parent", required=True, help="the parent run")
    parser.add_argument("--run", required=True, help="the new run's name")
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        help=f"confident predictions added per class ({DEFAULT_TOP}; 0: only the parent's and"
        " the reviews)",
    )
    parser.add_argument("--profile", help="training profile (default: the parent's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the new training")
    parser.set_defaults(func=recurse_command)
    return parser


def recurse_command(args: argparse.Namespace) -> int:
    """Run ``galcore recurse``."""
    from galcore.recursion import recurse

    result, training_set = recurse(
        args.workspace, args.parent, args.run, top=args.top, profile=args.profile, seed=args.seed
    )
    if result.rank == 0:
        print(f"run {result.run} (from {args.parent}) trained on {training_set.describe()}")
        print(
            f"run {result.run}: val_accuracy {result.val_accuracy:.4f},"
            f" {result.wall_time_s:.0f} s; model at {result.model_path}"
        )
    return 0
