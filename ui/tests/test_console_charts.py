"""The console's parts that need no server: the SVG charts (geometry, escaping), the CSV
export (formula cells neutralised, parsed back by the csv module), the date range and the
per-day series."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from fastapi import HTTPException

from inhouse_ui.console.charts import HEIGHT, LEFT, TOP, bar_chart, line_chart
from inhouse_ui.console.export import csv_text, safe_cell
from inhouse_ui.console.queries import OTHERS, Window, series

SVG = "{http://www.w3.org/2000/svg}"


def svg_of(html: str) -> ET.Element:
    """The chart's ``<svg>`` element, parsed as XML (so the markup is well formed)."""
    return ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])


def test_a_line_chart_puts_the_peak_at_the_top_and_zero_on_the_baseline() -> None:
    html = line_chart("cost", ["2026-11-01", "2026-11-02", "2026-11-03"], {"a": [0, 4, 2], "b": [1, 1, 1]}, " USD")
    lines = svg_of(html).findall(f"{SVG}polyline")
    assert len(lines) == 2
    points = [tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()]
    base = HEIGHT - 28
    assert points[0] == (LEFT, base) and points[1][1] == TOP and points[2][1] == pytest.approx((TOP + base) / 2)
    assert points[0][0] < points[1][0] < points[2][0]
    assert "4 USD" in html and "2026-11-01" in html and "2026-11-03" in html


def test_chart_labels_are_escaped_in_text_titles_and_legend() -> None:
    hostile = '<script>alert("x")</script>&'
    for html in (line_chart(hostile, ["2026-11-01"], {hostile: [3.0]}), bar_chart(hostile, {hostile: 3.0})):
        assert "<script>" not in html
        svg = svg_of(html)  # parses: nothing broke out of an attribute or element
        assert hostile in "".join(svg.itertext())


def test_bar_widths_are_proportional() -> None:
    svg = svg_of(bar_chart("calls", {"a": 10.0, "b": 5.0, "c": 0.0}))
    widths = [float(r.get("width", "0")) for r in svg.findall(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0


@pytest.mark.parametrize("text", ["=1+2", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_cells_get_a_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


def test_csv_parses_back_with_numbers_and_safe_text() -> None:
    rows = [["=cmd|' /C calc'!A0", -1, 0.25, None, "plain, with comma", 'quote "q"\nline']]
    [header, row] = list(csv.reader(io.StringIO(csv_text(["a", "b", "c", "d", "e", "f"], rows))))
    assert header == ["a", "b", "c", "d", "e", "f"]
    assert row == ["'=cmd|' /C calc'!A0", "-1", "0.25", "", "plain, with comma", 'quote "q"\nline']


def test_a_window_is_the_last_30_days_by_default_and_names_a_bad_date() -> None:
    window = Window.parse(None, None, now=1_796_000_000)  # 2026-11-30
    assert (window.first, window.last, len(window.days)) == ("2026-11-01", "2026-11-30", 30)
    assert window.until - window.since == 30 * 86400
    with pytest.raises(HTTPException, match="to must be a date like 2026-11-01, not '30/11'"):
        Window.parse(None, "30/11")
    with pytest.raises(HTTPException, match="after"):
        Window.parse("2026-11-02", "2026-11-01")
    with pytest.raises(HTTPException, match="at most 366"):
        Window.parse("2020-01-01", "2026-01-01")


def test_series_keeps_the_largest_keys_and_sums_the_rest() -> None:
    days = ["2026-11-01", "2026-11-02"]
    rows = [
        {"day": day, "user": user, "calls": calls, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
        for day, user, calls in [(days[0], "a", 5), (days[1], "a", 1), (days[0], "b", 3), (days[1], "c", 2), (days[1], "d", 1)]
    ]
    lines = series(rows, "user", "calls", days, top=2)
    assert lines == {"a": [5.0, 1.0], "b": [3.0, 0.0], OTHERS: [0.0, 3.0]}
