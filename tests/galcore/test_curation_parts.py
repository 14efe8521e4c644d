from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from galcore.curation import (
    ColourStretch,
    CurationConfig,
    SetFractions,
    SurveyInputs,
    assign_sets,
    crossmatch,
    cutout,
)
from galcore.errors import CurationError, MissingInputError, OffFrameError
from galcore.surveys import SurveyImage
from store import sets_code
from tests.galcore.test_surveys import tan_wcs


class TestCrossmatch:
    def test_pairs_are_one_to_one_within_the_radius(self):
        sdss = SkyCoord([10.0, 10.0002, 10.1, 10.2] * u.deg, [0, 0, 0, 0] * u.deg)
        des = SkyCoord([10.00005, 10.1, 10.2 + 2 / 3600] * u.deg, [0, 0.1 / 3600, 0] * u.deg)
        first, second = crossmatch(sdss, des, radius=1 * u.arcsec)
        assert first.tolist() == [0, 2]
        assert second.tolist() == [0, 1]

    def test_empty_catalogs_match_nothing(self):
        empty = SkyCoord([] * u.deg, [] * u.deg)
        first, second = crossmatch(empty, SkyCoord([1] * u.deg, [1] * u.deg))
        assert len(first) == len(second) == 0

    def test_radius_must_be_an_angle(self):
        position = SkyCoord([1] * u.deg, [1] * u.deg)
        with pytest.raises(u.UnitTypeError, match="radius must be an angle"):
            crossmatch(position, position, radius=1 * u.m)


def _point_source_image(ra, dec, *, scale, angle):
    """A frame with one bright pixel at (ra, dec) under a rotated WCS."""
    wcs = tan_wcs(scale, angle_deg=angle, shape=(300, 300))
    data = np.zeros((300, 300), dtype=np.float32)
    x, y = wcs.world_to_pixel_values(ra, dec)
    data[round(float(y)), round(float(x))] = 100.0
    return SurveyImage(data, wcs, Path("frame-r-000756-3-0412.fits.bz2"))


class TestCutout:
    @pytest.mark.parametrize("angle", [0, 35, 120])
    def test_north_is_up_and_east_left_whatever_the_frame_rotation(self, angle):
        centre = SkyCoord(10 * u.deg, 0 * u.deg)
        north = SkyCoord(10 * u.deg, 8 / 3600 * u.deg)
        east = SkyCoord((10 + 8 / 3600) * u.deg, 0 * u.deg)
        for star, expected in ((north, "up"), (east, "left")):
            image = _point_source_image(star.ra.deg, star.dec.deg, scale=0.396, angle=angle)
            out = cutout(image, centre, size=32, field=32 * u.arcsec, name="SDSS 1")
            row, column = np.unravel_index(np.argmax(out), out.shape)
            if expected == "up":
                assert row < 12
                assert abs(column - 15.5) <= 1.5
            else:
                assert column < 12
                assert abs(row - 15.5) <= 1.5

    def test_surface_brightness_is_kept_when_resampling(self):
        wcs = tan_wcs(0.263, shape=(300, 300))
        image = SurveyImage(np.full((300, 300), 3.0, np.float32), wcs, Path("tile.fits.fz"))
        out = cutout(image, SkyCoord(10 * u.deg, 0 * u.deg), size=20, field=20 * u.arcsec, name="x")
        np.testing.assert_allclose(out, 3.0, rtol=1e-5)

    def test_off_frame_names_the_galaxy_and_the_file(self):
        image = _point_source_image(10, 0, scale=0.396, angle=0)
        far = SkyCoord(10.5 * u.deg, 0 * u.deg)
        with pytest.raises(OffFrameError, match="galaxy SDSS 7 in frame-r-000756-3-0412.fits.bz2"):
            cutout(image, far, size=32, field=40 * u.arcsec, name="SDSS 7")

    @pytest.mark.parametrize(("scale", "angle"), [(0.263, 0), (0.396, 0), (0.396, 35)])
    def test_a_cutout_near_an_edge_is_kept_while_it_lies_on_the_image(self, scale, angle):
        """No blanket margin: a 40" cutout 1" from the edge is cut, one over the edge is not."""
        wcs = tan_wcs(scale, angle_deg=angle, shape=(300, 300))
        ys, xs = np.mgrid[0:300, 0:300]
        image = SurveyImage((xs + 1000 * ys).astype(np.float32), wcs, Path("tile.fits.fz"))
        field, size = 40 * u.arcsec, 32
        centre = SkyCoord(10 * u.deg, 0 * u.deg)
        corners = [(x, y) for x in (-0.5, 0.5) for y in (-0.5, 0.5)]
        # Walk west (to larger x on a north-up frame) until the cutout's footprint leaves it.
        kept = None
        for step in np.arange(0, 120, 0.5):
            position = centre.spherical_offsets_by(-step * u.arcsec, 0 * u.arcsec)
            footprint = [
                position.spherical_offsets_by(dx * field, dy * field) for dx, dy in corners
            ]
            reach = max(float(wcs.world_to_pixel(point)[0]) for point in footprint)
            try:
                out = cutout(image, position, size=size, field=field, name="DES 1")
            except OffFrameError:
                assert reach > 299 - 2, f"refused {299 - reach:.1f} pixels inside the edge"
                break
            kept = (reach, out)
        assert kept is not None
        assert kept[0] > 299 - 1.5 / scale  # kept until its corner was within ~1.5"
        assert np.isfinite(kept[1]).all()

    def test_field_must_be_an_angle(self):
        image = _point_source_image(10, 0, scale=0.396, angle=0)
        with pytest.raises(u.UnitTypeError, match="field must be an angle"):
            cutout(image, SkyCoord(10 * u.deg, 0 * u.deg), size=8, field=8 * u.m, name="x")


class TestStretch:
    def test_same_surface_brightness_gives_the_same_colour(self):
        plane = np.linspace(0, 5, 64, dtype=np.float32).reshape(8, 8)
        rgb = ColourStretch()(plane * 0.5, plane, plane * 1.5)
        assert rgb.dtype == np.uint8
        assert rgb.shape == (8, 8, 3)
        assert (rgb[..., 0] >= rgb[..., 2]).all()  # red from i, blue from g
        np.testing.assert_array_equal(rgb, ColourStretch()(plane * 0.5, plane, plane * 1.5))

    def test_the_black_point_turns_sdss_and_des_skies_black(self):
        rng = np.random.default_rng(0)
        # Sky noise per pixel of a 64-pixel, 40" cutout: SDSS's and DES's (five times lower).
        black = {}
        for survey, sigma in (("sdss", 0.12), ("des", 0.024)):
            planes = [rng.normal(0.0, sigma, (64, 64)) for _ in range(3)]
            black[survey] = [
                (stretch(*planes) == 0).all(axis=-1).mean()
                for stretch in (ColourStretch(minimum=0.0), ColourStretch())
            ]
        assert black["sdss"][0] < 0.6  # without a black point, SDSS's sky is speckled
        assert black["sdss"][1] > 0.9
        assert black["des"][1] > 0.99

    def test_catalogs_from_before_the_black_point_keep_their_stretch(self):
        assert ColourStretch.recorded({"stretch": 1.0, "q": 8.0}).minimum == 0.0
        recorded = ColourStretch.recorded({"stretch": 0.5, "q": 6.0, "minimum": 0.1})
        assert recorded == ColourStretch(0.5, 6.0, 0.1)


class TestAssignSets:
    def test_sets_follow_the_paper(self):
        n_sdss = 400
        survey = np.repeat([0, 1], [n_sdss, n_sdss + 50]).astype(np.uint8)
        label = np.concatenate([np.arange(n_sdss) % 2, np.arange(n_sdss) % 2, -np.ones(50)])
        confident = np.concatenate([np.arange(n_sdss) % 4 != 0, np.zeros(n_sdss + 50, bool)])
        match = np.concatenate([np.arange(n_sdss) + n_sdss, np.arange(n_sdss), -np.ones(50)])
        match[300:n_sdss] = -1  # SDSS-only galaxies
        match[n_sdss + 300 : 2 * n_sdss] = -1
        ok = np.ones(len(survey), bool)
        ok[5] = False
        sets = assign_sets(survey, label, confident, match.astype(int), ok, seed=1)
        member = {
            name: (sets & sets_code([name])) != 0
            for name in ("train", "val", "hp_test", "fo_test", "unlabelled")
        }
        assert not member["train"][5]
        assert not (member["train"] & member["val"]).any()
        assert not (member["train"] & (member["hp_test"] | member["fo_test"])).any()
        assert member["hp_test"][:n_sdss].sum() == round(0.15 * (confident[:300].sum() - 1))
        assert (member["hp_test"][:n_sdss] <= confident[:n_sdss]).all()
        hp_rows = np.flatnonzero(member["hp_test"][:n_sdss])
        assert member["hp_test"][match[hp_rows].astype(int)].all()
        assert member["fo_test"][~confident & (match >= 0) & (survey == 0)].all()
        assert member["unlabelled"].sum() == 50 + 100
        assert np.array_equal(
            sets, assign_sets(survey, label, confident, match.astype(int), ok, seed=1)
        )

    def test_fractions_are_respected(self):
        n = 1000
        survey = np.zeros(n, np.uint8)
        sets = assign_sets(
            survey,
            np.zeros(n),
            np.ones(n, bool),
            -np.ones(n, int),
            np.ones(n, bool),
            fractions=SetFractions(hp_test=0.2, val=0.25),
        )
        assert ((sets & sets_code(["val"])) != 0).sum() == 250
        assert ((sets & sets_code(["hp_test"])) != 0).sum() == 0  # no DES counterparts


class TestConfigAndInputs:
    @pytest.mark.parametrize(
        ("options", "match"),
        [
            pytest.param({"mode": "lenient"}, "mode must be one of skip, strict", id="mode"),
            pytest.param({"size": 8}, "size must be between 16 and 1024 pixels, got 8", id="size"),
            pytest.param({"workers": 0}, "must be > 0", id="workers"),
        ],
    )
    def test_bad_settings_are_refused(self, options, match):
        with pytest.raises(CurationError, match=match):
            CurationConfig(**options)

    def test_sky_folder_must_hold_every_table(self, tmp_path):
        with pytest.raises(MissingInputError, match="no such folder"):
            SurveyInputs.from_sky(tmp_path / "nowhere")
        with pytest.raises(MissingInputError, match="none of GalaxyZoo1_DR_table2.csv, sdss_"):
            SurveyInputs.from_sky(tmp_path)
        (tmp_path / "GalaxyZoo1_DR_table2.csv").write_text("")
        with pytest.raises(
            MissingInputError,
            match="no sdss_photoobj.csv anywhere below it; pass the file with --sdss-photo",
        ):
            SurveyInputs.from_sky(tmp_path)

    def test_given_inputs_are_not_searched_for(self, tmp_path):
        (tmp_path / "GalaxyZoo1_DR_table2.csv").write_text("")
        (tmp_path / "sdss").mkdir()
        elsewhere = {"sdss_photo": tmp_path / "p.csv", "des_catalog": tmp_path / "d.csv"}
        inputs = SurveyInputs.from_sky(tmp_path, **elsewhere)
        assert inputs.sdss_photo == tmp_path / "p.csv"
        assert inputs.gz == tmp_path / "GalaxyZoo1_DR_table2.csv"
        assert inputs.sdss_frames == tmp_path / "sdss"
        assert inputs.des_tiles == tmp_path

    def test_a_folder_with_one_survey_gives_that_survey(self, tmp_path):
        (tmp_path / "des_dr1_main.csv").write_text("")
        (tmp_path / "des").mkdir()
        inputs = SurveyInputs.from_sky(tmp_path)
        assert inputs == SurveyInputs(
            des_catalog=tmp_path / "des_dr1_main.csv", des_tiles=tmp_path / "des"
        )
        assert (inputs.has_sdss, inputs.has_des) == (False, True)

    def test_check_names_the_missing_input(self, tmp_path):
        inputs = SurveyInputs(*(tmp_path / name for name in ("a.csv", "b.csv", "c", "d.csv", "e")))
        with pytest.raises(MissingInputError, match=r"--gz .*a.csv: no such file"):
            inputs.check()
