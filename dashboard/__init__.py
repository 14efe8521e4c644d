"""The Panel dashboard: review a run's 3-D embedding, its galaxies and their labels.

Serve it with ``panel serve dashboard/app.py --args --workspace WS`` or ``galcore serve``.
It reads and writes through `store` only and never imports TensorFlow.
"""

from __future__ import annotations

from dashboard.data import Galaxy
from dashboard.session import ReviewSession
from dashboard.thumbnails import thumbnail_png

__all__ = ["Galaxy", "ReviewSession", "thumbnail_png"]
