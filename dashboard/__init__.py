"""The Panel dashboard: review a run's 3-D embedding, its galaxies and their labels.

Serve it with ``panel serve dashboard/app.py --args --workspace WS`` or ``galcore serve``.
It reads and writes through `store` only and never imports TensorFlow.
"""

from __future__ import annotations

from dashboard.data_store import Galaxy, GalaxyStore
from dashboard.thumbnails import thumbnail_png

__all__ = ["Galaxy", "GalaxyStore", "thumbnail_png"]
