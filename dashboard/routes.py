"""HTTP endpoints beside the dashboard: galaxy thumbnails straight from the Zarr catalog.

Panel adds a plugin module's `ROUTES` to its Tornado server (Panel docs, "Add custom
endpoints")::

    export GALCORE_WORKSPACE=WS
    panel serve dashboard/app.py --plugins dashboard.routes --args --workspace WS

``galcore serve --workspace WS`` does both. A plugin is imported by name and takes no arguments,
so the workspace comes from the environment variable `WORKSPACE_VARIABLE`, read when Panel
imports this module; without it, or without a catalog in it, every thumbnail answers 503.

``GET /thumb/<row>.png[?size=N][&v=VERSION]`` answers the PNG of the catalog's image of that row
(a row index, never a path), enlarged by a whole factor to at least N pixels (`DEFAULT_SIZE`,
at most `MAX_SIZE`). Its ETag holds the catalog's data version and ``If-None-Match`` is answered
with 304. A URL naming the current version (`thumbnail_url`) is cached as immutable; without it
the browser revalidates on each use (a 304), so a re-curated catalog is never shown stale.
A malformed path or an unknown row answers 404, a bad size 400; an image whose chunk is missing
or corrupt answers a "no image" placeholder with an ``X-Galcore-Problem`` header.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlencode

from tornado.web import HTTPError, RequestHandler

from dashboard.data_store import data_version
from dashboard.thumbnails import ImageUnavailableError, placeholder_png, thumbnail_png
from store import StoreError, Workspace

__all__ = [
    "DEFAULT_SIZE",
    "MAX_SIZE",
    "ROUTES",
    "WORKSPACE_VARIABLE",
    "ThumbnailHandler",
    "thumbnail_routes",
    "thumbnail_url",
]

WORKSPACE_VARIABLE = "GALCORE_WORKSPACE"
"""The environment variable naming the workspace whose thumbnails are served."""

DEFAULT_SIZE = 128
"""Smallest width of a thumbnail in pixels, unless ``?size=`` asks for another."""

MAX_SIZE = 1024
"""Largest ``?size=`` accepted."""

PROBLEM_HEADER = "X-Galcore-Problem"
"""Names what went wrong when a placeholder is answered instead of the image."""

_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "public, no-cache"
_NAME = re.compile(r"(\d+)\.png", re.ASCII)


class ThumbnailHandler(RequestHandler):
    """Answer ``GET /thumb/<row>.png`` with a catalog image (see the module docstring)."""

    def initialize(self, workspace: Workspace | None) -> None:
        """Keep the workspace given in the route's keyword arguments."""
        self.workspace = workspace

    async def prepare(self) -> None:
        """Refuse a request from a browser that has not signed in, when the server asks to.

        Under ``panel serve --basic-auth`` or OAuth, Bokeh's application holds the provider
        that knows the signed-in user; a server without one serves everyone.
        """
        provider = getattr(self.application, "auth_provider", None)
        if provider is None or (provider.get_user is None and provider.get_user_async is None):
            return
        if provider.get_user is not None:
            user = provider.get_user(self)
        else:
            user = await provider.get_user_async(self)
        if not user:
            raise HTTPError(403, "sign in to the dashboard first")

    def compute_etag(self) -> None:
        """Send no body hash: only images get an entity tag, the one `get` builds."""

    def get(self, name: str) -> None:
        """Answer the thumbnail, a 304 or a placeholder; raise `HTTPError` for a bad request."""
        match = _NAME.fullmatch(name)
        if match is None:
            raise HTTPError(404, "no thumbnail %r: ask for /thumb/<row>.png", name)
        size = self._size()
        if self.workspace is None:
            msg = "no workspace: start the dashboard with 'galcore serve --workspace WS' or set %s"
            raise HTTPError(503, msg, WORKSPACE_VARIABLE)
        row = int(match[1])
        version = data_version(self.workspace)
        try:
            png = thumbnail_png(self.workspace, row, min_size=size, version=version)
        except IndexError as error:
            raise HTTPError(404, "no galaxy at row %d in the catalog", row) from error
        except ImageUnavailableError as error:
            problem = str(error).splitlines()[0].encode("ascii", "replace").decode()
            self.set_header(PROBLEM_HEADER, problem)
            self.set_header("Cache-Control", "no-store")
            self._png(placeholder_png(size))
            return
        except StoreError as error:
            raise HTTPError(503, "%s", error) from error
        self.set_header("Etag", f'"{version}-{row}-{size}"')
        current = self.get_argument("v", None) == str(version)
        self.set_header("Cache-Control", _IMMUTABLE if current else _REVALIDATE)
        if self.check_etag_header():
            self.set_status(304)
        else:
            self._png(png)

    def write_error(self, status_code: int, **kwargs: Any) -> None:  # noqa: ANN401
        """Answer an error as one short line of text (never a traceback)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, HTTPError) and error.log_message:
            text = error.log_message % error.args
        else:
            text = f"{status_code} {self._reason}"
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(f"{text}\n")

    def _size(self) -> int:
        """Return the asked ``size``, `DEFAULT_SIZE` if none; raise a 400 if it is not allowed."""
        text = self.get_argument("size", str(DEFAULT_SIZE))
        size = int(text) if text.isascii() and text.isdigit() else 0
        if not 1 <= size <= MAX_SIZE:
            raise HTTPError(400, "size must be a whole number of pixels from 1 to %d", MAX_SIZE)
        return size

    def _png(self, png: bytes) -> None:
        self.set_header("Content-Type", "image/png")
        self.write(png)


def thumbnail_routes(workspace: Workspace | None) -> list[tuple[str, type, dict[str, Any]]]:
    """Return the Tornado routes that serve a workspace's thumbnails.

    Parameters
    ----------
    workspace
        The workspace; None answers 503 with what to do.

    Returns
    -------
    list of (str, type, dict)
        ``(pattern, RequestHandler class, keyword arguments)`` tuples, as ``--plugins`` and
        ``tornado.web.Application`` take them.
    """
    return [(r"/thumb/(.*)", ThumbnailHandler, {"workspace": workspace})]


def thumbnail_url(row: int, *, size: int | None = None, version: int | None = None) -> str:
    """Return the URL path of a row's thumbnail.

    Parameters
    ----------
    row
        The catalog row.
    size
        The smallest width in pixels; None for `DEFAULT_SIZE`.
    version
        The catalog's `data_version`: browsers then keep the image as immutable (a new
        version makes a new URL). None to have them revalidate it on each use.

    Returns
    -------
    str
        E.g. ``/thumb/12.png?size=256``.

    Examples
    --------
    >>> thumbnail_url(12, size=256, version=7)
    '/thumb/12.png?size=256&v=7'
    """
    query = urlencode({k: v for k, v in {"size": size, "v": version}.items() if v is not None})
    return f"/thumb/{int(row)}.png" + (f"?{query}" if query else "")


_root = os.environ.get(WORKSPACE_VARIABLE)
ROUTES = thumbnail_routes(Workspace(_root) if _root else None)
"""What ``panel serve --plugins dashboard.routes`` serves: the workspace from the environment."""
