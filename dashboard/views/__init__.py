"""The dashboard's views; each shows part of the shared `ReviewSession`."""

from __future__ import annotations

from dashboard.views.base import View
from dashboard.views.decisions import DecisionsView, make_counts_html, make_decisions_frame
from dashboard.views.embedding import (
    EmbeddingView,
    ProjectionView,
    make_embedding_figure,
    make_embedding_plot,
)
from dashboard.views.galaxy import GalaxyView, make_galaxy_markdown
from dashboard.views.grid import GridView
from dashboard.views.grid_cells import make_cell_html, make_grid_html
from dashboard.views.metrics import MetricsView, make_metrics_figure, make_metrics_table
from dashboard.views.retrain import RetrainView, make_job_html, make_log_html
from dashboard.views.review import ReviewView, make_history_markdown, make_status_line
from dashboard.views.sky import SkyView, make_sky_plot

__all__ = [
    "DecisionsView",
    "EmbeddingView",
    "GalaxyView",
    "GridView",
    "MetricsView",
    "ProjectionView",
    "RetrainView",
    "ReviewView",
    "SkyView",
    "View",
    "make_cell_html",
    "make_counts_html",
    "make_decisions_frame",
    "make_embedding_figure",
    "make_embedding_plot",
    "make_galaxy_markdown",
    "make_grid_html",
    "make_history_markdown",
    "make_job_html",
    "make_log_html",
    "make_metrics_figure",
    "make_metrics_table",
    "make_sky_plot",
    "make_status_line",
]
