"""The thumbnail endpoint: ROUTES served by a real Tornado HTTP server, and by `galcore serve`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http.client
import io
import ipaddress
import logging
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application, RequestHandler

from dashboard import thumbnails
from dashboard.data import data_version
from dashboard.routes import (
    DEFAULT_SIZE,
    MAX_ROW_DIGITS,
    PROBLEM_HEADER,
    SIZES,
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
def serving(workspace: Workspace | None, *, auth_provider: object = None) -> Iterator[int]:
    """Serve `thumbnail_routes(workspace)` on a free port from a background thread.

    An `auth_provider` stands for the one Bokeh's application holds behind a login.
    """
    sock, port = bind_unused_port()
    started = threading.Event()
    control: list = []

    async def serve() -> None:
        application = Application(thumbnail_routes(workspace))
        if auth_provider is not None:
            application.auth_provider = auth_provider
        server = HTTPServer(application)
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

    @pytest.mark.parametrize(
        "size", ["0", "abc", "1025", "-5", "1e3", pytest.param("9" * 5000, id="5000-digits")]
    )
    def test_bad_size(self, port, size):
        status, headers, body = get(port, f"/thumb/3.png?size={size}")
        assert (status, body) == (400, b"size must be a whole number of pixels from 1 to 1024\n")
        assert headers["Content-Type"] == "text/plain; charset=utf-8"

    @pytest.mark.parametrize("digits", [MAX_ROW_DIGITS + 1, 5000])
    def test_row_too_long(self, port, digits):
        status, headers, body = get(port, f"/thumb/{'7' * digits}.png")
        assert status == 400
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert body == f"row must be a whole number of at most {MAX_ROW_DIGITS} digits\n".encode()

    def test_long_names_are_not_echoed(self, port):
        status, _, body = get(port, f"/thumb/{'x' * 5000}.png")
        assert status == 404
        assert body.decode().startswith("no thumbnail 'xxx")
        assert len(body) < 200

    @pytest.mark.parametrize(("asked", "served"), [(1, 32), (100, 128), (128, 128), (300, 512)])
    def test_sizes_round_up_to_a_bounded_set(self, port, asked, served):
        status, headers, body = get(port, thumbnail_url(5, size=asked))
        assert status == 200
        assert headers["ETag"].endswith(f'-5-{served}"')
        assert body == get(port, thumbnail_url(5, size=served))[2]
        assert served in SIZES
        assert decode(body).shape[0] == max(TOY_SIZE, -(-served // TOY_SIZE) * TOY_SIZE)

    @pytest.mark.parametrize("path", ["/thumb/3.png", "/thumb/abc", "/thumb/3.png?size=0"])
    def test_no_sniffing(self, port, path):
        assert get(port, path)[1]["X-Content-Type-Options"] == "nosniff"


class TestEventLoop:
    def test_a_slow_render_does_not_delay_a_cached_thumbnail(self, port, monkeypatch):
        assert get(port, "/thumb/3.png")[0] == 200  # rendered and cached
        rendering, release = threading.Event(), threading.Event()
        encode = thumbnails.encode_png

        def slow_encode(image: np.ndarray, min_size: int) -> bytes:
            rendering.set()
            release.wait(10)
            return encode(image, min_size)

        monkeypatch.setattr(thumbnails, "encode_png", slow_encode)
        slow: list = []
        thread = threading.Thread(target=lambda: slow.append(get(port, "/thumb/4.png")))
        thread.start()
        try:
            assert rendering.wait(10)
            began = time.perf_counter()
            status, _, _ = get(port, "/thumb/3.png")
            waited = time.perf_counter() - began
        finally:
            release.set()
            thread.join(10)
        assert (status, slow[0][0]) == (200, 200)
        assert waited < 1  # the slow render holds it up to 10 s when it runs on the event loop


def _user_from_cookie(handler: RequestHandler) -> str | None:
    return handler.get_cookie("user")


class TestBehindALogin:
    @pytest.fixture
    def port(self, toy_workspace) -> Iterator[int]:
        provider = SimpleNamespace(get_user=_user_from_cookie, get_user_async=None)
        with serving(toy_workspace, auth_provider=provider) as port:
            yield port

    def test_needs_a_signed_in_user(self, port):
        status, headers, body = get(port, "/thumb/3.png")
        assert (status, body) == (403, b"sign in to the dashboard first\n")
        assert headers["X-Content-Type-Options"] == "nosniff"

    def test_images_are_private(self, toy_workspace, port):
        version = data_version(toy_workspace)
        _, headers, _ = get(port, "/thumb/3.png", Cookie="user=ana")
        assert headers["Cache-Control"] == "private, no-cache"
        status, headers, _ = get(port, thumbnail_url(3, version=version), Cookie="user=ana")
        assert status == 200
        assert headers["Cache-Control"] == "private, max-age=31536000, immutable"
        assert headers["X-Content-Type-Options"] == "nosniff"


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


UNAVAILABLE = b"503 Service Unavailable: see the dashboard server's log\n"


class TestUnavailable:
    def test_workspace_without_catalog(self, tmp_path, caplog):
        with serving(Workspace(tmp_path)) as port:
            status, headers, body = get(port, "/thumb/3.png")
        assert (status, headers["Content-Type"], body) == (
            503,
            "text/plain; charset=utf-8",
            UNAVAILABLE,
        )
        assert f"no catalog at {tmp_path / 'catalog.zarr'}" in caplog.text  # for the operator

    def test_no_workspace(self, caplog):
        with serving(None) as port:
            status, _, body = get(port, "/thumb/3.png")
        assert (status, body) == (503, UNAVAILABLE)
        assert f"'galcore serve --workspace WS' or set {WORKSPACE_VARIABLE}" in caplog.text

    def test_an_unexpected_error_is_logged_not_shown(self, port, monkeypatch, caplog):
        def fail(image: np.ndarray, min_size: int) -> bytes:
            raise OSError(f"cannot write /srv/secret/{min_size}")

        monkeypatch.setattr(thumbnails, "encode_png", fail)
        status, _, body = get(port, "/thumb/9.png")
        assert (status, body) == (
            500,
            b"500 Internal Server Error: see the dashboard server's log\n",
        )
        assert "cannot write /srv/secret/128" in caplog.text

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


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a certificate for 127.0.0.1 and its key as PEM files; return their paths."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_galcore_serve_serves_thumbnails_over_https(toy_workspace, tmp_path):
    cert_file, key_file = self_signed_certificate(tmp_path)
    port = browser.free_port()
    tls = ["--ssl-certfile", str(cert_file), "--ssl-keyfile", str(key_file)]
    command = [*browser.galcore_serve(toy_workspace, port), *tls]
    context = ssl.create_default_context(cafile=cert_file)
    with (
        browser.serving(command, port, tmp_path / "galcore-serve.log", cwd=tmp_path),
        urllib.request.urlopen(
            f"https://127.0.0.1:{port}/thumb/3.png", timeout=30, context=context
        ) as reply,
    ):
        assert reply.headers["Content-Type"] == "image/png"
        pixels = decode(reply.read())
    np.testing.assert_array_equal(pixels[::FACTOR, ::FACTOR], toy_workspace.catalog().images[3])
