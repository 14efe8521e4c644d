"""`galcore serve`: serve the review dashboard of a workspace."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from galcore.cli._common import add_workspace, command_parser
from galcore.errors import ServeError

__all__ = ["check_credentials", "is_loopback", "serve_command", "serve_command_parser"]

_SECRET_VARIABLE = "PANEL_COOKIE_SECRET"  # noqa: S105 (a name, not a secret)
_OAUTH_VARIABLES = ("PANEL_OAUTH_KEY", "PANEL_OAUTH_SECRET")


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
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only); any other needs"
        " --basic-auth or --oauth-provider, or --insecure",
    )
    parser.add_argument(
        "--allow-websocket-origin",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also accept the page's websocket from this host, as a remote browser names"
        " this machine (repeatable; ADDRESS:PORT and localhost:PORT are always accepted)",
    )
    parser.add_argument(
        "--basic-auth",
        type=Path,
        metavar="FILE",
        help='ask for a login: FILE is JSON {"name": "password", ...}; each decision'
        " is recorded under the login name (else each browser types a name once)",
    )
    parser.add_argument(
        "--oauth-provider",
        metavar="NAME",
        help="sign in through Panel's OAuth provider NAME (github, google, azure, ...), with"
        " PANEL_OAUTH_KEY and PANEL_OAUTH_SECRET set in the environment",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback --address without a login: anyone who reaches it can"
        " record decisions (only on a network where everyone may review)",
    )
    parser.add_argument(
        "--ssl-certfile",
        type=Path,
        metavar="FILE",
        help="serve https with this PEM certificate (with --ssl-keyfile)",
    )
    parser.add_argument(
        "--ssl-keyfile",
        type=Path,
        metavar="FILE",
        help="the private key of --ssl-certfile (a password, if any, in BOKEH_SSL_PASSWORD)",
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
    # --warm runs the app once at start-up, so datashader's compilation (seconds) is not
    # paid by the first visitor.
    command += ["--address", args.address, "--plugins", DASHBOARD_ROUTES, "--warm"]
    default_origins = [f"{host}:{args.port}" for host in (args.address, "localhost")]
    for origin in dict.fromkeys([*default_origins, *args.allow_websocket_origin]):
        command += ["--allow-websocket-origin", origin]
    if args.basic_auth is not None:
        command += ["--basic-auth", str(args.basic_auth.resolve())]
    if args.oauth_provider is not None:
        command += ["--oauth-provider", args.oauth_provider]
    if args.ssl_certfile is not None:
        command += ["--ssl-certfile", str(args.ssl_certfile.resolve())]
        command += ["--ssl-keyfile", str(args.ssl_keyfile.resolve())]
    workspace = str(args.workspace.resolve())
    return [*command, *(["--show"] if args.show else []), "--args", "--workspace", workspace]


def is_loopback(address: str) -> bool:
    """Return whether a listening address reaches this machine only.

    Parameters
    ----------
    address
        A `--address`: an IP address or a host name.

    Returns
    -------
    bool
        True for 127.0.0.0/8, ::1 and ``localhost``; False for any other (a host name may
        resolve to anything, and an empty address listens everywhere).
    """
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _check_exposure(args: argparse.Namespace) -> None:
    """Refuse to serve other machines without a login, and half of a certificate."""
    signed_in = args.basic_auth is not None or args.oauth_provider is not None
    if not (is_loopback(args.address) or signed_in or args.insecure):
        msg = (
            f"--address {args.address!r} lets other machines record decisions without signing"
            " in: add --basic-auth FILE or --oauth-provider NAME (or --insecure on a trusted"
            " network), or serve on 127.0.0.1"
        )
        raise ServeError(msg)
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        msg = "https needs both --ssl-certfile and --ssl-keyfile"
        raise ServeError(msg)
    for option, path in [
        ("--ssl-certfile", args.ssl_certfile),
        ("--ssl-keyfile", args.ssl_keyfile),
    ]:
        if path is not None and not path.is_file():
            msg = f"{option} {path} is not a file: give the PEM file's path"
            raise ServeError(msg)


def _login_environment(args: argparse.Namespace) -> dict[str, str]:
    """Return the environment a login needs, checking the credentials first.

    Signed cookies need a secret: ``PANEL_COOKIE_SECRET`` from the environment (logins then
    outlive a restart) or a random one (everyone signs in again after a restart). It travels
    in the environment, never on the command line where other users of the machine see it.
    """
    if args.basic_auth is None and args.oauth_provider is None:
        return {}
    if args.basic_auth is not None and args.oauth_provider is not None:
        msg = "choose one way to sign in: --basic-auth or --oauth-provider, not both"
        raise ServeError(msg)
    if args.basic_auth is not None:
        check_credentials(args.basic_auth)
    missing = [name for name in _OAUTH_VARIABLES if not os.environ.get(name)]
    if args.oauth_provider is not None and missing:
        msg = f"--oauth-provider {args.oauth_provider} needs {' and '.join(missing)} set"
        raise ServeError(msg)
    secret = os.environ.get(_SECRET_VARIABLE) or secrets.token_urlsafe(32)
    return {_SECRET_VARIABLE: secret}


def check_credentials(path: Path) -> dict[str, str]:
    """Read a `--basic-auth` file and return its logins; raise ServeError naming what is wrong.

    Parameters
    ----------
    path
        A JSON file holding one object: login name -> password (both non-empty text).

    Returns
    -------
    dict
        The logins.

    Raises
    ------
    ServeError
        If the file cannot be read, is not such an object, or a name could not be recorded
        as a reviewer (`store.ledger.check_text`).
    """
    from store import SchemaError  # imported here: the store loads NumPy and zarr
    from store.ledger import check_text

    try:
        logins = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        msg = f"cannot read the logins in {path}: {error}"
        raise ServeError(msg) from error
    expected = 'write it as {"name": "password", ...}'
    if not isinstance(logins, dict) or not logins:
        msg = f"{path} holds no logins: {expected}"
        raise ServeError(msg)
    for name, password in logins.items():
        if not (isinstance(password, str) and password):
            msg = f"login {name!r} in {path} has no password: {expected}"
            raise ServeError(msg)
        try:
            check_text(name, "")
        except SchemaError as error:
            msg = f"login {name!r} in {path} cannot name a reviewer: {error}"
            raise ServeError(msg) from error
    if path.stat().st_mode & 0o077:
        print(f"warning: {path} can be read by other users of this machine (chmod 600 {path})")
    return logins


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
    ServeError
        If the logins cannot be used (see `check_credentials`), the address reaches other
        machines without a login or ``--insecure``, or the certificate options are incomplete.
    """
    from dashboard.routes import WORKSPACE_VARIABLE  # imported here: they load Panel and zarr
    from store import Workspace

    _check_exposure(args)
    Workspace(args.workspace).catalog(mode="r")
    login = _login_environment(args)
    scheme = "http" if args.ssl_certfile is None else "https"
    url = f"{scheme}://{args.address}:{args.port}/app"
    print(f"Serving the dashboard of {args.workspace} at {url}")
    print("Press Ctrl+C to stop.", flush=True)
    env = {**os.environ, WORKSPACE_VARIABLE: str(args.workspace.resolve()), **login}
    try:
        return subprocess.run(_panel_serve(args), check=False, env=env).returncode
    except KeyboardInterrupt:
        return 0
