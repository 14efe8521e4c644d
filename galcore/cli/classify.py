"""`galcore classify`: a run's predictions for FITS, PNG and JPEG cutouts a user already has."""

from __future__ import annotations

import argparse
from pathlib import Path

from galcore.cli._common import add_run, add_workspace, command_parser

__all__ = ["classify_command", "classify_command_parser"]

PREPARATION = """\
how the files are prepared (as the catalog's images are; details: galcore.classify):
  PNG, JPEG  8-bit RGB or greyscale, used as they are (already stretched)
  FITS       the SCI HDU, else the primary, else HDU 1: one band (grey) or a g, r, i cube
             - BUNIT nanomaggies (or nanomaggies/arcsec2) or DES MAGZERO: converted to
               nanomaggies/arcsec2, then the catalog's asinh colour stretch
             - units unknown: sky median subtracted, the same asinh stretch ranged by the
               image's own 99.5th percentile (said in the 'note' column)
             - with a celestial WCS: resampled north-up onto the catalog's cutout grid
               (the angular size and pixels curation recorded), around the image centre
             - without one: the whole image, resized (said in the 'note' column)
  then       resized to the model input as 'galcore predict' does; no augmentation

output: one CSV row per file: file, status (ok or why not), reason, one probability per
class, predicted, note. Exits 1 only when no file could be classified."""


def classify_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore classify``."""
    parser = command_parser(
        subparsers, "classify", "Classify FITS, PNG and JPEG cutouts with a run's model."
    )
    parser.epilog = PREPARATION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_workspace(parser)
    add_run(parser)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="the cutouts")
    parser.add_argument("--out", type=Path, required=True, help="the CSV file to write")
    parser.add_argument("--batch-size", type=int, default=64, help="files at a time (default 64)")
    parser.set_defaults(func=classify_command)
    return parser


def classify_command(args: argparse.Namespace) -> int:
    """Run ``galcore classify``."""
    from galcore.classify import classify_files, write_classifications
    from galcore.errors import GalcoreError

    results = classify_files(args.workspace, args.run, args.files, batch_size=args.batch_size)
    write_classifications(results, args.out)
    failed = [result for result in results if not result.ok]
    if len(failed) == len(results):
        first = failed[0]
        msg = (
            f"none of the {len(results)} files could be classified (first: {first.status},"
            f" {first.reason}); see the reasons in {args.out}"
        )
        raise GalcoreError(msg)
    print(
        f"classified {len(results) - len(failed)} of {len(results)} files"
        f" ({len(failed)} failed) with run {args.run}; wrote {args.out}"
    )
    return 0
