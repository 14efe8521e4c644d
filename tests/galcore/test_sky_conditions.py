"""The same sky observed under other conditions: seeing, depth and artefacts."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from astropy.io import fits

from galcore.cli.sky import sky_command_parser
from galcore.errors import SkyError
from galcore.sky import SkyConditions, SkyManifest, make_sky
from galcore.sky._contaminants import ARTEFACTS
from galcore.sky._render import DES, SDSS

OPTIONS = {"seed": 5, "n_sdss": 8, "n_des": 8, "tile_size": 1024, "frame_shape": (1024, 1280)}


@pytest.fixture(scope="module")
def skies(tmp_path_factory: pytest.TempPathFactory) -> tuple[SkyManifest, SkyManifest]:
    """One tiny sky under nominal conditions and under worse seeing and depth, no artefacts."""
    root = tmp_path_factory.mktemp("conditions")
    clean = SkyConditions(artefacts=0.0)
    worse = SkyConditions(seeing=1.5, noise=2.0, artefacts=0.0)
    return (
        make_sky(root / "nominal", conditions=clean, **OPTIONS),
        make_sky(root / "worse", conditions=worse, **OPTIONS),
    )


def _tiles(sky: SkyManifest) -> list[np.ndarray]:
    """The science images of the sky's DES tiles in g, in name order."""
    images = []
    for path in sorted(sky.des_tiles_dir.rglob("*_g.fits.fz")):
        with fits.open(path) as hdus:
            images.append(hdus["SCI"].data.astype(np.float64))
    return images


def _robust_sigma(image: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(image - np.median(image))))


class TestSkyConditions:
    def test_same_galaxies_votes_and_catalogs(self, skies):
        nominal, worse = skies
        for name in ("gz_table", "sdss_photoobj", "des_catalog", "truth"):
            assert getattr(nominal, name).read_bytes() == getattr(worse, name).read_bytes()

    def test_twice_the_noise(self, skies):
        ratios = [
            _robust_sigma(b) / _robust_sigma(a)
            for a, b in zip(_tiles(skies[0]), _tiles(skies[1]), strict=True)
        ]
        assert ratios
        assert np.allclose(ratios, 2.0, rtol=0.1)

    def test_worse_seeing_spreads_the_light(self, skies):
        # A point source's peak falls as 1 / FWHM^2 (0.44 here), a galaxy's less.
        for a, b in zip(_tiles(skies[0]), _tiles(skies[1]), strict=True):
            assert 0.3 < b.max() / a.max() < 0.85

    def test_factors_apply_to_every_band_and_survey(self):
        conditions = SkyConditions(seeing=1.2, noise=3.0, artefacts=2.0)
        for instrument in (SDSS, DES):
            changed = conditions.instrument(instrument)
            for band in instrument.bands:
                assert changed.psf_fwhm[band] == pytest.approx(1.2 * instrument.psf_fwhm[band])
                assert changed.sky_sigma[band] == pytest.approx(3.0 * instrument.sky_sigma[band])
        rates = conditions.rates(ARTEFACTS["sdss"])
        assert rates.cosmic_rays_per_arcmin2 == pytest.approx(0.6)
        assert SkyConditions(artefacts=40).rates(ARTEFACTS["sdss"]).trail == 1.0
        assert SkyConditions().nominal
        assert not conditions.nominal

    @pytest.mark.parametrize("change", [{"seeing": 0}, {"noise": -1}, {"artefacts": -0.5}])
    def test_bad_factors(self, change):
        with pytest.raises(SkyError, match="must be > 0"):
            SkyConditions(**change)

    def test_command_passes_the_conditions(self, tmp_path: Path):
        argv = ["--out", str(tmp_path), "--seed", "3", "--seeing", "1.3", "--noise", "2"]
        args = sky_command_parser().parse_args(argv)
        with mock.patch("galcore.sky.make_sky") as make:
            args.func(args)
        make.assert_called_once_with(
            tmp_path, seed=3, conditions=SkyConditions(seeing=1.3, noise=2.0)
        )
