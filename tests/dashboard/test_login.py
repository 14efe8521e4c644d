"""Signing in: `galcore serve --basic-auth FILE` / `--oauth-provider`, and who a decision is by."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import panel as pn
import pytest
from playwright.sync_api import sync_playwright

from dashboard.session import ReviewSession
from galcore.cli.serve import check_credentials, serve_command, serve_command_parser
from galcore.errors import ServeError
from store import SchemaError
from tests.dashboard.browser import (
    ARTIFACTS,
    TIMEOUT_MS,
    free_port,
    galcore_serve,
    launch_chromium,
    serving,
)


def _logins(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "logins.json"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def _serve(review_workspace, *options: str) -> tuple[int, list[str], dict[str, str]]:
    """Run `serve_command` with panel's process mocked; return its status, command and env."""
    argv = ["--workspace", str(review_workspace.root), *options]
    args = serve_command_parser().parse_args(argv)
    with mock.patch("subprocess.run", return_value=subprocess.CompletedProcess([], 0)) as run:
        status = serve_command(args)
    (command,), kwargs = run.call_args
    return status, command, kwargs["env"]


class TestCheckCredentials:
    def test_reads_the_logins(self, tmp_path, capsys):
        path = _logins(tmp_path, json.dumps({"ana": "s3cret", "bo": "pw"}))
        assert check_credentials(path) == {"ana": "s3cret", "bo": "pw"}
        assert capsys.readouterr().out == ""

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            pytest.param("{not json", "cannot read the logins in", id="not-json"),
            pytest.param("{}", "holds no logins", id="empty"),
            pytest.param('["ana", "pw"]', "holds no logins", id="a-list"),
            pytest.param('{"ana": ""}', "login 'ana' .* has no password", id="no-password"),
            pytest.param('{"ana": 5}', "login 'ana' .* has no password", id="number"),
            pytest.param('{" ": "pw"}', "cannot name a reviewer", id="blank-name"),
            pytest.param('{"a\\u0007b": "pw"}', "cannot name a reviewer", id="control-char"),
            pytest.param(json.dumps({"x" * 101: "pw"}), "cannot name a reviewer", id="too-long"),
        ],
    )
    def test_refuses_what_it_cannot_use(self, tmp_path, text, message):
        with pytest.raises(ServeError, match=message):
            check_credentials(_logins(tmp_path, text))

    def test_a_missing_file(self, tmp_path):
        with pytest.raises(ServeError, match="cannot read the logins in .*nope.json"):
            check_credentials(tmp_path / "nope.json")

    def test_warns_when_others_can_read_it(self, tmp_path, capsys):
        path = _logins(tmp_path, '{"ana": "pw"}', mode=0o644)
        check_credentials(path)
        assert f"chmod 600 {path}" in capsys.readouterr().out


class TestServeWithLogin:
    def test_basic_auth_reaches_panel_with_a_secret_in_the_environment(
        self, review_workspace, tmp_path, monkeypatch
    ):
        monkeypatch.delenv("PANEL_COOKIE_SECRET", raising=False)
        path = _logins(tmp_path, '{"ana": "pw"}')
        status, command, env = _serve(review_workspace, "--basic-auth", str(path))
        assert status == 0
        assert command[command.index("--basic-auth") + 1] == str(path.resolve())
        secret = env["PANEL_COOKIE_SECRET"]
        assert len(secret) >= 32
        assert secret not in " ".join(command)  # never on the command line
        _, _, again = _serve(review_workspace, "--basic-auth", str(path))
        assert again["PANEL_COOKIE_SECRET"] != secret  # a fresh one per server

    def test_a_secret_from_the_environment_is_kept(self, review_workspace, tmp_path, monkeypatch):
        kept = "kept-across-restarts"
        monkeypatch.setenv("PANEL_COOKIE_SECRET", kept)
        path = _logins(tmp_path, '{"ana": "pw"}')
        _, _, env = _serve(review_workspace, "--basic-auth", str(path))
        assert env["PANEL_COOKIE_SECRET"] == kept

    def test_without_login_no_secret_is_made(self, review_workspace, monkeypatch):
        monkeypatch.delenv("PANEL_COOKIE_SECRET", raising=False)
        _, command, env = _serve(review_workspace)
        assert "PANEL_COOKIE_SECRET" not in env
        assert "--basic-auth" not in command
        assert "--oauth-provider" not in command

    def test_oauth_needs_its_key_and_secret(self, review_workspace, monkeypatch):
        monkeypatch.delenv("PANEL_OAUTH_KEY", raising=False)
        monkeypatch.setenv("PANEL_OAUTH_SECRET", "s")
        args = serve_command_parser().parse_args(
            ["--workspace", str(review_workspace.root), "--oauth-provider", "github"]
        )
        with (
            mock.patch("subprocess.run") as run,
            pytest.raises(ServeError, match="PANEL_OAUTH_KEY"),
        ):
            serve_command(args)
        run.assert_not_called()
        monkeypatch.setenv("PANEL_OAUTH_KEY", "k")
        _, command, env = _serve(review_workspace, "--oauth-provider", "github")
        assert command[command.index("--oauth-provider") + 1] == "github"
        assert env["PANEL_COOKIE_SECRET"]

    def test_bad_logins_stop_before_serving(self, review_workspace, tmp_path):
        path = _logins(tmp_path, "{}")
        args = serve_command_parser().parse_args(
            ["--workspace", str(review_workspace.root), "--basic-auth", str(path)]
        )
        with mock.patch("subprocess.run") as run, pytest.raises(ServeError, match="no logins"):
            serve_command(args)
        run.assert_not_called()

    def test_one_way_to_sign_in(self, review_workspace, tmp_path):
        path = _logins(tmp_path, '{"ana": "pw"}')
        argv = ["--workspace", str(review_workspace.root), "--basic-auth", str(path)]
        args = serve_command_parser().parse_args([*argv, "--oauth-provider", "github"])
        with mock.patch("subprocess.run") as run, pytest.raises(ServeError, match="not both"):
            serve_command(args)
        run.assert_not_called()

    def test_the_cli_reports_one_line(self, review_workspace, tmp_path):
        path = _logins(tmp_path, "[]")
        galcore = Path(sys.executable).parent / "galcore"
        argv = ["serve", "--workspace", str(review_workspace.root), "--basic-auth", str(path)]
        result = subprocess.run(
            [galcore, *argv], capture_output=True, text=True, check=False, timeout=60
        )
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f'ERROR: {path} holds no logins: write it as {{"name": "password", ...}}'
        ]


class TestReviewerIdentity:
    def test_a_decision_needs_a_name(self, review_workspace):
        session = ReviewSession(workspace=review_workspace)
        session.selected_row = 1
        assert session.reviewer == ""
        with pytest.raises(SchemaError, match="type your name under 'Reviewer' first"):
            session.decide("approve")
        assert review_workspace.ledger().history(int(session.galaxy.object_id)) == []

    def test_the_name_is_typed_in_the_sidebar(self, review_workspace):
        session = ReviewSession(workspace=review_workspace)
        (field,) = [
            w for w in pn.panel(session).select(pn.widgets.TextInput) if w.name == "Reviewer"
        ]
        field.value = "cy"
        assert session.reviewer == "cy"

    def test_a_signed_in_reviewer_is_shown_escaped_and_not_typed(self, review_workspace):
        hostile = '<img src=x onerror="alert(1)">'
        session = ReviewSession(workspace=review_workspace, reviewer=hostile, signed_in=True)
        sidebar = pn.panel(session)
        assert not [w for w in sidebar.select(pn.widgets.TextInput) if w.name == "Reviewer"]
        (shown,) = [p for p in sidebar.select(pn.pane.HTML) if "signed in" in str(p.object)]
        assert "<img" not in shown.object
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in shown.object
        session.selected_row = 1
        session.decide("approve")
        (decision,) = review_workspace.ledger().history(int(session.galaxy.object_id))
        assert decision.reviewer == hostile  # stored as given, shown escaped


def _wait_for_reviewer(workspace, object_id: int) -> str:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if history := workspace.ledger().history(object_id):
            return history[-1].reviewer
        time.sleep(0.2)
    pytest.fail(f"no decision about {object_id} reached the ledger")


@pytest.mark.ui
@pytest.mark.timeout(240)
def test_sign_in_and_decide_under_the_login_name(review_workspace, tmp_path):
    """`galcore serve --basic-auth`: thumbnails and page need a login; decisions carry it."""
    logins = _logins(tmp_path, json.dumps({"ana": "s3cret"}))
    port = free_port()
    command = [*galcore_serve(review_workspace, port), "--basic-auth", str(logins)]
    row = 5
    object_id = int(review_workspace.catalog().column("object_id")[row])
    with (
        sync_playwright() as playwright,
        serving(command, port, tmp_path / "serve.log", cwd=tmp_path) as url,
    ):
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            thumb = f"http://127.0.0.1:{port}/thumb/{row}.png"
            assert page.request.get(thumb).status == 403
            page.goto(f"{url}?row={row}")
            page.wait_for_url(re.compile(r"/login"))
            page.fill("input[name=username]", "ana")
            page.fill("input[name=password]", "wrong")
            page.click("button[type=submit]")
            page.get_by_text("Invalid username or password").wait_for()
            page.fill("input[name=username]", "ana")
            page.fill("input[name=password]", "s3cret")
            page.click("button[type=submit]", no_wait_after=True)
            page.get_by_text("(signed in)").wait_for(timeout=3 * TIMEOUT_MS)  # a first render
            assert page.get_by_role("textbox", name="Reviewer").count() == 0
            page.get_by_role("button", name="Approve").first.click()
            assert _wait_for_reviewer(review_workspace, object_id) == "ana"
            assert page.request.get(thumb).status == 200  # the login's cookie goes along
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / "signed-in.png")
        finally:
            browser.close()
