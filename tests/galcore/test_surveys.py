import bz2

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from galcore.errors import CurationError, UnitsError, UnreadableFileError
from galcore.surveys import (
    decode_objid,
    find_frames,
    find_tiles,
    parse_sexagesimal,
    read_des_catalog,
    read_frame,
    read_galaxy_zoo,
    read_photoobj,
    read_tile,
)

GZ_HEADER = (
    "OBJID,RA,DEC,NVOTE,P_EL,P_CW,P_ACW,P_EDGE,P_DK,P_MG,P_CS,P_EL_DEBIASED,P_CS_DEBIASED,"
    "SPIRAL,ELLIPTICAL,UNCERTAIN"
)


def objid(run, camcol, field, rerun=301, number=1):
    return (2 << 59) | (rerun << 48) | (run << 32) | (camcol << 29) | (field << 16) | number


def tan_wcs(scale_arcsec, angle_deg=0.0, shape=(100, 120)):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [10.0, 0.0]
    wcs.wcs.crpix = [shape[1] / 2, shape[0] / 2]
    angle = np.deg2rad(angle_deg)
    scale = scale_arcsec / 3600
    wcs.wcs.cd = scale * np.array([[-np.cos(angle), np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return wcs


class TestSexagesimal:
    @pytest.mark.parametrize(
        ("text", "hours", "degrees"),
        [
            pytest.param("00:00:00.41", True, 0.41 * 15 / 3600, id="ra"),
            pytest.param("12:30:00.00", True, 187.5, id="ra-hours"),
            pytest.param("-00:05:33.3", False, -(5 / 60 + 33.3 / 3600), id="negative-zero-degrees"),
            pytest.param("+01:30:00.0", False, 1.5, id="plus"),
            pytest.param(" -10:00:36.0", False, -10.01, id="space"),
        ],
    )
    def test_parses_sign_from_the_string(self, text, hours, degrees):
        np.testing.assert_allclose(parse_sexagesimal(np.array([text]), hours=hours), [degrees])

    def test_rejects_other_formats(self):
        with pytest.raises(ValueError, match="must look like 'DD:MM:SS.s'"):
            parse_sexagesimal(np.array(["10.5"]), hours=True)


class TestGalaxyZoo:
    def test_deduplicates_thresholds_and_labels(self, tmp_path):
        path = tmp_path / "GalaxyZoo1_DR_table2.csv"
        rows = [
            "1,00:40:00.00,-00:05:33.3,30,0.0,0.5,0.5,0,0,0,1.0,0.0,0.99,1,0,0",
            "1,00:40:00.00,-00:05:33.3,30,0.0,0.5,0.5,0,0,0,1.0,0.0,0.99,1,0,0",
            "2,00:41:00.00,+00:01:00.0,40,0.95,0,0,0,0.05,0,0.0,0.93,0.02,0,1,0",
            "3,00:42:00.00,+00:02:00.0,20,0.6,0.4,0,0,0,0,0.4,0.55,0.40,0,0,1",
        ]
        path.write_text("\n".join([GZ_HEADER, *rows]) + "\n")
        table = read_galaxy_zoo(path)
        assert table.index.tolist() == [1, 2, 3]
        assert table["label"].tolist() == [1, 0, 0]
        assert table["confident"].tolist() == [True, True, False]
        np.testing.assert_allclose(table.loc[1, "ra"], 10.0)
        assert table.loc[1, "dec"] < 0

    def test_missing_columns_are_named(self, tmp_path):
        path = tmp_path / "gz.csv"
        path.write_text("OBJID,RA,DEC\n1,00:00:00,00:00:00\n")
        with pytest.raises(CurationError, match=r"missing Galaxy Zoo table columns \['NVOTE'"):
            read_galaxy_zoo(path)

    def test_bad_coordinates_name_the_file(self, tmp_path):
        path = tmp_path / "gz.csv"
        path.write_text(GZ_HEADER + "\n1,10.5,00:00:00,1,1,0,0,0,0,0,0,1,0,0,1,0\n")
        with pytest.raises(CurationError, match="gz.csv: cannot parse RA/DEC"):
            read_galaxy_zoo(path)


class TestSdss:
    def test_objid_bits_round_trip(self):
        bits = decode_objid(np.array([objid(756, 3, 412, rerun=301)]))
        assert {k: int(v[0]) for k, v in bits.items()} == {
            "run": 756,
            "rerun": 301,
            "camcol": 3,
            "field": 412,
        }

    def test_photoobj_must_agree_with_objid(self, tmp_path):
        path = tmp_path / "sdss_photoobj.csv"
        header = "objid,ra,dec,u,g,r,i,z,run,rerun,camcol,field,petroRad_r"
        path.write_text(f"{header}\n{objid(756, 3, 412)},10,0,18,17,16,15.5,15,756,301,3,413,4\n")
        with pytest.raises(CurationError, match="field column disagrees with the objid bits"):
            read_photoobj(path)

    def test_frames_are_found_by_name_and_read_as_surface_brightness(self, tmp_path):
        folder = tmp_path / "deep" / "301" / "756" / "3"
        folder.mkdir(parents=True)
        wcs = tan_wcs(0.396, angle_deg=30)
        data = np.full((100, 120), 2.0, dtype=np.float32)
        header = wcs.to_header()
        header["BUNIT"] = "nanomaggy"
        hdus = fits.HDUList([fits.PrimaryHDU(data, header=header), fits.ImageHDU(np.ones(120))])
        path = folder / "frame-r-000756-3-0412.fits.bz2"
        with path.open("wb") as raw, bz2.open(raw, "wb") as out:
            hdus.writeto(out)
        (folder / "notes-frame.txt").write_text("not a frame")
        frames = find_frames(tmp_path)
        assert frames == {("r", 756, 3, 412): path}
        image = read_frame(path)
        assert image.data.shape == (100, 120)
        np.testing.assert_allclose(image.pixel_scale_arcsec, 0.396, rtol=1e-6)
        np.testing.assert_allclose(image.data, 2.0 / 0.396**2, rtol=1e-5)

    def test_photoobj_must_have_the_columns(self, tmp_path):
        path = tmp_path / "sdss_photoobj.csv"
        path.write_text("objid,ra,dec\n1,10,0\n")
        with pytest.raises(CurationError, match=r"missing PhotoObj table columns \['u', 'g'"):
            read_photoobj(path)

    @pytest.mark.parametrize(
        ("hdu", "match"),
        [
            pytest.param(
                fits.PrimaryHDU(np.zeros((4, 4), np.float32)), "no celestial WCS", id="wcs"
            ),
            pytest.param(fits.PrimaryHDU(), r"expected a 2-D image, found None", id="empty"),
        ],
    )
    def test_frames_need_an_image_and_a_wcs(self, tmp_path, hdu, match):
        path = tmp_path / "frame-g-000756-3-0412.fits"
        hdu.writeto(path)
        with pytest.raises(UnreadableFileError, match=match):
            read_frame(path)

    @pytest.mark.parametrize(
        ("dtype", "unit", "match"),
        [
            pytest.param(np.uint16, "nanomaggy", r"integer pixels \(uint16\)", id="counts"),
            pytest.param(np.float32, None, "BUNIT is 'missing', not 'nanomaggy'", id="no-bunit"),
            pytest.param(np.float32, "DN", "BUNIT is 'DN', not 'nanomaggy'", id="counts-unit"),
        ],
    )
    def test_frame_units_are_checked_never_assumed(self, tmp_path, dtype, unit, match):
        """Counts renamed to a DR8 name fail loudly instead of being read as nanomaggies."""
        header = tan_wcs(0.396).to_header()
        if unit:
            header["BUNIT"] = unit
        counts = np.full((100, 120), 1000 + 40, dtype=dtype)  # SOFTBIAS + sky, as fpC
        path = tmp_path / "frame-r-000756-3-0412.fits"
        fits.PrimaryHDU(counts, header=header).writeto(path)
        with pytest.raises(UnitsError, match=match) as error:
            read_frame(path)
        assert error.value.reason == "unknown_units"
        assert "give the DR8 frame-*.fits.bz2" in str(error.value)

    def test_corrupt_frame_is_unreadable(self, tmp_path):
        path = tmp_path / "frame-g-000756-3-0412.fits.bz2"
        path.write_bytes(b"not bzip2 at all")
        with pytest.raises(UnreadableFileError, match="frame-g-000756-3-0412.fits.bz2: unreadable"):
            read_frame(path)


class TestDes:
    def _tile(self, path, *, sci=True, magzero=30.0, mask_value=0):
        wcs = tan_wcs(0.263)
        header = wcs.to_header()
        if magzero is not None:
            header["MAGZERO"] = magzero
        data = np.full((100, 120), 10 ** (0.4 * 7.5), dtype=np.float32)
        image = fits.CompImageHDU(data, header=header, name="SCI" if sci else "IMAGE")
        mask = fits.CompImageHDU(np.full((100, 120), mask_value, np.int32), name="MSK")
        fits.HDUList([fits.PrimaryHDU(), image, mask]).writeto(path)

    def test_counts_become_nanomaggies_per_square_arcsec(self, tmp_path):
        path = tmp_path / "DES0040+0000_r2622p01_g.fits.fz"
        self._tile(path)
        image = read_tile(path)
        np.testing.assert_allclose(image.data, 1 / 0.263**2, rtol=1e-4)

    def test_masked_pixels_become_nan(self, tmp_path):
        path = tmp_path / "DES0040+0000_r2622p01_g.fits.fz"
        self._tile(path, mask_value=1)
        assert np.isnan(read_tile(path).data).all()

    def test_tiles_without_sci_or_magzero_are_unreadable(self, tmp_path):
        path = tmp_path / "DES0040+0000_r2622p01_g.fits.fz"
        self._tile(path, sci=False)
        with pytest.raises(UnreadableFileError, match="no SCI image HDU"):
            read_tile(path)
        path.unlink()
        self._tile(path, magzero=None)
        with pytest.raises(UnreadableFileError, match="no MAGZERO"):
            read_tile(path)

    def test_newest_request_number_wins(self, tmp_path):
        for name in ("DES0040+0000_r2622p01_g.fits.fz", "DES0040+0000_r3001p02_g.fits.fz"):
            (tmp_path / name).write_bytes(b"")
        (tmp_path / "DES0040+0000_r3001p02_g.fits").write_bytes(b"")
        tiles = find_tiles(tmp_path)
        assert tiles == {("DES0040+0000", "g"): tmp_path / "DES0040+0000_r3001p02_g.fits.fz"}

    def test_catalog_missing_values_become_nan(self, tmp_path):
        path = tmp_path / "des_dr1_main.csv"
        columns = "COADD_OBJECT_ID,TILENAME,RA,DEC,MAG_AUTO_G,MAG_AUTO_R,MAG_AUTO_I,FLUX_RADIUS_R"
        path.write_text(f"{columns}\n5,DES0040+0000,10,0,99,17.5,-99,6.0\n")
        table = read_des_catalog(path)
        assert np.isnan(table.loc[5, "MAG_AUTO_G"])
        assert np.isnan(table.loc[5, "MAG_AUTO_I"])
        assert table.loc[5, "MAG_AUTO_R"] == 17.5
        path.write_text("COADD_OBJECT_ID,RA\n5,10\n")
        with pytest.raises(CurationError, match=r"missing DES catalog columns \['TILENAME'"):
            read_des_catalog(path)


DES_HEADER = "COADD_OBJECT_ID,TILENAME,RA,DEC,MAG_AUTO_G,MAG_AUTO_R,MAG_AUTO_I,FLUX_RADIUS_R"
PHOTOOBJ_HEADER = "objid,ra,dec,u,g,r,i,z,run,rerun,camcol,field,petroRad_r"


class TestMalformedTables:
    """Every malformed table is one line naming the file, the row or column, and the fix."""

    @pytest.mark.parametrize(
        ("reader", "header"),
        [
            pytest.param(read_des_catalog, DES_HEADER, id="des"),
            pytest.param(read_photoobj, PHOTOOBJ_HEADER, id="photoobj"),
            pytest.param(read_galaxy_zoo, GZ_HEADER, id="galaxy-zoo"),
        ],
    )
    def test_a_header_without_rows(self, tmp_path, reader, header):
        path = tmp_path / "table.csv"
        path.write_text(header + "\n")
        with pytest.raises(CurationError, match=r"table.csv: the .* holds no rows, only a header"):
            reader(path)

    def test_a_coordinate_that_is_not_a_number_names_its_line(self, tmp_path):
        path = tmp_path / "des_dr1_main.csv"
        rows = ["5,DES0040+0000,10,0,18,17.5,17,6.0", "6,DES0040+0000,ten,0,18,17.5,17,6.0"]
        path.write_text("\n".join([DES_HEADER, *rows]) + "\n")
        message = r"des_dr1_main.csv: DES catalog row 2 \(line 3\): RA 'ten' is not a number"
        with pytest.raises(CurationError, match=message):
            read_des_catalog(path)

    def test_a_file_that_is_not_csv(self, tmp_path):
        path = tmp_path / "sdss_photoobj.csv"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")
        with pytest.raises(CurationError, match="cannot read the PhotoObj table as a CSV table"):
            read_photoobj(path)

    def test_an_empty_file(self, tmp_path):
        path = tmp_path / "des_dr1_main.csv"
        path.write_text("")
        with pytest.raises(CurationError, match="cannot read the DES catalog as a CSV table"):
            read_des_catalog(path)


_PHOTO_ROW = f"{objid(756, 3, 412)},10,0,18,17,16,15.5,15,756,301,3,412,4"
_OTHER_PHOTO_ROW = f"{objid(756, 3, 412, number=2)},10.1,0,18,17,16,15.5,15,756,301,3,412,4"
_REPEATS = {  # reader, header, a row, that row's id with other values, another row, id column
    "photoobj": (
        read_photoobj,
        PHOTOOBJ_HEADER,
        _PHOTO_ROW,
        _PHOTO_ROW.replace(",4", ",5"),
        _OTHER_PHOTO_ROW,
        "objid",
    ),
    "des": (
        read_des_catalog,
        DES_HEADER,
        "5,DES0040+0000,10,0,18,17.5,17,6.0",
        "5,DES0040+0000,10,0,18,17.5,17,6.5",
        "6,DES0040+0000,10.1,0,18,17.5,17,6.0",
        "COADD_OBJECT_ID",
    ),
    "galaxy-zoo": (
        read_galaxy_zoo,
        GZ_HEADER,
        "1,00:40:00.00,-00:05:33.3,30,0.0,0.5,0.5,0,0,0,1.0,0.0,0.99,1,0,0",
        "1,00:40:00.00,-00:05:33.3,31,0.0,0.5,0.5,0,0,0,1.0,0.0,0.99,1,0,0",
        "2,00:41:00.00,+00:01:00.0,40,0.95,0,0,0,0.05,0,0.0,0.93,0.02,0,1,0",
        "OBJID",
    ),
}


class TestRepeatedIds:
    """An id repeated with the same values is dropped and logged; with other values, refused."""

    @pytest.mark.parametrize("survey", list(_REPEATS))
    def test_a_row_repeated_exactly_is_dropped_and_logged(self, tmp_path, caplog, survey):
        reader, header, row, _, other, _ = _REPEATS[survey]
        path = tmp_path / "table.csv"
        path.write_text(f"{header}\n{row}\n{other}\n{row}\n")
        with caplog.at_level("INFO", logger="galcore.surveys"):
            table = reader(path)
        assert len(table) == 2
        assert table.index.is_unique
        assert "table.csv: rows repeating an earlier row exactly, dropped: 1" in caplog.text

    @pytest.mark.parametrize("survey", list(_REPEATS))
    def test_an_id_with_other_values_names_both_lines_and_the_fix(self, tmp_path, survey):
        reader, header, row, changed, other, key = _REPEATS[survey]
        path = tmp_path / "table.csv"
        path.write_text(f"{header}\n{row}\n{row}\n{other}\n{changed}\n")
        ident = row.split(",")[0]
        message = (
            rf"table.csv: {key} {ident} appears on lines 2 and 5 with different values;"
            rf" keep one row per {key}$"
        )
        with pytest.raises(CurationError, match=message):
            reader(path)

    def test_lines_are_counted_in_the_file_past_comments_and_blank_lines(self, tmp_path):
        path = tmp_path / "sdss_photoobj.csv"
        changed = _PHOTO_ROW.replace(",4", ",5")
        text = ["#Table1", PHOTOOBJ_HEADER, _PHOTO_ROW, "", _OTHER_PHOTO_ROW, changed]
        path.write_text("\n".join(text) + "\n")
        with pytest.raises(CurationError, match="appears on lines 3 and 6 with different"):
            read_photoobj(path)
        path.write_text("\n".join(["#Table1", PHOTOOBJ_HEADER, _PHOTO_ROW.replace(",10,", ",x,")]))
        with pytest.raises(CurationError, match=r"row 1 \(line 3\): ra 'x' is not a number"):
            read_photoobj(path)
