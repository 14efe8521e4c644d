"""DR7 fpC frames and their tsField files: found, calibrated, and on the DR8 flux scale.

Every file here is a real FITS file written with astropy (the synthetic sky's writers or by
hand); the readers are never mocked.
"""

from __future__ import annotations

import functools
import gzip
import io
import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits

from galcore.cli.sky import sky_command, sky_command_parser
from galcore.curation import CurationConfig, SurveyInputs, curate_catalog, cutout
from galcore.errors import CurationWarning, SkyError, UnitsError, UnreadableFileError
from galcore.sky import make_sky
from galcore.sky._writers import SdssFrame, tan_header, write_sdss_frame
from galcore.sky._writers_dr7 import (
    field_calibration,
    fpc_path,
    tsfield_path,
    write_fpc_frame,
    write_tsfield,
)
from galcore.surveys import find_frames, find_tsfields, read_frame, tsfield_calibrations
from galcore.surveys._sdss_dr7 import estimate_sky
from store import Workspace

SHAPE = (600, 800)
CENTRE = (10.0, 0.2)
BANDS = ("g", "r", "i")
SIGMA = {"g": 0.05, "r": 0.06, "i": 0.09}  # nanomaggies per pixel, as the synthetic SDSS
BLOBS = ((150.0, 200.0, 4.0), (420.0, 520.0, 2.5), (300.0, 650.0, 9.0))  # y, x, peak nmgy/px
PIXEL_AREA = 0.396**2
EXPTIME = 53.907456


def _image(band: str, seed: int) -> np.ndarray:
    """Sky-subtracted nanomaggies per pixel: three round galaxies and Gaussian noise."""
    y, x = np.mgrid[: SHAPE[0], : SHAPE[1]]
    image = np.zeros(SHAPE)
    for (y0, x0, peak), width in zip(BLOBS, (3.0, 5.0, 8.0), strict=True):
        image += peak * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * width**2))
    noise = np.random.default_rng([seed, BANDS.index(band)]).normal(0.0, SIGMA[band], SHAPE)
    return (image + noise).astype(np.float32)


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One synthetic field written as DR8 frames and as DR7 fpC frames plus its tsField."""
    root = tmp_path_factory.mktemp("field")
    header = tan_header(CENTRE, SHAPE, scale=0.396, rotation=35.0)
    frame = SdssFrame(header, SHAPE, run=1234, camcol=3, field=56)
    paths = {}
    for band in BANDS:
        image = _image(band, seed=1)
        dr8 = write_sdss_frame(image, frame, band, root=root, sigma=SIGMA[band])
        dr7 = write_fpc_frame(image, frame, band, root=root, sigma=SIGMA[band])
        paths[band] = (dr8, dr7)
    return {"root": root, "frame": frame, "paths": paths, "tsfield": tsfield_path(frame, root)}


def _quantum(frame: SdssFrame, band: str) -> float:
    """One count of the fpC frame in nanomaggies per square arcsecond."""
    return field_calibration(frame).nmgy_per_count(band) / PIXEL_AREA


def _dr8_step(band: str) -> float:
    """The DR8 writer's quantisation step (a power of two near sigma / 16), per arcsec^2."""
    return 2.0 ** round(np.log2(SIGMA[band] / 16)) / PIXEL_AREA


class TestDr7MatchesDr8:
    @pytest.mark.parametrize("band", BANDS)
    def test_same_surface_brightness_within_the_quantisation(self, field, band):
        dr8_path, dr7_path = field["paths"][band]
        dr8, dr7 = read_frame(dr8_path), read_frame(dr7_path, tsfield=field["tsfield"])
        assert dr7.data.dtype == np.float32
        np.testing.assert_allclose(dr7.pixel_scale_arcsec, dr8.pixel_scale_arcsec)
        assert dr7.wcs.to_header() == dr8.wcs.to_header()
        difference = dr7.data - dr8.data
        # Rounding to whole counts (DR7) and to the DR8 step: half of each at most.
        bound = 0.5 * (_quantum(field["frame"], band) + _dr8_step(band)) * 1.001
        assert np.abs(difference).max() <= bound
        assert abs(difference.mean()) < 0.01 * _quantum(field["frame"], band)
        bright = dr8.data > 0.2 * dr8.data.max()
        assert (np.abs(difference[bright]) / dr8.data[bright]).max() < 0.01

    @pytest.mark.parametrize("band", BANDS)
    def test_without_the_sky_keyword_the_estimated_sky_agrees(self, field, band, tmp_path):
        dr8_path, dr7_path = field["paths"][band]
        with fits.open(dr7_path) as hdus:
            header, counts = hdus[0].header.copy(), hdus[0].data.copy()
        sky, sky_sigma = header["SKY"], header["SKYSIG"]
        del header["SKY"]
        plain = tmp_path / dr7_path.name.removesuffix(".gz")  # .fit, not gzipped
        fits.PrimaryHDU(counts, header).writeto(plain)
        dr8, dr7 = read_frame(dr8_path), read_frame(plain, tsfield=field["tsfield"])
        quantum = _quantum(field["frame"], band)
        error = estimate_sky(counts.astype(np.float32) - header["SOFTBIAS"]) - sky  # counts
        assert abs(error) < 0.05 * sky_sigma
        assert float(np.mean(dr7.data - dr8.data)) == pytest.approx(-error * quantum, abs=1e-4)
        bound = (0.5 * (quantum + _dr8_step(band)) + abs(error) * quantum) * 1.001
        assert np.abs(dr7.data - dr8.data).max() <= bound

    def test_counts_are_calibrated_with_the_tsfield_solution(self, field):
        """nanomaggies = 1e9 (counts - SOFTBIAS - sky) / exptime 10^(0.4 (aa + kk airmass))."""
        _, dr7_path = field["paths"]["r"]
        with fits.open(dr7_path) as hdus:
            counts, header = hdus[0].data.astype(float), hdus[0].header
        with fits.open(field["tsfield"]) as hdus:
            row = hdus[1].data[0]
            aa, kk, airmass = (float(row[name][2]) for name in ("aa", "kk", "airmass"))
        assert -24.2 < aa < -23.8
        assert 0.05 < kk < 0.25
        assert 1.0 <= airmass <= 1.41
        scale = 1e9 * 10 ** (0.4 * (aa + kk * airmass)) / EXPTIME / PIXEL_AREA
        expected = (counts - header["SOFTBIAS"] - header["SKY"]) * scale
        image = read_frame(dr7_path, tsfield=field["tsfield"])
        np.testing.assert_allclose(image.data, expected, rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize("band", BANDS)
    def test_cutouts_of_a_galaxy_agree(self, field, band):
        dr8_path, dr7_path = field["paths"][band]
        dr8, dr7 = read_frame(dr8_path), read_frame(dr7_path, tsfield=field["tsfield"])
        for y, x, _ in BLOBS:
            ra, dec = dr8.wcs.pixel_to_world_values(x, y)
            position = SkyCoord(float(ra) * u.deg, float(dec) * u.deg)
            options = {"size": 48, "field": 30 * u.arcsec, "name": "SDSS 1"}
            a, b = cutout(dr8, position, **options), cutout(dr7, position, **options)
            assert np.abs(a - b).max() < 0.5 * (_quantum(field["frame"], band) + _dr8_step(band))
            assert np.abs(a - b).max() < 0.005 * a.max()


class TestDr7Failures:
    def test_an_fpc_without_its_tsfield_has_unknown_units(self, field):
        _, dr7_path = field["paths"]["g"]
        with pytest.raises(UnitsError, match=r"fpC-001234-g3-0056.fit.gz: no tsField") as error:
            read_frame(dr7_path)
        assert error.value.reason == "unknown_units"
        message = str(error.value)
        assert "tsField-001234-3-*-0056.fit" in message
        assert "aa, kk, airmass" in message
        assert "put the field's tsField file under --sdss-frames" in message

    def test_a_tsfield_without_the_solution_has_unknown_units(self, field, tmp_path):
        _, dr7_path = field["paths"]["r"]
        tsfield = tmp_path / "tsField-001234-3-40-0056.fit"
        table = fits.BinTableHDU.from_columns(
            [fits.Column(name="aa", format="5E", array=[[0] * 5])]
        )
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(tsfield)
        with pytest.raises(UnitsError, match=r"fpC-001234-r3-0056.fit.gz: its tsField") as error:
            read_frame(dr7_path, tsfield=tsfield)
        assert "has no columns kk, airmass" in str(error.value)
        assert "give the tsField file of this field" in str(error.value)

    def test_an_fpc_without_a_celestial_wcs_is_refused(self, tmp_path):
        path = tmp_path / "fpC-001234-r3-0056.fit"
        header = fits.Header({"SOFTBIAS": 1000})
        fits.PrimaryHDU(np.full((20, 30), 1100, np.uint16), header).writeto(path)
        with pytest.raises(UnreadableFileError, match="no celestial WCS.*asTrans"):
            read_frame(path, tsfield=tmp_path / "tsField-001234-3-40-0056.fit")

    def test_an_fpc_without_softbias_has_unknown_units(self, field, tmp_path):
        _, dr7_path = field["paths"]["r"]
        with fits.open(dr7_path) as hdus:
            header, counts = hdus[0].header.copy(), hdus[0].data.copy()
        del header["SOFTBIAS"]
        path = tmp_path / dr7_path.name
        buffer = io.BytesIO()
        fits.PrimaryHDU(counts, header).writeto(buffer)
        path.write_bytes(gzip.compress(buffer.getvalue()))
        with pytest.raises(UnitsError, match="fpC-001234-r3-0056.fit.gz: no SOFTBIAS"):
            read_frame(path, tsfield=field["tsfield"])


class TestFinding:
    @staticmethod
    def touch(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        return path

    def test_dr7_and_dr8_are_found_and_dr8_is_preferred(self, tmp_path):
        dr8 = self.touch(tmp_path / "dr8" / "frame-r-000756-3-0412.fits.bz2")
        self.touch(tmp_path / "dr7" / "756" / "40" / "corr" / "3" / "fpC-000756-r3-0412.fit.gz")
        gz = self.touch(tmp_path / "dr7" / "fpC-000756-g3-0412.fit.gz")
        plain = self.touch(tmp_path / "elsewhere" / "fpC-000757-i1-0012.fit")
        self.touch(tmp_path / "fpC-000756-r3-0412.fits")  # not a DR7 name
        self.touch(tmp_path / "fpM-000756-r3-0412.fit")
        assert find_frames(tmp_path) == {
            ("r", 756, 3, 412): dr8,
            ("g", 756, 3, 412): gz,
            ("i", 757, 1, 12): plain,
        }

    def test_tsfields_are_found_under_any_rerun(self, tmp_path):
        old = self.touch(tmp_path / "a" / "tsField-000756-3-40-0412.fit")
        new = self.touch(tmp_path / "b" / "tsField-000756-3-301-0412.fit")
        other = self.touch(tmp_path / "tsField-000757-1-44-0012.fit")
        self.touch(tmp_path / "tsField-000757-1-44-0012.txt")
        assert find_tsfields(tmp_path) == {(756, 3, 412): new, (757, 1, 12): other}
        assert old.exists()

    def test_each_dr7_frame_gets_its_fields_tsfield(self, tmp_path):
        tsfield = self.touch(tmp_path / "calib" / "tsField-000756-3-40-0412.fit")
        self.touch(tmp_path / "frame-r-000756-3-0412.fits.bz2")
        self.touch(tmp_path / "corr" / "fpC-000756-g3-0412.fit.gz")
        self.touch(tmp_path / "corr" / "fpC-000757-g3-0412.fit.gz")  # no tsField
        frames = find_frames(tmp_path)
        assert tsfield_calibrations(frames, tmp_path) == {("g", 756, 3, 412): tsfield}


class TestSkyEstimate:
    def test_clipped_median_of_integer_counts_is_not_rounded(self):
        rng = np.random.default_rng(3)
        counts = np.round(rng.normal(131.3, 12.0, (500, 600)))
        counts[100:140, 200:260] += 400.0  # a bright galaxy
        counts[rng.random(counts.shape) < 0.001] += 3000.0  # cosmic rays
        assert abs(estimate_sky(counts) - 131.3) < 0.1

    def test_a_flat_frame(self):
        assert estimate_sky(np.full((50, 60), 40.0)) == pytest.approx(40.0)


class TestSkyCommand:
    def test_dr7_writes_fpc_and_tsfield_files(self, tmp_path, capsys):
        out = tmp_path / "sky"
        argv = ["--out", str(out), "--n-sdss", "4", "--n-des", "2", "--sdss-format", "dr7"]
        args = sky_command_parser().parse_args(argv)
        small = functools.partial(make_sky, tile_size=1024, frame_shape=(1024, 1024))
        with mock.patch("galcore.sky.make_sky", side_effect=small) as make:
            assert sky_command(args) == 0
        make.assert_called_once_with(out, n_sdss=4, n_des=2, sdss_format="dr7")
        assert "(DR7)" in capsys.readouterr().out
        frames = out / "sdss" / "frames"
        fpc = sorted(frames.rglob("fpC-*.fit.gz"))
        tsfields = sorted(frames.rglob("tsField-*-40-*.fit"))
        assert fpc
        assert tsfields
        assert not list(frames.rglob("frame-*"))
        assert {p.name[4:10] + p.name[12] + p.name[13:18] for p in fpc} == {
            p.name[8:14] + p.name[15] + p.name[-9:-4] for p in tsfields
        }
        with fits.open(fpc[0]) as hdus:
            assert hdus[0].data.dtype == np.uint16
            assert hdus[0].header["SOFTBIAS"] == 1000
            assert hdus[0].header["CTYPE1"] == "RA---TAN"

    def test_format_is_checked(self, tmp_path):
        with pytest.raises(SystemExit):
            sky_command_parser().parse_args(["--out", str(tmp_path), "--sdss-format", "dr9"])
        assert "(default dr8)" in sky_command_parser().format_help()
        with pytest.raises(SkyError, match="sdss_format must be one of dr8, dr7, got 'dr9'"):
            make_sky(tmp_path / "sky", sdss_format="dr9")
        assert not (tmp_path / "sky").exists()

    def test_the_tsfield_is_written_once_per_field(self, tmp_path):
        header = tan_header(CENTRE, (50, 60), scale=0.396, rotation=0.0)
        frame = SdssFrame(header, (50, 60), run=1, camcol=2, field=3)
        first = write_tsfield(frame, tmp_path)
        for band in BANDS:
            write_fpc_frame(np.zeros((50, 60), np.float32), frame, band, root=tmp_path, sigma=0.1)
            assert fpc_path(frame, tmp_path, band).exists()
        assert sorted(tmp_path.rglob("tsField-*")) == [first]


SKY_OPTIONS = {"seed": 5, "n_sdss": 10, "n_des": 3, "tile_size": 1024, "frame_shape": (1024, 1024)}


@pytest.fixture(scope="module")
def skies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny sky (same seed) with its SDSS frames in DR8 and in DR7."""
    root = tmp_path_factory.mktemp("skies")
    for sdss_format in ("dr8", "dr7"):
        make_sky(root / sdss_format, sdss_format=sdss_format, **SKY_OPTIONS)
    return {name: root / name for name in ("dr8", "dr7")}


def _curate(sky: Path, frames: Path, workspace: Path, **options: object) -> tuple:
    inputs = SurveyInputs(
        gz=sky / "GalaxyZoo1_DR_table2.csv",
        sdss_photo=sky / "sdss_photoobj.csv",
        sdss_frames=frames,
    )
    summary = curate_catalog(inputs, workspace, config=CurationConfig(size=48, **options))
    catalog = Workspace(workspace).catalog()
    return summary, catalog


@pytest.fixture(scope="module")
def dr8_catalog(skies, tmp_path_factory):
    return _curate(skies["dr8"], skies["dr8"] / "sdss", tmp_path_factory.mktemp("ws8"))[1]


@pytest.mark.slow
class TestCurationOfDr7:
    def test_the_same_sky_reads_the_same_in_both_formats(self, skies):
        dr8 = find_frames(skies["dr8"])
        dr7 = find_frames(skies["dr7"])
        tsfields = tsfield_calibrations(dr7, skies["dr7"])
        assert dr8.keys() == dr7.keys() == tsfields.keys()
        assert all(path.name.startswith("fpC-") for path in dr7.values())
        for key, path in dr8.items():
            a, b = read_frame(path), read_frame(dr7[key], tsfield=tsfields[key])
            assert np.abs(a.data - b.data).max() < 0.05  # nanomaggies per arcsec^2
            assert abs(float(np.mean(a.data - b.data))) < 1e-4

    def test_cutouts_agree_with_the_dr8_curation(self, skies, dr8_catalog, tmp_path):
        summary, catalog = _curate(skies["dr7"], skies["dr7"] / "sdss", tmp_path)
        assert summary.failures == {}
        assert catalog.usable().all()  # a few partial near an edge, none failed
        np.testing.assert_array_equal(catalog.column("object_id"), dr8_catalog.column("object_id"))
        rows = np.arange(len(catalog))
        dr7 = catalog.read_images(rows).astype(int)
        dr8 = dr8_catalog.read_images(rows).astype(int)
        difference = np.abs(dr7 - dr8)
        # The asinh colour stretch is discontinuous where g + r + i crosses zero (sky noise), so
        # a few sky pixels differ much; the galaxies themselves agree to a few levels.
        assert difference.mean() < 1.0
        galaxy = (dr7.sum(axis=3) > 150) & (dr8.sum(axis=3) > 150)
        assert galaxy.sum() > 1000
        assert difference[galaxy].max() <= 5
        for a, b in zip(dr7, dr8, strict=True):
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99

    def test_dr7_and_dr8_fields_mix_in_one_folder(self, skies, dr8_catalog, tmp_path):
        frames = tmp_path / "frames"
        runs = sorted(p.name for p in (skies["dr7"] / "sdss" / "frames").iterdir())
        assert len(runs) >= 2
        shutil.copytree(skies["dr7"] / "sdss" / "frames" / runs[0], frames / "dr7" / runs[0])
        shutil.copytree(skies["dr8"] / "sdss" / "frames" / "301" / runs[1], frames / runs[1])
        # A field in both formats: its DR8 frames are used.
        shutil.copytree(skies["dr8"] / "sdss" / "frames" / "301" / runs[0], frames / runs[0])
        summary, catalog = _curate(skies["dr7"], frames, tmp_path / "ws", workers=2)
        assert summary.failures == {}
        assert catalog.usable().all()  # a few partial near an edge, none failed
        formats = {path.name[:3] for path in find_frames(frames).values()}
        assert formats == {"fra"}
        shutil.rmtree(frames / runs[0])  # now DR7 alone for that field
        summary, catalog = _curate(skies["dr7"], frames, tmp_path / "ws2", workers=2)
        assert {path.name[:3] for path in find_frames(frames).values()} == {"fpC", "fra"}
        assert catalog.usable().all()  # a few partial near an edge, none failed
        rows = np.arange(len(catalog))
        difference = np.abs(catalog.read_images(rows).astype(int) - dr8_catalog.read_images(rows))
        assert difference.mean() < 1.0

    def test_a_field_without_its_tsfield_fails_and_the_others_go_on(self, skies, tmp_path):
        frames = tmp_path / "frames"
        shutil.copytree(skies["dr7"] / "sdss", frames)
        removed = sorted(frames.rglob("tsField-*.fit"))[0]
        removed.unlink()
        run, camcol, _, field = (int(part) for part in removed.stem.split("-")[1:])
        with pytest.warns(CurationWarning, match=r"could not be curated \(\d+ unknown_units\)"):
            summary, catalog = _curate(skies["dr7"], frames, tmp_path / "ws")
        ids = catalog.column("object_id")
        in_field = ((ids >> 32) & 0xFFFF == run) & ((ids >> 29) & 0x7 == camcol)
        in_field &= (ids >> 16) & 0xFFF == field
        assert in_field.any()
        assert not in_field.all()
        status = np.asarray(catalog.status_codes)[catalog.column("status")]
        assert set(status[in_field]) == {"unknown_units"}
        assert set(status[~in_field]) == {"ok"}
        assert summary.failures == {"unknown_units": int(in_field.sum())}
        for row in np.flatnonzero(in_field):
            message = catalog.failures[int(row)]
            assert message.startswith(f"galaxy SDSS {ids[row]}: ")
            assert f"fpC-{run:06d}-g{camcol}-{field:04d}.fit.gz: no tsField" in message
            assert "put the field's tsField file under --sdss-frames" in message
