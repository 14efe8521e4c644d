"""Typed and linked text renders as text: no link, image or markup through Panel's Markdown."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import panel as pn
import pytest
from bokeh.document import Document

from dashboard import app
from dashboard.notices import page_notices
from dashboard.session import ReviewSession
from dashboard.text import plain
from dashboard.views import GridView, ReviewView, make_history_markdown, make_status_line
from store import Decision, Workspace

HOSTILE = [
    "![x](https://evil.example/t.png)",
    "[Session expired](https://evil.example/login)",
    "see https://evil.com/x, www.evil.com, evil.com and a@b.com",
    "<https://evil.example> <img src=x onerror=alert(1)>",
    "http://localhost:8000/x mailto:a@b.org //evil.com 10.0.0.1",
    "**bold** _it_ `code` ~~gone~~ # h | a | [^1] &lt; &amp;",
    "- a list",
    "1. a list",
    "    indented code",
    "> a quote",
    "title\n=====",
]


class _Text(HTMLParser):
    """The tags and the text a browser shows of some HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, _attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def rendered(pane: pn.pane.Markdown) -> _Text:
    """Render a Markdown pane as Panel does for the browser; return its tags and text."""
    shown = _Text()
    shown.feed(html.unescape(pane.get_root(Document()).text))
    return shown


def _one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_text_renders_as_itself(text):
    shown = rendered(pn.pane.Markdown(plain(text)))
    assert set(shown.tags) == {"p"}, shown.tags
    assert _one_line(shown.text) == _one_line(text)


def test_plain_keeps_sentences_readable():
    text = "Not recorded: the ledger is busy (try again), so nothing of this 'undo' was saved."
    assert plain(text) == text


def _decision(reviewer: str, run: str) -> Decision:
    return Decision(1, "2024-05-01T10:00:00+00:00", reviewer, 5, "approve", 1, run, "")


@pytest.mark.parametrize("text", HOSTILE[:4])
def test_history_and_status_show_names_as_typed(text):
    history = [_decision(text, text)]
    for markdown in (make_status_line(history), make_history_markdown(history)):
        shown = rendered(pn.pane.Markdown(markdown))
        assert not {"a", "img"} & set(shown.tags), markdown
        assert _one_line(text) in _one_line(shown.text)


@pytest.fixture
def session(review_workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace=review_workspace, reviewer="ana")


def test_a_link_in_the_query_string_is_not_a_link(session):
    asked = "[Session expired](https://evil.example/login) www.evil.com"
    (notice,) = page_notices(session, {"run": [asked.encode()]}, app.URL_PARAMETERS)
    shown = rendered(notice)
    assert not {"a", "img"} & set(shown.tags)
    assert asked in shown.text


def test_a_refused_name_in_an_error_is_not_a_link(session):
    """The ledger's refusal quotes the typed name: the review and grid messages show it as text."""
    name = "[Session expired](https://evil.example/login) ![x](https://evil.example/t.png)"
    session.param.update(selected_row=1, reviewer=name + "x" * 100)
    review, grid = ReviewView(session=session), GridView(session=session)
    review._decide("approve")
    grid.press("a")
    for message in (review._error, grid._message):
        shown = rendered(message)
        assert "reviewer must be at most" in shown.text
        assert not {"a", "img"} & set(shown.tags)
        assert name in shown.text
