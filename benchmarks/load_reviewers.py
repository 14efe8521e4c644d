"""Ten reviewers at once on a large workspace while a retraining runs, then the faults.

Usage::

    python benchmarks/load_reviewers.py [--n 100000] [--reviewers 10] [--seconds 180]
                                        [--workspace WS] [--skip-faults]

Everything runs on this machine, on loopback only, and stops by itself.

1. **Load.** Writes a workspace of N objects (32 px random images, a run ``r1`` with a training
   set, probabilities and an embedding; see `bench_dashboard.make_workspace`), serves it with
   ``galcore serve`` and starts ``galcore retrain`` (the ``test`` profile) beside it. REVIEWERS
   pages in headless chromium (one browser context each, one signed-in name each) then decide
   for SECONDS: two reviewers share each grid page, so they race for the same galaxies. Each
   action opens a thumbnail, presses a decision key and waits until the page says what was
   recorded (its latency is the time from the key to that message). At the end the ledger must
   hold exactly the decisions the pages said they recorded, per reviewer: none lost, none
   doubled. It prints the decisions, p50 / p95 latency and the server's memory (RSS).
2. **kill -9 in a bulk decision.** A process records one bulk decision of `BULK` galaxies
   (`Ledger.record_bulk`, one transaction) and is killed with SIGKILL at a random moment, again
   and again: each time the ledger holds all of the bulk or none of it. Then the same through
   the server: a reviewer approves a whole page (Shift+A) and the server is killed with SIGKILL
   a random few milliseconds later; the ledger holds the whole page or none of it.
3. **A full disk.** A workspace on a small tmpfs (mounted here; root only) is filled up: a
   decision in the page says the ledger is full and that nothing was saved; after space is
   freed the same decision is saved and earlier ones are all there. An addition to the catalog
   on the full disk fails with one clear error and leaves the catalog byte for byte as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_dashboard import make_workspace  # noqa: E402

from store import Workspace, set_mask  # noqa: E402

BULK = 10_000
KILL_TRIALS = 12
SERVER_KILL_TRIALS = 3
IMAGE_SIZE = 32
PAGE_SIZE = 24
START_S = 240
TIMEOUT_MS = 60_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DECISIONS = {"a": "approved", "u": "marked unsure", "x": "artefact", "r": "relabelled"}
MESSAGE = re.compile(r"^(\w[\w ]*): (\d+) galax(?:y|ies) \(opened galaxy\)\.(?: (\d+) galax)?")
PAGE_LINE = re.compile(r"Page (\d+) of (\d+) · (\d+) galax")


@dataclass
class Reviewer:
    """What one reviewer did and what the page said about it."""

    name: str
    page: int
    recorded: int = 0
    left_out: int = 0
    failed: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)


# --- Serving --------------------------------------------------------------------------------


def free_port() -> int:
    """Return a loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def galcore(*args: str) -> list[str]:
    """Return the command line of ``galcore ARGS`` in this environment."""
    return [str(Path(sys.executable).parent / "galcore"), *args]


@contextlib.contextmanager
def serving(workspace: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """Serve `workspace` with ``galcore serve`` on loopback; yield its URL and process."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            galcore("serve", "--workspace", str(workspace), "--port", str(port)),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_S
        while True:
            if server.poll() is not None:
                sys.exit(f"the server exited with {server.returncode}: see {log}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                sys.exit(f"the server did not listen within {START_S} s: see {log}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/app", server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def tree_rss_mb(process: subprocess.Popen) -> float:
    """The resident memory of `process` and its children, in MB."""
    with contextlib.suppress(psutil.NoSuchProcess):
        parent = psutil.Process(process.pid)
        members = [parent, *parent.children(recursive=True)]
        return sum(member.memory_info().rss for member in members) / 1e6
    return float("nan")


# --- The workspace --------------------------------------------------------------------------


def build(root: Path, n: int) -> Workspace:
    """Write the load workspace: `n` objects, a run r1 trained with the ``test`` profile."""
    import dataclasses

    from galcore.training import get_profile

    workspace = make_workspace(root, n, image_size=IMAGE_SIZE)
    catalog = workspace.catalog()
    train = np.flatnonzero(set_mask(catalog.column("sets"), "train"))[:2000]
    run = catalog.run("r1")
    run.update_attrs(config={"profile": dataclasses.asdict(get_profile("test")), "seed": 0})
    run.write("train_index", train)
    run.write("train_label", catalog.column("label")[train])
    return workspace


# --- Reviewers in the browser ---------------------------------------------------------------


async def open_page(browser, url: str, reviewer: Reviewer):  # noqa: ANN001, ANN201
    """Open the grid page of `reviewer`, sign in and aim the buttons at the opened galaxy."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(f"{url}?queue=uncertain&page={reviewer.page + 1}")
    await page.get_by_text(PAGE_LINE).wait_for(timeout=START_S * 1000)  # a cold server is slow
    name = page.get_by_placeholder(re.compile("your name", re.IGNORECASE))
    await name.fill(reviewer.name)
    await name.press("Enter")
    await page.wait_for_timeout(500)
    await page.get_by_role("button", name="Opened galaxy", exact=True).click()
    return page


async def message(page) -> str:  # noqa: ANN001
    """The grid's message (what the last action did), or ''."""
    said = page.get_by_text(re.compile(r"\(opened galaxy\)|Not recorded|was saved|not saved"))
    if not await said.count():
        return ""
    return (await said.last.text_content() or "").strip()


async def answer(page, before: str) -> str | None:  # noqa: ANN001
    """Wait for a grid message other than `before` (Panel's panes live in shadow roots, which
    only locators see); return it, or None after `TIMEOUT_MS`."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        said = await message(page)
        if said and said != before:
            return said
        await asyncio.sleep(0.02)
    return None


async def review(page, reviewer: Reviewer, deadline: float) -> None:  # noqa: ANN001
    """Decide about the galaxies of the reviewer's open page, one at a time, until `deadline`."""
    rng = random.Random(reviewer.name)
    keys = list(DECISIONS)
    turn = 0
    while time.monotonic() < deadline:
        cells = page.locator(".cell[data-row]")
        count = await cells.count()
        await cells.nth(rng.randrange(count)).click()
        await page.wait_for_timeout(200)
        before = await message(page)
        key = keys[turn % len(keys)]  # consecutive messages differ, so a new one is seen
        turn += 1
        pressed = time.monotonic()
        await page.keyboard.press(key)
        said = await answer(page, before)
        if said is None:
            reviewer.failed.append(f"no answer to '{key}' within {TIMEOUT_MS / 1000:.0f} s")
            continue
        reviewer.latencies_ms.append(1000 * (time.monotonic() - pressed))
        outcome = MESSAGE.match(said)
        if outcome is None:
            reviewer.failed.append(said)
            continue
        reviewer.recorded += int(outcome.group(2))
        reviewer.left_out += int(outcome.group(3) or 0)
    await page.context.close()


async def load(url: str, reviewers: list[Reviewer], seconds: float) -> None:
    """Run every reviewer at once in one headless chromium."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        # The pages open one after another (each first render costs the server), then all
        # decide together for `seconds`.
        pages = [await open_page(browser, url, reviewer) for reviewer in reviewers]
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(review(p, r, deadline) for p, r in zip(pages, reviewers, strict=True))
        )
        await browser.close()


def run_load(workspace: Workspace, n_reviewers: int, seconds: float, logs: Path) -> bool:
    """Measure the reviewers under load; return whether the ledger matches what pages said."""
    retrain = subprocess.Popen(
        galcore(
            "retrain",
            "--workspace",
            str(workspace.root),
            "--run",
            "r2",
            "--parent",
            "r1",
            "--top",
            "100",
        ),
        stdout=(logs / "retrain.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    reviewers = [Reviewer(f"reviewer-{k}", page=k // 2) for k in range(n_reviewers)]
    ledger = workspace.ledger()
    earlier = {r.name: ledger.size(reviewer=r.name) for r in reviewers}  # a kept workspace
    with serving(workspace.root, logs / "server-load.log") as (url, server):
        started = time.monotonic()
        asyncio.run(load(url, reviewers, seconds))
        elapsed = time.monotonic() - started
        rss = tree_rss_mb(server)
    job_running = retrain.poll() is None
    for name in ("r2.log", "r2.progress.jsonl"):
        job_file = workspace.root / "jobs" / name
        if job_file.exists():
            (logs / f"job-{name}").write_bytes(job_file.read_bytes())
    with contextlib.suppress(ProcessLookupError):
        os.killpg(retrain.pid, signal.SIGTERM)
    retrain.wait(timeout=60)

    in_ledger = {r.name: ledger.size(reviewer=r.name) - earlier[r.name] for r in reviewers}
    latencies = np.concatenate([r.latencies_ms for r in reviewers] or [[np.nan]])
    actions = sum(len(r.latencies_ms) for r in reviewers)
    recorded = sum(r.recorded for r in reviewers)
    lost = sum(max(0, r.recorded - in_ledger[r.name]) for r in reviewers)
    doubled = sum(max(0, in_ledger[r.name] - r.recorded) for r in reviewers)
    print("\n## Load: reviewers deciding at once while a retraining runs\n")
    print(
        "| reviewers | objects | seconds | actions | recorded | left out (raced) | in ledger"
        " | lost | doubled | unanswered | p50 ms | p95 ms | server RSS MB | job ran |"
    )
    print("|" + " --- |" * 14)
    print(
        f"| {n_reviewers} | {len(workspace.catalog()):,} | {elapsed:.0f} | {actions} |"
        f" {recorded} | {sum(r.left_out for r in reviewers)} | {sum(in_ledger.values())} |"
        f" {lost} | {doubled} | {sum(len(r.failed) for r in reviewers)} |"
        f" {np.nanpercentile(latencies, 50):.0f} | {np.nanpercentile(latencies, 95):.0f} |"
        f" {rss:.0f} | {'yes, throughout' if job_running else 'ended early'} |"
    )
    for r in reviewers:
        if r.failed:
            print(f"  {r.name}: {len(r.failed)} unanswered, e.g. {r.failed[0]!r}")
    return lost == 0 and doubled == 0


# --- kill -9 in the middle of a bulk decision -----------------------------------------------

_BULK_SCRIPT = """
import sys
import numpy as np
from store import Ledger
ledger = Ledger(sys.argv[1])
ids = np.arange(int(sys.argv[2]), dtype=np.int64) + int(sys.argv[3])
print("start", flush=True)
ledger.record_bulk(ids, "unsure", reviewer=sys.argv[4], seen=ledger.state())
print("done", flush=True)
"""


def kill_bulk_in_store(root: Path) -> bool:
    """SIGKILL a process in its bulk decision again and again; return whether each was atomic."""
    from store import Ledger

    ledger_path = root / "kill.sqlite"
    Ledger(ledger_path)
    outcomes = []
    for trial in range(KILL_TRIALS):
        name = f"killed-{trial}"
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _BULK_SCRIPT,
                str(ledger_path),
                str(BULK),
                str(trial * BULK),
                name,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert process.stdout is not None
        process.stdout.readline()  # "start": the ledger is open, the bulk begins
        time.sleep(random.Random(trial).uniform(0, 0.25))
        process.send_signal(signal.SIGKILL)
        process.wait()
        outcomes.append(Ledger(ledger_path).size(reviewer=name))
    atomic = all(count in (0, BULK) for count in outcomes)
    print(f"\n## kill -9 during a bulk decision of {BULK:,} galaxies ({KILL_TRIALS} trials)\n")
    print("| trial | decisions in the ledger |\n| --- | --- |")
    for trial, count in enumerate(outcomes):
        whole = "all" if count == BULK else "none" if not count else "PART"
        print(f"| {trial} | {count:,} ({whole}) |")
    return atomic


async def approve_page_then_kill(url: str, server: subprocess.Popen, delay_s: float) -> None:
    """Approve every undecided galaxy of a page (Shift+A) and kill the server `delay_s` later."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        page = await open_page(browser, url, Reviewer("bulk-killed", page=40))
        await page.get_by_role("button", name="Undecided on this page", exact=True).click()
        await page.wait_for_timeout(500)
        await page.keyboard.press("Shift+A")
        await asyncio.sleep(delay_s)
        os.killpg(server.pid, signal.SIGKILL)
        await browser.close()


def kill_bulk_in_server(workspace: Workspace, logs: Path) -> bool:
    """Kill the server a random moment after a page's bulk approval; check all or none."""
    outcomes = []
    ledger = workspace.ledger()
    for trial in range(SERVER_KILL_TRIALS):
        before = ledger.size(reviewer="bulk-killed")
        with serving(workspace.root, logs / f"server-kill-{trial}.log") as (url, server):
            delay = random.Random(trial).uniform(0.0, 0.3)
            asyncio.run(approve_page_then_kill(url, server, delay))
        outcomes.append((delay, ledger.size(reviewer="bulk-killed") - before))
    print(f"\n## kill -9 of the server during a page's bulk approval ({PAGE_SIZE} galaxies)\n")
    print("| trial | killed after ms | decisions in the ledger |\n| --- | --- | --- |")
    for trial, (delay, count) in enumerate(outcomes):
        print(f"| {trial} | {1000 * delay:.0f} | {count} |")
    return all(count in (0, PAGE_SIZE) for _, count in outcomes)


# --- A full disk ----------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` at `path` for the block."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["/usr/bin/mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["/usr/bin/umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Fill `disk` with one file until no byte is left; return the file."""
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def folder_digest(folder: Path) -> str:
    """A digest of every file's path and bytes under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


async def decide_on_full_disk(url: str, disk: Path) -> tuple[str, str]:
    """Decide with a full disk, then after freeing it; return both messages."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        page = await open_page(browser, url, Reviewer("full-disk", page=0))
        await page.locator(".cell[data-row]").first.click()
        await page.wait_for_timeout(500)
        filler = fill(disk)
        await page.keyboard.press("a")
        full = await answer(page, before="") or "(no answer)"
        filler.unlink()
        await page.keyboard.press("u")
        await page.get_by_text(re.compile("marked unsure: 1 galaxy")).wait_for()
        freed = await message(page)
        await browser.close()
        return full, freed


def full_disk(root: Path, logs: Path) -> bool:
    """Fill the workspace's disk during a decision and during an addition to the catalog."""
    from store import CatalogAppender, StoreError

    with tmpfs(root / "disk", "64m") as disk:
        workspace = build(disk / "ws", 20_000)
        ledger = workspace.ledger()
        ledger.record_decision(
            int(workspace.catalog().column("object_id")[5]), "unsure", reviewer="earlier"
        )
        with serving(workspace.root, logs / "server-full.log") as (url, _):
            full, freed = asyncio.run(decide_on_full_disk(url, disk))
        kept = ledger.size(reviewer="earlier") == 1 and ledger.size(reviewer="full-disk") == 1

        before = folder_digest(workspace.catalog_path)
        filler = fill(disk)
        error = "(no error)"
        try:
            columns, images = _new_rows(workspace.catalog(), 2000)
            appender = CatalogAppender(workspace.catalog_path, columns)
            appender.write_images(appender.first, images)
            appender.commit()
        except (StoreError, OSError) as caught:
            error = f"{type(caught).__name__}: {caught}"
        filler.unlink()
        unchanged = folder_digest(workspace.catalog_path) == before
    print("\n## A full disk (64 MB tmpfs)\n")
    print("| what | the page or the error said | nothing lost |\n| --- | --- | --- |")
    print(f"| decision on the full disk | {full!r} | {'yes' if kept else 'NO'} |")
    print(f"| the same after freeing space | {freed!r} | {'yes' if kept else 'NO'} |")
    as_it_was = "catalog unchanged" if unchanged else "CHANGED"
    print(f"| addition of 2,000 objects | {error!r} | {as_it_was} |")
    return kept and unchanged and "full" in full.lower() and error != "(no error)"


def _new_rows(catalog, n: int):  # noqa: ANN001, ANN202
    """Columns and images of `n` new objects for `catalog` (ids after its largest)."""
    from store.schema import OBJECT_COLUMNS

    columns = {name: np.zeros(n, dtype=dtype) for name, dtype in OBJECT_COLUMNS.items()}
    columns["object_id"][:] = catalog.column("object_id").max() + 1 + np.arange(n)
    columns["label"][:] = -1
    size = catalog.image_size
    images = np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return columns, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="objects (100,000)")
    parser.add_argument("--reviewers", type=int, default=10, help="pages at once (10)")
    parser.add_argument("--seconds", type=float, default=180, help="time deciding (180)")
    parser.add_argument("--workspace", type=Path, help="keep the load workspace here")
    parser.add_argument("--skip-faults", action="store_true", help="only the load")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="galcore-load-") as folder:
        scratch = Path(folder)
        logs = ROOT / "build" / "load-logs"
        logs.mkdir(parents=True, exist_ok=True)
        root = args.workspace or scratch / "ws"
        started = time.monotonic()
        workspace = Workspace(root) if (root / "catalog.zarr").exists() else build(root, args.n)
        print(
            f"workspace {root}: {len(workspace.catalog()):,} objects"
            f" ({time.monotonic() - started:.0f} s); logs in {logs}"
        )
        ok = run_load(workspace, args.reviewers, args.seconds, logs)
        if not args.skip_faults:
            ok &= kill_bulk_in_store(scratch)
            ok &= kill_bulk_in_server(workspace, logs)
            ok &= full_disk(scratch, logs)
    print(f"\n{'PASS' if ok else 'FAIL'}: no decision lost or doubled, every fault all-or-none")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
