"""Tests of ``inhouse.parsing``: every format on real files built in the test, and every
bad input giving an ``IngestError`` whose reason a user can act on."""

from __future__ import annotations

import pytest

from inhouse.errors import IngestError
from inhouse.parsing import UnsupportedType, parse, parser_for, supported

# --- dispatch ------------------------------------------------------------------------------


def test_supported_suffixes_and_media_types_come_from_the_parser_entry_points():
    suffixes = {".md", ".markdown", ".txt", ".text", ".rst", ".html", ".htm", ".pdf", ".docx", ".xlsx"}
    assert suffixes | {"text/markdown", "text/plain", "text/html", "application/pdf"} <= supported()
    assert {name for name in supported() if name.startswith(".")} == suffixes


def test_a_media_type_picks_the_parser_when_the_name_has_no_suffix():
    assert type(parser_for("page", "text/html; charset=utf-8")).__name__ == "HtmlParser"
    assert type(parser_for("notes.md", "text/html")).__name__ == "MarkdownParser"  # the suffix wins
    doc = parse(b"<html><head><title>T</title></head><body><h1>T</h1><p>Hello there.</p></body></html>", "page", "text/html")
    assert doc.title == "T" and "Hello there." in doc.sections[0].text


@pytest.mark.parametrize(
    ("path", "reason"),
    [("logo.png", "unsupported file type '.png'"), ("Makefile", "unsupported file type (no file extension)")],
)
def test_unsupported_type_is_an_ingest_error(path, reason):
    with pytest.raises(UnsupportedType) as caught:
        parse(b"\x89PNG\r\n", path)
    assert str(caught.value) == reason
    assert isinstance(caught.value, IngestError)


def test_suffix_is_case_insensitive():
    doc = parse(b"# Notes\n\nSome text.", "docs/NOTES.MD")
    assert doc.title == "Notes"


@pytest.mark.parametrize("path", ["a.md", "a.txt", "a.html", "a.pdf", "a.docx", "a.xlsx"])
@pytest.mark.parametrize("data", [b"", b"  \n\t\n"])
def test_empty_file(path, data):
    with pytest.raises(IngestError, match=r"^empty document$"):
        parse(data, path)


# --- Markdown ------------------------------------------------------------------------------

HANDBOOK_PAGE = """\
---
title: Going out of office
keywords: leave, out of office
redirect_from:
  - /ooo/
---
{% include "low-system.html" %}
You must have an approved [leave request in HR Links]({% page "/tools/hrlinks/#using-leave" %})
every scheduled work day. See the [software page]({{site.base_url}}/software/).{# hidden note #}

<!-- prettier-ignore -->
{% alert "Updated travel guidance" %}
  Current employees can use this <a href="https://example.gov/chart">leave comparison chart</a>.
{% endalert %}

## Your overall responsibilities {#responsibilities}

Ask in {% slack_channel "people-ops" %} if unsure. {% comment %}TODO link to
the leave calendar{% endcomment %}Submit leave **three days** in advance.

{% image "_img/ocelot.png"
  "an ocelot" %}

### Sick leave

Use sick leave for illness.

```
{% raw %}{% image "_img/ocelot.png" "alt" %}{% endraw %}
# not a heading
```

## Empty section

## Resources
* [Advanced Sick Leave](https://www.opm.gov/leave/ "OPM") and <https://gsa.gov>
"""


def test_markdown_handbook_page():
    doc = parse(HANDBOOK_PAGE.encode(), "pages/travel-and-leave/going-out-of-office.md")
    assert doc.title == "Going out of office"
    assert [s.heading for s in doc.sections] == [
        "",
        "Your overall responsibilities",
        "Your overall responsibilities > Sick leave",
        "Resources",
    ]
    intro, duty, sick, resources = (s.text for s in doc.sections)
    assert intro.startswith(
        "You must have an approved leave request in HR Links every scheduled work day. See the software page."
    )
    assert "Updated travel guidance" in intro
    assert "Current employees can use this leave comparison chart." in intro
    assert duty == "Ask in #people-ops if unsure. Submit leave three days in advance."
    # raw blocks keep their text literally; the "#" inside the fence is code, not a heading
    assert sick == 'Use sick leave for illness.\n\n{% image "_img/ocelot.png" "alt" %}\n# not a heading'
    assert resources == "* Advanced Sick Leave and https://gsa.gov"
    everything = "\n".join([intro, duty, resources])
    for leftover in ("{%", "%}", "{{", "}}", "{#", "<!--", "<a", "keywords", "low-system", "TODO"):
        assert leftover not in everything


def test_markdown_title_from_first_h1_is_left_out_of_heading_paths():
    text = "# Leave\n\nIntro.\n\n## Sick leave\n\nText.\n\n### Forms\n\nSF-71.\n\n## Annual\n\nMore."
    doc = parse(text.encode(), "leave.md")
    assert doc.title == "Leave"
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("", "Intro."),
        ("Sick leave", "Text."),
        ("Sick leave > Forms", "SF-71."),
        ("Annual", "More."),
    ]


def test_markdown_title_from_file_stem():
    doc = parse(b"Just text, no headings.", "pages/advanced-sick-leave.md")
    assert doc.title == "Advanced sick leave"
    assert doc.sections[0].text == "Just text, no headings."


def test_markdown_folded_and_quoted_front_matter_titles():
    folded = "---\ntitle:\n  Play 6 - Be human; bring your authentic self\n  to work\nkeywords: x\n---\nBody."
    assert parse(folded.encode(), "play-6.md").title == "Play 6 - Be human; bring your authentic self to work"
    quoted = '---\ntitle: "Onboarding: overview"\n---\nBody.'
    assert parse(quoted.encode(), "index.md").title == "Onboarding: overview"
    tagged = "---\ntitle: Travel <em>before</em> onboarding\n---\nBody."
    assert parse(tagged.encode(), "t.md").title == "Travel before onboarding"


def test_markdown_setext_headings_and_wrapped_lines():
    text = "Guide\n=====\n\nFirst line\nwrapped here.\n\nPart two\n--------\n\n- item one\n  continues\n- item two\n"
    doc = parse(text.encode(), "guide.markdown")
    assert doc.title == "Guide"
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("", "First line wrapped here."),
        ("Part two", "- item one continues\n- item two"),
    ]


def test_markdown_inline_markup():
    text = (
        "Set up a [`sfeats` highlight](#food){.usa-button} and read the \\[Promotions page]({% page '/p' %}).\\\n"
        "Use `<project>-feds` and `[not](a link)`; &amp; ![logo](logo.png)__done__ \\*literally\\*.\n"
    )
    doc = parse(text.encode(), "inline.md")
    assert doc.sections[0].text == (
        "Set up a `sfeats` highlight and read the Promotions page.\nUse `<project>-feds` and `[not](a link)`; & done *literally*."
    )


def test_markdown_with_only_front_matter_has_no_text():
    with pytest.raises(IngestError, match=r"^no text found$"):
        parse(b"---\ntitle: Buddy Handbook\nredirect_to: https://example.gov\n---\n", "buddy.md")


# --- text decoding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "Café – naïve résumé\n".encode(),
        "Café – naïve résumé\n".encode("utf-8-sig"),
        "Café – naïve résumé\n".encode("utf-16"),  # with a BOM
        "\ufeffCafé – naïve résumé\n".encode("utf-16-be"),
        "Café – naïve résumé\n".encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "cp1252"],
)
def test_text_encodings(data):
    doc = parse(data, "note.txt")
    assert doc.title == "Café – naïve résumé"
    assert doc.sections[0].text == "Café – naïve résumé"


def test_latin1_fallback_for_bytes_cp1252_does_not_define():
    data = b"Caf\xe9 menu: the \x81 byte is undefined in cp1252\n"
    assert parse(data, "a.txt").sections[0].text == "Café menu: the \x81 byte is undefined in cp1252"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01",
        bytes(range(1, 32)) * 4 + b"some text",
        "text\x00".encode("utf-16"),
    ],
    ids=["nul-bytes", "control-chars", "utf-16-nul"],
)
@pytest.mark.parametrize("path", ["readme.md", "notes.txt", "page.html"])
def test_binary_content_in_a_text_file(data, path):
    with pytest.raises(IngestError, match=r"^binary content in a text file$"):
        parse(data, path)


def test_plain_text_title_is_first_line_when_short():
    doc = parse(b"Expense policy\r\n\r\nKeep receipts.\r\n", "policies/expenses.rst")
    assert doc.title == "Expense policy"
    assert doc.sections[0].text == "Expense policy\n\nKeep receipts."
    long_first = ("word " * 40 + "\nmore").encode()
    assert parse(long_first, "field_notes.text").title == "Field notes"


# --- HTML ----------------------------------------------------------------------------------

HTML_PAGE = b"""<!doctype html><html><head><title>Leave policy</title>
<style>p { color: red }</style><script>var x = "<h2>no</h2>";</script></head>
<body><header>Site header</header><nav><a href="/">Home</a></nav>
<h1>Leave policy</h1><p>Intro <b>bold</b>text &amp; more.<!-- comment --></p>
<h2>Sick leave</h2><ul><li>One</li><li>Two<ul><li>Nested</li></ul></li></ul>
<h3>Forms</h3><table><tr><th>Form</th><th>Use</th></tr><tr><td>SF-71</td><td>Request <i>leave</i></td></tr></table>
<h2>Annual</h2><p>Line<br>break</p><footer>Footer text</footer></body></html>"""


def test_html_sections_tables_and_lists():
    doc = parse(HTML_PAGE, "site/leave.htm")
    assert doc.title == "Leave policy"
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("", "Intro boldtext & more."),
        ("Sick leave", "One\nTwo\nNested"),
        ("Sick leave > Forms", "Form | Use\nSF-71 | Request leave"),
        ("Annual", "Line\nbreak"),
    ]


def test_html_title_falls_back_to_h1_then_stem():
    assert parse(b"<h1>Benefits</h1><p>Text</p>", "b.html").title == "Benefits"
    assert parse(b"<p>Text</p>", "health_benefits.html").title == "Health benefits"


def test_html_declared_charset_is_honoured():
    page = '<meta charset="shift_jis"><title>休暇</title><p>有給休暇の申請</p>'.encode("shift_jis")
    doc = parse(page, "jp.html")
    assert (doc.title, doc.sections[0].text) == ("休暇", "有給休暇の申請")


def test_html_deep_nesting_and_empty_headings():
    deep = "<div>" * 5000 + "<h2><img src=a.png></h2>deep text" + "</div>" * 5000
    assert [(s.heading, s.text) for s in parse(deep.encode(), "deep.html").sections] == [("", "deep text")]


def test_html_without_text():
    with pytest.raises(IngestError, match=r"^no text found$"):
        parse(b"<html><body><script>x()</script><img src=a.png></body></html>", "a.html")
