"""`galcore evaluate`: the paper's Table II for a run."""

from __future__ import annotations

import argparse
import json

from galcore.cli._common import add_run, add_workspace, command_parser

__all__ = ["evaluate_command", "evaluate_command_parser"]


def evaluate_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore evaluate``."""
    parser = command_parser(subparsers, "evaluate", "Metrics of a run on the HP and FO test sets.")
    add_workspace(parser)
    add_run(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=evaluate_command)
    return parser


def evaluate_command(args: argparse.Namespace) -> int:
    """Run ``galcore evaluate``."""
    from galcore.evaluation import evaluate_run, format_table

    metrics = evaluate_run(args.workspace, args.run)
    print(json.dumps(metrics, indent=2) if args.json else format_table(metrics))
    return 0
