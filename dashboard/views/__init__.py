"""The dashboard's views; each shows part of the shared `GalaxyStore`."""

from __future__ import annotations

from dashboard.views.base import View
from dashboard.views.embedding import EmbeddingView, make_embedding_figure
from dashboard.views.galaxy import GalaxyView, make_galaxy_markdown
from dashboard.views.review import ReviewView, make_history_markdown, make_status_line

__all__ = [
    "EmbeddingView",
    "GalaxyView",
    "ReviewView",
    "View",
    "make_embedding_figure",
    "make_galaxy_markdown",
    "make_history_markdown",
    "make_status_line",
]
