"""`galcore classify`: user cutouts prepared as the catalog's images, classified file by file."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import zarr
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from galcore.classify import COLUMNS, Classification, Preparation, write_classifications
from galcore.classify import classify_files as classify
from galcore.classify._classify import _prepare
from galcore.cli.main import main
from galcore.curation import ColourStretch, CurationConfig
from galcore.errors import TrainingError
from galcore.inference import predict
from galcore.training import TrainConfig, train
from store import LABELS
from tests.conftest import TOY_SIZE, make_toy_workspace
from tests.galcore.test_inference import _saved_run

FIELD = 20.0
RA0, DEC0 = 150.0, 0.3
AMPLITUDES = np.array([3.0, 6.0, 9.0])[:, None, None]
"""g, r, i peak surface brightness of the test galaxy, nanomaggies per arcsec^2."""
PREPARATION = Preparation(TOY_SIZE, FIELD, ColourStretch(), bright=200.0)


def _galaxy(east, north):
    """g, r, i surface brightness of a galaxy elongated north-south, at offsets in arcsec."""
    return AMPLITUDES * np.exp(-0.5 * ((east / 1.5) ** 2 + (north / 4.0) ** 2))


def _wcs(n, scale, angle_deg):
    """A TAN WCS of n x n pixels of `scale` arcsec centred on (RA0, DEC0), rotated, east left."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [RA0, DEC0]
    wcs.wcs.crpix = [(n + 1) / 2] * 2
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    wcs.wcs.cd = scale / 3600 * np.array([[-c, s], [s, c]])
    return wcs


def _write_galaxy(path, *, n=200, scale=0.396, angle_deg=30.0, units="nanomaggy", bands=3):
    """Write the galaxy as SDSS-like nanomaggies per pixel, DES-like counts or plain numbers."""
    wcs = _wcs(n, scale, angle_deg)
    ra, dec = wcs.pixel_to_world_values(*np.meshgrid(np.arange(n), np.arange(n)))
    east, north = (ra - RA0) * np.cos(np.radians(DEC0)) * 3600, (dec - DEC0) * 3600
    data = (_galaxy(east, north) * scale**2)[:bands].astype(np.float32)
    header = wcs.to_header()
    if units == "nanomaggy":
        header["BUNIT"] = "nanomaggy"
    elif units == "counts":
        header["MAGZERO"] = 30.0
        data *= 10 ** (0.4 * (30.0 - 22.5))
    else:
        data = data * 1000 + 500  # arbitrary units on a pedestal
    fits.PrimaryHDU(data[0] if bands == 1 else data, header).writeto(path)
    return path


def _expected_image():
    """The galaxy sampled straight onto the catalog's north-up grid, east left, and stretched."""
    offsets = ((TOY_SIZE - 1) / 2 - np.arange(TOY_SIZE)) * FIELD / TOY_SIZE
    return ColourStretch()(*_galaxy(offsets[None, :], offsets[:, None]))


def _save(image, path, **options):
    Image.fromarray(image).save(path, **options)
    return path


class TestFitsPreparation:
    def test_wcs_cutout_is_the_catalogs_north_up_field_and_stretch(self, tmp_path):
        prepared = PREPARATION.prepare(_write_galaxy(tmp_path / "g.fits"))
        assert prepared.image.shape == (TOY_SIZE, TOY_SIZE, 3)
        assert prepared.caveats == ()
        difference = np.abs(prepared.image.astype(int) - _expected_image())
        assert difference.mean() < 1.5
        assert difference.max() <= 8
        bright = prepared.image.sum(axis=2) > 100
        assert np.ptp(np.nonzero(bright)[0]) > 2 * np.ptp(np.nonzero(bright)[1])  # north-south

    def test_des_counts_with_magzero_match_nanomaggies(self, tmp_path):
        sdss = PREPARATION.prepare(_write_galaxy(tmp_path / "a.fits", units="nanomaggy"))
        des = PREPARATION.prepare(_write_galaxy(tmp_path / "b.fits.gz", units="counts"))
        assert des.caveats == ()
        assert np.abs(sdss.image.astype(int) - des.image).max() <= 1

    def test_any_pixel_scale_and_rotation_gives_the_same_image(self, tmp_path):
        finer = PREPARATION.prepare(_write_galaxy(tmp_path / "a.fits", n=300, scale=0.263))
        rotated = PREPARATION.prepare(_write_galaxy(tmp_path / "b.fits", angle_deg=-75))
        reference = PREPARATION.prepare(_write_galaxy(tmp_path / "c.fits", angle_deg=0))
        for image in (finer.image, rotated.image):
            assert np.abs(image.astype(int) - reference.image).mean() < 1.5

    def test_unknown_units_are_stretched_by_their_own_percentiles_and_noted(self, tmp_path):
        prepared = PREPARATION.prepare(_write_galaxy(tmp_path / "g.fits", units=None))
        assert "units unknown" in prepared.caveats[0]
        assert "own percentiles" in prepared.caveats[0]
        level = np.percentile(prepared.image.max(axis=2), 99.5)
        assert level == pytest.approx(PREPARATION.bright, abs=3)

    def test_without_wcs_the_whole_image_is_used_and_noted(self, tmp_path):
        path = tmp_path / "plain.fits"
        fits.PrimaryHDU(np.random.default_rng(0).normal(10, 1, (40, 60))).writeto(path)
        prepared = PREPARATION.prepare(path)
        assert prepared.image.shape == (40, 60, 3)
        assert [c.split(":")[0] for c in prepared.caveats] == [
            "units unknown (no BUNIT in nanomaggies, no MAGZERO)",
            "no celestial WCS",
            "one band, shown in grey; the catalog's images are g, r, i colour",
            "60x40 image squeezed to the square model input",
        ]

    def test_image_in_the_first_extension_and_partial_coverage(self, tmp_path):
        small = _write_galaxy(tmp_path / "small.fits", n=30, bands=1)
        path = tmp_path / "ext.fits"
        with fits.open(small) as hdus:
            primary = fits.PrimaryHDU()
            fits.HDUList([primary, fits.ImageHDU(hdus[0].data, hdus[0].header)]).writeto(path)
        prepared = PREPARATION.prepare(path)
        assert "of the 20 arcsec field has no pixel in the file" in prepared.caveats[0]
        assert int(prepared.caveats[0].split("%")[0]) > 50

    def test_defaults_stand_in_for_settings_a_catalog_does_not_record(self, toy_workspace, caplog):
        preparation = Preparation.from_catalog(toy_workspace.catalog())
        assert not preparation.recorded
        defaults = CurationConfig()
        assert (preparation.field_arcsec, preparation.stretch) == (
            defaults.field_arcsec,
            defaults.stretch,
        )
        assert "does not record its curation settings" in caplog.text

    def test_recorded_settings_are_used(self, toy_workspace):
        _record_curation(toy_workspace)
        preparation = Preparation.from_catalog(toy_workspace.catalog())
        assert (preparation.size, preparation.field_arcsec) == (TOY_SIZE, FIELD)
        assert preparation.stretch == ColourStretch(stretch=0.5, q=6.0)
        assert preparation.recorded
        assert 100 < preparation.bright < 255


class TestRejectedFiles:
    @pytest.mark.parametrize(
        ("name", "content", "status", "reason"),
        [
            ("empty.fits", b"", "unreadable_file", "Empty or corrupt FITS file"),
            ("notes.fits", b"just text\n" * 50, "unreadable_file", "No SIMPLE card found"),
            ("broken.png", b"\x89PNG\r\n\x1a\n broken", "unreadable_file", "unreadable image"),
            ("cutout.tiff", b"II*\x00", "unsupported_format", "not a FITS, PNG or JPEG"),
        ],
    )
    def test_unreadable_contents(self, tmp_path, name, content, status, reason):
        (tmp_path / name).write_bytes(content)
        result = _prepare_row(tmp_path / name)
        assert (result.status, result.probs) == (status, ())
        assert reason in result.reason
        assert "\n" not in result.reason

    @pytest.mark.parametrize(
        ("shape", "status", "reason"),
        [
            ((2, 16, 16), "wrong_shape", r"shape \(2, 16, 16\); expected"),
            ((16,), "wrong_shape", "no image in the SCI, primary or first extension HDU"),
            ((16, 16), "no_data", "band 0 of 1 has no finite pixel"),
        ],
    )
    def test_unusable_images(self, tmp_path, shape, status, reason):
        path = tmp_path / "bad.fits"
        data = np.full(shape, np.nan, dtype=np.float32) if status == "no_data" else np.ones(shape)
        fits.PrimaryHDU(data).writeto(path)
        result = _prepare_row(path)
        assert result.status == status
        assert re.search(reason, result.reason)

    def test_truncated_fits_and_missing_file(self, tmp_path):
        good = _write_galaxy(tmp_path / "good.fits")
        (tmp_path / "cut.fits").write_bytes(good.read_bytes()[:20_000])
        truncated = _prepare_row(tmp_path / "cut.fits")
        assert truncated.status == "unreadable_file"
        assert "File may have been truncated" in truncated.reason
        assert _prepare_row(tmp_path / "gone.png").status == "missing_file"
        assert _prepare_row(tmp_path).reason == f"{tmp_path}: not a file"

    def test_flat_image_of_unknown_units(self, tmp_path):
        path = tmp_path / "flat.fits"
        fits.PrimaryHDU(np.full((16, 16), 7.0)).writeto(path)
        assert _prepare_row(path).status == "no_data"

    def test_png_modes(self, tmp_path):
        grey = PREPARATION.prepare(_save(np.full((8, 8), 90, np.uint8), tmp_path / "grey.png"))
        assert grey.image.shape == (8, 8, 3)
        assert (grey.image == 90).all()
        assert grey.caveats == ("greyscale image; the catalog's images are g, r, i colour",)
        path = _save(np.full((8, 8), 40000, dtype=np.uint16), tmp_path / "deep.png")
        assert _prepare_row(path).status == "wrong_shape"


def _prepare_row(path):
    result = _prepare(PREPARATION, path)
    assert isinstance(result, Classification)
    return result


def _record_curation(workspace, field=FIELD):
    """Record curation settings as `galcore curate` does."""
    config = CurationConfig(size=TOY_SIZE, field_arcsec=field, stretch=ColourStretch(0.5, 6.0))
    zarr.open_group(workspace.catalog_path, mode="r+").attrs["curation"] = asdict(config)


class TestWriteClassifications:
    def test_columns_and_rows(self, tmp_path):
        rows = [
            Classification(Path("a.png"), "ok", probs=(0.25, 0.75), note="greyscale"),
            Classification(Path("b.fits"), "no_data", "b.fits: all NaN"),
        ]
        out = tmp_path / "sub" / "predictions.csv"
        assert write_classifications(rows, out) == 2
        with out.open() as stream:
            table = list(csv.DictReader(stream))
        assert tuple(table[0]) == COLUMNS == (
            "file", "status", "reason", "p_elliptical", "p_spiral", "predicted", "note"
        )  # fmt: skip
        assert table[0] == {
            "file": "a.png", "status": "ok", "reason": "", "p_elliptical": "0.25",
            "p_spiral": "0.75", "predicted": "spiral", "note": "greyscale",
        }  # fmt: skip
        assert (table[1]["status"], table[1]["p_spiral"], table[1]["predicted"]) == (
            "no_data",
            "",
            "",
        )

    def test_atomic(self, tmp_path):
        out = tmp_path / "predictions.csv"
        out.write_text("old\n")

        def failing():
            yield Classification(Path("a.png"), "ok", probs=(0.5, 0.5))
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            write_classifications(failing(), out)
        assert out.read_text() == "old\n"
        assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]


class TestClassifyFiles:
    def test_resizes_as_predict_does(self, toy_workspace, tmp_path):
        _saved_run(toy_workspace, image_size=48)
        expected = predict(toy_workspace, "r1").probs
        images = toy_workspace.catalog().read_images([0, 1])
        paths = [_save(image, tmp_path / f"{row}.png") for row, image in enumerate(images)]
        results = classify(toy_workspace, "r1", paths, batch_size=1)
        np.testing.assert_allclose([r.probs for r in results], expected[:2], rtol=1e-5, atol=1e-7)

    def test_bad_batch_size_and_missing_model(self, toy_workspace):
        with pytest.raises(TrainingError, match="batch_size=0 must be at least 1"):
            classify(toy_workspace, "r1", [], batch_size=0)
        toy_workspace.catalog().create_run("empty")
        with pytest.raises(TrainingError, match="run 'empty' has no model"):
            classify(toy_workspace.root, "empty", [])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A toy workspace with recorded curation settings, run r1 trained (test profile), predicted."""
    workspace = make_toy_workspace(tmp_path_factory.mktemp("classify") / "ws")
    _record_curation(workspace)
    train(TrainConfig.from_profile(workspace.root, "r1", profile="test"))
    return workspace, predict(workspace, "r1").probs


@pytest.fixture(scope="module")
def cutouts(trained, tmp_path_factory):
    """One file of each kind: name -> (path, expected status)."""
    folder = tmp_path_factory.mktemp("cutouts")
    image = trained[0].catalog().read_images([3])[0]
    nan = folder / "nan.fits"
    fits.PrimaryHDU(np.full((32, 32), np.nan, dtype=np.float32)).writeto(nan)
    good = _write_galaxy(folder / "wcs.fits")
    (folder / "truncated.fits").write_bytes(good.read_bytes()[:20_000])
    (folder / "empty.fits").write_bytes(b"")
    (folder / "text.fits").write_text("RA DEC\n150.0 0.3\n")
    plain = folder / "nowcs.fits"
    fits.PrimaryHDU(np.random.default_rng(1).normal(0, 1, (50, 50)).astype(np.float32)).writeto(
        plain
    )
    return {
        "wcs": (good, "ok"),
        "nowcs": (plain, "ok"),
        "png": (_save(image, folder / "row3.png"), "ok"),
        "jpeg": (_save(image, folder / "row3.jpg", quality=95), "ok"),
        "truncated": (folder / "truncated.fits", "unreadable_file"),
        "empty": (folder / "empty.fits", "unreadable_file"),
        "text": (folder / "text.fits", "unreadable_file"),
        "nan": (nan, "no_data"),
    }


@pytest.mark.slow
class TestTrainedRun:
    def test_every_file_gets_a_row(self, trained, cutouts):
        workspace, _ = trained
        paths = [path for path, _ in cutouts.values()]
        results = classify(workspace, "r1", paths, batch_size=3)
        assert [r.file for r in results] == paths
        assert [r.status for r in results] == [status for _, status in cutouts.values()]
        for result in results:
            if result.ok:
                assert sum(result.probs) == pytest.approx(1, abs=1e-5)
                assert result.label in LABELS
                assert result.reason == ""
            else:
                assert result.reason.startswith(str(result.file))
        notes = {name: r.note for name, r in zip(cutouts, results, strict=True)}
        assert notes["wcs"] == notes["png"] == notes["jpeg"] == ""
        assert "units unknown" in notes["nowcs"]
        assert "no celestial WCS" in notes["nowcs"]

    def test_png_of_a_catalog_image_gives_predicts_probabilities(self, trained, cutouts):
        workspace, probs = trained
        rows = [3, 0, 150]
        images = workspace.catalog().read_images(rows)
        folder = cutouts["png"][0].parent
        paths = [
            _save(image, folder / f"row{row}.png") for row, image in zip(rows, images, strict=True)
        ]
        results = classify(workspace, "r1", paths)
        got = np.array([r.probs for r in results])
        np.testing.assert_allclose(got, probs[rows], rtol=1e-5, atol=1e-7)
        jpeg = classify(workspace, "r1", [cutouts["jpeg"][0]])[0]
        np.testing.assert_allclose(jpeg.probs, probs[3], atol=0.05)

    def test_cli_writes_the_table_and_exits_0_with_one_bad_file(self, trained, cutouts, capsys):
        workspace, probs = trained
        out = workspace.root / "predictions.csv"
        files = [str(cutouts["png"][0]), str(cutouts["text"][0])]
        argv = ["classify", "--workspace", str(workspace.root), "--run", "r1", *files]
        assert main([*argv, "--out", str(out)]) == 0
        assert "classified 1 of 2 files (1 failed)" in capsys.readouterr().out
        with out.open() as stream:
            table = list(csv.DictReader(stream))
        assert [row["status"] for row in table] == ["ok", "unreadable_file"]
        assert float(table[0]["p_spiral"]) == pytest.approx(probs[3, 1], abs=1e-5)
        assert table[0]["predicted"] == LABELS[int(np.argmax(probs[3]))]

    def test_cli_fails_in_one_line_when_no_file_is_classified(self, trained, cutouts, capsys):
        workspace, _ = trained
        out = workspace.root / "none.csv"
        files = [str(cutouts[name][0]) for name in ("empty", "nan")]
        argv = ["classify", "--workspace", str(workspace.root), "--run", "r1", *files]
        assert main([*argv, "--out", str(out)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("ERROR: none of the 2 files could be classified (first: unreadable")
        assert len(err.splitlines()) == 1
        assert len(out.read_text().splitlines()) == 3


def test_help_documents_the_preparation(capsys):
    with pytest.raises(SystemExit):
        main(["classify", "--help"])
    text = capsys.readouterr().out
    for words in ("asinh colour stretch", "north-up", "99.5th percentile", "nanomaggies"):
        assert words in text
