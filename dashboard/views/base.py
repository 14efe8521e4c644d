"""The base class of every dashboard view."""

from __future__ import annotations

import param
from panel.viewable import Viewer

from dashboard.data_store import GalaxyStore

__all__ = ["View"]


class View(Viewer):
    """A view of the shared `GalaxyStore`; views link to each other only through the store.

    Parameters
    ----------
    store
        The store whose data, filters and selection the view shows.
    """

    store = param.ClassSelector(
        class_=GalaxyStore, doc="The shared data, filters and selection that the view shows."
    )
