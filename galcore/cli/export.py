"""`galcore export`: the catalog as a CSV table."""

from __future__ import annotations

import argparse
from pathlib import Path

from galcore.cli._common import add_workspace, command_parser

__all__ = ["export_command", "export_command_parser"]


def export_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore export``."""
    parser = command_parser(subparsers, "export", "Write the catalog (and a run) as a CSV table.")
    add_workspace(parser)
    parser.add_argument("--run", help="add this run's predictions and the review decisions")
    parser.add_argument("--out", type=Path, required=True, help="the CSV file to write")
    parser.set_defaults(func=export_command)
    return parser


def export_command(args: argparse.Namespace) -> int:
    """Run ``galcore export``."""
    from galcore.export import export_catalog

    rows = export_catalog(args.workspace, args.out, run=args.run)
    print(f"wrote {rows} rows to {args.out}")
    return 0
