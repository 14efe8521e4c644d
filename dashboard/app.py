"""The galaxy review dashboard.

Serve it with::

    panel serve dashboard/app.py --args --workspace WS

or ``galcore serve --workspace WS``. The selected run and galaxy are kept in the page's URL
(``?run=r1&row=12``), so a link shows the same galaxy again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import panel as pn

from dashboard.notices import markdown_text, page_notices
from dashboard.session import ReviewSession
from dashboard.views import (
    DecisionsView,
    EmbeddingView,
    GalaxyView,
    GridView,
    MetricsView,
    ProjectionView,
    RetrainView,
    ReviewView,
    SkyView,
)
from dashboard.views.datashaded import warm_up
from store import StoreError, StoreNotFoundError, Workspace

__all__ = [
    "TITLE",
    "URL_PARAMETERS",
    "build_app",
    "build_error_page",
    "open_session",
    "parse_workspace",
]

TITLE = "Galaxy morphology review"

_SIDEBAR_WIDTH = 260
_GALAXY_WIDTH = 440

URL_PARAMETERS = {"run": "run", "selected_row": "row", "queue": "queue", "page": "page"}
"""ReviewSession parameters kept in the URL, and their query names."""


def parse_workspace(argv: Sequence[str]) -> Path | None:
    """Return the ``--workspace`` value from the app's arguments (None if it is not given).

    Parameters
    ----------
    argv
        What ``panel serve dashboard/app.py --args ...`` passes after ``--args``.

    Returns
    -------
    pathlib.Path or None
        The workspace folder.
    """
    parser = argparse.ArgumentParser(prog="dashboard/app.py", add_help=False)
    parser.add_argument("--workspace", type=Path, default=None)
    args, _ = parser.parse_known_args(list(argv))
    return args.workspace


def open_session(workspace: Path | None) -> ReviewSession:
    """Open the workspace's newest embedded run (or its newest run, or none yet).

    Parameters
    ----------
    workspace
        The workspace folder.

    Returns
    -------
    ReviewSession
        The session, showing the newest run with an embedding; without one, the newest run with
        predictions, else the newest run, else no run (the catalog's galaxies only).

    Raises
    ------
    StoreNotFoundError
        If no workspace is given, or it has no catalog; the message says which command to run.
    """
    if workspace is None:
        msg = (
            "no workspace given: start the dashboard with 'galcore serve --workspace WS'"
            " or 'panel serve dashboard/app.py --args --workspace WS'"
        )
        raise StoreNotFoundError(msg)
    ws = Workspace(workspace)
    if not (ws.catalog_path / "zarr.json").is_file():
        msg = (
            f"no catalog in workspace {workspace}: run 'galcore demo --workspace {workspace}'"
            f" for a demo, or 'galcore curate' to build one from survey files"
        )
        raise StoreNotFoundError(msg)
    return ReviewSession(workspace=ws)


def build_app(
    session: ReviewSession, url_args: dict[str, list[bytes]] | None = None
) -> pn.template.BootstrapTemplate:
    """Return the dashboard page of a session.

    Parameters
    ----------
    session
        The session the views share.
    url_args
        The query arguments of the page's link; by default the served session's. Each valid
        one is applied to the session; the others, and a workspace without runs, get a warning
        above the tabs (`dashboard.notices.page_notices`).

    Returns
    -------
    panel.template.BootstrapTemplate
        The filters in the sidebar. The main area's tabs: *Review* (the linked views of the
        embedding, the sky and the 3-D sample, the opened galaxy with its review, and the grid
        of the current queue or selection), *Decisions* (the ledger), *Metrics* (the run and its
        parent) and *Retrain* (the next run as a background job). The template loads nothing
        from the internet.
    """
    args = pn.state.session_args if url_args is None else url_args
    notices = page_notices(session, args, URL_PARAMETERS)  # the link's values first
    views = pn.Tabs(
        ("Embedding", ProjectionView(session=session)),
        ("Sky", SkyView(session=session)),
        ("3-D", EmbeddingView(session=session)),
        dynamic=True,  # only the visible view is sent to the browser
    )
    galaxy = pn.Column(
        GalaxyView(session=session), ReviewView(session=session), width=_GALAXY_WIDTH
    )
    review = pn.Column(
        pn.Row(views, galaxy, sizing_mode="stretch_width"),
        GridView(session=session),
        sizing_mode="stretch_width",
    )
    tabs = pn.Tabs(
        ("Review", review),
        ("Decisions", DecisionsView(session=session)),
        ("Metrics", MetricsView(session=session)),
        ("Retrain", RetrainView(session=session)),
        sizing_mode="stretch_width",
    )
    return pn.template.BootstrapTemplate(
        title=TITLE, sidebar=[session], main=[*notices, tabs], sidebar_width=_SIDEBAR_WIDTH
    )


def build_error_page(message: str) -> pn.template.BootstrapTemplate:
    """Return a page that says why the dashboard cannot be shown and what to run.

    Parameters
    ----------
    message
        The explanation, e.g. a `StoreNotFoundError` message.

    Returns
    -------
    panel.template.BootstrapTemplate
        The page.
    """
    return pn.template.BootstrapTemplate(
        title=TITLE, main=[pn.pane.Alert(markdown_text(message), alert_type="warning")]
    )


def _serve() -> None:
    """Build this session's page, keep its selection in the URL and serve it."""
    pn.extension("plotly", "tabulator")
    warm_up()  # datashader's compilation, once per server process
    try:
        session = open_session(parse_workspace(sys.argv[1:]))
    except StoreError as error:
        build_error_page(str(error)).servable()
        return
    if pn.state.user:  # served with --basic-auth or OAuth: decisions carry the login name
        session.param.update(reviewer=pn.state.user, signed_in=True)
    pn.state.location.sync(session, URL_PARAMETERS)
    build_app(session).servable()


if pn.state.served:
    _serve()
