"""`galcore demo`: a demo workspace from a synthetic sky, ready for the dashboard."""

from __future__ import annotations

import argparse

from galcore.cli._common import add_workspace, command_parser

__all__ = ["demo_command", "demo_command_parser"]


def demo_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore demo``."""
    parser = command_parser(
        subparsers,
        "demo",
        "Run sky, curate, train, predict, embed and evaluate on a synthetic sky (steps done"
        " already are skipped).",
    )
    add_workspace(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (0)")
    parser.add_argument("--n-sdss", type=int, default=6000, help="SDSS galaxies (6000)")
    parser.add_argument("--n-des", type=int, default=6750, help="DES galaxies (6750)")
    parser.add_argument("--profile", default="demo", help="training profile (demo)")
    parser.set_defaults(func=demo_command)
    return parser


def demo_command(args: argparse.Namespace) -> int:
    """Run ``galcore demo``."""
    from galcore.demo import DemoConfig, run_demo
    from galcore.evaluation import format_table

    config = DemoConfig(seed=args.seed, n_sdss=args.n_sdss, n_des=args.n_des, profile=args.profile)
    metrics = run_demo(args.workspace, config=config)
    print(format_table(metrics))
    print(f"next: galcore serve --workspace {args.workspace}")
    return 0
