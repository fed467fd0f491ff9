"""Charts as inline SVG, drawn here in Python: no script, nothing fetched, so they render under
the console's content security policy (``default-src 'none'``) and in any browser.

``line_chart`` draws one line per series over a list of days; ``bar_chart`` one horizontal bar
per label. Labels are user names, model ids and use cases — hostile text — so every label is
escaped, in the visible text and in the ``<title>`` tooltips alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

#: Colours of the series, in order; series past the last reuse them.
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#65a30d")
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28


#: The legend's swatches, by class (``s0``, ``s1``, ...): the page's stylesheet, not style attributes.
SWATCHES = "".join(f".s{n}{{background:{colour}}}" for n, colour in enumerate(PALETTE))


def number(value: float) -> str:
    """A short form of an axis value: 1.2k, 3.4M, 0.0123."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def line_chart(title: str, days: Sequence[str], series: Mapping[str, Sequence[float]], unit: str = "") -> str:
    """An SVG line chart of ``series`` (label -> one value per day of ``days``) with a legend."""
    peak = max((v for values in series.values() for v in values), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(days) - 1)

    def point(i: int, v: float) -> str:
        return f"{LEFT + i * step:.1f},{TOP + plot_h * (1 - v / peak):.1f}"

    parts = [_frame(title, plot_w, plot_h, peak, unit)]
    if days:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 8}" class="axis">{escape(days[0])}</text>')
        parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" class="axis" text-anchor="end">{escape(days[-1])}</text>')
    for n, (label, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(point(i, v) for i, v in enumerate(values))
        tip = escape(f"{label}: {number(sum(values))}{unit} in all")
        parts.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{tip}</title></polyline>"
        )
        if len(values) == 1:  # one day: a dot, a line needs two
            parts.append(f'<circle cx="{LEFT}" cy="{point(0, values[0]).split(",")[1]}" r="3" fill="{colour}"/>')
    return _svg(title, "".join(parts)) + _legend(series)


def bar_chart(title: str, bars: Mapping[str, float], unit: str = "") -> str:
    """An SVG chart of one horizontal bar per label (the largest first as given), values written at their ends."""
    peak = max(bars.values(), default=0.0) or 1.0
    row, label_w = 22, 180
    height = TOP + row * max(1, len(bars)) + 8
    plot_w = WIDTH - label_w - 80
    parts = []
    for n, (label, value) in enumerate(bars.items()):
        y = TOP + n * row
        width = max(1.0, plot_w * value / peak) if value else 0.0
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" class="label" text-anchor="end">{escape(short)}'
            f"<title>{escape(label)}</title></text>"
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" fill="{PALETTE[0]}">'
            f"<title>{escape(f'{label}: {number(value)}{unit}')}</title></rect>"
            f'<text x="{label_w + width + 4:.1f}" y="{y + 15}" class="axis">{escape(number(value) + unit)}</text>'
        )
    if not bars:
        parts.append(f'<text x="{LEFT}" y="{TOP + 14}" class="axis">nothing in this range</text>')
    return _svg(title, "".join(parts), height)


def _frame(title: str, plot_w: float, plot_h: float, peak: float, unit: str) -> str:
    """The axes: the baseline, a gridline at the top, and their values."""
    base, top = TOP + plot_h, TOP
    return (
        f'<line x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}" stroke="#94a3b8"/>'
        f'<line x1="{LEFT}" y1="{top}" x2="{LEFT + plot_w}" y2="{top}" stroke="#e2e8f0"/>'
        f'<text x="{LEFT - 6}" y="{top + 4}" class="axis" text-anchor="end">{escape(number(peak) + unit)}</text>'
        f'<text x="{LEFT - 6}" y="{base + 4}" class="axis" text-anchor="end">0</text>'
    )


def _svg(title: str, body: str, height: int = HEIGHT) -> str:
    return (
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg></figure>'
    )


def _legend(series: Mapping[str, Sequence[float]]) -> str:
    items = "".join(f'<li><span class="swatch s{n % len(PALETTE)}"></span>{escape(label)}</li>' for n, label in enumerate(series))
    return f'<ul class="legend">{items}</ul>'
