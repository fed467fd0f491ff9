"""Model-written Markdown made safe to show: answers are built from documents, and a document
can tell a model to write an image or a link whose address carries what it read (prompt
injection with an exfiltration path). Before an answer reaches the page:

- images (``![alt](url)``, ``![alt][ref]``) become their alt text in brackets: the reader's
  browser never fetches anything an answer names;
- raw HTML tags (``<img>``, ``<a>``, ``<iframe>``, autolinks ``<https://…>``) are shown as text;
- links keep their text, and their target only when it is relative (this site) or on one
  of ``[ui] allowed_link_origins``; any other address is shown as code, not as a link.

Code spans and fenced code blocks are left as they are (the page shows them as text). The
page's Content-Security-Policy (``img-src 'self' data: blob:``) is the second line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

_CODE = re.compile(r"(```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]+`)", re.S)
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_BARE = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>()\[\]`]*[^\s<>()\[\]`.,;:!?'\"]", re.I)


def allowed(url: str, origins: Sequence[str] = ()) -> bool:
    """Whether a link may point at ``url``: relative to this site (no scheme, not ``//host``),
    or on one of ``origins`` (``scheme://host[:port]``, lower case)."""
    url = url.strip()
    if not url:
        return False
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc and not url.startswith(("//", "\\")):
        return ":" not in url.split("/", 1)[0] or url.startswith(("#", "?", "./", "../"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return f"{parts.scheme}://{parts.netloc}".lower() in origins


def safe_markdown(text: str, origins: Sequence[str] = ()) -> str:
    """``text`` with images, raw HTML and links to other sites neutralised (see the module)."""
    pieces = _CODE.split(text)
    return "".join(piece if i % 2 else _prose(piece, origins) for i, piece in enumerate(pieces))


def _prose(text: str, origins: Sequence[str]) -> str:
    text = _IMAGE.sub(lambda m: f"[image: {m.group(1).strip() or 'not shown'}]", text)
    text = _DEFINITION.sub("", text)
    text = _TAG.sub("&lt;", text)
    links: list[str] = []  # what the links became, kept out of the bare-address pass

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), match.group(2)
        links.append(f"[{label}]({url})" if allowed(url, origins) else f"{label} (`{url}`)" if url else label)
        return f"\x00{len(links) - 1}\x00"

    text = _LINK.sub(link, text.replace("\x00", ""))
    text = _BARE.sub(lambda m: m.group(0) if allowed(m.group(0), origins) else f"`{m.group(0)}`", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: links[int(m.group(1))], text)
