"""`galcore montage`: a picture of the catalog's galaxies, each class in both surveys."""

from __future__ import annotations

import argparse
from pathlib import Path

from galcore.cli._common import add_workspace, command_parser

__all__ = ["montage_command", "montage_command_parser"]


def montage_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore montage``."""
    parser = command_parser(
        subparsers,
        "montage",
        "Write a PNG of random matched galaxies of each class, as SDSS and DES see them.",
    )
    add_workspace(parser)
    parser.add_argument("--out", type=Path, required=True, help="the PNG file to write")
    parser.add_argument("--per-row", type=int, default=8, help="galaxies per class (8)")
    parser.add_argument(
        "--set", dest="set_name", default="hp_test", help="set to draw from (hp_test)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random choice (0)")
    parser.set_defaults(func=montage_command)
    return parser


def montage_command(args: argparse.Namespace) -> int:
    """Run ``galcore montage``."""
    from galcore.montage import write_montage

    out = write_montage(
        args.workspace, args.out, per_row=args.per_row, seed=args.seed, set_name=args.set_name
    )
    print(f"wrote {out}")
    return 0
