"""Small helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_run", "add_workspace", "command_parser", "stage_epochs"]


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


def stage_epochs(text: str) -> tuple[int, ...]:
    """Parse ``N,N,N`` into one epoch count per stage."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        msg = f"--epochs {text!r}: give one whole number per stage, e.g. 2,4,6"
        raise argparse.ArgumentTypeError(msg) from None
