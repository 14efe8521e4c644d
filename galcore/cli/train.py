"""`galcore train`: fine-tune a classifier in three stages (alone or under horovodrun)."""

from __future__ import annotations

import argparse

from galcore.cli._common import add_run, add_workspace, command_parser

__all__ = ["train_command", "train_command_parser"]


def _stage_epochs(text: str) -> tuple[int, ...]:
    """Parse ``N,N,N`` into one epoch count per stage."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        msg = f"--epochs {text!r}: give one whole number per stage, e.g. 2,4,6"
        raise argparse.ArgumentTypeError(msg) from None


def train_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore train``."""
    parser = command_parser(
        subparsers,
        "train",
        "Train a new run: backbone frozen, then partly, then almost fully unfrozen. Run it "
        "under 'horovodrun -np N' to train on N workers.",
    )
    add_workspace(parser)
    add_run(parser)
    parser.add_argument(
        "--profile",
        default="demo",
        help="test (seconds), demo (minutes on a CPU) or paper (Xception, 299 px); default demo",
    )
    parser.add_argument("--backbone", help="xception or compact (default: the profile's)")
    parser.add_argument(
        "--weights", help="override the backbone weights: imagenet, none or a local .h5 file"
    )
    parser.add_argument(
        "--epochs", type=_stage_epochs, metavar="N,N,N", help="override the epochs of each stage"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, order, augmentation")
    parser.set_defaults(func=train_command)
    return parser


def train_command(args: argparse.Namespace) -> int:
    """Run ``galcore train``."""
    from galcore.training import TrainConfig, train

    config = TrainConfig.from_profile(
        args.workspace,
        args.run,
        profile=args.profile,
        backbone=args.backbone,
        weights=args.weights,
        epochs=args.epochs,
        seed=args.seed,
    )
    result = train(config)
    if result.rank == 0:
        print(
            f"trained run {result.run} on {result.size} worker(s) in {result.wall_time_s:.0f} s:"
            f" epochs {result.stage_epochs}, val_accuracy {result.val_accuracy:.4f},"
            f" model {result.model_path}"
        )
    return 0
