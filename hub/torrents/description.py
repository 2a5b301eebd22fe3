"""Torrent descriptions: Markdown rendered to HTML, then sanitised.

markdown-it-py renders with raw HTML switched off, and nh3 (ammonia) cleans the result
anyway, so neither a Markdown trick nor a future renderer option can smuggle in a script,
an event handler or a `javascript:` link. Links get rel="nofollow noopener noreferrer".
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

MAX_DESCRIPTION_CHARS = 65_536

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}


def render_description(markdown: str) -> str:
    """Safe HTML for a member-written Markdown description."""
    html = _md.render(markdown)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
