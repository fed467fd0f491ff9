"""Removing Liquid/Nunjucks/Jinja template syntax from Markdown sources.

Tags (``{% ... %}``), expressions (``{{ ... }}``) and comments (``{# ... #}``,
``{% comment %}...{% endcomment %}``) are removed; ``{% raw %}`` blocks keep their text
literally. A few shortcodes that carry words a reader would see are rendered as text:
``{% slack_channel "name" %}`` becomes ``#name`` and ``{% alert "Title" %}`` keeps its title.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# No body may contain its own opening delimiter: an unclosed "{%" then costs one scan up to
# the next "{%" rather than one to the end of the text (linear, not quadratic, time).
_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}((?:(?!\{%-?\s*raw\b).)*?)\{%-?\s*endraw\s*-?%\}", re.S)
_COMMENT_BLOCK = re.compile(r"\{%-?\s*comment\b(?:(?!\{%-?\s*comment\b).)*?\{%-?\s*endcomment\s*-?%\}", re.S)
_COMMENT = re.compile(r"\{#[\s-](?:(?!\{#).)*?#\}", re.S)  # "{#id}" heading attributes are not comments
_EXPRESSION = re.compile(r"\{\{(?:(?!\{\{).)*?\}\}", re.S)
_TAG = re.compile(r"\{%-?\s*(\w*)((?:(?!\{%).)*?)-?%\}", re.S)
_QUOTED = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")  # NUL never survives decoding, so it cannot clash


def _render_tag(match: re.Match[str]) -> str:
    name, args = match[1], [a or b for a, b in _QUOTED.findall(match[2])]
    if name == "slack_channel" and args:
        return f"#{args[0].lstrip('#')}"
    if name == "alert" and args and args[0].strip():
        return args[0]
    return ""


def strip_templates(text: str) -> tuple[str, Callable[[str], str]]:
    """Remove template syntax from ``text``.

    Returns the text with each ``{% raw %}`` block replaced by a placeholder, and a function
    that puts the raw blocks' literal text back into any string derived from it (call it last,
    so that later clean-up leaves raw text alone).
    """
    raws: list[str] = []

    def hold(match: re.Match[str]) -> str:
        raws.append(match[1])
        return f"\x00{len(raws) - 1}\x00"

    text = _RAW.sub(hold, text)
    text = _COMMENT_BLOCK.sub("", text)
    text = _COMMENT.sub("", text)
    text = _EXPRESSION.sub("", text)
    text = _TAG.sub(_render_tag, text)
    return text, lambda s: _PLACEHOLDER.sub(lambda m: raws[int(m[1])], s)
