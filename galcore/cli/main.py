"""The `galcore` entry point: registers the subcommands and dispatches to one of them."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from galcore import __version__
from galcore.errors import GalcoreError

__all__ = ["build_parser", "main"]

COMMANDS = (
    "sky",
    "curate",
    "train",
    "import-run",
    "predict",
    "classify",
    "embed",
    "evaluate",
    "export",
    "montage",
    "recurse",
    "retrain",
    "experiment",
    "serve",
    "demo",
)
"""Each name has a module `galcore.cli.<name>` with `<name>_command_parser(subparsers)` ('-' in a
name is '_' in Python)."""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="galcore",
        description="Galaxy morphology catalogs from survey images, step by step.",
    )
    parser.add_argument("--version", action="version", version=f"galcore {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one line")
    parser.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        python_name = name.replace("-", "_")
        module = importlib.import_module(f"galcore.cli.{python_name}")
        getattr(module, f"{python_name}_command_parser")(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one `galcore` subcommand and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 1
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args) or 0)
    except Exception as error:
        from store.errors import StoreError  # imported late: the store loads zarr

        if args.debug or not isinstance(error, GalcoreError | StoreError):
            raise
        print(f"ERROR: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
