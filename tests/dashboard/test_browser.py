"""Serving the dashboard: `galcore serve`, and a real browser session against `panel serve`.

The browser test clicks a point of the 3-D scatter with the real mouse: it finds marker-coloured
pixels in a screenshot of the plot, moves the mouse there until Plotly's hover label appears,
and presses the button (a 3-D click fires on mouse-down, picked from the hovered point).
"""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from dashboard.routes import WORKSPACE_VARIABLE
from dashboard.views.embedding import COLOURS
from galcore.cli.serve import serve_command, serve_command_parser
from store import StoreNotFoundError, Workspace
from tests.dashboard.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    TIMEOUT_MS,
    free_port,
    galcore_serve,
    panel_serve,
    serving,
)

HOVER_S = 3.0
FIRST_PAGE_MS = 4 * TIMEOUT_MS  # a first session compiles datashader: slow on a busy machine
HOVER_ID = re.compile(r"(sdss|des) (\d+)")


class TestServeCommand:
    def test_defaults(self):
        args = serve_command_parser().parse_args(["--workspace", "ws"])
        expected = (Path("ws"), 5006, "127.0.0.1", False)
        assert (args.workspace, args.port, args.address, args.show) == expected
        assert args.allow_websocket_origin == []
        assert args.func is serve_command

    def test_runs_panel_serve_on_the_app(self, review_workspace, capsys):
        argv = ["--workspace", str(review_workspace.root), "--port", "5123", "--show"]
        argv += ["--allow-websocket-origin", "galaxies.example.org:5123"]
        argv += ["--allow-websocket-origin", "localhost:5123"]
        args = serve_command_parser().parse_args(argv)
        with mock.patch("subprocess.run", return_value=subprocess.CompletedProcess([], 0)) as run:
            assert serve_command(args) == 0
        (command,), options = run.call_args
        assert command[1:4] == ["-m", "panel", "serve"]
        assert Path(command[4]) == ROOT / "dashboard" / "app.py"
        assert command[command.index("--plugins") + 1] == "dashboard.routes"
        origins = [
            command[k + 1] for k, arg in enumerate(command) if arg == "--allow-websocket-origin"
        ]
        assert origins == ["127.0.0.1:5123", "localhost:5123", "galaxies.example.org:5123"]
        assert "--show" in command
        assert command[-3:] == ["--args", "--workspace", str(review_workspace.root)]
        assert options["env"][WORKSPACE_VARIABLE] == str(review_workspace.root)
        assert options["env"]["PATH"] == os.environ["PATH"]
        assert "http://127.0.0.1:5123/app" in capsys.readouterr().out

    def test_ctrl_c_stops_cleanly(self, review_workspace):
        args = serve_command_parser().parse_args(["--workspace", str(review_workspace.root)])
        with mock.patch("subprocess.run", side_effect=KeyboardInterrupt):
            assert serve_command(args) == 0

    def test_workspace_without_catalog(self, tmp_path):
        args = serve_command_parser().parse_args(["--workspace", str(tmp_path)])
        with (
            mock.patch("subprocess.run") as run,
            pytest.raises(StoreNotFoundError, match="no catalog at"),
        ):
            serve_command(args)
        run.assert_not_called()


def _marker_pixels(page: Page, colour: str) -> list[tuple[float, float]]:
    """Page positions inside markers of `colour`, nearest the plot's centre first."""
    plot = page.locator(".js-plotly-plot")
    box = plot.bounding_box()
    image = np.asarray(Image.open(io.BytesIO(plot.screenshot())).convert("RGB")).astype(int)
    rgb = np.array([int(colour[k : k + 2], 16) for k in (1, 3, 5)])
    inside = np.abs(image - rgb).sum(axis=2) < 30
    core = inside[2:-2, 2:-2].copy()
    for dy in range(5):
        for dx in range(5):
            core &= inside[dy : dy + core.shape[0], dx : dx + core.shape[1]]
    ys, xs = np.nonzero(core)
    scale = image.shape[1] / box["width"]
    points = [
        (box["x"] + (x + 2) / scale, box["y"] + (y + 2) / scale)
        for x, y in zip(xs, ys, strict=True)
    ]
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    return sorted(points, key=lambda p: (p[0] - centre[0]) ** 2 + (p[1] - centre[1]) ** 2)


def _hover(page: Page, x: float, y: float) -> str | None:
    """Move the mouse to (x, y); return Plotly's hover label there, or None."""
    page.mouse.move(x - 4, y - 4)
    page.wait_for_timeout(100)
    page.mouse.move(x, y)
    label = page.locator(".hovertext")
    deadline = time.monotonic() + HOVER_S
    while time.monotonic() < deadline:
        if label.count():
            return label.first.text_content()
        page.wait_for_timeout(100)
    return None


def _click_a_point(page: Page) -> tuple[str, int]:
    """Click a spiral marker with the real mouse; return the survey and object id hovered."""
    for x, y in _marker_pixels(page, COLOURS["spiral"])[::25][:12]:
        text = _hover(page, x, y)
        if text and (match := HOVER_ID.search(text)):
            page.mouse.down()
            page.wait_for_timeout(200)
            page.mouse.up()
            return match.group(1), int(match.group(2))
    pytest.fail("no marker of the 3-D scatter showed a hover label")


def _thumbnail_pixels(page: Page) -> np.ndarray:
    image = page.locator('img[src^="data:image/png"]')
    image.wait_for(timeout=TIMEOUT_MS)
    source = image.get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))


def _wait_for_decision(workspace: Workspace, object_id: int) -> list:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if history := workspace.ledger().history(object_id):
            return history
        time.sleep(0.2)
    pytest.fail(f"no decision about {object_id} reached the ledger")


def _review_a_point(page: Page, workspace: Workspace) -> int:
    """Click a point, check what the page shows, approve it; return its catalog row."""
    page.get_by_text("3-D", exact=True).click()
    page.locator(".js-plotly-plot .legendtext").first.wait_for(timeout=TIMEOUT_MS)
    survey, object_id = _click_a_point(page)
    heading = page.get_by_role("heading", name=f"{survey.upper()} {object_id}", exact=True)
    heading.wait_for(timeout=TIMEOUT_MS)
    row = int(np.flatnonzero(workspace.catalog().column("object_id") == object_id)[0])
    np.testing.assert_array_equal(
        _thumbnail_pixels(page)[::8, ::8], workspace.catalog().images[row]
    )
    page.get_by_text(re.compile(r"P_EL \d\.\d{3}, P_CS \d\.\d{3}, NVOTE")).wait_for()
    reviewer = page.get_by_role("textbox").first  # the review panel's, before the grid's
    reviewer.fill("ui-tester")
    reviewer.press("Enter")
    page.get_by_role("button", name="Approve").first.click()
    (decision,) = _wait_for_decision(workspace, object_id)
    assert (decision.decision, decision.reviewer, decision.run) == ("approve", "ui-tester", "r1")
    page.get_by_text("approved").first.wait_for(timeout=TIMEOUT_MS)
    return row


@pytest.mark.ui
@pytest.mark.timeout(180)
def test_review_in_the_browser(review_workspace, tmp_path):
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        page = browser.pages[0] if browser.pages else browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.set_default_navigation_timeout(TIMEOUT_MS)
        try:
            command = panel_serve(review_workspace, port)
            with serving(command, port, tmp_path / "panel-serve.log") as url:
                page.goto(url, timeout=FIRST_PAGE_MS)  # the server's first session
                row = _review_a_point(page, review_workspace)
                page.screenshot(path=ARTIFACTS / "dashboard.png")
            command = galcore_serve(review_workspace, port)
            log = tmp_path / "galcore-serve.log"
            with serving(command, port, log, cwd=tmp_path) as url:  # not the repository
                page.goto(f"{url}?row={row}", timeout=FIRST_PAGE_MS)
                page.get_by_text("approved").first.wait_for(timeout=TIMEOUT_MS)
                page.get_by_text("ui-tester").first.wait_for(timeout=TIMEOUT_MS)
        finally:
            browser.close()
