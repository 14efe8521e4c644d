"""Small helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from galcore.engine import Engine

__all__ = [
    "add_blocks",
    "add_engine",
    "add_run",
    "add_workspace",
    "command_parser",
    "engine_of",
    "positive_int",
    "stage_epochs",
]


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


def add_blocks(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--resume`` and ``--block-rows``: a step that writes a run's arrays in row blocks."""
    from galcore.engine import DEFAULT_BLOCK_ROWS

    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"continue {what} that stopped, computing only the blocks it had not written",
    )
    parser.add_argument(
        "--block-rows",
        type=positive_int,
        default=DEFAULT_BLOCK_ROWS,
        metavar="N",
        help=f"catalog rows per task (default {DEFAULT_BLOCK_ROWS})",
    )


def add_engine(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler`` and ``--workers``: where the step's tasks run (`galcore.engine`)."""
    group = parser.add_argument_group("where the tasks run (Dask)")
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786, whose workers see the"
        " workspace at the same path (default: start a local cluster)",
    )
    group.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="worker processes of the local cluster (default: one per core)",
    )


def engine_of(args: argparse.Namespace) -> Engine:
    """Return the engine that ``--scheduler`` and ``--workers`` ask for."""
    from galcore.engine import Engine

    return Engine(scheduler=args.scheduler, workers=args.workers)


def positive_int(text: str) -> int:
    """Parse a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"{text!r}: give a whole number of at least 1"
        raise argparse.ArgumentTypeError(msg)
    return value


def stage_epochs(text: str) -> tuple[int, ...]:
    """Parse ``N,N,N`` into one epoch count per stage."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        msg = f"--epochs {text!r}: give one whole number per stage, e.g. 2,4,6"
        raise argparse.ArgumentTypeError(msg) from None
