"""`galcore import-run`: bring a run trained in one workspace into another, to label its catalog."""

from __future__ import annotations

import argparse
from pathlib import Path

from galcore.cli._common import add_run, add_workspace, command_parser

__all__ = ["import_run_command", "import_run_command_parser"]


def import_run_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore import-run``."""
    parser = command_parser(
        subparsers,
        "import-run",
        "Copy a trained run of another workspace (--from) into this one, so that 'galcore"
        " predict', 'evaluate' and the workbench use its model on this catalog: a model"
        " trained on one sky labels and is tested on another.",
    )
    add_workspace(parser)
    parser.add_argument(
        "--from", dest="source", type=Path, required=True, help="the workspace it was trained in"
    )
    add_run(parser)
    parser.add_argument("--as", dest="name", help="the run's name here (default: --run)")
    parser.set_defaults(func=import_run_command)
    return parser


def import_run_command(args: argparse.Namespace) -> int:
    """Run ``galcore import-run``."""
    from galcore.import_run import import_run

    result = import_run(args.source, args.run, args.workspace, name=args.name)
    print(f"imported run {args.run} of {args.source} as {result.run}")
    print(f"next: galcore predict --workspace {args.workspace} --run {result.run}")
    return 0
