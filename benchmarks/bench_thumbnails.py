"""Thumbnail latency over HTTP (``/thumb/<row>.png``) against today's PNG embedded in the page.

Usage::

    python benchmarks/bench_thumbnails.py [--n 100000] [--size 64] [--requests 200]

Writes a throw-away catalog of N objects with random images through `store.CatalogWriter` (64
images per chunk, as curation does), serves `dashboard.routes.thumbnail_routes` (what ROUTES
holds) on a real Tornado HTTP server in this process and times each thumbnail, in milliseconds:

- ``embedded PNG`` (the baseline): what the galaxy view does today when a galaxy is selected:
  one ``Catalog.read_images`` read, PNG encoding (cached per row, as before) and the update of a
  ``pn.pane.PNG``, which puts the PNG into the page as base64 (sending it over the websocket is
  not counted): for random rows (cold), then the same rows again (warm);
- ``HTTP``: ``GET /thumb/<row>.png`` for the same rows (cold: each row's first request), again
  (warm: the server's cache) and revalidated with ``If-None-Match`` (304);
- a grid page of 48 consecutive rows, cold, both ways;
- a cached thumbnail while 10 uncached large (1024 px) renders are in flight, from other clients:
  the wait one slow client imposes on everyone else (against the same thumbnail on an idle server).

Single galaxies are drawn at the galaxy view's 256 px, grid pages at the endpoint's default size.
The server runs on its own thread and event loop, as ``panel serve`` runs it beside its clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import panel as pn
from bokeh.document import Document
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application

from dashboard.routes import DEFAULT_SIZE, thumbnail_routes, thumbnail_url
from dashboard.thumbnails import encode_png
from dashboard.views.galaxy import THUMBNAIL_SIZE
from store import CatalogWriter, Workspace
from store.catalog import IMAGE_CHUNK
from store.schema import OBJECT_COLUMNS

GRID_PAGE = 48
GOAL_MS = 20
IN_FLIGHT = 10
LARGE_SIZE = 1024


def make_catalog(root: Path, n: int, size: int) -> Workspace:
    workspace = Workspace(root)
    columns = {name: np.zeros(n, dtype=dtype) for name, dtype in OBJECT_COLUMNS.items()}
    columns["object_id"] = np.arange(n)
    writer = CatalogWriter(workspace.catalog_path, columns, image_size=size, status_codes=["ok"])
    rng = np.random.default_rng(0)
    for start in range(0, n, IMAGE_CHUNK):
        shape = (min(IMAGE_CHUNK, n - start), size, size, 3)
        writer.write_images(start, rng.integers(0, 256, shape, dtype=np.uint8))
    writer.commit()
    return workspace


def embedded_png(workspace: Workspace) -> Callable[[int, int], None]:
    """Return today's path: read one image, encode it (cached) and show it in a PNG pane."""
    catalog = workspace.catalog(mode="r")
    pane = pn.pane.PNG(None, width=THUMBNAIL_SIZE, height=THUMBNAIL_SIZE)
    pane.get_root(Document())

    @lru_cache(maxsize=1024)
    def png(row: int, size: int) -> bytes:
        return encode_png(catalog.read_images([row])[0], size)

    def show(row: int, size: int) -> None:
        pane.object = png(row, size)

    return show


@contextlib.contextmanager
def serving(workspace: Workspace) -> Iterator[int]:
    """Serve `thumbnail_routes` on a free port from a thread with its own event loop."""
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
    started.wait(10)
    try:
        yield port
    finally:
        loop, stop = control[0]
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def fetch(port: int, path: str) -> float:
    """GET `path` on its own connection; return the seconds it took."""
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        reply.read()
        assert reply.status == 200, (path, reply.status)
    finally:
        connection.close()
    return time.perf_counter() - began


def measure_while_rendering(port: int, fresh: Iterator[int], trials: int) -> dict[str, list[float]]:
    """Time a cached thumbnail alone, then while `IN_FLIGHT` uncached large renders run."""
    cached = thumbnail_url(next(fresh), size=DEFAULT_SIZE)
    fetch(port, cached)
    times: dict[str, list[float]] = defaultdict(list)
    with ThreadPoolExecutor(IN_FLIGHT) as others:
        for _ in range(trials):
            times["cached idle"].append(fetch(port, cached))
            large = [thumbnail_url(next(fresh), size=LARGE_SIZE) for _ in range(IN_FLIGHT)]
            began = time.perf_counter()
            renders = [others.submit(fetch, port, path) for path in large]
            time.sleep(0.002)  # the large requests reach the server first
            times["cached busy"].append(fetch(port, cached))
            for render in renders:
                times["large render"].append(render.result())
            times["large batch"].append(time.perf_counter() - began)
    return times


async def measure(
    port: int, workspace: Workspace, rows: Sequence[int], grid: Sequence[int]
) -> dict[str, list[float]]:
    """Time both paths per thumbnail, alternating row by row so a busy machine slows both alike."""
    show = embedded_png(workspace)
    client = AsyncHTTPClient(force_instance=True)

    async def get(row: int, size: int, etag: str | None = None) -> HTTPResponse:
        url = f"http://127.0.0.1:{port}{thumbnail_url(row, size=size)}"
        headers = {"If-None-Match": etag} if etag else {}
        reply = await client.fetch(url, headers=headers, raise_error=False)
        assert reply.code == (304 if etag else 200), (url, reply.code, reply.body[:100])
        return reply

    times: dict[str, list[float]] = defaultdict(list)
    etags = {}
    try:
        last = len(workspace.catalog(mode="r")) - 1  # opens the catalog on both paths
        show(last, THUMBNAIL_SIZE)
        await get(last, THUMBNAIL_SIZE)
        for case, sample, size in [
            ("cold", rows, THUMBNAIL_SIZE),
            ("warm", rows, THUMBNAIL_SIZE),
            ("grid", grid, DEFAULT_SIZE),
        ]:
            for row in sample:
                began = time.perf_counter()
                show(row, size)
                times[f"embedded {case}"].append(time.perf_counter() - began)
                began = time.perf_counter()
                reply = await get(row, size)
                times[f"http {case}"].append(time.perf_counter() - began)
                etags[case, row] = reply.headers["Etag"]
        for row in rows:
            began = time.perf_counter()
            await get(row, THUMBNAIL_SIZE, etags["warm", row])
            times["http 304"].append(time.perf_counter() - began)
    finally:
        client.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="objects in the catalog")
    parser.add_argument("--size", type=int, default=64, help="side of the stored images")
    parser.add_argument("--requests", type=int, default=200, help="random rows, cold and warm")
    parser.add_argument("--trials", type=int, default=20, help=f"batches of {IN_FLIGHT} renders")
    args = parser.parse_args()
    order = np.random.default_rng(1).permutation(args.n - 1).tolist()
    rows = order[: args.requests]
    fresh = iter(order[args.requests :])  # rows no other case asks for
    start = IMAGE_CHUNK * (args.n // IMAGE_CHUNK // 2) + IMAGE_CHUNK // 2  # across two chunks
    grid = list(range(start, start + GRID_PAGE))
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        workspace = make_catalog(Path(tmp) / "ws", args.n, args.size)
        built = time.perf_counter() - began
        print(f"catalog: {args.n:,} objects, {args.size} px, written in {built:.1f} s")
        with serving(workspace) as port:
            times = asyncio.run(measure(port, workspace, rows, grid))
            times.update(measure_while_rendering(port, fresh, args.trials))
    table = [
        ("embedded PNG, cold (baseline)", "embedded cold", "embedded cold"),
        ("HTTP /thumb, cold", "http cold", "embedded cold"),
        ("embedded PNG, warm (baseline)", "embedded warm", "embedded warm"),
        ("HTTP /thumb, warm", "http warm", "embedded warm"),
        ("HTTP /thumb, 304 revalidated", "http 304", "embedded warm"),
        (f"embedded PNG, grid of {GRID_PAGE} (baseline)", "embedded grid", "embedded grid"),
        (f"HTTP /thumb, grid of {GRID_PAGE}, cold", "http grid", "embedded grid"),
    ]
    print(
        f"{'case (ms per thumbnail)':<36}{'p50':>8}{'p95':>8}{'total':>10}{'p50 vs baseline':>18}"
    )
    for name, case, baseline in table:
        p50, p95 = np.percentile(np.array(times[case]) * 1e3, [50, 95])
        ratio = np.median(times[baseline]) / np.median(times[case])
        print(f"{name:<36}{p50:>8.2f}{p95:>8.2f}{sum(times[case]) * 1e3:>10.0f}{ratio:>17.2f}x")
    cold = np.median(times["http cold"]) * 1e3
    verdict = "met" if cold < GOAL_MS else "NOT met"
    print(f"goal: HTTP cold p50 < {GOAL_MS} ms: {verdict} ({cold:.1f} ms)")
    print(
        f"\nwhile {IN_FLIGHT} uncached {LARGE_SIZE} px renders are in flight ({args.trials} trials)"
    )
    print(f"{'case (ms)':<36}{'p50':>8}{'p95':>8}{'max':>8}")
    for name, case in [
        ("cached thumbnail, idle server", "cached idle"),
        ("cached thumbnail, during renders", "cached busy"),
        (f"one {LARGE_SIZE} px render (its client)", "large render"),
        (f"all {IN_FLIGHT} renders", "large batch"),
    ]:
        values = np.array(times[case]) * 1e3
        p50, p95 = np.percentile(values, [50, 95])
        print(f"{name:<36}{p50:>8.2f}{p95:>8.2f}{values.max():>8.2f}")


if __name__ == "__main__":
    main()
