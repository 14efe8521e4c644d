"""`galcore evaluate`: the paper's Table II, ROC curves and Fig. 6 for a run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    parser.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="also write the ROC and confidence curves there (<run>-roc, <run>-confidence;"
        " PNG and interactive HTML)",
    )
    parser.set_defaults(func=evaluate_command)
    return parser


def evaluate_command(args: argparse.Namespace) -> int:
    """Run ``galcore evaluate``."""
    from galcore.evaluation import evaluate_run, format_table

    metrics = evaluate_run(args.workspace, args.run)
    print(json.dumps(metrics, indent=2) if args.json else format_table(metrics))
    if args.plots is not None:
        from galcore.plots import confidence_plot, roc_plot, write_figures

        figures = {
            f"{args.run}-roc": roc_plot(metrics),
            f"{args.run}-confidence": confidence_plot(metrics),
        }
        for path in write_figures(figures, args.plots):
            print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0
