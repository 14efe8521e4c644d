"""Small helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_run", "add_workspace", "command_parser"]


def command_parser(
    subparsers: argparse._SubParsersAction | None, name: str, description: str
) -> argparse.ArgumentParser:
    """Return the subcommand's parser: a sub-parser when `subparsers` is given, else standalone."""
    if subparsers is None:
        return argparse.ArgumentParser(prog=f"galcore {name}", description=description)
    return subparsers.add_parser(name, help=description, description=description)


def add_workspace(parser: argparse.ArgumentParser) -> None:
    """Add the required ``--workspace`` option."""
    parser.add_argument(
        "--workspace", type=Path, required=True, help="workspace folder (catalog, models, ledger)"
    )


def add_run(parser: argparse.ArgumentParser) -> None:
    """Add the required ``--run`` option."""
    parser.add_argument("--run", required=True, help="the run's name")
