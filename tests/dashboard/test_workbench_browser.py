"""The review workbench in a real browser: Debian's chromium, driven through Playwright.

One ``panel serve dashboard/app.py --plugins dashboard.routes`` serves every test of this module,
on one workspace: the review workspace's catalog and runs, with r1 trained with the ``test``
profile (a training set and its config) and evaluated as ``galcore evaluate`` does. A server's
first session compiles datashader's aggregations (tens of seconds on two busy cores), which the
fixture pays once. The tests share the ledger, so each decides about its own galaxies under its
own reviewer name and checks those; the retraining, which trains a network, runs last. What a
reviewer does on the page, and the reading of it back, are in `tests.dashboard.workbench`.
"""

from __future__ import annotations

import dataclasses
import re
import time
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dashboard.session import ReviewSession
from galcore.evaluation import evaluate_run
from galcore.jobs import job_status, log_tail
from galcore.recursion import next_training_set
from galcore.training import get_profile
from store import Workspace, set_mask
from tests.conftest import make_toy_workspace
from tests.dashboard.browser import free_port, launch_chromium, panel_serve, serving
from tests.dashboard.conftest import MISCLASSIFIED_ROWS, add_review_runs
from tests.dashboard.workbench import (
    FIGURE_JS,
    PAGE_LINE,
    TITLES_JS,
    all_grid_rows,
    assert_no_markup_ran,
    cell_rows,
    choose_target,
    fill,
    grid_button,
    left_ms,
    new_page,
    object_ids_of,
    open_app,
    page_line,
    predicted_classes,
    screenshot,
    show_tab,
    sign_in,
    wait_for_decisions,
    wait_until,
)

FIRST_SESSION_S = 240
"""The longest the server's first session may take (it compiles datashader's aggregations)."""

UNDO_ROW = 20
RELABEL_ROW, ARTEFACT_ROW = 10, 11
"""SDSS rows of r1's training set, decided about by one test each."""
APPROVE_PAGE, XSS_PAGE, ANA_PAGE, BO_PAGE = 0, 1, 2, 3
"""Pages of the confident queue (99 DES galaxies, 24 a page), decided about by one test each."""

XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_REASON = "<script>window.__xss=2</script> looks odd"


# Fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The review workspace; r1 has a training set, the `test` profile and test metrics."""
    workspace = add_review_runs(make_toy_workspace(tmp_path_factory.mktemp("workbench") / "ws"))
    catalog = workspace.catalog()
    parent = catalog.run("r1")
    parent.update_attrs(config={"profile": dataclasses.asdict(get_profile("test")), "seed": 0})
    train = np.flatnonzero(set_mask(catalog.column("sets"), "train") & catalog.ok())
    parent.write("train_index", train)
    parent.write("train_label", catalog.column("label")[train])
    evaluate_run(workspace.root, "r1")
    return workspace


@pytest.fixture(scope="module")
def app_url(workbench: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the workbench with ``panel serve``; its first session is opened before any test's."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "panel-serve.log"
    with serving(panel_serve(workbench, port), port, log) as url:
        with urllib.request.urlopen(url, timeout=FIRST_SESSION_S) as reply:  # noqa: S310 (http)
            assert reply.status == 200, log.read_text()
        yield url  # the request above built a first session: datashader is compiled


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, once for the module."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page; its last state is saved as a screenshot in build/test-artifacts."""
    page = new_page(browser)
    try:
        yield page
    finally:
        screenshot(page, request.node.name)
        page.context.close()


# The tests --------------------------------------------------------------------------------------


@pytest.mark.ui
@pytest.mark.timeout(240)  # the first test also starts the server and its first session
@pytest.mark.parametrize(
    ("tab", "axes", "label"),
    [("Embedding", ("x", "y"), "t-SNE 1"), ("Sky", ("ra", "dec"), "RA (deg)")],
)
def test_a_box_selection_fills_the_grid(page, app_url, workbench, tab, axes, label):
    open_app(page, app_url)
    show_tab(page, tab)
    figure = page.wait_for_function(FIGURE_JS, arg=label).json_value()
    if not figure["box_select"]:
        page.locator('[title="Box Select"]:visible').click()
        assert page.evaluate(FIGURE_JS, label)["box_select"]
    # A box over part of the frame, in whole page pixels, and the same box in data units.
    left, right = (round(figure["left"] + f * figure["width"]) for f in (0.15, 0.4))
    top, bottom = (round(figure["top"] + f * figure["height"]) for f in (0.2, 0.55))
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move(right, bottom, steps=8)
    page.mouse.up()
    (x0, x1), (y0, y1) = figure["x"], figure["y"]
    per_pixel = ((x1 - x0) / figure["width"], (y1 - y0) / figure["height"])

    def rows_in_box(margin: float) -> set[int]:
        """Rows inside the box grown by `margin` pixels on each side (shrunk if negative)."""
        xs = sorted(x0 + (p - figure["left"]) * per_pixel[0] for p in (left, right))
        ys = sorted(y1 - (p - figure["top"]) * per_pixel[1] for p in (top, bottom))
        dx, dy = (margin * abs(step) for step in per_pixel)
        x, y = (points[name].to_numpy() for name in axes)
        inside = (x >= xs[0] - dx) & (x <= xs[1] + dx) & (y >= ys[0] - dy) & (y <= ys[1] + dy)
        return set(points["row"].to_numpy()[inside].tolist())

    points = ReviewSession(workspace=workbench, run="r1").points  # what the server draws
    inner, outer = rows_in_box(-1), rows_in_box(1)  # one pixel of rounding either way
    assert inner, "the box holds no galaxy: move it"
    expect(page.get_by_text("The galaxies selected in the linked views")).to_be_visible()
    wait_until(lambda: set(cell_rows(page)) <= outer, "the grid did not show the selection")
    shown = all_grid_rows(page)
    assert len(shown) == len(set(shown)) == page_line(page)[2]
    assert shown == sorted(shown)  # the selection queue is in catalog order
    assert inner <= set(shown) <= outer
    assert len(shown) < len(points)


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_approving_a_page_records_one_decision_per_galaxy(page, app_url, workbench):
    open_app(page, app_url, page=APPROVE_PAGE)
    shown = cell_rows(page)
    assert len(shown) == 24
    assert cell_rows(page, ".cell.none[data-row]") == shown, "the page has decisions already"
    sign_in(page, "page-approver")
    choose_target(page, "Undecided on this page")
    grid_button(page, "Approve").click()
    page.get_by_text(f"approved: {len(shown)} galaxies (undecided on this page).").wait_for()
    decisions = wait_for_decisions(workbench, "page-approver", len(shown))
    assert len(decisions) == len(shown)
    assert [d.object_id for d in decisions] == object_ids_of(workbench, shown)
    assert {(d.decision, d.run) for d in decisions} == {("approve", "r1")}
    assert [d.label for d in decisions] == predicted_classes(workbench, shown)
    expect(page.locator(".cell.approve")).to_have_count(len(shown))
    expect(page.locator(".cell .status").first).to_contain_text("page-approver")


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_undo_retracts_the_last_decision(page, app_url, workbench):
    object_id = object_ids_of(workbench, [UNDO_ROW])[0]
    ledger = workbench.ledger()
    assert not ledger.history(object_id)
    open_app(page, app_url, row=UNDO_ROW)
    sign_in(page, "undoer")
    choose_target(page, "Opened galaxy")
    buttons = {  # the galaxy panel's, then the grid's on the opened galaxy
        "approve": page.get_by_role("button", name="Approve", exact=True).first,
        "unsure": grid_button(page, "Unsure"),
    }
    for decision, button in buttons.items():
        button.click()
        made = wait_until(lambda: ledger.current().get(object_id), f"no {decision}")
        assert (made.decision, made.reviewer) == (decision, "undoer")
        page.get_by_role("button", name="Undo", exact=True).click()
        wait_until(lambda: object_id not in ledger.current(), f"{decision} was not undone")
        page.get_by_text("Undone: retracted 1 decision.").wait_for()
        *_, undone, retraction = ledger.history(object_id)
        assert (undone.id, undone.decision) == (made.id, decision)
        assert (retraction.decision, retraction.retracts) == ("retract", made.id)
        assert retraction.reviewer == "undoer"
    expect(page.get_by_text("retracted a decision by undoer")).to_be_visible()  # the status
    assert object_id not in ledger.current()
    assert len(ledger.history(object_id)) == 4


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_relabel_and_artefact_reach_the_next_training_set(page, app_url, workbench):
    catalog = workbench.catalog()
    parent_rows = catalog.run("r1").read("train_index").tolist()
    assert {RELABEL_ROW, ARTEFACT_ROW} <= set(parent_rows)
    assert not {RELABEL_ROW, ARTEFACT_ROW} & set(MISCLASSIFIED_ROWS)
    for row, decision, done in (
        (RELABEL_ROW, "Relabel", "relabelled"),
        (ARTEFACT_ROW, "Artefact", "artefact"),
    ):
        open_app(page, app_url, row=row)
        sign_in(page, "relabeller")
        choose_target(page, "Opened galaxy")
        grid_button(page, decision).click()
        page.get_by_text(f"{done}: 1 galaxy (opened galaxy).").wait_for()
    relabelled, artefact = wait_for_decisions(workbench, "relabeller", 2)
    assert (relabelled.decision, artefact.decision) == ("relabel", "artefact")
    assert [relabelled.object_id, artefact.object_id] == object_ids_of(
        workbench, [RELABEL_ROW, ARTEFACT_ROW]
    )
    (predicted,) = predicted_classes(workbench, [RELABEL_ROW])
    chosen = next_training_set(catalog, "r1", workbench.ledger().current(), top=5)
    labels = dict(zip(chosen.rows.tolist(), chosen.labels.tolist(), strict=True))
    assert labels[RELABEL_ROW] == 1 - predicted == 1 - catalog.column("label")[RELABEL_ROW]
    assert ARTEFACT_ROW not in labels
    assert chosen.n_relabelled >= 1
    assert chosen.n_left_out_artefact >= 1


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_typed_names_and_reasons_are_shown_as_text(page, app_url, workbench):
    open_app(page, app_url, page=XSS_PAGE)
    sign_in(page, XSS_NAME)
    row = cell_rows(page)[0]
    page.locator(f'.cell[data-row="{row}"]').click()
    (object_id,) = object_ids_of(workbench, [row])
    page.get_by_role("heading", name=re.compile(f"{object_id}$")).wait_for()
    choose_target(page, "Opened galaxy")
    fill(page.get_by_placeholder("optional"), XSS_REASON)
    grid_button(page, "Unsure").click()
    (decision,) = wait_for_decisions(workbench, XSS_NAME, 1)
    assert (decision.object_id, decision.reviewer, decision.reason) == (
        object_id,
        XSS_NAME,
        XSS_REASON,
    )
    # A name the ledger refuses (too long): the error that says so names it.
    sign_in(page, XSS_NAME + "x" * 100)
    page.get_by_role("button", name="Approve", exact=True).first.click()
    page.get_by_text("reviewer must be at most").first.wait_for()
    assert_no_markup_ran(page)
    # A run name the Retrain tab refuses: the error quotes it.
    show_tab(page, "Retrain")
    fill(page.get_by_placeholder("e.g. r2"), XSS_NAME)
    page.get_by_role("button", name="Retrain", exact=True).click()
    expect(page.get_by_text(f"run name '{XSS_NAME}' is not allowed")).to_be_visible()
    assert job_status(workbench) is None
    assert_no_markup_ran(page)

    page.reload()  # the URL keeps the page and the opened galaxy
    page.get_by_text(PAGE_LINE).wait_for()
    assert f"row={row}" in page.url
    places = {
        "review status": page.get_by_text(f"marked unsure by {XSS_NAME}"),
        "review history": page.locator("table")
        .filter(has=page.locator("th").filter(has_text=re.compile("^When$")))
        .filter(has_text=XSS_NAME),
        "grid status": page.locator(f'.cell[data-row="{row}"] .status'),
        "grid reason": page.locator(f'.cell[data-row="{row}"] .reason'),
    }
    for where, place in places.items():
        expect(place, where).to_be_visible()
        expect(place, where).to_contain_text(XSS_NAME if "reason" not in where else XSS_REASON)
    show_tab(page, "Decisions")
    table = page.locator(".tabulator-row").filter(has_text=str(object_id))
    expect(table).to_contain_text(XSS_NAME)
    expect(table).to_contain_text(XSS_REASON)
    expect(page.locator("tr").filter(has_text=XSS_NAME).first).to_be_visible()  # the counts
    assert_no_markup_ran(page)


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_two_reviewers_at_once_see_each_others_decisions(browser, app_url, workbench):
    names = ("reviewer-ana", "reviewer-bo")
    pages = [new_page(browser), new_page(browser)]
    try:
        shown = []
        for page, number, name in zip(pages, (ANA_PAGE, BO_PAGE), names, strict=True):
            open_app(page, app_url, page=number)
            sign_in(page, name)
            choose_target(page, "Undecided on this page")
            rows = cell_rows(page)
            assert cell_rows(page, ".cell.none[data-row]") == rows, "decided already"
            shown.append(rows)
        assert not set(shown[0]) & set(shown[1])
        for page in pages:  # both click before either decision is recorded
            grid_button(page, "Approve").click(no_wait_after=True)
        for page in pages:
            show_tab(page, "Decisions")
        for name, rows in zip(names, shown, strict=True):
            decisions = wait_for_decisions(workbench, name, len(rows))
            assert [d.object_id for d in decisions] == object_ids_of(workbench, rows)
        landed = time.monotonic()
        for page, other, rows in ((pages[0], names[1], shown[1]), (pages[1], names[0], shown[0])):
            counts = page.locator("tr").filter(has_text=other)  # the counts per reviewer
            expect(counts).to_contain_text(str(len(rows)), timeout=left_ms(landed))
        # Bo takes the approvals back; Ana's page, idle, shows it.
        show_tab(pages[1], "Review")
        grid_button(pages[1], "Undo").click()
        ledger = workbench.ledger()
        object_ids = set(object_ids_of(workbench, shown[1]))
        wait_until(lambda: not object_ids & set(ledger.current()), "the undo did not land")
        expect(pages[1].locator(".cell.none")).to_have_count(len(shown[1]))
        landed = time.monotonic()
        counts = pages[0].locator("tr").filter(has_text=names[1])
        expect(counts).to_have_count(0, timeout=left_ms(landed))
    finally:
        for page, name in zip(pages, names, strict=True):
            screenshot(page, f"two-reviewers-{name}")
            page.context.close()


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_the_metrics_tab_shows_the_stored_metrics(page, app_url, workbench):
    metrics = workbench.catalog().run("r1").attrs["test_metrics"]
    assert list(metrics) == ["hp_test/sdss"]
    open_app(page, app_url)
    show_tab(page, "Metrics")
    row = page.locator(".tabulator-row").filter(has_text="HP SDSS")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("r1")
    expect(row).to_contain_text(f"{metrics['hp_test/sdss']['accuracy']:.2%}")
    titles = page.wait_for_function(
        f"() => {{ const t = ({TITLES_JS})(); return t.includes('ROC curves') && t; }}"
    ).json_value()
    assert {"ROC curves", "Accuracy", "F1 score"} <= set(titles)


@pytest.mark.ui
@pytest.mark.timeout(360)  # trains, predicts, embeds and evaluates a network on two slow cores
def test_retraining_makes_a_new_run(page, app_url, workbench):
    open_app(page, app_url)
    show_tab(page, "Retrain")
    fill(page.get_by_placeholder("e.g. r2"), "r3")
    fill(page.get_by_role("textbox", name="Confident predictions per class"), "5")
    page.get_by_role("button", name="Retrain", exact=True).click()
    page.get_by_text("Running").first.wait_for()
    job = wait_until(lambda: job_status(workbench), "no job started")
    assert (job.run, job.parent, job.top) == ("r3", "r1", 5)
    job = wait_until(
        lambda: (job := job_status(workbench)).state != "running" and job,
        "the job did not end",
        timeout_s=300,
    )
    assert job.state == "done", f"{job.error}\n{log_tail(job, 80)}"
    run = workbench.catalog().run("r3")
    assert all(run.has(name) for name in ("probs", "embedding", "train_index"))
    assert run.attrs["parent"] == "r1"
    assert run.attrs["config"]["profile"]["name"] == "test"
    assert run.attrs["test_metrics"]
    page.get_by_text("Done").first.wait_for()
    page.get_by_role("button", name="Show run r3").click()
    expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value("r3")
    show_tab(page, "Metrics")  # the new run beside its parent
    rows = page.locator(".tabulator-row").filter(has_text="HP SDSS")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("r3")
    expect(rows.last).to_contain_text("r1")
