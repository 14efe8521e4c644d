"""Text that people, files and links give, made safe for the Markdown panes that show it.

Panel renders Markdown with markdown-it (GitHub-flavoured, raw HTML and linkify on): escaping
HTML alone still lets ``[text](url)`` become a link, ``![x](url)`` a remote image (a tracking
pixel) and a bare ``https://...``, ``www.x.org``, ``x.org`` or ``a@x.org`` a link. `plain`
escapes all of that, so what was typed shows as typed and never as markup.
"""

from __future__ import annotations

import re

__all__ = ["plain"]

_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\\`*_[]!#|~@"})  # HTML, Markdown, e-mail
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_LINK_PARTS = re.compile(r"\.(?=\w)|:(?=/)")  # "x.org", "www.x", "1.2.3.4"; "http://"
_BLOCK_START = re.compile(r"^[\s+\-=0-9]")  # lists, setext rules, indented code


def plain(text: str) -> str:
    """Return `text` as one line of Markdown that renders as exactly that text.

    HTML, Markdown syntax and everything the renderer would make a link of are written as
    character references, which the browser shows as the characters they stand for. Line
    breaks become spaces (the text stays on one line, e.g. in a table cell).

    Examples
    --------
    >>> plain("![x](https://x.org/t.png)")
    '&#33;&#91;x&#93;(https&#58;//x&#46;org/t&#46;png)'
    >>> plain("Nothing to undo.")
    'Nothing to undo.'
    """
    escaped = _LINE_BREAKS.sub(" ", text).translate(_ENTITIES)
    escaped = _LINK_PARTS.sub(lambda match: f"&#{ord(match.group())};", escaped)
    return _BLOCK_START.sub(lambda match: f"&#{ord(match.group())};", escaped)
