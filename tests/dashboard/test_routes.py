"""The thumbnail endpoint: ROUTES served by a real Tornado HTTP server, and by `galcore serve`."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import logging
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from email.message import Message

import numpy as np
import pytest
from PIL import Image
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application

from dashboard.data_store import data_version
from dashboard.routes import (
    DEFAULT_SIZE,
    PROBLEM_HEADER,
    WORKSPACE_VARIABLE,
    thumbnail_routes,
    thumbnail_url,
)
from dashboard.thumbnails import placeholder_png
from store import Workspace
from tests.conftest import TOY_SIZE, make_toy_workspace
from tests.dashboard import browser
from tests.dashboard.test_thumbnails import chunk_file

FACTOR = DEFAULT_SIZE // TOY_SIZE


@contextlib.contextmanager
def serving(workspace: Workspace | None) -> Iterator[int]:
    """Serve `thumbnail_routes(workspace)` on a free port from a background thread."""
    sock, port = bind_unused_port()
    started = threading.Event()
    control: list = []

    async def serve() -> None:
        server = HTTPServer(Application(thumbnail_routes(workspace)))
        server.add_sockets([sock])
        stop = asyncio.Event()
        control.append((asyncio.get_running_loop(), stop))
        started.set()
        await stop.wait()
        server.stop()
        await server.close_all_connections()

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    assert started.wait(10)
    try:
        yield port
    finally:
        loop, stop = control[0]
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def get(port: int, path: str, **headers: str) -> tuple[int, Message, bytes]:
    """GET `path`; return the status, the headers and the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def decode(body: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


@pytest.fixture
def port(toy_workspace) -> Iterator[int]:
    with serving(toy_workspace) as port:
        yield port


class TestThumbnail:
    @pytest.mark.parametrize("row", [0, 3, 64, 199])
    def test_pixels_are_the_stored_image(self, toy_workspace, port, row):
        status, headers, body = get(port, f"/thumb/{row}.png")
        assert (status, headers["Content-Type"]) == (200, "image/png")
        pixels = decode(body)
        assert pixels.shape == (FACTOR * TOY_SIZE, FACTOR * TOY_SIZE, 3)
        stored = toy_workspace.catalog().images[row]
        np.testing.assert_array_equal(pixels[::FACTOR, ::FACTOR], stored)
        np.testing.assert_array_equal(pixels[FACTOR - 1 :: FACTOR, FACTOR - 1 :: FACTOR], stored)

    def test_larger_size(self, toy_workspace, port):
        status, _, body = get(port, thumbnail_url(5, size=256))
        pixels = decode(body)
        assert (status, pixels.shape) == (200, (256, 256, 3))
        np.testing.assert_array_equal(pixels[::8, ::8], toy_workspace.catalog().images[5])

    def test_cache_headers_and_304(self, toy_workspace, port):
        _, headers, _ = get(port, "/thumb/3.png")
        etag = headers["ETag"]
        assert str(data_version(toy_workspace)) in etag
        assert headers["Cache-Control"] == "public, no-cache"
        status, again, body = get(port, "/thumb/3.png", **{"If-None-Match": etag})
        assert (status, body, again["ETag"]) == (304, b"", etag)
        assert get(port, "/thumb/4.png", **{"If-None-Match": etag})[0] == 200

    def test_versioned_url_is_immutable(self, toy_workspace, port):
        version = data_version(toy_workspace)
        _, headers, _ = get(port, thumbnail_url(3, version=version))
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        _, stale, _ = get(port, thumbnail_url(3, version=version - 1))
        assert stale["Cache-Control"] == "public, no-cache"

    def test_new_catalog_gives_a_new_etag(self, toy_workspace, port):
        _, before, _ = get(port, "/thumb/3.png")
        make_toy_workspace(toy_workspace.root, seed=1)
        status, after, body = get(port, "/thumb/3.png", **{"If-None-Match": before["ETag"]})
        assert status == 200
        assert after["ETag"] != before["ETag"]
        pixels = decode(body)[::FACTOR, ::FACTOR]
        np.testing.assert_array_equal(pixels, toy_workspace.catalog().images[3])

    @pytest.mark.parametrize(
        ("path", "text"),
        [
            pytest.param("/thumb/-1.png", "no thumbnail '-1.png'", id="row-minus-1"),
            pytest.param("/thumb/200.png", "no galaxy at row 200", id="row-N"),
            pytest.param("/thumb/abc", "no thumbnail 'abc'", id="abc"),
            pytest.param("/thumb/abc.png", "no thumbnail 'abc.png'", id="abc.png"),
            pytest.param("/thumb/..%2Fcatalog.zarr%2Fzarr.json", "no thumbnail", id="path"),
            pytest.param("/thumb/3.png%25s", "no thumbnail '3.png%s'", id="percent"),
        ],
    )
    def test_not_found(self, port, path, text):
        status, headers, body = get(port, path)
        assert status == 404
        assert headers["Content-Type"].startswith("text/plain")
        assert body.decode().startswith(text)
        assert len(body) < 200

    @pytest.mark.parametrize("size", ["0", "abc", "1025", "-5", "1e3"])
    def test_bad_size(self, port, size):
        status, _, body = get(port, f"/thumb/3.png?size={size}")
        assert (status, body) == (400, b"size must be a whole number of pixels from 1 to 1024\n")


class TestBrokenImages:
    def check_placeholder(self, port: int, row: int, problem: str) -> None:
        status, headers, body = get(port, f"/thumb/{row}.png")
        assert (status, headers["Content-Type"]) == (200, "image/png")
        assert body == placeholder_png(DEFAULT_SIZE)
        assert headers[PROBLEM_HEADER].startswith(problem)
        assert headers["Cache-Control"] == "no-store"
        assert "ETag" not in headers

    def test_deleted_chunk(self, toy_workspace, port, caplog):
        chunk_file(toy_workspace, 1).unlink()
        for _ in range(2):
            self.check_placeholder(
                port, 70, "missing image chunk images/c/1/0/0/0 (rows 64 to 127)"
            )
        warnings = [r for r in caplog.records if r.name == "dashboard.thumbnails"]
        assert [r.levelno for r in warnings] == [logging.WARNING]
        assert get(port, "/thumb/3.png")[0] == 200

    def test_truncated_chunk(self, toy_workspace, port):
        path = chunk_file(toy_workspace, 2)
        path.write_bytes(path.read_bytes()[:100])
        self.check_placeholder(
            port, 130, "corrupt image chunk images/c/2/0/0/0 (rows 128 to 191): "
        )


class TestUnavailable:
    def test_workspace_without_catalog(self, tmp_path):
        with serving(Workspace(tmp_path)) as port:
            status, headers, body = get(port, "/thumb/3.png")
        assert (status, headers["Content-Type"]) == (503, "text/plain; charset=utf-8")
        assert body.decode().startswith(f"no catalog at {tmp_path / 'catalog.zarr'}")

    def test_no_workspace(self):
        with serving(None) as port:
            status, _, body = get(port, "/thumb/3.png")
        assert status == 503
        assert f"'galcore serve --workspace WS' or set {WORKSPACE_VARIABLE}" in body.decode()

    def test_routes_take_the_workspace_from_the_environment(self, tmp_path):
        code = (
            "import sys; from dashboard.routes import ROUTES;"
            " print(ROUTES[0][2]['workspace'].root, 'tensorflow' in sys.modules)"
        )
        env = {**os.environ, WORKSPACE_VARIABLE: str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.split() == [str(tmp_path), "False"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_galcore_serve_serves_thumbnails(toy_workspace, tmp_path):
    port = browser.free_port()
    command = browser.galcore_serve(toy_workspace, port)
    with (
        browser.serving(command, port, tmp_path / "galcore-serve.log", cwd=tmp_path),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/thumb/3.png", timeout=30) as reply,
    ):
        assert reply.headers["Content-Type"] == "image/png"
        pixels = decode(reply.read())
    np.testing.assert_array_equal(pixels[::FACTOR, ::FACTOR], toy_workspace.catalog().images[3])
