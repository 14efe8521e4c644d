"""`galcore serve`: who may reach the dashboard, and the `panel serve` command it runs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from unittest import mock

import pytest

from galcore.cli.main import main
from galcore.cli.serve import is_loopback

LOOPBACK = ["127.0.0.1", "127.8.9.10", "::1", "localhost"]
EXPOSED = ["0.0.0.0", "", "192.168.1.20", "::", "fe80::1", "dashboard.example.org"]  # noqa: S104


def _serve(*argv: str) -> tuple[int, list[str] | None]:
    """Run ``galcore serve`` with panel's process mocked; return the status and its command."""
    with mock.patch("subprocess.run", return_value=subprocess.CompletedProcess([], 0)) as run:
        status = main(["serve", *argv])
    return status, (run.call_args[0][0] if run.called else None)


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


@pytest.mark.parametrize("address", LOOPBACK)
def test_loopback_addresses(address):
    assert is_loopback(address)


@pytest.mark.parametrize("address", EXPOSED)
def test_other_addresses(address):
    assert not is_loopback(address)


class TestExposure:
    @pytest.mark.parametrize("address", EXPOSED)
    def test_refuses_other_machines_without_a_login(self, toy_workspace, address, capsys):
        status, command = _serve("--workspace", str(toy_workspace.root), "--address", address)
        assert (status, command) == (1, None)
        (line,) = capsys.readouterr().err.splitlines()
        assert line == (
            f"ERROR: --address {address!r} lets other machines record decisions without"
            " signing in: add --basic-auth FILE or --oauth-provider NAME (or --insecure on a"
            " trusted network), or serve on 127.0.0.1"
        )

    def test_insecure_serves_anyway(self, toy_workspace):
        argv = ["--workspace", str(toy_workspace.root), "--address", "0.0.0.0", "--insecure"]  # noqa: S104
        status, command = _serve(*argv)
        assert status == 0
        assert _option(command, "--address") == "0.0.0.0"  # noqa: S104

    def test_a_login_serves_other_machines(self, toy_workspace, tmp_path):
        logins = tmp_path / "logins.json"
        logins.write_text('{"ana": "pw"}', encoding="utf-8")
        logins.chmod(0o600)
        argv = ["--address", "192.168.1.20", "--basic-auth", str(logins)]
        status, command = _serve("--workspace", str(toy_workspace.root), *argv)
        assert status == 0
        assert _option(command, "--basic-auth") == str(logins.resolve())

    @pytest.mark.parametrize("address", LOOPBACK)
    def test_loopback_needs_no_login(self, toy_workspace, address):
        status, command = _serve("--workspace", str(toy_workspace.root), "--address", address)
        assert status == 0
        assert _option(command, "--address") == address


class TestHttps:
    @pytest.fixture
    def pem_files(self, tmp_path: Path) -> tuple[Path, Path]:
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        cert.write_text("certificate", encoding="utf-8")
        key.write_text("key", encoding="utf-8")
        return cert, key

    def test_certificate_and_key_reach_panel(self, toy_workspace, pem_files, capsys, monkeypatch):
        cert, key = pem_files
        monkeypatch.chdir(cert.parent)
        argv = ["--ssl-certfile", "cert.pem", "--ssl-keyfile", "key.pem"]
        status, command = _serve("--workspace", str(toy_workspace.root), *argv)
        assert status == 0
        assert _option(command, "--ssl-certfile") == str(cert.resolve())
        assert _option(command, "--ssl-keyfile") == str(key.resolve())
        assert command.index("--ssl-keyfile") < command.index("--args")  # panel's, not the app's
        assert "at https://127.0.0.1:5006/app" in capsys.readouterr().out

    def test_plain_http_by_default(self, toy_workspace, capsys):
        status, command = _serve("--workspace", str(toy_workspace.root))
        assert status == 0
        assert "--ssl-certfile" not in command
        assert "--ssl-keyfile" not in command
        assert "at http://127.0.0.1:5006/app" in capsys.readouterr().out

    @pytest.mark.parametrize("given", ["--ssl-certfile", "--ssl-keyfile"])
    def test_needs_both_files(self, toy_workspace, pem_files, given, capsys):
        status, command = _serve("--workspace", str(toy_workspace.root), given, str(pem_files[0]))
        assert (status, command) == (1, None)
        assert capsys.readouterr().err == (
            "ERROR: https needs both --ssl-certfile and --ssl-keyfile\n"
        )

    def test_a_missing_file(self, toy_workspace, pem_files, tmp_path, capsys):
        missing = tmp_path / "nope.pem"
        argv = ["--ssl-certfile", str(pem_files[0]), "--ssl-keyfile", str(missing)]
        status, command = _serve("--workspace", str(toy_workspace.root), *argv)
        assert (status, command) == (1, None)
        assert capsys.readouterr().err == (
            f"ERROR: --ssl-keyfile {missing} is not a file: give the PEM file's path\n"
        )
