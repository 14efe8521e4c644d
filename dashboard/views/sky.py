"""The sky map: a datashaded RA/Dec plot of the session's rows, sharing the selection."""

from __future__ import annotations

import holoviews as hv

from dashboard.data import COLOR_COLUMNS
from dashboard.views.datashaded import (
    PLOT_HEIGHT,
    PLOT_WIDTH,
    ScatterView,
    make_scatter_plot,
)
from dashboard.views.rows import Frame

__all__ = ["SkyView", "make_sky_plot"]


def make_sky_plot(
    frame: Frame,
    *,
    color_by: str = COLOR_COLUMNS[0],
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    width: int = PLOT_WIDTH,
    height: int = PLOT_HEIGHT,
) -> hv.RGB:
    """Return a datashaded RA/Dec map of the frame's points, RA increasing to the left.

    Parameters
    ----------
    frame
        Plot data with columns ``ra``, ``dec`` (degrees) and `color_by`, e.g.
        `ReviewSession.points`.
    color_by, x_range, y_range, width, height
        As in `dashboard.views.datashaded.make_scatter_plot`; the ranges are in RA and Dec.

    Returns
    -------
    holoviews.RGB
        The image, with the box, lasso and tap tools.

    Raises
    ------
    ValueError
        If `color_by` is not one of `COLOR_COLUMNS`.

    Examples
    --------
    >>> plot = make_sky_plot(session.points, color_by="survey")  # doctest: +SKIP
    """
    image = make_scatter_plot(
        frame,
        "ra",
        "dec",
        color_by=color_by,
        x_range=x_range,
        y_range=y_range,
        width=width,
        height=height,
    )
    return image.opts(invert_xaxis=True)


class SkyView(ScatterView):
    """The session's rows on the sky; a box or lasso selects, a tap opens a galaxy."""

    def axes(self) -> tuple[str, str]:
        """Return RA and Dec."""
        return ("ra", "dec")

    def _draw(
        self,
        frame: Frame,
        *,
        x_range: tuple[float, float] | None,
        y_range: tuple[float, float] | None,
    ) -> hv.Element:
        """Draw the sky map."""
        return make_sky_plot(
            frame, color_by=self.session.color_by, x_range=x_range, y_range=y_range
        )
