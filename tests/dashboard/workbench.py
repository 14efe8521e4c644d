"""Helpers of the workbench's browser tests: what a reviewer does on the page, and what it shows.

Each drives a Playwright `Page` of the app as a person does (opening a page of the grid, typing a
name, choosing a tab, a target or a button) or reads the page and the ledger back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from store import Workspace
from tests.dashboard.browser import ARTIFACTS, TIMEOUT_MS

__all__ = [
    "FIGURE_JS",
    "PAGE_LINE",
    "SHOWN_WITHIN_MS",
    "TITLES_JS",
    "VIEWPORT",
    "all_grid_rows",
    "assert_no_markup_ran",
    "cell_rows",
    "choose_target",
    "fill",
    "grid_button",
    "left_ms",
    "new_page",
    "object_ids_of",
    "open_app",
    "page_line",
    "predicted_classes",
    "screenshot",
    "show_tab",
    "sign_in",
    "wait_for_decisions",
    "wait_until",
]

T = TypeVar("T")

VIEWPORT = {"width": 1400, "height": 1000}
"""The size of every page of the workbench tests."""
COMMIT_PAUSE_MS = 500
"""The pause between committing a typed value and the next action."""
SHOWN_WITHIN_MS = 5000
"""How soon a page shows what another reviewer decided."""
PAGE_LINE = re.compile(r"Page (\d+) of (\d+) · (\d+) galax")
"""The grid's paging line: page number, page count and galaxy count."""


FIGURE_JS = """(label) => {
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

TITLES_JS = """() => [...Bokeh.index.query((view) => view.model.type === "Figure"
  && view.el.isConnected && view.el.getClientRects().length > 0)]
  .map((view) => view.model.title?.text ?? "")"""
"""The titles of the visible Bokeh figures."""


def new_page(browser: Browser) -> Page:
    """Return a page in a new browser context (its own cookies and storage: another reviewer)."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.set_default_navigation_timeout(TIMEOUT_MS)
    return page


def screenshot(page: Page, name: str) -> None:
    """Save the whole page as ``workbench-<name>.png`` in `ARTIFACTS`."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "-", name)
    page.screenshot(path=ARTIFACTS / f"workbench-{safe}.png", full_page=True)


def open_app(page: Page, url: str, /, **query: object) -> None:
    """Load the app with URL parameters (``page``, ``row``, ``queue``); wait for the grid."""
    page.goto(f"{url}?{urlencode(query)}" if query else url)
    page.get_by_text(PAGE_LINE).wait_for()


def fill(field: Locator, text: str) -> None:
    """Type `text` into a text field and commit it (Enter), as a person does.

    A person then takes a moment before the next click; without one, a click could reach a
    busy server before the value did (seen now and then on two loaded cores).
    """
    field.fill(text)
    field.press("Enter")
    field.page.wait_for_timeout(COMMIT_PAUSE_MS)


def sign_in(page: Page, name: str) -> None:
    """Give the reviewer's name where the page asks for it."""
    field = page.get_by_placeholder(re.compile("your name", re.IGNORECASE))
    fill(field if field.count() else page.get_by_role("textbox").first, name)


def show_tab(page: Page, name: str) -> None:
    """Show one of the page's tabs."""
    page.locator(".bk-tab").filter(has_text=re.compile(f"^{re.escape(name)}$")).click()


def grid_button(page: Page, name: str) -> Locator:
    """The grid's decision button `name` (the galaxy panel's Approve and Relabel come first)."""
    return page.get_by_role("button", name=name, exact=True).last


def choose_target(page: Page, label: str) -> None:
    """Make the grid's buttons apply to "Opened galaxy" or "Undecided on this page"."""
    button = page.get_by_role("button", name=label, exact=True)
    button.click()
    expect(button).to_have_class(re.compile(r"\bbk-active\b"))


def cell_rows(page: Page, selector: str = ".cell[data-row]") -> list[int]:
    """The catalog rows of the grid's cells, in page order."""
    rows = page.locator(selector).evaluate_all("cells => cells.map(cell => cell.dataset.row)")
    return [int(row) for row in rows]


def page_line(page: Page) -> tuple[int, int, int]:
    """The grid's page number, page count and galaxy count."""
    match = PAGE_LINE.search(page.get_by_text(PAGE_LINE).text_content() or "")
    assert match is not None
    page_number, pages, galaxies = (int(group) for group in match.groups())
    return page_number, pages, galaxies


def all_grid_rows(page: Page) -> list[int]:
    """The catalog rows of every page of the grid's queue, turning the pages with Next."""
    number, pages, _ = page_line(page)
    rows = cell_rows(page)
    while number < pages:
        page.get_by_role("button", name="Next ▶").click()
        number += 1
        page.get_by_text(re.compile(rf"Page {number} of {pages}\b")).wait_for()
        rows += cell_rows(page)
    return rows


def wait_until(condition: Callable[[], T], what: str, timeout_s: float = 30) -> T:
    """Return `condition()` once it is true; fail saying `what` did not happen in time."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s} s")
        time.sleep(0.2)
    return value


def wait_for_decisions(workspace: Workspace, reviewer: str, n: int) -> list:
    """Wait until the ledger holds `n` decisions by `reviewer`; return them, oldest first."""
    ledger = workspace.ledger()
    return wait_until(
        lambda: (rows := ledger.table(reviewer=reviewer)) and len(rows) >= n and rows[::-1],
        f"{n} decisions by {reviewer} did not reach the ledger",
    )


def left_ms(since: float) -> float:
    """Milliseconds left of `SHOWN_WITHIN_MS` after `since` (a `time.monotonic` time)."""
    return max(1.0, SHOWN_WITHIN_MS - 1000 * (time.monotonic() - since))


def object_ids_of(workspace: Workspace, rows: list[int]) -> list[int]:
    """The object ids of catalog `rows`."""
    return workspace.catalog().column("object_id")[rows].tolist()


def predicted_classes(workspace: Workspace, rows: list[int], run: str = "r1") -> list[int]:
    """The classes `run` predicts for catalog `rows`."""
    return workspace.catalog().run(run).read("probs")[rows].argmax(axis=1).tolist()


def assert_no_markup_ran(page: Page) -> None:
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
