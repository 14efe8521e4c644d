"""`galcore embed`: 3-D t-SNE of a run's features."""

from __future__ import annotations

import argparse

from galcore.cli._common import add_run, add_workspace, command_parser

__all__ = ["embed_command", "embed_command_parser"]


def embed_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore embed``."""
    parser = command_parser(subparsers, "embed", "Embed a run's features in 3-D with t-SNE.")
    add_workspace(parser)
    add_run(parser)
    parser.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity")
    parser.add_argument("--fit-size", type=int, default=5000, help="most points fitting the map")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and of t-SNE")
    parser.set_defaults(func=embed_command)
    return parser


def embed_command(args: argparse.Namespace) -> int:
    """Run ``galcore embed``."""
    import numpy as np

    from galcore.embedding import embed_run

    embedding = embed_run(
        args.workspace, args.run, perplexity=args.perplexity, fit_size=args.fit_size, seed=args.seed
    )
    print(f"embedded {np.isfinite(embedding).all(axis=1).sum()} objects of run {args.run} in 3-D")
    return 0
