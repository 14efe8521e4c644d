"""`galcore curate`: survey files to the workspace's catalog."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from galcore.cli._common import add_workspace, command_parser

if TYPE_CHECKING:
    from galcore.curation import SurveyInputs

__all__ = ["curate_command", "curate_command_parser"]

_INPUTS = ("gz", "sdss_photo", "sdss_frames", "des_catalog", "des_tiles")


def curate_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore curate``."""
    parser = command_parser(
        subparsers, "curate", "Curate Galaxy Zoo, SDSS and DES inputs into the catalog."
    )
    add_workspace(parser)
    parser.add_argument(
        "--sky",
        type=Path,
        help="a folder holding the inputs under their real names (SDSS's, DES's or both)",
    )
    parser.add_argument("--gz", type=Path, help="Galaxy Zoo 1 table 2 (GalaxyZoo1_DR_table2.csv)")
    parser.add_argument("--sdss-photo", type=Path, help="SkyServer PhotoObj CSV")
    parser.add_argument(
        "--sdss-frames",
        type=Path,
        help="folder with DR8 frame-*.fits.bz2 files, or DR7 fpC-*.fit[.gz] files and their"
        " tsField-*.fit, below it (DR8 is used where a field has both)",
    )
    parser.add_argument("--des-catalog", type=Path, help="DES DR1 main catalog CSV")
    parser.add_argument("--des-tiles", type=Path, help="folder with DES *.fits.fz tiles below it")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument(
        "--field", type=float, default=40.0, help="cutout side in arcsec (default 40)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the set assignment")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument("--strict", action="store_true", help="stop at the first object that fails")
    parser.add_argument(
        "--replace", action="store_true", help="replace a catalog that holds runs (drops them)"
    )
    parser.set_defaults(func=curate_command)
    return parser


def survey_inputs(args: argparse.Namespace) -> SurveyInputs:
    """Return the inputs named by ``--sky`` and the per-file options (which override it).

    SDSS's three inputs or DES's two may be given alone; `curate_catalog` checks them.
    """
    from galcore.curation import SurveyInputs

    given = {name: getattr(args, name) for name in _INPUTS if getattr(args, name) is not None}
    if args.sky is not None:
        return SurveyInputs.from_sky(args.sky, **given)
    return SurveyInputs(**given)


def curate_command(args: argparse.Namespace) -> int:
    """Run ``galcore curate``."""
    from galcore.curation import CurationConfig, curate_catalog
    from galcore.errors import CurationWarning

    mode = "strict" if args.strict else "skip"
    config = CurationConfig(
        size=args.size, field_arcsec=args.field, seed=args.seed, mode=mode, workers=args.workers
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CurationWarning)
        summary = curate_catalog(
            survey_inputs(args), args.workspace, config=config, replace=args.replace
        )
    print(
        f"wrote {summary.path}: {summary.n_sdss} SDSS + {summary.n_des} DES objects,"
        f" {summary.n_matched} matched, in {summary.seconds:.0f} s"
    )
    print("sets: " + ", ".join(f"{name} {n}" for name, n in summary.sets.items()))
    for warning in caught:
        print(f"WARNING: {warning.message}", file=sys.stderr)
    return 0
