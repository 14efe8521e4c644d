"""The whole path on a synthetic sky: curate, train, predict, embed, review, recurse, export."""

import warnings

import numpy as np
import pandas as pd
import pytest

from galcore.cli.main import main
from galcore.curation import CurationConfig, SurveyInputs, curate_catalog
from galcore.errors import CurationError, CurationWarning, MissingInputError
from galcore.sky import make_sky
from store import SURVEYS, Workspace, set_mask

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    out = tmp_path_factory.mktemp("sky")
    make_sky(out, seed=3, n_sdss=240, n_des=280, tile_size=1024)
    return out


@pytest.fixture(scope="module")
def curated(sky, tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    with pytest.warns(CurationWarning, match=r"objects could not be curated \(.*\); they stay"):
        summary = curate_catalog(
            SurveyInputs.from_sky(sky), root, config=CurationConfig(size=32, workers=2)
        )
    return Workspace(root), summary


@pytest.fixture(scope="module")
def truth(sky):
    return pd.read_csv(
        sky / "truth.csv", dtype={"sdss_objid": "Int64", "des_coadd_object_id": "Int64"}
    )


class TestCurationOfTheSyntheticSky:
    def test_every_catalog_object_is_kept(self, curated, truth):
        space, summary = curated
        catalog = space.catalog()
        assert summary.n_sdss == truth["in_sdss"].sum() == 240
        assert summary.n_des == truth["in_des"].sum() == 280
        assert len(catalog) == 520
        assert set(catalog.column("object_id")) == set(truth["sdss_objid"].dropna()) | set(
            truth["des_coadd_object_id"].dropna()
        )

    def test_crossmatch_finds_the_same_galaxies(self, curated, truth):
        catalog = curated[0].catalog()
        ids, match = catalog.column("object_id"), catalog.column("match_index")
        found = {
            (ids[i], ids[j])
            for i, j in enumerate(match)
            if j >= 0 and catalog.column("survey")[i] == 0
        }
        both = truth.dropna(subset=["sdss_objid", "des_coadd_object_id"])
        expected = set(zip(both["sdss_objid"], both["des_coadd_object_id"], strict=True))
        assert found == expected

    def test_failures_are_the_planted_defects_with_reasons(self, curated, truth):
        catalog = curated[0].catalog()
        status = np.asarray(catalog.status_codes)[catalog.column("status")]
        bad = ~np.isin(status, ["ok", "partial"])
        failed = dict(zip(catalog.column("object_id")[bad], status[bad], strict=True))
        # Galaxies near an edge are kept: a few with part of their cutout off the image.
        missing = catalog.column("missing_fraction")[status == "partial"]
        assert len(missing) > 0
        assert (missing > 0).all()
        assert (missing <= 0.25).all()
        defects = truth[truth["defect"].notna()]
        expected = {}
        for _, row in defects.iterrows():
            key = (
                row["sdss_objid"] if row["defect_survey"] == "sdss" else row["des_coadd_object_id"]
            )
            expected[key] = row["defect"]
        assert failed == expected
        messages = catalog.failures.values()
        assert all(message.startswith(("galaxy SDSS", "galaxy DES")) for message in messages)
        assert any(
            "no i-band file" in m or "no g-band file" in m or "no r-band file" in m
            for m in messages
        )

    def test_confident_labels_agree_with_truth(self, curated, truth):
        catalog = curated[0].catalog()
        sdss = truth.dropna(subset=["sdss_objid"]).set_index("sdss_objid")
        train = set_mask(catalog.column("sets"), "train")
        rows = np.flatnonzero(train & (catalog.column("survey") == SURVEYS.index("sdss")))
        true = sdss.loc[catalog.column("object_id")[rows], "morphology"].to_numpy()
        labels = np.asarray(["elliptical", "spiral"])[catalog.column("label")[rows]]
        assert (true == labels).mean() >= 0.95

    def test_both_surveys_show_the_same_galaxy_the_same_way(self, curated, truth):
        catalog = curated[0].catalog()
        match, ids = catalog.column("match_index"), catalog.column("object_id")
        elongated = set(truth.loc[truth["axis_ratio"] < 0.6, "sdss_objid"].dropna())
        pairs = [
            i
            for i in np.flatnonzero(match >= 0)
            if ids[i] in elongated and catalog.ok()[[i, match[i]]].all()
        ]
        sdss = catalog.read_images(pairs).astype(float).mean(axis=3)
        des = catalog.read_images(match[pairs]).astype(float).mean(axis=3)
        same = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(sdss, des, strict=True)]
        turned = [
            np.corrcoef(a.ravel(), np.rot90(b).ravel())[0, 1]
            for a, b in zip(sdss, des, strict=True)
        ]
        assert len(pairs) >= 10
        assert np.median(same) > 0.8
        assert np.median(same) > np.median(turned) + 0.1
        # One flux scale and stretch: the galaxies' bright cores (not the noise, which SDSS
        # has more of) are as bright in both surveys.
        peaks = [np.median(np.percentile(images, 99, axis=(1, 2))) for images in (sdss, des)]
        assert peaks[1] == pytest.approx(peaks[0], rel=0.25)

    def test_sets_are_consistent(self, curated):
        catalog = curated[0].catalog()
        sets, survey = catalog.column("sets"), catalog.column("survey")
        assert set_mask(sets, "unlabelled")[survey == SURVEYS.index("sdss")].sum() == 0
        assert not (set_mask(sets, "train") & set_mask(sets, "fo_test")).any()
        assert (
            set_mask(sets, "hp_test")[survey == 0].sum()
            == set_mask(sets, "hp_test")[survey == 1].sum()
        )
        assert not set_mask(sets, "train")[~catalog.usable()].any()
        # Training sees both surveys: the DES counterparts of the training galaxies train too.
        match, usable = catalog.column("match_index"), catalog.usable()
        train_sdss = np.flatnonzero(set_mask(sets, "train") & (survey == 0) & (match >= 0))
        partners = match[train_sdss][usable[match[train_sdss]]]
        assert len(partners) > 0
        assert set_mask(sets[partners], "train").all()

    def test_strict_mode_stops_and_keeps_the_old_catalog(self, curated, sky):
        space = curated[0]
        before = (space.catalog_path / "zarr.json").read_bytes()
        with pytest.raises(CurationError, match="galaxy (SDSS|DES) "):
            curate_catalog(
                SurveyInputs.from_sky(sky),
                space.root,
                config=CurationConfig(size=32, mode="strict"),
            )
        assert (space.catalog_path / "zarr.json").read_bytes() == before
        assert sorted(p.name for p in space.root.iterdir()) == ["catalog.zarr"]


_ALONE = {"sdss": ("gz", "sdss_photo", "sdss_frames"), "des": ("des_catalog", "des_tiles")}


@pytest.mark.parametrize("survey", ["sdss", "des"])
def test_one_survey_alone_is_curated_as_in_a_full_curation(curated, sky, tmp_path, survey):
    full = SurveyInputs.from_sky(sky)
    inputs = SurveyInputs(**{name: getattr(full, name) for name in _ALONE[survey]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurationWarning)  # the sky's planted defects
        curate_catalog(inputs, tmp_path, config=CurationConfig(size=32, workers=2))
    alone = Workspace(tmp_path).catalog()
    both = curated[0].catalog()
    code = SURVEYS.index(survey)
    assert set(alone.column("survey")) == {code}
    rows = np.flatnonzero(both.column("survey") == code)
    np.testing.assert_array_equal(alone.column("object_id"), both.column("object_id")[rows])
    np.testing.assert_array_equal(alone.column("status"), both.column("status")[rows])
    np.testing.assert_array_equal(alone.images[:], both.images[rows[0] : rows[-1] + 1])
    assert (alone.column("match_index") == -1).all()
    sets = alone.column("sets")
    assert not (set_mask(sets, "hp_test") | set_mask(sets, "fo_test")).any()  # need both
    if survey == "sdss":
        assert set_mask(sets, "train").sum() > 0
        np.testing.assert_array_equal(alone.column("label"), both.column("label")[rows])
    else:
        assert (set_mask(sets, "unlabelled") == alone.usable()).all()


def test_a_survey_given_in_part_is_refused(sky, tmp_path):
    full = SurveyInputs.from_sky(sky)
    inputs = SurveyInputs(gz=full.gz, sdss_photo=full.sdss_photo, des_catalog=full.des_catalog)
    with pytest.raises(MissingInputError, match="the SDSS inputs go together: missing --sdss-fr"):
        curate_catalog(inputs, tmp_path)
    with pytest.raises(MissingInputError, match="no survey inputs"):
        curate_catalog(SurveyInputs(), tmp_path)
    assert not Workspace(tmp_path).catalog_path.exists()


def test_from_survey_files_to_a_reviewed_label_in_the_next_run(sky, tmp_path, capsys):
    root = tmp_path / "ws"
    assert main(["curate", "--workspace", str(root), "--sky", str(sky), "--size", "32"]) == 0
    assert main(["train", "--workspace", str(root), "--run", "r1", "--profile", "test"]) == 0
    for step in ("predict", "embed", "evaluate"):
        assert main([step, "--workspace", str(root), "--run", "r1"]) == 0
    assert "HP SDSS" in capsys.readouterr().out
    space = Workspace(root)
    catalog = space.catalog()
    unlabelled = np.flatnonzero(set_mask(catalog.column("sets"), "unlabelled"))
    approved, artefact = (int(catalog.column("object_id")[row]) for row in unlabelled[:2])
    space.ledger().record_decision(approved, "approve", label=1, reviewer="ana", run="r1")
    space.ledger().record_decision(artefact, "artefact", reviewer="ana", run="r1")
    assert (
        main(["recurse", "--workspace", str(root), "--from", "r1", "--run", "r2", "--top", "5"])
        == 0
    )
    r2 = space.catalog().run("r2")
    assert r2.attrs["parent"] == "r1"
    assert r2.attrs["ledger_state"] == 2
    assert (r2.attrs["n_approved"], r2.attrs["n_left_out_artefact"]) == (1, 1)
    train = dict(zip(r2.read("train_index").tolist(), r2.read("train_label").tolist(), strict=True))
    assert train[unlabelled[0]] == 1
    assert unlabelled[1] not in train
    out = tmp_path / "catalog.csv"
    assert main(["export", "--workspace", str(root), "--run", "r1", "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert table.set_index("object_id").loc[approved, "decision"] == "approve"
    assert len(table) == len(catalog)
    capsys.readouterr()
    assert main(["curate", "--workspace", str(root), "--sky", str(sky), "--size", "32"]) == 1
    assert "holds runs (r1, r2) that a new catalog would replace" in capsys.readouterr().err
    assert space.catalog().runs() == ["r1", "r2"]
