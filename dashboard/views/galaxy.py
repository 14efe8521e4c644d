"""The selected galaxy: its thumbnail from the session and what the catalog and the run say."""

from __future__ import annotations

import panel as pn
import param

from dashboard.data import Galaxy
from dashboard.notices import image_problem
from dashboard.text import plain
from dashboard.thumbnails import ImageUnavailableError, placeholder_png, thumbnail_png
from dashboard.views.base import View
from store import LABELS, NO_LABEL

__all__ = ["GalaxyView", "make_galaxy_markdown"]

THUMBNAIL_SIZE = 256
"""Displayed width of the thumbnail in pixels."""

NOTHING_SELECTED = "Click a point of the embedding to see that galaxy."


def make_galaxy_markdown(galaxy: Galaxy | None) -> str:
    """Describe a galaxy as Markdown: identity, position, prediction and Galaxy Zoo votes.

    Parameters
    ----------
    galaxy
        The galaxy, or None when nothing is selected.

    Returns
    -------
    str
        Markdown text (`NOTHING_SELECTED` for None).

    Examples
    --------
    >>> make_galaxy_markdown(None) == NOTHING_SELECTED
    True
    """
    if galaxy is None:
        return NOTHING_SELECTED
    probs = " / ".join(f"P({name}) {p:.3f}" for name, p in zip(LABELS, galaxy.probs, strict=True))
    predicted = f"**{galaxy.predicted_name}** ({probs})"
    if galaxy.predicted == NO_LABEL:
        predicted = "none: no prediction in this run"
    return "\n".join(
        [
            f"### {galaxy.survey.upper()} {galaxy.object_id}",
            "",
            "| | |",
            "|---|---|",
            f"| RA, Dec | {galaxy.ra:.5f}, {galaxy.dec:+.5f} |",
            f"| Predicted | {predicted} |",
            f"| Galaxy Zoo | P_EL {galaxy.gz_p_el:.3f}, P_CS {galaxy.gz_p_cs:.3f},"
            f" NVOTE {galaxy.gz_nvote}, label **{galaxy.label}** |",
            f"| Sets | {', '.join(galaxy.sets) or 'none'} |",
            f"| Catalog row | {galaxy.row} |",
        ]
    )


class GalaxyView(View):
    """The selected galaxy's thumbnail, upscaled from the stored image, and its details."""

    @param.depends("session.selected_row")
    def _thumbnail(self) -> bytes | None:
        """Render the selected galaxy's stored image (a placeholder if it cannot be read)."""
        row = self.session.selected_row
        try:
            return None if row is None else thumbnail_png(self.session.workspace, row)
        except ImageUnavailableError:  # `_details` says why
            return placeholder_png(THUMBNAIL_SIZE)

    @param.depends("session.run", "session.selected_row")
    def _details(self) -> str:
        """Describe the selected galaxy; say so if its image cannot be read."""
        galaxy = self.session.galaxy
        problem = image_problem(self.session.workspace, galaxy)
        return make_galaxy_markdown(galaxy) + (f"\n\n> {plain(problem)}" if problem else "")

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the thumbnail above the details."""
        return pn.Column(
            pn.pane.PNG(self._thumbnail, width=THUMBNAIL_SIZE, height=THUMBNAIL_SIZE),
            pn.pane.Markdown(self._details, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
