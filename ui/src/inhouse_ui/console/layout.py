"""The console's pages: one stylesheet, a navigation bar, tables and filter forms, all
server-rendered HTML with every value escaped (no script: the pages are sent with the
sign-in page's policy, ``default-src 'none'``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

from inhouse_ui.console.charts import SWATCHES
from inhouse_ui.signin import PAGE_HEADERS

#: The sections, by path: their titles in the navigation bar.
SECTIONS = {
    "/admin": "Overview",
    "/admin/usage": "Usage and cost",
    "/admin/answers": "Abstentions and fallbacks",
    "/admin/feedback": "Feedback",
    "/admin/log": "Audit log",
    "/admin/connectors": "Connectors",
    "/admin/health": "Plugin health",
    "/admin/budgets": "Budgets",
}
STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;background:#f8fafc;color:#0f172a;margin:0}"
    "nav{background:#0f172a;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:1rem}"
    "nav a{color:#cbd5e1;text-decoration:none}nav a.on{color:#fff;font-weight:600}"
    "main{padding:1rem 1.5rem;max-width:80rem}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}"
    "table{border-collapse:collapse;width:100%;font-size:.85rem;background:#fff}"
    "th,td{border-bottom:1px solid #e2e8f0;padding:.3rem .4rem;text-align:left;vertical-align:top}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin:.5rem 0 1rem}"
    "form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:#475569}"
    ".chart{margin:.5rem 0 1rem;background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:.5rem;max-width:740px}"
    ".chart figcaption{font-weight:600;font-size:.9rem}.chart svg{max-width:100%;height:auto}"
    ".axis,.label{font-size:11px;fill:#475569}.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.8rem}"
    ".swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;border-radius:2px}"
    ".over{color:#b91c1c;font-weight:600}.near{color:#b45309;font-weight:600}.ok{color:#15803d}"
    ".failed,.error{color:#b91c1c;font-weight:600}.pager{margin:.6rem 0}.pager a{margin-right:1rem}"
    "details{margin:.2rem 0}pre{white-space:pre-wrap;margin:.2rem 0}" + SWATCHES
)


def page(path: str, body: str, status_code: int = 200) -> HTMLResponse:
    """A console page: the section of ``path`` highlighted in the navigation bar, ``body`` (HTML) under its title."""
    links = "".join(f'<a href="{p}"{" class=on" if p == path else ""}>{escape(t)}</a>' for p, t in SECTIONS.items())
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(SECTIONS[path])} · admin</title>"
        f"<style>{STYLE}</style></head><body><nav>{links}</nav><main><h1>{escape(SECTIONS[path])}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()) -> str:
    """An HTML table, every cell escaped; numbers right-aligned; ``classes`` per row (e.g. ``over``)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for n, row in enumerate(rows):
        mark = f' class="{escape(classes[n])}"' if n < len(classes) and classes[n] else ""
        cells = "".join(
            f'<td class="n">{escape(_number(c))}</td>'
            if isinstance(c, int | float) and not isinstance(c, bool)
            else f"<td>{escape(_text(c))}</td>"
            for c in row
        )
        body.append(f"<tr{mark}>{cells}</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(header)}">nothing in this range</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def filters(fields: Mapping[str, str | Sequence[str]], values: Mapping[str, Any]) -> str:
    """A GET form: a text box for each field given a label, a menu for each given its options; ``values`` fill them in."""
    parts = []
    for name, spec in fields.items():
        current = _text(values.get(name))
        if isinstance(spec, str):
            kind = "date" if name in ("from", "to") else "text"
            box = f'<input type="{kind}" name="{escape(name)}" value="{escape(current)}">'
            parts.append(f"<label>{escape(spec)}{box}</label>")
        else:
            options = "".join(
                f'<option value="{escape(o)}"{" selected" if o == current else ""}>{escape(o)}</option>' for o in spec
            )
            parts.append(f'<label>{escape(name)}<select name="{escape(name)}">{options}</select></label>')
    return f'<form class="filters" method="get">{"".join(parts)}<button type="submit">Show</button></form>'


def csv_link(path: str, values: Mapping[str, Any]) -> str:
    """A link to the same table as CSV, with the same filters."""
    query = urlencode({**{k: v for k, v in values.items() if v not in (None, "")}, "format": "csv"})
    return f'<p><a class="csv" href="{escape(path)}?{escape(query)}">Download as CSV</a></p>'
