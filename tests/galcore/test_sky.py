"""Tests of the synthetic sky: real file formats, consistent geometry, truthful labels."""

from __future__ import annotations

import bz2
import csv
import dataclasses
import inspect
import io
import math
import re
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from galcore.cli.sky import sky_command, sky_command_parser
from galcore.errors import SkyError
from galcore.sky import SkyManifest, make_sky
from galcore.sky._catalogs import format_dec, format_ra
from galcore.sky._population import (
    CONFIDENT_ELLIPTICAL,
    CONFIDENT_SPIRAL,
    Galaxy,
    draw_galaxies,
    draw_zoo_votes,
)
from galcore.sky._profiles import Shape, band_weights
from galcore.sky._render import DES, SDSS, psf_kernel, render_scene
from galcore.sky._writers import des_tile_name, sdss_objid, tan_header

N_SDSS, N_DES, TILE_SIZE = 40, 50, 1024
GZ_HEADER = (
    "OBJID,RA,DEC,NVOTE,P_EL,P_CW,P_ACW,P_EDGE,P_DK,P_MG,P_CS,"
    "P_EL_DEBIASED,P_CS_DEBIASED,SPIRAL,ELLIPTICAL,UNCERTAIN"
)
FRAME_NAME = re.compile(r"frame-([gri])-(\d{6})-([1-6])-(\d{4})\.fits\.bz2")
TILE_NAME = re.compile(r"(DES\d{4}[+-]\d{4})_r\d{4}p01_([gri])\.fits\.fz")
ARCSEC = 1.0 / 3600.0


@pytest.fixture(scope="module")
def sky(tmp_path_factory: pytest.TempPathFactory) -> SkyManifest:
    out = tmp_path_factory.mktemp("sky") / "sky"
    return make_sky(out, seed=7, n_sdss=N_SDSS, n_des=N_DES, tile_size=TILE_SIZE)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def truth(sky: SkyManifest) -> list[dict[str, str]]:
    return read_csv(sky.truth)


@pytest.fixture(scope="module")
def photoobj(sky: SkyManifest) -> list[dict[str, str]]:
    return read_csv(sky.sdss_photoobj)


@pytest.fixture(scope="module")
def des_rows(sky: SkyManifest) -> list[dict[str, str]]:
    return read_csv(sky.des_catalog)


def defects(truth: list[dict[str, str]], survey: str) -> dict[str, str]:
    key = "sdss_objid" if survey == "sdss" else "des_coadd_object_id"
    return {t[key]: t["defect"] for t in truth if t["defect_survey"] == survey}


def frame_path(sky: SkyManifest, row: dict[str, str], band: str) -> Path:
    run, camcol, field = int(row["run"]), row["camcol"], int(row["field"])
    name = f"frame-{band}-{run:06d}-{camcol}-{field:04d}.fits.bz2"
    return sky.sdss_frames_dir / "301" / str(run) / camcol / name


def open_frame(path: Path) -> fits.HDUList:
    return fits.open(io.BytesIO(bz2.decompress(path.read_bytes())))


def tile_path(sky: SkyManifest, tilename: str, band: str) -> Path:
    (path,) = (sky.des_tiles_dir / tilename).glob(f"{tilename}_r*p01_{band}.fits.fz")
    return path


def parse_sexagesimal(text: str, *, hours: bool) -> float:
    sign = -1.0 if text.startswith("-") else 1.0
    first, minutes, seconds = (float(v) for v in text.lstrip("+-").split(":"))
    value = sign * (first + minutes / 60.0 + seconds / 3600.0)
    return value * 15.0 if hours else value


def robust_sigma(image: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(image - np.median(image))))


class TestLayout:
    def test_catalogs_have_their_real_names(self, sky: SkyManifest):
        names = {p.name for p in sky.root.iterdir() if p.is_file()}
        assert names == {
            "GalaxyZoo1_DR_table2.csv",
            "sdss_photoobj.csv",
            "des_dr1_main.csv",
            "truth.csv",
        }
        assert sky.sdss_frames_dir == sky.root / "sdss" / "frames"
        assert sky.des_tiles_dir == sky.root / "des" / "dr1_tiles"

    def test_every_frame_file_follows_the_dr8_layout(self, sky: SkyManifest):
        paths = sorted(sky.sdss_frames_dir.rglob("*.fits.bz2"))
        assert paths
        for path in paths:
            band, run, camcol, field = FRAME_NAME.fullmatch(path.name).groups()
            assert path.parent == sky.sdss_frames_dir / "301" / str(int(run)) / camcol
            assert band in "gri"
            assert int(field) > 0

    def test_every_tile_file_follows_the_dr1_layout(self, sky: SkyManifest):
        paths = sorted(sky.des_tiles_dir.rglob("*.fits.fz"))
        assert paths
        for path in paths:
            tilename, _ = TILE_NAME.fullmatch(path.name).groups()
            assert path.parent.name == tilename

    def test_counts_match_the_catalogs(self, sky, truth, photoobj, des_rows):
        assert (sky.n_sdss, sky.n_des, sky.n_galaxies) == (N_SDSS, N_DES, len(truth))
        assert len(photoobj) == N_SDSS
        assert len(des_rows) == N_DES
        both = sum(t["in_sdss"] == "1" and t["in_des"] == "1" for t in truth)
        assert both == sky.n_both == round(0.75 * N_SDSS)
        des_only = [t for t in truth if t["in_sdss"] == "0"]
        assert len(des_only) == N_DES - both
        assert all(t["sdss_objid"] == "" and t["gz_label"] == "" for t in des_only)

    def test_every_catalogued_galaxy_has_its_images(self, sky, truth, photoobj, des_rows):
        bad_sdss, bad_des = defects(truth, "sdss"), defects(truth, "des")
        for row in photoobj:
            if row["objid"] not in bad_sdss:
                assert all(frame_path(sky, row, band).exists() for band in "gri")
        for row in des_rows:
            if row["COADD_OBJECT_ID"] not in bad_des:
                assert all(tile_path(sky, row["TILENAME"], band).exists() for band in "gri")


class TestGalaxyZoo:
    def test_header_is_exact(self, sky: SkyManifest):
        with sky.gz_table.open() as stream:
            assert stream.readline().rstrip("\n") == GZ_HEADER

    def test_sexagesimal_positions_parse_back(self, sky, photoobj):
        by_objid = {row["objid"]: row for row in photoobj}
        rows = read_csv(sky.gz_table)
        for row in rows:
            ra = parse_sexagesimal(row["RA"], hours=True)
            dec = parse_sexagesimal(row["DEC"], hours=False)
            assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d", row["RA"])
            assert re.fullmatch(r"[+-]\d\d:\d\d:\d\d\.\d", row["DEC"])
            source = by_objid[row["OBJID"]]
            assert abs(ra - float(source["ra"])) < 0.1 * ARCSEC
            assert abs(dec - float(source["dec"])) < 0.1 * ARCSEC
        assert any(row["DEC"].startswith("-00:") for row in rows)

    def test_rows_are_the_sdss_galaxies_with_a_few_duplicates(self, sky, photoobj):
        objids = [row["OBJID"] for row in read_csv(sky.gz_table)]
        assert len(objids) > len(set(objids))
        assert set(objids) == {row["objid"] for row in photoobj}

    def test_fractions_and_flags_are_consistent(self, sky: SkyManifest):
        for row in read_csv(sky.gz_table):
            votes = [float(row[k]) for k in ("P_EL", "P_CW", "P_ACW", "P_EDGE", "P_DK", "P_MG")]
            assert 20 <= int(row["NVOTE"]) <= 60
            assert sum(votes) == pytest.approx(1.0, abs=0.004)
            spiral = float(row["P_CW"]) + float(row["P_ACW"]) + float(row["P_EDGE"])
            assert float(row["P_CS"]) == pytest.approx(spiral, abs=0.002)
            el, cs = float(row["P_EL_DEBIASED"]), float(row["P_CS_DEBIASED"])
            assert el + cs <= 1.0 + 1e-9
            flags = (int(row["SPIRAL"]), int(row["ELLIPTICAL"]), int(row["UNCERTAIN"]))
            assert flags == (int(cs >= 0.8), int(el >= 0.8), int(cs < 0.8 and el < 0.8))

    def test_confident_labels_agree_with_truth(self, sky, truth):
        morphology = {t["sdss_objid"]: t["morphology"] for t in truth if t["sdss_objid"]}
        confident = []
        for row in {r["OBJID"]: r for r in read_csv(sky.gz_table)}.values():
            el, cs = float(row["P_EL_DEBIASED"]), float(row["P_CS_DEBIASED"])
            label = "spiral" if cs > el else "elliptical"
            if cs >= CONFIDENT_SPIRAL or el >= CONFIDENT_ELLIPTICAL:
                confident.append(label == morphology[row["OBJID"]])
        assert len(confident) >= N_SDSS // 4
        # The crowd errs about once in a hundred: at most one error in this small sky.
        assert len(confident) - sum(confident) <= 1


class TestSdss:
    def test_objid_encodes_the_field(self, photoobj):
        for row in photoobj:
            objid = int(row["objid"])
            assert (objid >> 59) & 0xF == 2
            assert (objid >> 48) & 0x7FF == int(row["rerun"]) == 301
            assert (objid >> 32) & 0xFFFF == int(row["run"])
            assert (objid >> 29) & 0x7 == int(row["camcol"])
            assert (objid >> 16) & 0xFFF == int(row["field"])

    def test_frame_is_dr8_with_a_rotated_wcs(self, sky, photoobj):
        with open_frame(frame_path(sky, photoobj[0], "r")) as hdus:
            header, data = hdus[0].header, hdus[0].data
            assert data.dtype == np.dtype(">f4")
            assert (header["NAXIS1"], header["NAXIS2"]) == (2048, 1489)
            assert header["BUNIT"] == "nanomaggy"
            assert header["FILTER"] == "r"
            assert (header["RUN"], header["FIELD"]) == (
                int(photoobj[0]["run"]),
                int(photoobj[0]["field"]),
            )
            assert header["NMGY"] > 0
            assert abs(header["CD1_2"]) > 0
            assert abs(header["CD2_1"]) > 0
            scale = math.sqrt(abs(np.linalg.det(WCS(header).pixel_scale_matrix))) * 3600.0
            assert scale == pytest.approx(0.396, rel=1e-6)
            assert hdus[1].data.shape == (2048,)
            assert {"ALLSKY", "XINTERP", "YINTERP"} <= set(hdus[2].columns.names)
            assert hdus[2].data["ALLSKY"][0].ndim == 2
            assert {"NODE", "INCL"} <= set(hdus[3].columns.names)

    def test_rotation_differs_between_runs(self, sky: SkyManifest):
        angles = {}
        for path in sky.sdss_frames_dir.rglob("frame-r-*.fits.bz2"):
            with open_frame(path) as hdus:
                header = hdus[0].header
                angles[header["RUN"]] = math.degrees(math.atan2(header["CD1_2"], header["CD2_2"]))
        assert len(angles) >= 2
        assert all(20.0 <= angle <= 70.0 for angle in angles.values())
        assert len({round(angle, 3) for angle in angles.values()}) == len(angles)

    def test_galaxies_are_bright_at_their_catalog_positions(self, sky, photoobj, truth):
        bad = defects(truth, "sdss")
        rows = [row for row in photoobj if row["objid"] not in bad]
        for path in {frame_path(sky, row, "r") for row in rows}:
            with open_frame(path) as hdus:
                data, wcs = hdus[0].data, WCS(hdus[0].header)
                here = [row for row in rows if frame_path(sky, row, "r") == path]
                ra = [float(row["ra"]) for row in here]
                x, y = wcs.all_world2pix(ra, [float(row["dec"]) for row in here], 0)
                peak = data[np.round(y).astype(int), np.round(x).astype(int)]
                assert np.all(peak > np.median(data) + 5.0 * robust_sigma(data))

    def test_defects_fail_as_recorded(self, sky, photoobj, truth):
        bad = defects(truth, "sdss")
        assert set(bad.values()) == {"missing_band", "off_frame"}
        for row in photoobj:
            if bad.get(row["objid"]) == "missing_band":
                assert frame_path(sky, row, "g").exists()
                assert not frame_path(sky, row, "i").exists()
            elif bad.get(row["objid"]) == "off_frame":
                with open_frame(frame_path(sky, row, "r")) as hdus:
                    wcs, (ny, nx) = WCS(hdus[0].header), hdus[0].data.shape
                x, y = wcs.all_world2pix(float(row["ra"]), float(row["dec"]), 0)
                assert not (0 <= x < nx and 0 <= y < ny)


class TestDes:
    def test_tile_has_named_extensions_and_a_north_up_wcs(self, sky, des_rows):
        with fits.open(tile_path(sky, des_rows[0]["TILENAME"], "r")) as hdus:
            assert hdus[0].data is None
            assert [hdu.name for hdu in hdus[1:]] == ["SCI", "MSK", "WGT"]
            header = hdus["SCI"].header
            assert header["MAGZERO"] == 30.0
            assert (header["NAXIS1"], header["NAXIS2"]) == (TILE_SIZE, TILE_SIZE)
            assert header["CD1_1"] < 0 < header["CD2_2"]
            assert header["CD1_2"] == header["CD2_1"] == 0.0
            assert header["CD2_2"] * 3600.0 == pytest.approx(0.263)
            assert hdus["SCI"].data.dtype.kind == "f"
            assert hdus["MSK"].data.dtype.kind == "i"
            assert hdus["MSK"].data[TILE_SIZE // 2, TILE_SIZE // 2] == 0
            assert np.all(hdus["WGT"].data > 0)

    def test_window_positions_follow_the_wcs(self, sky, des_rows, truth):
        bad = defects(truth, "des")
        for row in des_rows:
            if row["COADD_OBJECT_ID"] in bad:
                continue
            with fits.open(tile_path(sky, row["TILENAME"], "r")) as hdus:
                wcs = WCS(hdus["SCI"].header)
            x, y = wcs.all_world2pix(float(row["RA"]), float(row["DEC"]), 1)
            assert float(row["XWIN_IMAGE"]) == pytest.approx(float(x), abs=0.01)
            assert float(row["YWIN_IMAGE"]) == pytest.approx(float(y), abs=0.01)
            assert 14.0 / 0.263 < x < TILE_SIZE - 14.0 / 0.263  # at least 14" inside

    def test_aperture_flux_matches_mag_auto(self, sky, des_rows, truth):
        size = {t["des_coadd_object_id"]: float(t["half_light_arcsec"]) for t in truth}
        bad = defects(truth, "des")
        rows = [r for r in des_rows if r["COADD_OBJECT_ID"] not in bad]
        rows = [r for r in rows if size[r["COADD_OBJECT_ID"]] < 4.0][:12]
        assert len(rows) >= 8
        offsets = []
        for row in rows:
            with fits.open(tile_path(sky, row["TILENAME"], "r")) as hdus:
                data = hdus["SCI"].data
            x, y = float(row["XWIN_IMAGE"]) - 1.0, float(row["YWIN_IMAGE"]) - 1.0
            radius = 5.0 * size[row["COADD_OBJECT_ID"]] / 0.263
            yy, xx = np.ogrid[: data.shape[0], : data.shape[1]]
            flux = data[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2].sum()
            offsets.append(30.0 - 2.5 * math.log10(flux) - float(row["MAG_AUTO_R"]))
        # A neighbour or a star in the aperture brightens a few; most match within 0.3 mag.
        assert abs(np.median(offsets)) < 0.15
        assert np.mean(np.abs(offsets) < 0.3) >= 0.75

    def test_missing_values_use_the_des_convention(self, des_rows):
        for row in des_rows:
            if row["MAG_AUTO_Y"] == "99.0000":
                assert row["FLUX_RADIUS_Y"] == "-99.0000"
            assert float(row["RA"]) == float(row["ALPHAWIN_J2000"])
            assert 14.0 < float(row["MAG_AUTO_R"]) < 18.0

    def test_defects_fail_as_recorded(self, sky, des_rows, truth):
        bad = defects(truth, "des")
        assert set(bad.values()) == {"missing_band", "off_frame"}
        for row in des_rows:
            folder = sky.des_tiles_dir / row["TILENAME"]
            if bad.get(row["COADD_OBJECT_ID"]) == "missing_band":
                assert len(list(folder.glob("*_g.fits.fz"))) == 1
                assert not list(folder.glob("*_i.fits.fz"))
            elif bad.get(row["COADD_OBJECT_ID"]) == "off_frame":
                x, y = float(row["XWIN_IMAGE"]), float(row["YWIN_IMAGE"])
                assert not (1 <= x <= TILE_SIZE and 1 <= y <= TILE_SIZE)


class TestCrossSurvey:
    def test_positions_agree_between_surveys(self, truth, photoobj, des_rows):
        sdss = {row["objid"]: row for row in photoobj}
        des = {row["COADD_OBJECT_ID"]: row for row in des_rows}
        pairs = [t for t in truth if t["sdss_objid"] and t["des_coadd_object_id"]]
        assert pairs
        for t in pairs:
            a, b = sdss[t["sdss_objid"]], des[t["des_coadd_object_id"]]
            d_ra = (float(a["ra"]) - float(b["RA"])) * math.cos(math.radians(float(b["DEC"])))
            separation = math.hypot(d_ra, float(a["dec"]) - float(b["DEC"]))
            assert separation < 0.3 * ARCSEC
            assert abs(float(a["dec"]) - float(t["dec"])) < 0.1 * ARCSEC

    def test_galaxies_are_at_least_40_arcsec_apart(self, truth):
        ra = np.array([float(t["ra"]) for t in truth])
        dec = np.array([float(t["dec"]) for t in truth])
        d_ra = (ra[:, None] - ra[None, :]) * np.cos(np.radians(dec[:, None]))
        separation = np.hypot(d_ra, dec[:, None] - dec[None, :]) * 3600.0
        np.fill_diagonal(separation, np.inf)
        assert separation.min() >= 40.0

    def test_spirals_are_bluer_than_ellipticals(self, truth, photoobj):
        morphology = {t["sdss_objid"]: t["morphology"] for t in truth}
        colours: dict[str, list[float]] = {"spiral": [], "elliptical": []}
        for row in photoobj:
            colours[morphology[row["objid"]]].append(float(row["g"]) - float(row["r"]))
        assert np.median(colours["spiral"]) < np.median(colours["elliptical"]) - 0.2


class TestReproducibility:
    @pytest.fixture(scope="class")
    def tiny_skies(self, tmp_path_factory: pytest.TempPathFactory) -> list[SkyManifest]:
        root = tmp_path_factory.mktemp("tiny")
        options = {"n_sdss": 8, "n_des": 8, "tile_size": 1024, "frame_shape": (1024, 1280)}
        return [make_sky(root / f"sky{k}", seed=s, **options) for k, s in enumerate((5, 5, 6))]

    @staticmethod
    def csv_bytes(sky: SkyManifest) -> list[bytes]:
        paths = (sky.gz_table, sky.sdss_photoobj, sky.des_catalog, sky.truth)
        return [path.read_bytes() for path in paths]

    def test_same_seed_writes_identical_csv_files(self, tiny_skies):
        first, again, _ = tiny_skies
        assert self.csv_bytes(first) == self.csv_bytes(again)

    def test_same_seed_writes_identical_images(self, tiny_skies):
        first, again, _ = tiny_skies
        images = sorted(p.relative_to(first.root) for p in first.root.rglob("*.fits.*"))
        assert images
        for path in images:
            assert (first.root / path).read_bytes() == (again.root / path).read_bytes()

    def test_another_seed_writes_other_files(self, tiny_skies):
        first, _, other = tiny_skies
        assert all(
            a != b for a, b in zip(self.csv_bytes(first), self.csv_bytes(other), strict=True)
        )

    def test_frame_shape_sets_naxis(self, tiny_skies):
        path = next(tiny_skies[0].sdss_frames_dir.rglob("frame-g-*.fits.bz2"))
        with open_frame(path) as hdus:
            assert (hdus[0].header["NAXIS1"], hdus[0].header["NAXIS2"]) == (1280, 1024)


class TestArguments:
    @pytest.mark.parametrize(
        ("options", "match"),
        [
            pytest.param({"n_sdss": 0}, r"n_sdss must be an integer >= 1, got 0", id="n_sdss"),
            pytest.param({"n_des": -3}, r"n_des must be an integer >= 1, got -3", id="n_des"),
            pytest.param({"seed": -1}, r"seed must be an integer >= 0, got -1", id="seed"),
            pytest.param({"n_sdss": 2.5}, r"n_sdss must be an integer", id="float"),
            pytest.param({"tile_size": 512}, r"tile_size must be an integer >= 1024", id="small"),
            pytest.param(
                {"tile_size": 20_000}, r"tile_size must be an integer from 1024 to 10000", id="big"
            ),
            pytest.param({"frame_shape": (1489,)}, r"frame_shape must be a pair", id="pair"),
            pytest.param(
                {"frame_shape": (1489, 100)},
                r"frame_shape\[1\] must be an integer >= 1024",
                id="nx",
            ),
        ],
    )
    def test_bad_arguments_raise(self, tmp_path: Path, options: dict, match: str):
        with pytest.raises(SkyError, match=match):
            make_sky(tmp_path / "sky", **options)
        assert not (tmp_path / "sky").exists()

    def test_out_must_not_be_a_file(self, tmp_path: Path):
        out = tmp_path / "sky"
        out.write_text("")
        with pytest.raises(SkyError, match=r"out '.*sky' is a file"):
            make_sky(out)

    def test_out_must_not_hold_a_sky(self, sky: SkyManifest):
        with pytest.raises(SkyError, match=r"already holds a sky \(GalaxyZoo1_DR_table2.csv"):
            make_sky(sky.root)


class TestCli:
    def test_parser_turns_arguments_into_a_make_sky_call(self, tmp_path: Path):
        args = sky_command_parser().parse_args(
            ["--out", str(tmp_path), "--seed", "3", "--n-sdss", "12", "--n-des", "15"]
        )
        paths = {name: tmp_path / name for name in ("gz_table", "sdss_photoobj", "des_catalog")}
        manifest = SkyManifest(
            root=tmp_path,
            sdss_frames_dir=tmp_path,
            des_tiles_dir=tmp_path,
            truth=tmp_path / "truth.csv",
            **paths,
            **dict.fromkeys(("n_galaxies", "n_sdss", "n_des", "n_both"), 1),
            **dict.fromkeys(("n_frames", "n_tiles", "n_defects"), 1),
        )
        with mock.patch("galcore.sky.make_sky", return_value=manifest) as make:
            assert args.func(args) == 0
        make.assert_called_once_with(tmp_path, seed=3, n_sdss=12, n_des=15)

    def test_options_not_given_take_the_defaults_of_make_sky(self, tmp_path: Path):
        args = sky_command_parser().parse_args(["--out", str(tmp_path)])
        with mock.patch("galcore.sky.make_sky") as make:
            args.func(args)
        make.assert_called_once_with(tmp_path)
        defaults = inspect.signature(make_sky).parameters
        help_text = sky_command_parser().format_help()
        for name in ("seed", "n_sdss", "n_des"):
            assert f"(default {defaults[name].default})" in help_text

    def test_command_writes_the_sky(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
        out = tmp_path / "sky"
        args = sky_command_parser().parse_args(["--out", str(out), "--n-sdss", "6", "--n-des", "6"])
        assert sky_command(args) == 0
        assert len(read_csv(out / "sdss_photoobj.csv")) == 6
        assert len(read_csv(out / "des_dr1_main.csv")) == 6
        assert str(out) in capsys.readouterr().out


class TestHelpers:
    @pytest.mark.parametrize(
        ("dec", "text"),
        [
            pytest.param(-0.0925, "-00:05:33.0", id="negative-near-zero"),
            pytest.param(0.0, "+00:00:00.0", id="zero"),
            pytest.param(1.5, "+01:30:00.0", id="positive"),
            pytest.param(-(1.0 - 0.01 / 3600.0), "-01:00:00.0", id="carry"),
        ],
    )
    def test_format_dec(self, dec: float, text: str):
        assert format_dec(dec) == text

    @pytest.mark.parametrize(
        ("ra", "text"),
        [
            pytest.param(0.0017083, "00:00:00.41", id="gz-example"),
            pytest.param(10.0, "00:40:00.00", id="stripe-82"),
            pytest.param(359.99999999, "00:00:00.00", id="wrap"),
        ],
    )
    def test_format_ra(self, ra: float, text: str):
        assert format_ra(ra) == text

    def test_objid_layout(self):
        objid = sdss_objid(4263, 3, 123, 45)
        assert objid >> 59 == 2
        assert (objid >> 48) & 0x7FF == 301
        assert (objid >> 32) & 0xFFFF == 4263
        assert (objid >> 29) & 0x7 == 3
        assert (objid >> 16) & 0xFFF == 123
        assert objid & 0xFFFF == 45

    @pytest.mark.parametrize(
        ("centre", "name"),
        [
            pytest.param((10.25, -1.0 / 60.0), "DES0041-0001", id="paper-example"),
            pytest.param((10.0, 0.05), "DES0040+0003", id="north"),
        ],
    )
    def test_des_tile_name(self, centre: tuple[float, float], name: str):
        assert des_tile_name(*centre) == name


MAGS = {
    "sdss": {"u": 17.8, "g": 16.5, "r": 16.0, "i": 15.7, "z": 15.5},
    "des": {"g": 16.4, "r": 15.95, "i": 15.7, "z": 15.5, "Y": 15.4},
}
SHAPES = {
    "elliptical": Shape("elliptical", 3.0, 0.5, 30.0, sersic_n=4.0),
    "spiral": Shape(
        "spiral",
        4.0,
        1.0,
        30.0,
        sersic_n=3.0,
        bulge_fraction=0.2,
        bulge_radius=0.6,
        n_arms=2,
        pitch=20.0,
        arm_amplitude=0.7,
    ),
}


def render_one(morphology: str, instrument, rotation: float) -> dict[str, np.ndarray]:
    galaxy = Galaxy(0, 10.0, 0.0, SHAPES[morphology], MAGS)
    header = tan_header((10.0, 0.0), (401, 401), scale=instrument.pixel_scale, rotation=rotation)
    return render_scene([galaxy], WCS(header), (401, 401), instrument=instrument)


class TestRendering:
    @pytest.mark.parametrize("morphology", ["elliptical", "spiral"])
    @pytest.mark.parametrize("instrument", [SDSS, DES], ids=["sdss", "des"])
    def test_image_holds_the_galaxy_flux(self, morphology, instrument):
        for band, image in render_one(morphology, instrument, 35.0).items():
            flux = 10.0 ** (-0.4 * (MAGS[instrument.name][band] - 22.5))
            assert image.sum() == pytest.approx(flux, rel=0.01)
            assert np.unravel_index(image.argmax(), image.shape) == (200, 200)

    @pytest.mark.parametrize("rotation", [0.0, 35.0, 70.0])
    def test_position_angle_is_kept_on_the_sky(self, rotation: float):
        image = render_one("elliptical", SDSS, rotation)["r"]
        y, x = np.indices(image.shape) - 200.0
        image = np.where(np.hypot(x, y) < 30.0, image, 0.0)  # a round aperture keeps no axis
        moments = [(image * a * b).sum() for a, b in ((x, x), (y, y), (x, y))]
        angle = 0.5 * math.atan2(2.0 * moments[2], moments[0] - moments[1])
        header = tan_header((10.0, 0.0), image.shape, scale=SDSS.pixel_scale, rotation=rotation)
        cd = np.array([[header["CD1_1"], header["CD1_2"]], [header["CD2_1"], header["CD2_2"]]])
        east, north = cd @ [math.cos(angle), math.sin(angle)]
        sky_angle = math.degrees(math.atan2(east, north)) % 180.0
        assert sky_angle == pytest.approx(SHAPES["elliptical"].position_angle, abs=1.0)

    def test_face_on_spiral_has_arms(self):
        round_elliptical = dataclasses.replace(SHAPES["elliptical"], axis_ratio=1.0)
        shapes = {"spiral": SHAPES["spiral"], "elliptical": round_elliptical}
        header = tan_header((10.0, 0.0), (401, 401), scale=DES.pixel_scale, rotation=0.0)
        y, x = np.indices((401, 401)) - 200.0
        ring = np.abs(np.hypot(x, y) * DES.pixel_scale - 6.0) < 0.15
        contrast = {}
        for morphology, shape in shapes.items():
            galaxy = Galaxy(0, 10.0, 0.0, shape, MAGS)
            image = render_scene([galaxy], WCS(header), (401, 401), instrument=DES)["g"]
            contrast[morphology] = image[ring].std() / image[ring].mean()
        assert contrast["spiral"] > 0.5
        assert contrast["elliptical"] < 0.05

    def test_spiral_bulge_is_red_and_arms_are_blue(self):
        galaxy = Galaxy(0, 10.0, 0.0, SHAPES["spiral"], MAGS)
        g, i = band_weights(galaxy, "sdss", "g"), band_weights(galaxy, "sdss", "i")
        assert g[0] < i[0]
        assert g[2] / g[1] > i[2] / i[1]

    def test_psf_kernel_is_normalised_and_centred(self):
        kernel = psf_kernel(3.5, 2.5)
        assert kernel.sum() == pytest.approx(1.0, rel=1e-6)
        centre = kernel.shape[0] // 2
        assert kernel.argmax() == centre * kernel.shape[1] + centre
        half = kernel[centre, centre] / 2.0
        width = np.count_nonzero(kernel[centre] >= half)
        assert width == pytest.approx(3.5, abs=1.0)


class TestPopulation:
    @pytest.fixture(scope="class")
    def crowd(self):
        rng = np.random.default_rng(11)
        galaxies = draw_galaxies(np.full(3000, 10.0), np.zeros(3000), rng=rng)
        return galaxies, [draw_zoo_votes(g, rng=rng) for g in galaxies]

    def test_a_third_to_a_half_of_the_galaxies_are_confident(self, crowd):
        _, votes = crowd
        assert 0.3 < np.mean([v.confident for v in votes]) < 0.6

    def test_the_crowd_errs_rarely(self, crowd):
        # The paper scores 99.81% against confident labels: their error is at most ~0.2%.
        galaxies, votes = crowd
        wrong = [
            v.label != g.morphology for g, v in zip(galaxies, votes, strict=True) if v.confident
        ]
        assert 0 < np.mean(wrong) < 0.004

    def test_bright_big_galaxies_are_clearer(self, crowd):
        galaxies, votes = crowd
        bright = [
            v.confident for g, v in zip(galaxies, votes, strict=True) if g.mags["sdss"]["r"] < 15.5
        ]
        faint = [
            v.confident for g, v in zip(galaxies, votes, strict=True) if g.mags["sdss"]["r"] > 17.2
        ]
        assert np.mean(bright) > np.mean(faint) + 0.4

    def test_structure_is_within_the_ranges(self, crowd):
        galaxies, _ = crowd
        for galaxy in galaxies:
            shape = galaxy.shape
            assert 14.0 <= galaxy.mags["sdss"]["r"] <= 17.7
            assert 0.5 <= shape.half_light <= 8.0
            if shape.kind == "elliptical":
                assert 0.3 <= shape.axis_ratio <= 1.0
                assert 3.0 <= shape.sersic_n <= 6.0
            elif shape.kind == "S0":
                assert 0.3 <= shape.bulge_fraction <= 0.7
                assert shape.n_arms == 0
                assert shape.bar_fraction == 0.0
            else:
                assert 0.2 <= shape.axis_ratio <= 1.0
                assert shape.n_arms in (2, 3, 4)
                assert shape.bar_fraction == 0.0 or shape.n_arms == 2
