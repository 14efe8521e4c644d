"""`galcore predict`: class probabilities and 1024-d features of every curated object."""

from __future__ import annotations

import argparse

from galcore.cli._common import (
    add_blocks,
    add_engine,
    add_run,
    add_workspace,
    command_parser,
    engine_of,
)

__all__ = ["predict_command", "predict_command_parser"]


def predict_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore predict``."""
    parser = command_parser(
        subparsers, "predict", "Write a trained run's probabilities and features for every object."
    )
    add_workspace(parser)
    add_run(parser)
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    add_blocks(parser, "a prediction")
    add_engine(parser)
    parser.set_defaults(func=predict_command)
    return parser


def predict_command(args: argparse.Namespace) -> int:
    """Run ``galcore predict``."""
    from galcore.inference import predict

    result = predict(
        args.workspace,
        args.run,
        batch_size=args.batch_size,
        engine=engine_of(args),
        resume=args.resume,
        block_rows=args.block_rows,
    )
    print(
        f"run {result.run}: probabilities and features of {result.n_predicted} objects"
        f" ({result.n_skipped} not curated, left NaN)"
    )
    return 0
