"""Galaxies at the edges of frames and tiles: cut from a neighbour, or kept as partial cutouts.

The sky here is two real DES tiles (written with the synthetic sky's writer) that overlap by
45" in RA, and a DES catalog naming, for each galaxy, the tile it was "detected" on.
"""

import logging
import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcore.cli.curate import curate_command_parser
from galcore.cli.main import main
from galcore.curation import (
    ColourStretch,
    CurationConfig,
    CurationSummary,
    SetFractions,
    SurveyInputs,
    assign_sets,
    curate_catalog,
    cutout,
)
from galcore.errors import CurationError, CurationWarning
from galcore.export import catalog_table, export_catalog
from galcore.sky._catalogs import write_csv
from galcore.sky._writers import DesTile, tan_header, write_des_tile
from galcore.surveys import read_tile
from galcore.surveys._des import DES_COLUMNS
from store import Workspace, set_mask

SCALE = 0.263  # arcsec per DES pixel
SHAPE = (400, 400)  # each tile spans 105.2" on a side
HALF = SHAPE[0] / 2 * SCALE  # 52.6": from a tile's centre to its edges
SIZE, FIELD = 32, 40.0  # the cutouts: 32 pixels over 40"
# No black point: the sky on an image is not black, so the part off it can be told apart.
STRETCH = ColourStretch(minimum=0.0)
RA0 = 10.0
TILES = {"DES0040+0000": RA0, "DES0039+0000": RA0 - 60 / 3600}  # B's east edge 7.4" west of RA0
# id: (named tile, RA offset from RA0 and Dec, in arcsec)
GALAXIES = {
    1: ("DES0040+0000", -40.0, 0.0),  # 7.4" over A's west edge: wholly on B
    2: ("DES0040+0000", 30.0, HALF),  # centred on A's north edge, east of B: half off both
    3: ("DES0040+0000", 30.0, 120.0),  # far north of both: its row names the wrong tile
    4: ("DES0039+0000", -60.0, 0.0),  # the centre of B
}


def _tile(name: str) -> DesTile:
    header = tan_header((TILES[name], 0.0), SHAPE, scale=SCALE, rotation=0.0)
    return DesTile(header=header, shape=SHAPE, name=name)


def _position(galaxy: int) -> SkyCoord:
    _, d_ra, d_dec = GALAXIES[galaxy]
    return SkyCoord((RA0 + d_ra / 3600) * u.deg, d_dec / 3600 * u.deg)


@pytest.fixture(scope="module")
def sky(tmp_path_factory) -> Path:
    """Two overlapping DES tiles in g, r, i (a different level on each) and their catalog."""
    root = tmp_path_factory.mktemp("edges_sky")
    rng = np.random.default_rng(5)
    for level, name in enumerate(TILES, start=1):
        tile = _tile(name)
        ys, xs = np.mgrid[: SHAPE[0], : SHAPE[1]]
        ra, dec = tile.wcs.all_pix2world(xs, ys, 0)
        for band, colour in zip("gri", (0.6, 1.0, 1.3), strict=True):
            image = np.full(SHAPE, 0.004 * level * colour)
            for galaxy in GALAXIES:
                position = _position(galaxy)
                r2 = ((ra - position.ra.deg) ** 2 + (dec - position.dec.deg) ** 2) * 3600**2
                image += 0.05 * colour * np.exp(-r2 / (2 * 3.0**2))
            image += rng.normal(0, 0.001, SHAPE)
            write_des_tile(image.astype(np.float32), tile, band, root=root, sigma=0.001)
    rows = []
    for galaxy, (name, _, _) in GALAXIES.items():
        position = _position(galaxy)
        rows.append([galaxy, name, position.ra.deg, position.dec.deg, 18, 17.5, 17.2, 4.0])
    write_csv(root / "des_dr1_main.csv", DES_COLUMNS, rows)
    return root


def _curate(sky: Path, root: Path, **options) -> tuple[Workspace, CurationSummary]:
    config = CurationConfig(size=SIZE, field_arcsec=FIELD, stretch=STRETCH, **options)
    with pytest.warns(CurationWarning, match="could not be curated"):
        summary = curate_catalog(SurveyInputs.from_sky(sky), root, config=config)
    return Workspace(root), summary


@pytest.fixture(scope="module")
def lenient(sky, tmp_path_factory) -> tuple[Workspace, CurationSummary]:
    return _curate(sky, tmp_path_factory.mktemp("lenient"), max_missing=0.6)


@pytest.fixture(scope="module")
def default(sky, tmp_path_factory) -> tuple[Workspace, CurationSummary]:
    return _curate(sky, tmp_path_factory.mktemp("default"))


def _by_id(space: Workspace) -> pd.DataFrame:
    """Status, missing fraction, failure and catalog row of each galaxy, by its id."""
    table = catalog_table(space.root).set_index("object_id")
    return table.assign(row=np.arange(len(table)))


def _cut_from(sky: Path, tile: str, galaxy: int) -> np.ndarray:
    """The image of `galaxy` cut wholly from `tile` as curation stretches it."""
    planes = [
        cutout(
            read_tile(_tile(tile).path(sky, band)),
            _position(galaxy),
            size=SIZE,
            field=FIELD * u.arcsec,
            name=str(galaxy),
        )
        for band in "gri"
    ]
    return STRETCH(*planes)


class TestNeighbourTile:
    def test_a_galaxy_off_its_tile_is_cut_whole_from_the_neighbour(self, sky, lenient):
        space, summary = lenient
        table = _by_id(space)
        assert table.loc[1, "status"] == "ok"
        assert table.loc[1, "missing_fraction"] == 0
        image = space.catalog(mode="r").read_images([table.loc[1, "row"]])[0]
        np.testing.assert_array_equal(image, _cut_from(sky, "DES0039+0000", 1))
        assert summary.from_neighbour == 1

    def test_its_named_tile_alone_would_have_lost_part_of_it(self, sky):
        with pytest.raises(CurationError, match="does not lie on the image"):
            _cut_from(sky, "DES0040+0000", 1)

    def test_the_log_names_the_tile_it_came_from(self, sky, tmp_path, caplog):
        with caplog.at_level(logging.INFO, logger="galcore.curation._overlap"):
            _curate(sky, tmp_path, max_missing=0.6)
        [line] = [r.getMessage() for r in caplog.records if "cut from" in r.getMessage()]
        assert line.startswith("galaxy DES 1: cut from DES0039+0000_r2622p01_r.fits.fz")
        assert "instead of DES0040+0000_r2622p01_r.fits.fz" in line

    def test_a_galaxy_well_inside_its_tile_is_untouched(self, sky, lenient):
        space, _ = lenient
        table = _by_id(space)
        assert table.loc[4, "status"] == "ok"
        image = space.catalog(mode="r").read_images([table.loc[4, "row"]])[0]
        np.testing.assert_array_equal(image, _cut_from(sky, "DES0039+0000", 4))


class TestPartialCutouts:
    def test_half_off_every_tile_is_partial_with_its_missing_fraction(self, lenient):
        space, summary = lenient
        table = _by_id(space)
        # Geometry: the galaxy sits on A's north edge, so the pixel rows whose centres lie
        # north of it ((k - 15.5) * 40"/32 > 0) are off every tile: 16 of 32.
        offsets = (np.arange(SIZE) - (SIZE - 1) / 2) * FIELD / SIZE
        expected = np.mean(offsets > 0)
        assert expected == 0.5
        assert table.loc[2, "status"] == "partial"
        assert table.loc[2, "missing_fraction"] == pytest.approx(expected, abs=1e-6)
        assert summary.partial == 1

    def test_the_part_off_the_image_is_black(self, lenient):
        space, _ = lenient
        row = _by_id(space).loc[2, "row"]
        image = space.catalog(mode="r").read_images([row])[0]
        assert not image[: SIZE // 2].any()  # row 0 is north, off the tile
        # The southern half has sky and the galaxy, but for the two rows within the 2.1"
        # border that DES masks (MSK) along a tile's edges.
        assert image[SIZE // 2 + 2 :].min() > 0

    def test_more_missing_than_allowed_is_off_frame_naming_the_option(self, default):
        space, summary = default
        table = _by_id(space)
        assert table.loc[2, "status"] == "off_frame"
        assert table.loc[2, "missing_fraction"] == pytest.approx(0.5, abs=1e-6)
        assert "50% of it lies off the image" in table.loc[2, "failure"]
        assert "--max-missing 0.25" in table.loc[2, "failure"]
        assert summary.partial == 0
        assert table.loc[1, "status"] == "ok"  # the neighbour still holds galaxy 1 whole

    def test_a_cutout_wholly_off_its_tile_stays_off_frame(self, lenient):
        table = _by_id(lenient[0])
        assert table.loc[3, "status"] == "off_frame"
        assert table.loc[3, "missing_fraction"] == 1
        assert "galaxy DES 3 in DES0040+0000" in table.loc[3, "failure"]
        assert "does not lie on the image" in table.loc[3, "failure"]

    def test_partial_galaxies_have_images_to_train_on_and_predict(self, lenient):
        space, _ = lenient
        catalog = space.catalog(mode="r")
        status = np.asarray(catalog.status_codes)[catalog.column("status")]
        np.testing.assert_array_equal(catalog.usable(), np.isin(status, ["ok", "partial"]))
        assert catalog.usable()[_by_id(space).loc[2, "row"]]
        assert not catalog.ok()[_by_id(space).loc[2, "row"]]

    def test_strict_mode_fails_only_where_no_file_will_do(self, sky, tmp_path):
        config = CurationConfig(size=SIZE, field_arcsec=FIELD, mode="strict")
        with pytest.raises(CurationError, match="galaxy DES 2 .*--max-missing"):
            curate_catalog(SurveyInputs.from_sky(sky), tmp_path, config=config)


class TestSets:
    def test_partial_objects_and_their_counterparts_are_never_tested(self):
        # Six SDSS galaxies (rows 0-5), each matched to a DES one (rows 6-11), all confident
        # but rows 4 and 5, which are labelled without confidence.
        n = 6
        survey = np.repeat([0, 1], n).astype(np.uint8)
        label = np.tile([0, 1, 0, 1, 0, 1], 2)
        confident = np.r_[[True] * 4, [False] * 2, [False] * n]
        match = np.r_[np.arange(n) + n, np.arange(n)]
        partial = np.zeros(2 * n, bool)
        partial[[0, 4, 7, 11]] = True  # SDSS 0 and 4, the DES partners of SDSS 1 and 5
        ok = ~partial
        all_hp = SetFractions(hp_test=1.0, val=0.0)
        sets = assign_sets(
            survey, label, confident, match, ok, partial=partial, fractions=all_hp, seed=0
        )
        tested = set_mask(sets, "hp_test") | set_mask(sets, "fo_test")
        assert not tested[partial].any()
        assert not tested[[1, 5]].any()  # their partners are partial
        assert tested[[2, 3, 8, 9]].all()  # whole pairs are tested (all confident: HP)
        assert set_mask(sets, "train")[[0, 1]].all()  # confident: trained on all the same
        assert sets[4] == sets[11] == 0  # labelled without confidence, partial: no set
        whole = assign_sets(survey, label, confident, match, np.ones(2 * n, bool), seed=0)
        assert set_mask(whole, "fo_test")[[4, 5]].all()  # were they whole, FO would test them

    def test_curated_partial_galaxies_are_in_no_test_set(self, lenient):
        space, _ = lenient
        catalog = space.catalog(mode="r")
        partial = np.asarray(catalog.status_codes)[catalog.column("status")] == "partial"
        sets = catalog.column("sets")
        assert partial.any()
        for name in ("hp_test", "fo_test"):
            assert not set_mask(sets, name)[partial].any()
        assert set_mask(sets, "unlabelled")[partial].all()  # a lone DES galaxy: to classify


class TestExport:
    def test_export_shows_partial_and_the_missing_fraction(self, lenient, tmp_path):
        space, _ = lenient
        out = tmp_path / "catalog.csv"
        export_catalog(space.root, out)
        table = pd.read_csv(out).set_index("object_id")
        assert table.loc[2, "status"] == "partial"
        assert table.loc[2, "missing_fraction"] == pytest.approx(0.5)
        assert table.loc[1, "missing_fraction"] == 0
        assert table.loc[4, "missing_fraction"] == 0

    def test_a_catalog_written_before_the_column_reads_as_whole(self, lenient, tmp_path):
        root = tmp_path / "old"
        shutil.copytree(lenient[0].root, root)
        shutil.rmtree(Workspace(root).catalog_path / "objects" / "missing_fraction")
        catalog = Workspace(root).catalog(mode="r")
        np.testing.assert_array_equal(catalog.column("missing_fraction"), np.zeros(len(catalog)))
        assert (catalog_table(root)["missing_fraction"] == 0).all()


class TestCommandLine:
    def test_max_missing_reaches_the_config(self):
        argv = ["--workspace", "ws", "--des-catalog", "d.csv", "--des-tiles", "t"]
        summary = CurationSummary(Path("ws/catalog.zarr"), 0, 4, 0, {}, {}, 0.1, 2, 1)
        for extra, expected in (([], 0.25), (["--max-missing", "0.6"], 0.6)):
            args = curate_command_parser().parse_args([*argv, *extra])
            with mock.patch("galcore.curation.curate_catalog", return_value=summary) as curate:
                assert args.func(args) == 0
            assert curate.call_args.kwargs["config"].max_missing == expected
        assert CurationConfig().max_missing == 0.25

    @pytest.mark.parametrize("value", [-0.1, 1.0])
    def test_a_fraction_outside_0_1_is_refused(self, value):
        with pytest.raises(CurationError, match=r"--max-missing\) must be in \[0, 1\)"):
            CurationConfig(max_missing=value)

    def test_curate_says_how_many_are_partial_and_from_a_neighbour(self, sky, tmp_path, capsys):
        argv = ["curate", "--workspace", str(tmp_path), "--sky", str(sky), "--size", str(SIZE)]
        assert main([*argv, "--max-missing", "0.6"]) == 0
        out = capsys.readouterr().out
        assert (
            "edges: 1 partial (up to 60% of the cutout off the images),"
            " 1 cut from a neighbouring frame or tile"
        ) in out
