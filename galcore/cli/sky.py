"""`galcore sky`: write a synthetic sky of Galaxy Zoo, SDSS and DES files."""

from __future__ import annotations

import argparse
from pathlib import Path

from galcore.cli._common import command_parser

__all__ = ["sky_command", "sky_command_parser"]


def sky_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore sky``."""
    parser = command_parser(
        subparsers,
        "sky",
        "Write a synthetic sky in Stripe 82: Galaxy Zoo 1 table 2, SDSS PhotoObj rows and DR8"
        " frames (or DR7 fpC frames and tsField files), DES DR1 catalog rows and coadd tiles, and"
        " truth.csv with the true morphologies.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write into (new)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--n-sdss", type=int, help="galaxies in SDSS and Galaxy Zoo (default 600)")
    parser.add_argument("--n-des", type=int, help="galaxies in DES (default 700)")
    parser.add_argument(
        "--sdss-format",
        choices=("dr7", "dr8"),
        help="SDSS frames as DR8 frame-*.fits.bz2 (nanomaggies) or DR7 fpC-*.fit.gz (counts)"
        " with a tsField-*.fit photometric solution per field (default dr8)",
    )
    conditions = parser.add_argument_group(
        "conditions",
        "the same galaxies observed otherwise: factors on each survey's nominal values",
    )
    conditions.add_argument("--seeing", type=float, help="factor on the PSF FWHM (1)")
    conditions.add_argument(
        "--noise", type=float, help="factor on the sky noise (1; 2 is ~0.75 mag shallower)"
    )
    conditions.add_argument(
        "--artefacts", type=float, help="factor on cosmic rays, trails and bad columns (1)"
    )
    parser.set_defaults(func=sky_command)
    return parser


def sky_command(args: argparse.Namespace) -> int:
    """Run ``galcore sky``; options not given take `make_sky`'s defaults."""
    from galcore.sky import SkyConditions, make_sky

    given = {name: getattr(args, name) for name in ("seed", "n_sdss", "n_des", "sdss_format")}
    factors = {name: getattr(args, name) for name in ("seeing", "noise", "artefacts")}
    factors = {name: value for name, value in factors.items() if value is not None}
    if factors:
        given["conditions"] = SkyConditions(**factors)
    sky = make_sky(args.out, **{name: value for name, value in given.items() if value is not None})
    print(f"wrote a synthetic sky to {sky.root}")
    print(f"  galaxies: {sky.n_galaxies}; SDSS {sky.n_sdss}, DES {sky.n_des}, both {sky.n_both}")
    print(f"  SDSS fields: {sky.n_frames} ({sky.sdss_format.upper()}) under {sky.sdss_frames_dir}")
    print(f"  DES tiles: {sky.n_tiles} under {sky.des_tiles_dir}")
    print(f"  catalog entries made to fail curation: {sky.n_defects} (see {sky.truth.name})")
    return 0
