"""Tests that the synthetic sky is hard the way the real sky is, and of the shape measurements."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from astropy.wcs import WCS

from galcore.curation import ColourStretch
from galcore.morphometry import FEATURES, linear_planes, measure_images
from galcore.sky._contaminants import ARTEFACTS, ArtefactRates, add_artefacts, draw_stars
from galcore.sky._population import Galaxy, _arm_visibility, draw_galaxies, draw_zoo_votes
from galcore.sky._profiles import Shape
from galcore.sky._render import DES, SDSS, render_scene
from galcore.sky._writers import tan_header
from tests.galcore.test_sky import MAGS

SIDE = 301


def render(shape: Shape, *, instrument=DES, stars=(), band: str = "r") -> np.ndarray:
    header = tan_header((10.0, 0.0), (SIDE, SIDE), scale=instrument.pixel_scale, rotation=0.0)
    galaxies = [Galaxy(0, 10.0, 0.0, shape, MAGS)] if shape else []
    scene = render_scene(galaxies, WCS(header), (SIDE, SIDE), instrument=instrument, stars=stars)
    return scene[band]


@pytest.fixture(scope="module")
def population() -> list[Galaxy]:
    return draw_galaxies(np.full(4000, 10.0), np.zeros(4000), rng=np.random.default_rng(3))


class TestPopulation:
    def test_ellipticals_range_from_e0_to_e7_and_a_share_are_s0(self, population):
        kinds = [g.shape.kind for g in population if g.morphology == "elliptical"]
        assert 0.2 < kinds.count("S0") / len(kinds) < 0.4
        ratios = [g.shape.axis_ratio for g in population if g.shape.kind == "elliptical"]
        assert min(ratios) < 0.4  # E6-E7
        assert np.mean(np.array(ratios) > 0.8) > 0.2  # many nearly round

    def test_spirals_have_bars_bulges_and_every_inclination(self, population):
        spirals = [g.shape for g in population if g.morphology == "spiral"]
        assert 0.2 < np.mean([s.bar_fraction > 0 for s in spirals]) < 0.4
        bulges = np.array([s.bulge_fraction for s in spirals])
        assert bulges.min() < 0.05
        assert bulges.max() > 0.45
        ratios = np.array([s.axis_ratio for s in spirals])
        assert ratios.min() < 0.25
        assert ratios.max() > 0.95

    def test_colours_of_the_classes_overlap(self, population):
        g_r = {
            morphology: np.array(
                [
                    g.mags["sdss"]["g"] - g.mags["sdss"]["r"]
                    for g in population
                    if g.morphology == morphology
                ]
            )
            for morphology in ("elliptical", "spiral")
        }
        cut = np.median(np.concatenate(list(g_r.values())))
        # One colour cut gets about 80% right, as on real galaxies: not 99%.
        accuracy = (np.mean(g_r["elliptical"] > cut) + np.mean(g_r["spiral"] <= cut)) / 2
        assert 0.7 < accuracy < 0.9
        # Spirals with big bulges are as red as ellipticals.
        reddest = np.percentile(g_r["spiral"], 95)
        assert reddest > np.median(g_r["elliptical"]) - 0.05

    def test_the_crowd_is_sure_of_spirals_whose_arms_show_in_sdss(self, population):
        rng = np.random.default_rng(4)
        votes = [draw_zoo_votes(g, rng=rng) for g in population]
        spirals = [
            (g, v) for g, v in zip(population, votes, strict=True) if g.shape.kind == "spiral"
        ]
        visible = {
            sure: np.median([_arm_visibility(g) for g, v in spirals if v.confident == sure])
            for sure in (True, False)
        }
        assert visible[True] > 3 * visible[False]
        sure = {
            kind: np.mean(
                [
                    v.confident
                    for g, v in zip(population, votes, strict=True)
                    if g.shape.kind == kind
                ]
            )
            for kind in ("elliptical", "S0")
        }
        assert sure["S0"] < sure["elliptical"] / 2  # a disk without arms is ambiguous

    def test_neighbours_draw_fainter_and_smaller_galaxies(self):
        faint = draw_galaxies(
            np.zeros(500),
            np.zeros(500),
            rng=np.random.default_rng(1),
            mag_range=(17.8, 21.5),
            first_index=10,
        )
        assert faint[0].index == 10
        assert all(17.8 <= g.mags["sdss"]["r"] <= 21.5 for g in faint)
        assert np.median([g.shape.half_light for g in faint]) < 1.5


class TestProfiles:
    def test_a_bar_is_brighter_along_its_axis(self):
        barred = Shape(
            "spiral",
            4.0,
            1.0,
            0.0,
            sersic_n=3.0,
            bulge_fraction=0.1,
            bulge_radius=0.6,
            bar_fraction=0.2,
            bar_length=3.0,
            bar_angle=0.0,
        )
        unbarred = dataclasses.replace(barred, bar_fraction=0.0)
        y, x = np.indices((SIDE, SIDE)) - SIDE // 2
        # Bar angle 0 lies along the major axis, which points north at position angle 0.
        along = (np.abs(x) < 2) & (np.abs(np.abs(y) * DES.pixel_scale - 2.0) < 0.3)
        across = (np.abs(y) < 2) & (np.abs(np.abs(x) * DES.pixel_scale - 2.0) < 0.3)
        with_bar, without = render(barred), render(unbarred)
        assert with_bar[along].mean() > 1.3 * with_bar[across].mean()
        assert without[along].mean() == pytest.approx(without[across].mean(), rel=0.05)

    def test_s0_is_a_bulge_and_a_disk_without_arms(self):
        s0 = Shape("elliptical", 4.0, 0.3, 0.0, sersic_n=3.0, bulge_fraction=0.5, bulge_radius=0.8)
        assert s0.kind == "S0"
        assert s0.has_disk
        image = render(s0)
        assert image.sum() == pytest.approx(10 ** (-0.4 * (MAGS["des"]["r"] - 22.5)), rel=0.02)
        # Thin and elongated north-south, as its disk is seen almost edge-on.
        profile_ns, profile_ew = image[:, SIDE // 2], image[SIDE // 2]
        assert (profile_ns > profile_ns.max() / 10).sum() > 1.3 * (
            profile_ew > profile_ew.max() / 10
        ).sum()


class TestContaminants:
    def test_stars_are_points_and_bright_ones_have_spikes(self):
        stars = draw_stars((9.99, 10.01, -0.01, 0.01), rng=np.random.default_rng(0))
        bright = dataclasses.replace(
            stars[0],
            ra=10.0,
            dec=0.0,
            mags={"sdss": {b: 13.5 for b in "ugriz"}, "des": {b: 13.5 for b in "grizY"}},
        )
        image = render(None, stars=[bright], instrument=SDSS)
        flux = 10 ** (-0.4 * (13.5 - 22.5))
        assert image.sum() == pytest.approx(flux, rel=0.1)
        centre = SIDE // 2
        far = 60  # pixels, beyond the PSF's reach: only a spike is there
        assert image[centre, centre + far] > 100 * image[centre + far, centre + far]

    def test_star_counts_match_the_density(self):
        stars = draw_stars((10.0, 10.5, 0.0, 0.5), rng=np.random.default_rng(2))
        assert len(stars) == pytest.approx(0.5 * 30 * 30, rel=0.1)
        r = np.array([s.mags["sdss"]["r"] for s in stars])
        assert r.min() >= 13.5
        assert r.max() <= 22.0
        assert np.mean(r > 20) > 0.4  # most are faint

    def test_artefacts_add_cosmic_rays_a_trail_and_a_bad_column(self):
        image = np.zeros((1000, 1000), dtype=np.float32)
        rates = ArtefactRates(cosmic_rays_per_arcmin2=2.0, trail=1.0, bad_column=1.0)
        counts = add_artefacts(
            image, 0.05, rates=rates, pixel_scale=0.396, rng=np.random.default_rng(0)
        )
        assert counts["trails"] == 1
        assert counts["bad_columns"] == 1
        assert counts["cosmic_rays"] == pytest.approx(2.0 * (1000 * 0.396 / 60) ** 2, rel=0.3)
        bad = np.flatnonzero((image > 0).all(axis=0))
        assert len(bad) == 1  # the only column lit from top to bottom
        assert (image > 0).sum() > 1000 + 1000  # the trail crosses the image

    def test_des_coadds_have_almost_no_cosmic_rays(self):
        assert (
            ARTEFACTS["des"].cosmic_rays_per_arcmin2
            < ARTEFACTS["sdss"].cosmic_rays_per_arcmin2 / 10
        )
        assert ARTEFACTS["des"].bad_column == 0.0

    def test_des_is_deeper_and_sharper_than_sdss(self):
        for band in "gri":
            # Noise per arcsec^2: DES coadds are about two magnitudes deeper.
            sdss = SDSS.sky_sigma[band] / SDSS.pixel_scale
            des = DES.sky_sigma[band] / DES.pixel_scale
            assert 4.0 < sdss / des < 12.0
            assert DES.psf_fwhm[band] < SDSS.psf_fwhm[band] - 0.3


class TestMorphometry:
    stretch = ColourStretch()

    def stamp(self, shape: Shape) -> np.ndarray:
        """A 64-pixel, 40-arcsec curated-style image of a shape, stretched like the catalog."""
        scale = 40.0 / 64
        header = tan_header((10.0, 0.0), (64, 64), scale=scale, rotation=0.0)
        instrument = dataclasses.replace(DES, pixel_scale=scale)
        scene = render_scene(
            [Galaxy(0, 10.0, 0.0, shape, MAGS)], WCS(header), (64, 64), instrument=instrument
        )
        sb = [scene[b][::-1] / scale**2 for b in "gri"]
        return self.stretch(*sb)[np.newaxis]

    def test_the_stretch_is_undone(self):
        image = self.stamp(Shape("elliptical", 3.0, 0.8, 0.0, sersic_n=4.0))
        planes = linear_planes(image, self.stretch)
        restretched = self.stretch(planes[0, ..., 2], planes[0, ..., 1], planes[0, ..., 0])
        unsaturated = image[0].max(axis=-1) < 255  # a clipped pixel keeps only its colour
        assert unsaturated.mean() > 0.95
        error = np.abs(restretched.astype(int) - image[0])[unsaturated]
        assert error.max() <= 1

    def test_ellipticity_and_concentration(self):
        round_e = measure_images(
            self.stamp(Shape("elliptical", 3.0, 1.0, 0.0, sersic_n=4.0)), stretch=self.stretch
        )[0]
        flat_e = measure_images(
            self.stamp(Shape("elliptical", 3.0, 0.4, 30.0, sersic_n=4.0)), stretch=self.stretch
        )[0]
        disk = measure_images(
            self.stamp(Shape("elliptical", 3.0, 1.0, 0.0, sersic_n=1.0)), stretch=self.stretch
        )[0]
        column = dict(zip(FEATURES, range(len(FEATURES)), strict=True))
        assert round_e[column["ellipticity"]] < 0.1
        assert 0.4 < flat_e[column["ellipticity"]] < 0.7
        assert round_e[column["concentration"]] > disk[column["concentration"]] + 0.3
        assert round_e[column["g_r"]] == pytest.approx(
            MAGS["des"]["g"] - MAGS["des"]["r"], abs=0.05
        )
