"""Helpers of the browser tests: a dashboard server in its own process, and Debian's chromium.

Playwright cannot download its own browser here (no internet), so the tests launch the system's
chromium (`CHROMIUM`) with `CHROMIUM_ARGS`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright

from dashboard.routes import WORKSPACE_VARIABLE
from store import Workspace

__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "ROOT",
    "SERVER_START_S",
    "TIMEOUT_MS",
    "free_port",
    "galcore_serve",
    "launch_chromium",
    "panel_serve",
    "serving",
    "wait_for_port",
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts"  # ignored by git
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",
]
TIMEOUT_MS = 30_000
SERVER_START_S = 60


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(process: subprocess.Popen, port: int, log: Path) -> None:
    """Wait until `process` listens on `port`; fail the test if it exits or takes too long."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    pytest.fail(f"the server did not listen on port {port} within {SERVER_START_S} s")


@contextlib.contextmanager
def serving(command: list[str], port: int, log: Path, *, cwd: Path = ROOT) -> Iterator[str]:
    """Run a server command in its own process group, logging to `log`; stop the group after.

    Yields
    ------
    str
        The app's URL.
    """
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_port(process, port, log)
        yield f"http://127.0.0.1:{port}/app"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def panel_serve(workspace: Workspace, port: int) -> list[str]:
    """Return the command that serves the app and its thumbnails as the README says."""
    return [
        *["env", f"{WORKSPACE_VARIABLE}={workspace.root}"],  # read by dashboard.routes
        *[sys.executable, "-m", "panel", "serve", "dashboard/app.py"],
        *["--plugins", "dashboard.routes"],
        *["--port", str(port), "--address", "127.0.0.1"],
        *["--allow-websocket-origin", f"127.0.0.1:{port}"],
        *["--args", "--workspace", str(workspace.root)],
    ]


def galcore_serve(workspace: Workspace, port: int) -> list[str]:
    """Return the command ``galcore serve`` of the workspace on `port`."""
    galcore = Path(sys.executable).parent / "galcore"
    return [str(galcore), "serve", "--workspace", str(workspace.root), "--port", str(port)]


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch Debian's headless chromium."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
