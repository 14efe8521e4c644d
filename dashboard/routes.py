"""HTTP endpoints beside the dashboard: galaxy thumbnails straight from the Zarr catalog.

Panel adds a plugin module's `ROUTES` to its Tornado server (Panel docs, "Add custom
endpoints")::

    export GALCORE_WORKSPACE=WS
    panel serve dashboard/app.py --plugins dashboard.routes --args --workspace WS

``galcore serve --workspace WS`` does both. A plugin is imported by name and takes no arguments,
so the workspace comes from the environment variable `WORKSPACE_VARIABLE`, read when Panel
imports this module; without it, or without a catalog in it, every thumbnail answers 503.

``GET /thumb/<row>.png[?size=N][&v=VERSION]`` answers the PNG of the catalog's image of that row
(a row index, never a path), enlarged by a whole factor to at least N pixels, N rounded up to
one of `SIZES` (`DEFAULT_SIZE` when not given), so the server keeps a bounded set of renders.
Images are rendered in `RENDER_THREADS` worker threads, never on the server's event loop: a slow
render delays no other request, and a thumbnail rendered before is answered at once.

Its ETag holds the catalog's data version and ``If-None-Match`` is answered with 304. A URL
naming the current version (`thumbnail_url`) is cached as immutable; without it the browser
revalidates on each use (a 304), so a re-curated catalog is never shown stale. Behind a login
(``panel serve --basic-auth`` or OAuth) images are cached ``private``, never by shared caches.
A malformed path or an unknown row answers 404, a bad row number or size 400, each with a short
plain-text line; a server error (5xx) answers a generic line and logs its detail. An image whose
chunk is missing or corrupt answers a "no image" placeholder with an ``X-Galcore-Problem`` header.
"""

from __future__ import annotations

import os
import re
import reprlib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from urllib.parse import urlencode

from tornado.ioloop import IOLoop
from tornado.web import HTTPError, RequestHandler

from dashboard.data import data_version
from dashboard.thumbnails import (
    ImageUnavailableError,
    cached_thumbnail_png,
    placeholder_png,
    thumbnail_png,
)
from store import StoreError, Workspace

__all__ = [
    "DEFAULT_SIZE",
    "MAX_ROW_DIGITS",
    "MAX_SIZE",
    "PROBLEM_HEADER",
    "RENDER_THREADS",
    "ROUTES",
    "SIZES",
    "WORKSPACE_VARIABLE",
    "ThumbnailHandler",
    "thumbnail_routes",
    "thumbnail_url",
]

WORKSPACE_VARIABLE = "GALCORE_WORKSPACE"
"""The environment variable naming the workspace whose thumbnails are served."""

SIZES = (32, 64, 128, 256, 512, 1024)
"""The smallest widths rendered, in pixels: ``?size=N`` is rounded up to the next of them."""

DEFAULT_SIZE = 128
"""Smallest width of a thumbnail in pixels, unless ``?size=`` asks for another."""

MAX_SIZE = SIZES[-1]
"""Largest ``?size=`` accepted."""

MAX_ROW_DIGITS = 15
"""Longest row number read: a longer one answers 400 (no catalog comes near 10**15 rows)."""

RENDER_THREADS = min(4, os.cpu_count() or 1)
"""Worker threads that read and encode thumbnails (image encoding releases Python's lock)."""

PROBLEM_HEADER = "X-Galcore-Problem"
"""Names what went wrong when a placeholder is answered instead of the image."""

_IMMUTABLE = "max-age=31536000, immutable"
_REVALIDATE = "no-cache"
_NAME = re.compile(r"(\d+)\.png", re.ASCII)
_render_pool = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="thumbnail")


class ThumbnailHandler(RequestHandler):
    """Answer ``GET /thumb/<row>.png`` with a catalog image (see the module docstring)."""

    def initialize(self, workspace: Workspace | None) -> None:
        """Keep the workspace given in the route's keyword arguments."""
        self.workspace = workspace

    def set_default_headers(self) -> None:
        """Have browsers take every answer as the type it names, images and errors alike."""
        self.set_header("X-Content-Type-Options", "nosniff")

    def login_required(self) -> bool:
        """Return whether the server asks for a login (``panel serve --basic-auth``, OAuth).

        Bokeh's application then holds a provider that knows the signed-in user; a server
        without one serves everyone.
        """
        provider = getattr(self.application, "auth_provider", None)
        return provider is not None and (
            provider.get_user is not None or provider.get_user_async is not None
        )

    async def prepare(self) -> None:
        """Refuse a request from a browser that has not signed in, when the server asks to."""
        if not self.login_required():
            return
        provider = self.application.auth_provider
        if provider.get_user is not None:
            user = provider.get_user(self)
        else:
            user = await provider.get_user_async(self)
        if not user:
            raise HTTPError(403, "sign in to the dashboard first")

    def compute_etag(self) -> None:
        """Send no body hash: only images get an entity tag, the one `get` builds."""

    async def get(self, name: str) -> None:
        """Answer the thumbnail, a 304 or a placeholder; raise `HTTPError` for a bad request."""
        row = self._row(name)
        size = self._size()
        if self.workspace is None:
            msg = "no workspace: start the dashboard with 'galcore serve --workspace WS' or set %s"
            raise HTTPError(503, msg, WORKSPACE_VARIABLE)
        version = data_version(self.workspace)
        try:
            png = cached_thumbnail_png(
                self.workspace, row, min_size=size, version=version
            ) or await IOLoop.current().run_in_executor(
                _render_pool,
                partial(thumbnail_png, self.workspace, row, min_size=size, version=version),
            )
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
        scope = "private" if self.login_required() else "public"
        current = self.get_argument("v", None) == str(version)
        self.set_header("Cache-Control", f"{scope}, {_IMMUTABLE if current else _REVALIDATE}")
        if self.check_etag_header():
            self.set_status(304)
        else:
            self._png(png)

    def write_error(self, status_code: int, **kwargs: Any) -> None:  # noqa: ANN401
        """Answer an error as one short line of text (never a traceback).

        A server error's detail may name the server's files: it goes to the log only (Tornado
        logs each error), and the answer says where to look.
        """
        error = kwargs.get("exc_info", (None, None, None))[1]
        if status_code >= 500:
            text = f"{status_code} {self._reason}: see the dashboard server's log"
        elif isinstance(error, HTTPError) and error.log_message:
            text = error.log_message % error.args
        else:
            text = f"{status_code} {self._reason}"
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(f"{text}\n")

    def _row(self, name: str) -> int:
        """Return the row a ``<row>.png`` name asks for; raise a 404 or 400 if it names none."""
        match = _NAME.fullmatch(name)
        if match is None:
            raise HTTPError(404, "no thumbnail %s: ask for /thumb/<row>.png", reprlib.repr(name))
        if len(match[1]) > MAX_ROW_DIGITS:
            raise HTTPError(400, "row must be a whole number of at most %d digits", MAX_ROW_DIGITS)
        return int(match[1])

    def _size(self) -> int:
        """Return the asked ``size`` rounded up to one of `SIZES`; raise a 400 if not allowed."""
        text = self.get_argument("size", str(DEFAULT_SIZE))
        digits = len(str(MAX_SIZE))
        size = int(text) if text.isascii() and text.isdigit() and len(text) <= digits else 0
        if not 1 <= size <= MAX_SIZE:
            raise HTTPError(400, "size must be a whole number of pixels from 1 to %d", MAX_SIZE)
        return next(allowed for allowed in SIZES if allowed >= size)

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
