"""The base class of every dashboard view."""

from __future__ import annotations

import param
from panel.viewable import Viewer

from dashboard.session import ReviewSession

__all__ = ["View"]


class View(Viewer):
    """A view of the shared `ReviewSession`; views link to each other only through the session.

    Parameters
    ----------
    session
        The session whose data, filters and selection the view shows.
    """

    session = param.ClassSelector(
        class_=ReviewSession, doc="The shared data, filters and selection that the view shows."
    )
