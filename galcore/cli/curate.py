"""`galcore curate`: survey files to the workspace's catalog."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from galcore.cli._common import add_workspace, command_parser

if TYPE_CHECKING:
    from galcore.curation import CurationConfig, SurveyInputs

__all__ = ["curate_command", "curate_command_parser"]

_INPUTS = ("gz", "sdss_photo", "sdss_frames", "des_catalog", "des_tiles")
_SETTINGS = {"size": "size", "field": "field_arcsec", "seed": "seed", "max_missing": "max_missing"}
"""Options that set a `CurationConfig` field (option -> field) where given; else its default."""
_STRETCH = {"black_point": "minimum", "stretch_q": "q"}
"""Options that set a `ColourStretch` field of the curation (option -> field) where given."""


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
    parser.add_argument(
        "--add",
        action="store_true",
        help="add to the workspace's catalog the objects it does not hold yet (new tiles, new"
        " fields, the other survey): only they are cut out, appended as new rows and matched"
        " with the catalog's objects; its rows keep their index, image and sets, and its runs"
        " have no predictions for the new rows. Options not given take the catalog's settings"
        " (--size and --field must be the catalog's)",
    )
    parser.add_argument("--size", type=int, help="image side in pixels (default 128)")
    parser.add_argument("--field", type=float, help="cutout side in arcsec (default 40)")
    parser.add_argument(
        "--seed",
        type=int,
        help="seed of the set assignment (default 0; of the new rows' with --add)",
    )
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument(
        "--max-missing",
        type=float,
        metavar="F",
        help="largest fraction of a cutout that may lie off the frames or tiles (default 0.25:"
        " the galaxy's centre a quarter of the field inside an edge): a galaxy at the edge of"
        " its frame or tile is cut from a neighbouring one that holds all of it, else kept as"
        " 'partial' (black off the image; trained on, never tested) while it misses at most"
        " F, and fails as 'off_frame' beyond",
    )
    parser.add_argument(
        "--black-point",
        type=float,
        metavar="B",
        help="surface brightness shown black, in nanomaggies per arcsec^2 (default 0.2)",
    )
    parser.add_argument(
        "--stretch-q", type=float, metavar="Q", help="asinh softening of the colour stretch (8)"
    )
    parser.add_argument(
        "--hp-test",
        type=float,
        metavar="F",
        help="share of the confident SDSS-DES pairs held out as the HP tests (default 0.15; 1"
        " for a catalog that only tests models trained elsewhere, see 'galcore import-run')",
    )
    parser.add_argument("--strict", action="store_true", help="stop at the first object that fails")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace a catalog that holds runs (drops them); not with --add",
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

    options = {"mode": "strict" if args.strict else "skip", "workers": args.workers}
    given = {field: getattr(args, name) for name, field in _SETTINGS.items()}
    options |= {field: value for field, value in given.items() if value is not None}
    if args.add:
        return _add(args, options)
    config = _with_stretch_and_sets(CurationConfig(**options), args)
    with _warnings_last():
        summary = curate_catalog(
            survey_inputs(args), args.workspace, config=config, replace=args.replace
        )
        print(
            f"wrote {summary.path}: {summary.n_sdss} SDSS + {summary.n_des} DES objects,"
            f" {summary.n_matched} matched, in {summary.seconds:.0f} s"
        )
        print("sets: " + ", ".join(f"{name} {n}" for name, n in summary.sets.items()))
        print(
            f"edges: {summary.partial} partial (up to {config.max_missing:.0%} of the cutout off"
            f" the images), {summary.from_neighbour} cut from a neighbouring frame or tile"
        )
    return 0


def _with_stretch_and_sets(config: CurationConfig, args: argparse.Namespace) -> CurationConfig:
    """Return `config` with the stretch and HP-test share the options give."""
    stretch = {field: getattr(args, name) for name, field in _STRETCH.items()}
    stretch = {field: value for field, value in stretch.items() if value is not None}
    config = dataclasses.replace(config, stretch=dataclasses.replace(config.stretch, **stretch))
    if args.hp_test is None:
        return config
    fractions = dataclasses.replace(config.fractions, hp_test=args.hp_test)
    return dataclasses.replace(config, fractions=fractions)


@contextmanager
def _warnings_last() -> Iterator[None]:
    """Print the curation warnings raised in the block to stderr, after what the block prints."""
    from galcore.errors import CurationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CurationWarning)
        yield
    for warning in caught:
        print(f"WARNING: {warning.message}", file=sys.stderr)


def _add(args: argparse.Namespace, options: dict[str, object]) -> int:
    """Run ``galcore curate --add``: the settings not given are the catalog's."""
    from galcore.curation import add_to_catalog, catalog_config
    from galcore.errors import CurationError

    if args.replace:
        msg = "--add keeps the catalog and its runs; --replace would drop them: give one of them"
        raise CurationError(msg)
    config = _with_stretch_and_sets(catalog_config(args.workspace, **options), args)
    with _warnings_last():
        summary = add_to_catalog(survey_inputs(args), args.workspace, config=config)
        if not summary.rows:
            print(
                f"nothing to add: {summary.path} holds all {summary.n_known} objects of the"
                " inputs already"
            )
            return 0
        print(
            f"added rows {summary.rows.start}-{summary.rows.stop - 1} to {summary.path}:"
            f" {summary.n_sdss} SDSS + {summary.n_des} DES objects, {summary.n_matched} new"
            f" matches ({summary.n_joined} with objects it held), {summary.n_known} objects of"
            f" the inputs held already, in {summary.seconds:.0f} s"
        )
        print("new in sets: " + ", ".join(f"{name} {n}" for name, n in summary.sets.items()))
    return 0
