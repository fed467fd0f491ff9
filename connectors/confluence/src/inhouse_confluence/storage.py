"""A page's storage-format body (Confluence's XHTML with ``ac:``/``ri:`` elements) as a plain
HTML document that the core's HTML parser, and a browser, read as the page shows it.

- Code and no-format macros keep their text (it sits in CDATA, which HTML parsers drop) as ``<pre>``.
- Macro parameters, placeholders and task ids/statuses are dropped: they are settings, not text.
- Links keep their text; tasks become list items; layouts, panels and other macros become ``div``s.
- ``<time datetime>`` (which has no text of its own) shows its date.
"""

from __future__ import annotations

import html
import re

from bs4 import BeautifulSoup

CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
DROP = {"ac:parameter", "ac:placeholder", "ac:task-id", "ac:task-uuid", "ac:task-status", "ac:emoticon", "ac:image"}
RENAME = {
    "ac:plain-text-body": "pre",
    "ac:task-list": "ul",
    "ac:task": "li",
    "ac:link": "span",
    "ac:plain-text-link-body": "span",
    "ac:link-body": "span",
    "ac:inline-comment-marker": "span",
    "ac:task-body": "span",
}


def page_html(title: str, storage: str) -> bytes:
    """The HTML document of a page titled ``title`` whose storage-format body is ``storage``."""
    soup = BeautifulSoup(CDATA.sub(lambda m: html.escape(m.group(1), quote=False), storage), "html.parser")
    for tag in soup.find_all(True):
        name = tag.name or ""
        if tag.decomposed:
            continue
        if name in DROP or name.startswith("ri:"):
            tag.decompose()
        elif name in RENAME or name.startswith("ac:"):
            tag.name = RENAME.get(name, "div")
            tag.attrs = {}
        elif name == "time" and not tag.get_text(strip=True) and tag.get("datetime"):
            tag.string = str(tag["datetime"])
    head = f'<meta charset="utf-8"><title>{html.escape(title)}</title>'
    return f"<!DOCTYPE html>\n<html><head>{head}</head><body>{soup}</body></html>\n".encode()
