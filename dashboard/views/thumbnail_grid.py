"""The browser side of the thumbnail grid: shows the cells, reports clicks and shortcut keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import param
from panel.custom import JSComponent

__all__ = ["ThumbnailGrid"]


class ThumbnailGrid(JSComponent):
    """Shows the grid's HTML; reports a click on a cell and the shortcut keys pressed.

    Messages to Python: ``{"row": n}`` for a click on the cell of catalog row n,
    ``{"key": k}`` for a key of `shortcut_keys` pressed with no modifier but Shift, outside a
    text field, while the grid is visible (an upper-case letter only with Shift, never from
    Caps Lock).
    """

    markup = param.String(default="", doc="The cells, from `make_grid_html` (already escaped).")
    shortcut_keys = param.List(default=[], item_type=str, doc="The keys to report when pressed.")

    _esm = """
    export function render({ model }) {
      const grid = document.createElement("div");
      grid.innerHTML = model.markup;
      model.on("markup", () => { grid.innerHTML = model.markup; });
      grid.addEventListener("click", (event) => {
        const cell = event.target.closest("[data-row]");
        if (cell) model.send_msg({ row: Number(cell.dataset.row) });
      });
      const typing = (node) => node.isContentEditable
        || ["INPUT", "TEXTAREA", "SELECT"].includes(node.tagName);
      const onKey = (event) => {
        if (event.ctrlKey || event.metaKey || event.altKey) return;
        if (grid.getClientRects().length === 0) return;  // hidden, e.g. in another tab
        if (/^[A-Z]$/.test(event.key) && !event.shiftKey) return;  // caps lock: not a page action
        if (!model.shortcut_keys.includes(event.key) || typing(event.composedPath()[0])) return;
        event.preventDefault();
        model.send_msg({ key: event.key });
      };
      document.addEventListener("keydown", onKey);
      model.on("remove", () => document.removeEventListener("keydown", onKey));
      return grid;
    }
    """

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        super().__init__(**params)
        self.receiver: Callable[[Any], None] | None = None

    def _handle_msg(self, data: Any) -> None:  # noqa: ANN401
        """Pass a message from the browser to `receiver`."""
        if self.receiver is not None:
            self.receiver(data)
