"""`galcore embed`: 3-D t-SNE of a run's features."""

from __future__ import annotations

import argparse

from galcore.cli._common import (
    add_blocks,
    add_engine,
    add_run,
    add_workspace,
    command_parser,
    engine_of,
    positive_int,
)

__all__ = ["embed_command", "embed_command_parser"]


def embed_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore embed``."""
    parser = command_parser(subparsers, "embed", "Embed a run's features in 3-D with t-SNE.")
    add_workspace(parser)
    add_run(parser)
    parser.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity")
    parser.add_argument(
        "--fit-size",
        type=positive_int,
        default=5000,
        help="most points fitting the map; the others are placed into it (default 5000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and of t-SNE")
    parser.add_argument(
        "--add",
        action="store_true",
        help="place the objects without coordinates (added since) into the saved map, no refit",
    )
    add_blocks(parser, "an embedding")
    add_engine(parser)
    parser.set_defaults(func=embed_command)
    return parser


def embed_command(args: argparse.Namespace) -> int:
    """Run ``galcore embed``."""
    from galcore.embedding import embed_run

    summary = embed_run(
        args.workspace,
        args.run,
        perplexity=args.perplexity,
        fit_size=args.fit_size,
        seed=args.seed,
        add=args.add,
        engine=engine_of(args),
        resume=args.resume,
        block_rows=args.block_rows,
    )
    if args.add:
        print(
            f"placed {summary.n_placed} objects of run {args.run} into its saved map, without"
            f" refitting: {summary.n_embedded} objects in 3-D"
        )
    else:
        print(
            f"embedded {summary.n_embedded} objects of run {args.run} in 3-D"
            f" ({summary.n_fitted} fitted the map, {summary.n_placed} placed into it)"
        )
    return 0
