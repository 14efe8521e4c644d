"""`galcore serve`: serve the review dashboard of a workspace."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from galcore.cli._common import add_workspace, command_parser

__all__ = ["serve_command", "serve_command_parser"]


def serve_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the `serve` parser, registered under `subparsers` when given.

    Parameters
    ----------
    subparsers
        The `galcore` subcommands; None for a standalone parser.

    Returns
    -------
    argparse.ArgumentParser
        The parser; its ``func`` default is `serve_command`.
    """
    description = "Serve the Panel dashboard of a workspace (the same app as 'panel serve')."
    parser = command_parser(subparsers, "serve", description)
    add_workspace(parser)
    parser.add_argument("--port", type=int, default=5006, help="port to listen on (default 5006)")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--allow-websocket-origin",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also accept the page's websocket from this host, as a remote browser names"
        " this machine (repeatable; ADDRESS:PORT and localhost:PORT are always accepted)",
    )
    parser.add_argument(
        "--show",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="open the page in a browser (default: --no-show)",
    )
    parser.set_defaults(func=serve_command)
    return parser


DASHBOARD_APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
"""The app `panel serve` runs: `dashboard` is installed beside `galcore`."""

DASHBOARD_ROUTES = "dashboard.routes"
"""The plugin module whose HTTP routes (``/thumb/<row>.png``) are served beside the app."""


def _panel_serve(args: argparse.Namespace) -> list[str]:
    """Return the `panel serve` command line that serves the dashboard app."""
    app = DASHBOARD_APP
    command = [sys.executable, "-m", "panel", "serve", str(app), "--port", str(args.port)]
    command += ["--address", args.address, "--plugins", DASHBOARD_ROUTES]
    default_origins = [f"{host}:{args.port}" for host in (args.address, "localhost")]
    for origin in dict.fromkeys([*default_origins, *args.allow_websocket_origin]):
        command += ["--allow-websocket-origin", origin]
    workspace = str(args.workspace.resolve())
    return [*command, *(["--show"] if args.show else []), "--args", "--workspace", workspace]


def serve_command(args: argparse.Namespace) -> int:
    """Check the workspace has a catalog, print the URL and serve until interrupted.

    Parameters
    ----------
    args
        Parsed by `serve_command_parser`.

    Returns
    -------
    int
        The exit status of the server (0 when stopped with Ctrl+C).

    Raises
    ------
    StoreNotFoundError
        If the workspace has no catalog.
    """
    from dashboard.routes import WORKSPACE_VARIABLE  # imported here: they load Panel and zarr
    from store import Workspace

    Workspace(args.workspace).catalog(mode="r")
    print(f"Serving the dashboard of {args.workspace} at http://{args.address}:{args.port}/app")
    print("Press Ctrl+C to stop.", flush=True)
    env = {**os.environ, WORKSPACE_VARIABLE: str(args.workspace.resolve())}
    try:
        return subprocess.run(_panel_serve(args), check=False, env=env).returncode
    except KeyboardInterrupt:
        return 0
