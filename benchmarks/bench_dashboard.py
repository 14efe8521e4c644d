"""Linked datashaded views at catalog scale against the 3-D Plotly view that sent every point.

Usage::

    python benchmarks/bench_dashboard.py [--n 1000000] [--baseline-n 100000] [--workspace WS]

Writes a throw-away workspace of N objects through the session API (`store.CatalogWriter` with 8 px
random images, 64 per chunk; a run ``r1`` with random ``probs`` and a clustered ``embedding``
written with `Run.write`; no training), or uses WS if given (it is built there if missing and
kept). The measurements run in a fresh Python process, as a new server would, and report:

- per view, the server time to its first render (a session's view built and turned into
  Bokeh models by ``pn.panel(view).get_root()``, which runs the first datashader aggregation)
  and the bytes sent to the browser for it (the Bokeh ``PULL-DOC-REPLY`` message of a document
  holding only that view: JSON plus binary buffers); for the baseline, today's Plotly view at
  `--baseline-n` points (also the bytes of its figure JSON);
- the time from a box (and a lasso) selection of about 10,000 points in the 2-D projection to
  `ReviewSession.selection` being set, to the thumbnail grid (`GridView`) showing the first page
  of the selection (its HTML built, with the rows' statuses from the ledger), and until every
  view of the session has redrawn;
- the process's memory (RSS) after loading: after the imports, after one session with every
  view, and what each further session adds.

Datashader compiles its aggregations (numba) the first time they run in a process: that is
reported on its own (`warm_up`, to run when the server starts); the per-view times are a session
in a warmed-up server. Goals: datashaded first render < 2 s and < 2 MB at 1M points; selection
to grid < 300 ms; the 3-D payload bounded whatever N is.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from store import CatalogWriter, Workspace, sets_code
from store.catalog import IMAGE_CHUNK
from store.schema import OBJECT_COLUMNS

BOX_POINTS = 10_000
REPEATS = 5
GOALS = {"render_s": 2.0, "bytes": 2_000_000, "selection_ms": 300.0}  # selection: to the grid
IMAGE_SIZE = 8


def make_workspace(root: Path, n: int, seed: int = 0, *, image_size: int = IMAGE_SIZE) -> Workspace:
    """Write a catalog of `n` random objects and a run ``r1`` with probabilities and embedding."""
    rng = np.random.default_rng(seed)
    workspace = Workspace(root)
    columns = {name: np.zeros(n, dtype=dtype) for name, dtype in OBJECT_COLUMNS.items()}
    columns["object_id"][:] = np.arange(n) + 1237650000000000000
    columns["survey"][:] = rng.integers(0, 2, n)
    columns["ra"][:] = rng.uniform(0, 360, n)
    columns["dec"][:] = np.degrees(np.arcsin(rng.uniform(-0.9, 0.5, n)))
    truth = rng.integers(0, 2, n)
    columns["label"][:] = np.where(rng.random(n) < 0.5, truth, -1)
    labelled_set = np.where(rng.random(n) < 0.8, sets_code(["train"]), sets_code(["val"]))
    columns["sets"][:] = np.where(columns["label"] < 0, sets_code(["unlabelled"]), labelled_set)
    writer = CatalogWriter(
        workspace.catalog_path, columns, image_size=image_size, status_codes=["ok"]
    )
    block = IMAGE_CHUNK * 1024
    for start in range(0, n, block):
        shape = (min(block, n - start), image_size, image_size, 3)
        writer.write_images(start, rng.integers(0, 256, shape, dtype=np.uint8))
    writer.commit()
    p_spiral = np.clip(np.where(truth == 1, 0.85, 0.15) + rng.normal(0, 0.1, n), 0, 1)
    centres = rng.normal(0, 8, (12, 3))
    centres[6:] += 10 * np.array([1, 0.5, -0.5])
    cluster = rng.integers(0, 6, n) + 6 * truth
    embedding = centres[cluster] + rng.normal(0, 1.5, (n, 3))
    run = workspace.catalog().create_run("r1", config={"seed": seed}, parent=None)
    run.write("probs", np.stack([1 - p_spiral, p_spiral], axis=1))
    run.write("embedding", embedding)
    return workspace


# --- Baseline: the 3-D view before this change, copied from `git show HEAD:dashboard/views/
# embedding.py` (make_embedding_figure and its helpers, trimmed to what they need). ----------

BASELINE_COLOURS = {"elliptical": "#e4572e", "spiral": "#1f77b4", "none": "#9e9e9e"}


def baseline_figure(frame: Mapping[str, np.ndarray], color_by: str = "predicted") -> Any:  # noqa: ANN401
    """Return the old figure: every point of `frame`, one trace per category, hover text."""
    import plotly.graph_objects as go

    def trace(mask: np.ndarray, **options: Any) -> go.Scatter3d:  # noqa: ANN401
        text = [
            f"{s} {o}<br>predicted {p} ({c:.3f})<br>Galaxy Zoo: {la}"
            for s, o, p, c, la in zip(
                *(frame[k][mask] for k in ("survey", "object_id", "predicted", "confidence")),
                frame["label"][mask],
                strict=True,
            )
        ]
        return go.Scatter3d(
            x=frame["x"][mask],
            y=frame["y"][mask],
            z=frame["z"][mask],
            customdata=frame["row"][mask],
            text=np.array(text, dtype=str),
            hovertemplate="%{text}<extra></extra>",
            mode="markers",
            **options,
        )

    categories = frame[color_by]
    traces = [
        trace(categories == name, name=str(name), marker={"size": 4, "color": colour})
        for name, colour in BASELINE_COLOURS.items()
        if (categories == name).any()
    ]
    marker = {"size": 12, "color": "#111111", "symbol": "circle-open"}
    traces.append(trace(np.zeros(len(categories), dtype=bool), name="selected", marker=marker))
    figure = go.Figure(traces)
    figure.update_layout(uirevision="embedding", margin={"l": 0, "r": 0, "t": 30, "b": 0})
    return figure


# --- Measurements (run in a fresh process) --------------------------------------------------


def rss_mb() -> float:
    """Return this process's resident memory in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def render(make_view: Callable[[], Any]) -> tuple[float, int, Any]:
    """Build a view and its Bokeh models; return the seconds, the bytes sent and the view."""
    import panel as pn
    from bokeh.document import Document
    from bokeh.protocol import Protocol

    began = time.perf_counter()
    view = make_view()
    document = Document()
    document.add_root(pn.panel(view).get_root(document))
    seconds = time.perf_counter() - began
    message = Protocol().create("PULL-DOC-REPLY", "0", document)
    parts = (message.header_json, message.metadata_json, message.content_json)
    size = sum(len(part) for part in parts) + sum(len(b.to_bytes()) for b in message.buffers)
    return seconds, size, view


def box_around_median(x: np.ndarray, y: np.ndarray, count: int, shift: float) -> tuple:
    """Return a square box holding about `count` points, near the points' median."""
    cx, cy = np.median(x) + shift, np.median(y)
    low, high = 0.0, float(np.ptp(x))
    for _ in range(40):
        half = (low + high) / 2
        inside = np.count_nonzero((abs(x - cx) <= half) & (abs(y - cy) <= half))
        low, high = (half, high) if inside < count else (low, half)
    return (cx - high, cy - high, cx + high, cy + high)


MARKS: dict[str, Any] = {"page": 0.0}
"""How many rows the last selection held, and when the grid first showed a page of it."""


def on_selection(event: Any) -> None:  # noqa: ANN401
    """Note the size of a new selection."""
    MARKS["count"] = len(event.new)


def on_grid(grid: Any) -> None:  # noqa: ANN401
    """Note when the grid first shows rows of the new selection (its HTML is then built)."""
    rows = grid.page["row"]
    if MARKS["page"] is None and len(rows) and np.isin(rows, grid.session.selection).all():
        MARKS["page"] = time.perf_counter()


def time_selection(select: Callable[[], None]) -> dict[str, float]:
    """Time one selection: to `store.selection`, to its first grid page, to every redraw."""
    MARKS["page"] = None
    began = time.perf_counter()
    select()
    ended = time.perf_counter()
    if MARKS["page"] is None:
        msg = "the grid never showed the selection"
        raise RuntimeError(msg)
    return {
        "page_ms": (MARKS["page"] - began) * 1e3,
        "all_ms": (ended - began) * 1e3,
        "count": MARKS["count"],
    }


def session_views(workspace: Workspace) -> list[Any]:
    """Open a session (a session) and render its views and grid, as a browser tab would."""
    from dashboard.session import ReviewSession
    from dashboard.views.embedding import EmbeddingView, ProjectionView
    from dashboard.views.grid import GridView
    from dashboard.views.sky import SkyView

    session = ReviewSession(workspace=workspace)
    session.param.watch(on_selection, "selection")
    views = [cls(session=session) for cls in (ProjectionView, SkyView, EmbeddingView, GridView)]
    grid = views[-1]
    grid._grid.param.watch(lambda _: on_grid(grid), "markup")  # noqa: SLF001 (the page's HTML)
    for view in views:
        render(lambda view=view: view)
    return views


def measure_views(workspace: Workspace, baseline_n: int) -> dict[str, Any]:
    """Time each view's first render in a new session, and the baseline's, with their bytes."""
    import panel as pn

    from dashboard.session import ReviewSession
    from dashboard.views.embedding import EmbeddingView, ProjectionView, make_embedding_figure
    from dashboard.views.sky import SkyView

    result: dict[str, Any] = {}
    for name, cls in (("projection", ProjectionView), ("sky", SkyView), ("3-D", EmbeddingView)):
        session = ReviewSession(workspace=workspace)
        seconds, size, view = render(lambda cls=cls, session=session: cls(session=session))
        result[name] = {"render_s": seconds, "bytes": size, "n": session.count}
    (figure,) = view.__panel__().select(pn.pane.Plotly)
    result["3-D json"] = len(figure.object.to_json())
    sample = np.sort(np.random.default_rng(0).choice(session.count, baseline_n, replace=False))
    frame = {name: values[sample] for name, values in session.frame.items()}
    seconds, size, pane = render(lambda: pn.pane.Plotly(baseline_figure(frame)))
    result["baseline"] = {"render_s": seconds, "bytes": size, "n": baseline_n}
    result["baseline_json"] = len(pane.object.to_json())
    points = session.points.iloc[sample]
    seconds, size, _ = render(lambda: pn.pane.Plotly(make_embedding_figure(points)))
    result["3-D small"] = {"render_s": seconds, "bytes": size, "n": baseline_n}
    return result


def measure_selection(projection: Any) -> dict[str, Any]:  # noqa: ANN401
    """Time box and lasso selections of about `BOX_POINTS` points, and one zoom."""
    session = projection.session
    bounds, lasso, zoom = projection._bounds, projection._lasso, projection._range  # noqa: SLF001 (the browser's events)
    x, y = (session.points[name].to_numpy() for name in projection.axes())
    spread = float(np.std(x))
    boxes = [box_around_median(x, y, BOX_POINTS, 0.1 * k * spread) for k in range(REPEATS)]
    angles = np.linspace(0, 2 * np.pi, 64)
    circle = np.column_stack([np.cos(angles), np.sin(angles)])
    lassos = [
        np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]) + (b[2] - b[0]) / 2 * circle for b in boxes
    ]
    result: dict[str, Any] = {
        "box": [time_selection(lambda b=b: bounds.event(bounds=b)) for b in boxes],
        "lasso": [time_selection(lambda p=p: lasso.event(geometry=p)) for p in lassos],
    }
    result["zoom_ms"] = []
    for box in boxes:
        began = time.perf_counter()
        zoom.event(x_range=tuple(box[::2]), y_range=tuple(box[1::2]))
        result["zoom_ms"].append((time.perf_counter() - began) * 1e3)
    return result


def measure(root: Path, baseline_n: int) -> dict[str, Any]:
    """Measure everything in this (fresh) process and return the numbers."""
    began = time.perf_counter()
    from dashboard.views.datashaded import warm_up

    result: dict[str, Any] = {"import_s": time.perf_counter() - began, "rss_import": rss_mb()}
    began = time.perf_counter()
    warm_up()
    result["warm_up_s"] = time.perf_counter() - began
    workspace = Workspace(root)
    began = time.perf_counter()
    first = session_views(workspace)
    result["session_cold_s"] = time.perf_counter() - began
    result["rss_session"] = rss_mb()
    began = time.perf_counter()
    session_views(workspace)
    result["session_warm_s"] = time.perf_counter() - began
    result["rss_per_session"] = rss_mb() - result["rss_session"]
    result["n"] = first[0].session.count
    result |= measure_views(workspace, baseline_n)
    return result | measure_selection(first[0])


# --- Report ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """Return how a goal went."""
    return "met" if ok else "NOT met"


def report(result: Mapping[str, Any], built: float | None) -> None:
    """Print the tables."""
    if built is not None:
        print(f"workspace: {result['n']:,} objects written in {built:.1f} s")
    print(
        f"process: imports {result['import_s']:.1f} s; datashader compilation (warm_up, once"
        f" per process) {result['warm_up_s']:.1f} s; a session with the views and the grid:"
        f" {result['session_cold_s']:.1f} s for the first (reads the catalog),"
        f" {result['session_warm_s']:.1f} s for the next"
    )
    rows: Sequence[tuple[str, str]] = (
        ("3-D Plotly, every point (baseline)", "baseline"),
        ("3-D Plotly, bounded sample", "3-D small"),
        ("3-D Plotly, bounded sample", "3-D"),
        ("2-D projection, datashaded", "projection"),
        ("sky map, datashaded", "sky"),
    )
    base = result["baseline"]
    print(f"\n{'view':<36}{'points':>11}{'first render':>14}{'bytes sent':>13}{'vs baseline':>13}")
    for label, key in rows:
        row = result[key]
        ratio = base["bytes"] / row["bytes"]
        print(
            f"{label:<36}{row['n']:>11,}{row['render_s']:>12.2f} s"
            f"{row['bytes'] / 1e6:>10.2f} MB{ratio:>12.1f}x"
        )
    print(
        f"(figure JSON: baseline {result['baseline_json'] / 1e6:.2f} MB at {base['n']:,} points;"
        f" bounded sample {result['3-D json'] / 1e6:.2f} MB at {result['3-D']['n']:,})"
    )
    print(
        f"\n{'selection in the projection (median ms)':<44}{'points':>8}"
        f"{'to grid':>9}{'all views':>11}"
    )
    for kind in ("box", "lasso"):
        runs = result[kind]
        med = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
        print(f"{kind:<44}{med['count']:>8,.0f}{med['page_ms']:>9.0f}{med['all_ms']:>11.0f}")
    first, *then = result["zoom_ms"]
    print(
        f"zoom (a new aggregation of the projection, server side): {first:.0f} ms the first"
        f" time in the session, then {np.median(then):.0f} ms"
    )
    print(
        f"\nmemory (RSS): {result['rss_import']:.0f} MB after the imports,"
        f" {result['rss_session']:.0f} MB with one session of every view,"
        f" +{result['rss_per_session']:.0f} MB per further session"
    )
    shaded = [result[k] for k in ("projection", "sky")]
    fast = all(r["render_s"] < GOALS["render_s"] for r in shaded)
    small = all(r["bytes"] < GOALS["bytes"] for r in shaded)
    box = float(np.median([r["page_ms"] for r in result["box"]]))
    bounded = result["3-D"]["bytes"] < 2 * result["3-D small"]["bytes"]
    print(
        f"\ngoals: datashaded first render < {GOALS['render_s']:.0f} s: {verdict(fast)};"
        f" < {GOALS['bytes'] / 1e6:.0f} MB: {verdict(small)};"
        f" box selection to grid < {GOALS['selection_ms']:.0f} ms:"
        f" {verdict(box < GOALS['selection_ms'])};"
        f" 3-D bytes bounded: {verdict(bounded)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="objects in the catalog")
    parser.add_argument("--baseline-n", type=int, default=100_000, help="points in the baseline")
    parser.add_argument("--workspace", type=Path, help="keep (or reuse) the workspace here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.baseline_n)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workspace or Path(tmp) / "ws"
        built = None
        if not (root / "catalog.zarr").exists():
            began = time.perf_counter()
            make_workspace(root, args.n)
            built = time.perf_counter() - began
        command = [sys.executable, __file__, "--measure", str(root)]
        command += ["--baseline-n", str(args.baseline_n)]
        out = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True).stdout
        report(json.loads(out.splitlines()[-1]), built)


if __name__ == "__main__":
    main()
