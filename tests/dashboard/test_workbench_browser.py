"""The review workbench in a real browser: Debian's chromium, driven through Playwright.

One ``panel serve dashboard/app.py --plugins dashboard.routes`` serves every test of this module,
on one workspace: the review workspace's catalog and runs, with r1 trained with the ``test``
profile (a training set and its config) and evaluated as ``galcore evaluate`` does. A server's
first session compiles datashader's aggregations (tens of seconds on two busy cores), which the
fixture pays once. The tests share the ledger, so each decides about its own galaxies under its
own reviewer name and checks those; the retraining, which trains a network, runs last.
"""

from __future__ import annotations

import dataclasses
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.parse import urlencode

import numpy as np
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from dashboard.data_store import GalaxyStore
from dashboard.jobs import job_status, log_tail
from galcore.evaluation import evaluate_run
from galcore.recursion import next_training_set
from galcore.training import get_profile
from store import Workspace, set_mask
from tests.conftest import make_toy_workspace
from tests.dashboard.browser import (
    ARTIFACTS,
    TIMEOUT_MS,
    free_port,
    launch_chromium,
    panel_serve,
    serving,
)
from tests.dashboard.conftest import MISCLASSIFIED_ROWS, add_review_runs

T = TypeVar("T")

VIEWPORT = {"width": 1400, "height": 1000}
FIRST_SESSION_S = 240
"""The longest the server's first session may take (it compiles datashader's aggregations)."""
SHOWN_WITHIN_MS = 5000
"""How soon a page shows what another reviewer decided."""
PAGE_LINE = re.compile(r"Page (\d+) of (\d+) · (\d+) galax")

UNDO_ROW = 20
RELABEL_ROW, ARTEFACT_ROW = 10, 11
"""SDSS rows of r1's training set, decided about by one test each."""
APPROVE_PAGE, XSS_PAGE, ANA_PAGE, BO_PAGE = 0, 1, 2, 3
"""Pages of the confident queue (99 DES galaxies, 24 a page), decided about by one test each."""

XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_REASON = "<script>window.__xss=2</script> looks odd"

_FIGURE = """(label) => {
  const views = [...Bokeh.index.query((view) => view.model.type === "Figure"
    && view.model.below.some((axis) => axis.axis_label === label)
    && view.el.isConnected && view.el.getClientRects().length > 0)];
  if (views.length !== 1) return null;
  const [view] = views;
  const {model} = view;
  const {x0, y0, width, height} = view.frame.bbox;
  const canvas = view.canvas_view.el.getBoundingClientRect();
  const tool = model.toolbar.tools.find((tool) => tool.type === "BoxSelectTool");
  const span = (range) => [range.start, range.end];
  if (!width || !Number.isFinite(model.x_range.start)) return null;
  return {left: canvas.x + x0, top: canvas.y + y0, width, height,
          x: span(model.x_range), y: span(model.y_range), box_select: tool.active};
}"""
"""The visible scatter plot with x-axis `label`: its frame on the page, ranges and box tool."""

_TITLES = """() => [...Bokeh.index.query((view) => view.model.type === "Figure"
  && view.el.isConnected && view.el.getClientRects().length > 0)]
  .map((view) => view.model.title?.text ?? "")"""
"""The titles of the visible Bokeh figures."""


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


def _new_page(browser: Browser) -> Page:
    """Return a page in a new browser context (its own cookies and storage: another reviewer)."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.set_default_navigation_timeout(TIMEOUT_MS)
    return page


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page; its last state is saved as a screenshot in build/test-artifacts."""
    page = _new_page(browser)
    try:
        yield page
    finally:
        _screenshot(page, request.node.name)
        page.context.close()


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "-", name)
    page.screenshot(path=ARTIFACTS / f"workbench-{safe}.png", full_page=True)


# What a reviewer does ---------------------------------------------------------------------------


def _open(page: Page, url: str, /, **query: object) -> None:
    """Load the app with URL parameters (``page``, ``row``, ``queue``); wait for the grid."""
    page.goto(f"{url}?{urlencode(query)}" if query else url)
    page.get_by_text(PAGE_LINE).wait_for()


def _fill(field: Locator, text: str) -> None:
    """Type `text` into a text field and commit it (Enter), as a person does."""
    field.fill(text)
    field.press("Enter")


def _sign_in(page: Page, name: str) -> None:
    """Give the reviewer's name where the page asks for it."""
    field = page.get_by_placeholder(re.compile("your name", re.IGNORECASE))
    _fill(field if field.count() else page.get_by_role("textbox").first, name)


def _tab(page: Page, name: str) -> None:
    """Show one of the page's tabs."""
    page.locator(".bk-tab").filter(has_text=re.compile(f"^{re.escape(name)}$")).click()


def _button(page: Page, name: str) -> Locator:
    """The grid's decision button `name` (the galaxy panel's Approve and Relabel come first)."""
    return page.get_by_role("button", name=name, exact=True).last


def _target(page: Page, label: str) -> None:
    """Make the grid's buttons apply to "Opened galaxy" or "Undecided on this page"."""
    button = page.get_by_role("button", name=label, exact=True)
    button.click()
    expect(button).to_have_class(re.compile(r"\bbk-active\b"))


def _cell_rows(page: Page, selector: str = ".cell[data-row]") -> list[int]:
    """The catalog rows of the grid's cells, in page order."""
    rows = page.locator(selector).evaluate_all("cells => cells.map(cell => cell.dataset.row)")
    return [int(row) for row in rows]


def _page_line(page: Page) -> tuple[int, int, int]:
    """The grid's page number, page count and galaxy count."""
    match = PAGE_LINE.search(page.get_by_text(PAGE_LINE).text_content() or "")
    assert match is not None
    page_number, pages, galaxies = (int(group) for group in match.groups())
    return page_number, pages, galaxies


def _all_grid_rows(page: Page) -> list[int]:
    """The catalog rows of every page of the grid's queue, turning the pages with Next."""
    number, pages, _ = _page_line(page)
    rows = _cell_rows(page)
    while number < pages:
        page.get_by_role("button", name="Next ▶").click()
        number += 1
        page.get_by_text(re.compile(rf"Page {number} of {pages}\b")).wait_for()
        rows += _cell_rows(page)
    return rows


def _wait_until(condition: Callable[[], T], what: str, timeout_s: float = 30) -> T:
    """Return `condition()` once it is true; fail saying `what` did not happen in time."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s} s")
        time.sleep(0.2)
    return value


def _decisions(workspace: Workspace, reviewer: str, n: int) -> list:
    """Wait until the ledger holds `n` decisions by `reviewer`; return them, oldest first."""
    ledger = workspace.ledger()
    return _wait_until(
        lambda: (rows := ledger.table(reviewer=reviewer)) and len(rows) >= n and rows[::-1],
        f"{n} decisions by {reviewer} did not reach the ledger",
    )


def _left_ms(since: float) -> float:
    """Milliseconds left of `SHOWN_WITHIN_MS` after `since` (a `time.monotonic` time)."""
    return max(1.0, SHOWN_WITHIN_MS - 1000 * (time.monotonic() - since))


def _object_ids(workspace: Workspace, rows: list[int]) -> list[int]:
    return workspace.catalog().column("object_id")[rows].tolist()


def _predicted(workspace: Workspace, rows: list[int], run: str = "r1") -> list[int]:
    return workspace.catalog().run(run).read("probs")[rows].argmax(axis=1).tolist()


# The tests --------------------------------------------------------------------------------------


@pytest.mark.ui
@pytest.mark.timeout(240)  # the first test also starts the server and its first session
@pytest.mark.parametrize(
    ("tab", "axes", "label"),
    [("Embedding", ("x", "y"), "t-SNE 1"), ("Sky", ("ra", "dec"), "RA (deg)")],
)
def test_a_box_selection_fills_the_grid(page, app_url, workbench, tab, axes, label):
    _open(page, app_url)
    _tab(page, tab)
    figure = page.wait_for_function(_FIGURE, arg=label).json_value()
    if not figure["box_select"]:
        page.locator('[title="Box Select"]:visible').click()
        assert page.evaluate(_FIGURE, label)["box_select"]
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

    points = GalaxyStore(workspace=workbench, run="r1").points  # what the server draws
    inner, outer = rows_in_box(-1), rows_in_box(1)  # one pixel of rounding either way
    assert inner, "the box holds no galaxy: move it"
    expect(page.get_by_text("The galaxies selected in the linked views")).to_be_visible()
    _wait_until(lambda: set(_cell_rows(page)) <= outer, "the grid did not show the selection")
    shown = _all_grid_rows(page)
    assert len(shown) == len(set(shown)) == _page_line(page)[2]
    assert shown == sorted(shown)  # the selection queue is in catalog order
    assert inner <= set(shown) <= outer
    assert len(shown) < len(points)


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_approving_a_page_records_one_decision_per_galaxy(page, app_url, workbench):
    _open(page, app_url, page=APPROVE_PAGE)
    shown = _cell_rows(page)
    assert len(shown) == 24
    assert _cell_rows(page, ".cell.none[data-row]") == shown, "the page has decisions already"
    _sign_in(page, "page-approver")
    _target(page, "Undecided on this page")
    _button(page, "Approve").click()
    page.get_by_text(f"approved: {len(shown)} galaxies (undecided on this page).").wait_for()
    decisions = _decisions(workbench, "page-approver", len(shown))
    assert len(decisions) == len(shown)
    assert [d.object_id for d in decisions] == _object_ids(workbench, shown)
    assert {(d.decision, d.run) for d in decisions} == {("approve", "r1")}
    assert [d.label for d in decisions] == _predicted(workbench, shown)
    expect(page.locator(".cell.approve")).to_have_count(len(shown))
    expect(page.locator(".cell .status").first).to_contain_text("page-approver")


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_undo_retracts_the_last_decision(page, app_url, workbench):
    object_id = _object_ids(workbench, [UNDO_ROW])[0]
    ledger = workbench.ledger()
    assert not ledger.history(object_id)
    _open(page, app_url, row=UNDO_ROW)
    _sign_in(page, "undoer")
    _target(page, "Opened galaxy")
    buttons = {  # the galaxy panel's, then the grid's on the opened galaxy
        "approve": page.get_by_role("button", name="Approve", exact=True).first,
        "unsure": _button(page, "Unsure"),
    }
    for decision, button in buttons.items():
        button.click()
        made = _wait_until(lambda: ledger.current().get(object_id), f"no {decision}")
        assert (made.decision, made.reviewer) == (decision, "undoer")
        page.get_by_role("button", name="Undo", exact=True).click()
        _wait_until(lambda: object_id not in ledger.current(), f"{decision} was not undone")
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
        _open(page, app_url, row=row)
        _sign_in(page, "relabeller")
        _target(page, "Opened galaxy")
        _button(page, decision).click()
        page.get_by_text(f"{done}: 1 galaxy (opened galaxy).").wait_for()
    relabelled, artefact = _decisions(workbench, "relabeller", 2)
    assert (relabelled.decision, artefact.decision) == ("relabel", "artefact")
    assert [relabelled.object_id, artefact.object_id] == _object_ids(
        workbench, [RELABEL_ROW, ARTEFACT_ROW]
    )
    (predicted,) = _predicted(workbench, [RELABEL_ROW])
    chosen = next_training_set(catalog, "r1", workbench.ledger().current(), top=5)
    labels = dict(zip(chosen.rows.tolist(), chosen.labels.tolist(), strict=True))
    assert labels[RELABEL_ROW] == 1 - predicted == 1 - catalog.column("label")[RELABEL_ROW]
    assert ARTEFACT_ROW not in labels
    assert chosen.n_relabelled >= 1
    assert chosen.n_left_out_artefact >= 1


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_typed_names_and_reasons_are_shown_as_text(page, app_url, workbench):
    _open(page, app_url, page=XSS_PAGE)
    _sign_in(page, XSS_NAME)
    row = _cell_rows(page)[0]
    page.locator(f'.cell[data-row="{row}"]').click()
    (object_id,) = _object_ids(workbench, [row])
    page.get_by_role("heading", name=re.compile(f"{object_id}$")).wait_for()
    _target(page, "Opened galaxy")
    _fill(page.get_by_placeholder("optional"), XSS_REASON)
    _button(page, "Unsure").click()
    (decision,) = _decisions(workbench, XSS_NAME, 1)
    assert (decision.object_id, decision.reviewer, decision.reason) == (
        object_id,
        XSS_NAME,
        XSS_REASON,
    )
    # A name the ledger refuses (too long): the error that says so names it.
    _sign_in(page, XSS_NAME + "x" * 100)
    page.get_by_role("button", name="Approve", exact=True).first.click()
    page.get_by_text("reviewer must be at most").first.wait_for()
    _assert_no_markup_ran(page)
    # A run name the Retrain tab refuses: the error quotes it.
    _tab(page, "Retrain")
    _fill(page.get_by_placeholder("e.g. r2"), XSS_NAME)
    page.get_by_role("button", name="Retrain", exact=True).click()
    expect(page.get_by_text(f"run name '{XSS_NAME}' is not allowed")).to_be_visible()
    assert job_status(workbench) is None
    _assert_no_markup_ran(page)

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
    _tab(page, "Decisions")
    table = page.locator(".tabulator-row").filter(has_text=str(object_id))
    expect(table).to_contain_text(XSS_NAME)
    expect(table).to_contain_text(XSS_REASON)
    expect(page.locator("tr").filter(has_text=XSS_NAME).first).to_be_visible()  # the counts
    _assert_no_markup_ran(page)


def _assert_no_markup_ran(page: Page) -> None:
    """Check that no typed markup became an element or ran."""
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    shadow_images = """() => {
      const found = [];
      const visit = (root) => root.querySelectorAll("*").forEach((node) => {
        if (node.tagName === "IMG" && node.getAttribute("src") === "x") found.push(node);
        if (node.shadowRoot) visit(node.shadowRoot);
      });
      visit(document);
      return found.length;
    }"""
    assert page.evaluate(shadow_images) == 0


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_two_reviewers_at_once_see_each_others_decisions(browser, app_url, workbench):
    names = ("reviewer-ana", "reviewer-bo")
    pages = [_new_page(browser), _new_page(browser)]
    try:
        shown = []
        for page, number, name in zip(pages, (ANA_PAGE, BO_PAGE), names, strict=True):
            _open(page, app_url, page=number)
            _sign_in(page, name)
            _target(page, "Undecided on this page")
            rows = _cell_rows(page)
            assert _cell_rows(page, ".cell.none[data-row]") == rows, "decided already"
            shown.append(rows)
        assert not set(shown[0]) & set(shown[1])
        for page in pages:  # both click before either decision is recorded
            _button(page, "Approve").click(no_wait_after=True)
        for page in pages:
            _tab(page, "Decisions")
        for name, rows in zip(names, shown, strict=True):
            decisions = _decisions(workbench, name, len(rows))
            assert [d.object_id for d in decisions] == _object_ids(workbench, rows)
        landed = time.monotonic()
        for page, other, rows in ((pages[0], names[1], shown[1]), (pages[1], names[0], shown[0])):
            counts = page.locator("tr").filter(has_text=other)  # the counts per reviewer
            expect(counts).to_contain_text(str(len(rows)), timeout=_left_ms(landed))
        # Bo takes the approvals back; Ana's page, idle, shows it.
        _tab(pages[1], "Review")
        _button(pages[1], "Undo").click()
        ledger = workbench.ledger()
        object_ids = set(_object_ids(workbench, shown[1]))
        _wait_until(lambda: not object_ids & set(ledger.current()), "the undo did not land")
        expect(pages[1].locator(".cell.none")).to_have_count(len(shown[1]))
        landed = time.monotonic()
        counts = pages[0].locator("tr").filter(has_text=names[1])
        expect(counts).to_have_count(0, timeout=_left_ms(landed))
    finally:
        for page, name in zip(pages, names, strict=True):
            _screenshot(page, f"two-reviewers-{name}")
            page.context.close()


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_the_metrics_tab_shows_the_stored_metrics(page, app_url, workbench):
    metrics = workbench.catalog().run("r1").attrs["test_metrics"]
    assert list(metrics) == ["hp_test/sdss"]
    _open(page, app_url)
    _tab(page, "Metrics")
    row = page.locator(".tabulator-row").filter(has_text="HP SDSS")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("r1")
    expect(row).to_contain_text(f"{metrics['hp_test/sdss']['accuracy']:.2%}")
    titles = page.wait_for_function(
        f"() => {{ const t = ({_TITLES})(); return t.includes('ROC curves') && t; }}"
    ).json_value()
    assert {"ROC curves", "Accuracy", "F1 score"} <= set(titles)


@pytest.mark.ui
@pytest.mark.timeout(360)  # trains, predicts, embeds and evaluates a network on two slow cores
def test_retraining_makes_a_new_run(page, app_url, workbench):
    _open(page, app_url)
    _tab(page, "Retrain")
    _fill(page.get_by_placeholder("e.g. r2"), "r3")
    _fill(page.get_by_role("textbox", name="Confident predictions per class"), "5")
    page.get_by_role("button", name="Retrain", exact=True).click()
    page.get_by_text("Running").first.wait_for()
    job = _wait_until(lambda: job_status(workbench), "no job started")
    assert (job.run, job.parent, job.top) == ("r3", "r1", 5)
    job = _wait_until(
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
    _tab(page, "Metrics")  # the new run beside its parent
    rows = page.locator(".tabulator-row").filter(has_text="HP SDSS")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("r3")
    expect(rows.last).to_contain_text("r1")
