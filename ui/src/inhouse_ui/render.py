"""The HTML the page shows: answers with their source buttons and details, the passage panel,
the header and upload reports.

Chat messages go through Gradio's sanitizer, which keeps ``class``, ``role`` and plain tags but
drops ``data-*`` and ``aria-*`` attributes: a source button carries its turn and number in a
class (``cite-12-3``, or ``related-12-3`` for a closest passage offered with an abstention)
that the page's script reads. Everything that is not model-written Markdown is escaped here,
passages and abstentions included: documents are hostile text. Model-written Markdown goes
through ``safe_markdown`` (no remote images, no raw HTML, links only to allowed origins).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import Any

from inhouse.types import NOT_FOUND, Answer, Citation
from inhouse_ui.conversations import Turn
from inhouse_ui.safe_markdown import safe_markdown
from inhouse_ui.uploads import SHARED, FileResult, Job

RESIDENCY = {
    "local": "runs on this server",
    "in-account": "in the company's cloud account",
    "self-hosted": "on the company's own GPUs",
    "external": "sent to an outside service",
}
ABSTAINED = (
    '<p class="abstained"><strong>The documents do not answer this.</strong> '
    "Nothing in the documents you can read covers it, so there is no answer rather than a guess.</p>"
)
KIND_TITLES = {
    "quoted": "The answer is the documents' own sentences, word for word; open a source to see them in place.",
    "generated": "A model wrote this answer from the passages; check it against the sources.",
}
#: The key spaces of the source buttons: an answer's citations, and the closest passages of an abstention.
CITED, RELATED = "cite", "related"
_MARKS = re.compile(r"</?mark>")
PANEL_EMPTY = (
    '<div class="passage empty"><h2 tabindex="-1">Sources</h2>'
    "<p>Choose a numbered source under an answer to read the passage it comes from.</p></div>"
)


def chat_messages(turns: Sequence[Turn], origins: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The Chatbot value: a user message and (once something arrived) an answer per turn;
    ``origins`` are the sites answers may link to besides this one."""
    out: list[dict[str, Any]] = []
    for turn in turns:
        out.append({"role": "user", "content": turn.question})
        content = answer_content(turn, origins)
        if content:
            out.append({"role": "assistant", "content": content})
    return out


def answer_content(turn: Turn, origins: Sequence[str] = ()) -> str:
    """The assistant message of a turn: the streamed text while it runs, then the full answer."""
    if turn.rendered is not None:
        return turn.rendered
    if turn.error:
        turn.rendered = f'<p class="error" role="alert">Something went wrong: {escape(turn.error)}</p>'
        return turn.rendered
    if turn.answer is None:
        return safe_markdown(turn.partial, origins)
    body = answer_body(turn, origins)
    turn.rendered = "\n\n".join(p for p in (body, sources_html(turn), meta_html(turn.answer)) if p)
    return turn.rendered


def answer_body(turn: Turn, origins: Sequence[str] = ()) -> str:
    """The answer's text (or the abstention), made safe to show, then its images."""
    answer = turn.answer
    assert answer is not None
    parts = []
    if answer.abstained and answer.route.get("use_case") != "image":
        parts.append(ABSTAINED)
        detail = answer.text.removeprefix(NOT_FOUND).strip()  # what it looked at ("I looked at “Title” (path) …")
        if detail:  # escaped: titles and paths come from the documents
            parts.append(f'<p class="abstained-detail">{escape(detail)}</p>')
    elif answer.abstained:
        parts.append(f'<p class="abstained">{escape(answer.text)}</p>')
    elif answer.text:
        text = answer.text
        if text.count("```") % 2:  # close a code block the model left open, or it swallows the sources
            text += "\n```"
        parts.append(safe_markdown(text, origins))
    if answer.usage.images and not turn.images:  # a reopened conversation: images are not stored
        parts.append('<p class="image-gone">The image is not kept once the conversation is closed or the server restarts.</p>')
    for image_id in turn.images:
        alt = escape(f"Image for: {turn.question}"[:200], quote=True)
        parts.append(
            f'<figure class="answer-image"><img src="images/{image_id}" alt="{alt}">'
            f'<figcaption><a href="images/{image_id}?download=1" download>Download image</a></figcaption></figure>'
        )
    return "\n\n".join(parts)


def where(citation: Citation) -> str:
    """``p. 3`` or the heading path of a citation."""
    return f"p. {citation.page}" if citation.page is not None else citation.heading


def sources_html(turn: Turn) -> str:
    """Numbered buttons, one per citation, and for an abstention the closest passages; the
    page's script opens the passage panel."""
    answer = turn.answer
    if answer is None:
        return ""
    groups = []
    if answer.citations:
        chips = " ".join(_chip(turn.id, CITED, c, numbered=True) for c in answer.citations)
        groups.append(f'<div class="sources" role="group"><span class="sources-label">Sources</span> {chips}</div>')
    if answer.abstained and answer.related:
        chips = " ".join(_chip(turn.id, RELATED, c, numbered=False) for c in answer.related)
        groups.append(
            f'<div class="sources related" role="group"><span class="sources-label">Closest passages</span> {chips}</div>'
        )
    return "\n\n".join(groups)


def _chip(turn_id: int, space: str, citation: Citation, *, numbered: bool) -> str:
    label = citation.title or citation.source
    place = where(citation)
    text = f"{label} — {place}" if place else label
    short = text if len(text) <= 60 else text[:57].rstrip() + "…"
    number = f'<span class="cite-n">{citation.n}</span> ' if numbered else ""
    return (
        f'<button type="button" class="cite-chip {space}-{turn_id}-{citation.n}">'
        f'{number}<span class="cite-title">{escape(short)}</span></button>'
    )


def meta_html(answer: Answer) -> str:
    """Who answered, where it ran, tokens and time, and any fallback."""
    route = answer.route or {}
    bits = []
    kind = kind_badge(answer)
    if kind:
        bits.append(kind)
    residency = route.get("residency")
    if residency:
        title = escape(RESIDENCY.get(residency, residency))
        bits.append(f'<span class="badge residency-{escape(residency)}" title="{title}">{escape(residency)}</span>')
    if answer.provider and answer.kind != "generated":  # a generated answer's badge names it
        bits.append(f'<span class="provider">{escape(answer.provider)}</span>')
    use_case = route.get("use_case")
    if use_case and use_case != "default":
        bits.append(f'<span class="use-case">{escape(use_case)}</span>')
    usage = answer.usage
    if usage.input_tokens or usage.output_tokens:
        bits.append(f'<span class="tokens">{usage.input_tokens:,} in · {usage.output_tokens:,} out tokens</span>')
    if usage.images:
        bits.append(f'<span class="tokens">{usage.images} image{"s" if usage.images != 1 else ""}</span>')
    total = answer.timings.get("total_ms")
    if total is not None:
        took = f"{total / 1000:.1f} s" if total >= 1000 else f"{total:.0f} ms"
        bits.append(f'<span class="time">{took}</span>')
    if answer.cost_usd:
        bits.append(f'<span class="cost">${answer.cost_usd:.4f}</span>')
    if route.get("fallback"):
        failed = list(dict.fromkeys(str(a.get("profile")) for a in answer.attempts if not a.get("ok") and a.get("profile")))
        origin = ", ".join(failed) or ", ".join(route.get("chain", [])[:1]) or "the first choice"
        bits.append(f'<span class="fallback">fell back from {escape(origin)}</span>')
    return f'<div class="answer-meta">{" · ".join(bits)}</div>' if bits else ""


def kind_badge(answer: Answer) -> str:
    """The badge saying what kind of answer it is: "Quoted from the documents", or "Written by
    PROVIDER" ("Made by" for an image); none for an abstention. Its words say it, not only its colour."""
    if answer.abstained or answer.kind not in KIND_TITLES:
        return ""
    if answer.kind == "quoted":
        text = "Quoted from the documents"
    else:
        verb = "Made" if answer.artifacts else "Written"
        text = f"{verb} by {answer.provider or 'a model'}"
    return f'<span class="badge kind kind-{answer.kind}" title="{escape(KIND_TITLES[answer.kind])}">{escape(text)}</span>'


def passage_html(citation: Citation, doc_id: str | None, *, related: bool = False) -> str:
    """The side panel for one citation (``related``: a closest passage of an abstention): title,
    place, the passage with the sentences the answer quotes from it marked, a link to the original."""
    place = where(citation)
    text, marked = mark_highlights(citation.text, citation.highlights)
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n") if _MARKS.sub("", p).strip())
    link = (
        f'<p class="open-original"><a href="files/{escape(doc_id)}{_page_anchor(citation)}" target="_blank" rel="noopener">'
        f"Open the original ({escape(citation.source.rsplit('/', 1)[-1])})</a></p>"
        if doc_id
        else ""
    )
    title = escape(citation.title or citation.source)
    number = "" if related else f'<span class="cite-n">{citation.n}</span> '
    if related:
        note = '<p class="passage-note">A closest passage: the assistant found no answer to the question in it.</p>'
    elif marked:
        note = '<p class="passage-note">Highlighted: the sentences of the answer quoted from this passage.</p>'
    else:
        note = ""
    return (
        f'<div class="passage{" related" if related else ""}"><h2 tabindex="-1">{number}{title}</h2>'
        + (f'<p class="where">{escape(place)}</p>' if place else "")
        + f'<p class="path">{escape(citation.source)}</p>{note}'
        + f'<blockquote class="passage-text">{paragraphs}</blockquote>{link}</div>'
    )


def mark_highlights(text: str, highlights: Sequence[str]) -> tuple[str, int]:
    """``text`` escaped, each of ``highlights`` found in it (whitespace aside) wrapped in
    ``<mark>``, sentences next to each other in one; and how many marks there are. Both are
    escaped before matching, so nothing of either reaches the page as HTML. A mark is closed
    at each paragraph break (``\\n\\n``) and opened again after it."""
    safe = escape(text)
    spans: list[tuple[int, int]] = []
    for sentence in highlights:
        words = escape(sentence).split()
        if not words:
            continue
        found = re.search(r"\s+".join(map(re.escape, words)), safe)
        if found:
            spans.append(found.span())
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        gap = safe[merged[-1][1] : start] if merged else "-"
        if merged and (start <= merged[-1][1] or (not gap.strip() and "\n\n" not in gap)):  # overlaps, or follows it
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        inner = safe[start:end].replace("\n\n", "</mark>\n\n<mark>")
        out += [safe[at:start], f"<mark>{inner}</mark>"]
        at = end
    out.append(safe[at:])
    return "".join(out), len(merged)


def _page_anchor(citation: Citation) -> str:
    return f"#page={citation.page}" if citation.page is not None and citation.source.lower().endswith(".pdf") else ""


def header_html(title: str, user: str, signed_in: bool, ready: bool = True) -> str:
    """The page header (with a Sign out button when ``signed_in`` with a password or OpenID Connect); ``ready``
    (class ``ready``) once the page's load event has run."""
    who = (
        f'<form class="who" method="post" action="logout">Signed in as <strong>{escape(user)}</strong> · '
        '<button type="submit" class="sign-out">Sign out</button></form>'
        if signed_in
        else ""
    )
    return (
        f'<header class="page-header{" ready" if ready else ""}"><div><h1>{escape(title)}</h1>'
        "<p>Answers from the company's documents, with the sources they come from.</p></div>"
        f"{who}</header>"
    )


COLLECTION_NAMES = {"personal": "your personal collection", "shared": "the shared collection"}
STATUS_TEXT = {
    "added": "added",
    "updated": "updated",
    "unchanged": "already there, unchanged",
}


def upload_progress(job: Job) -> str:
    """A progress bar while the worker ingests the job's files."""
    if job.total is None:
        bar = '<progress aria-label="Reading the files"></progress>'
        text = f"Reading {len(job.names)} file{'s' if len(job.names) != 1 else ''}…"
    else:
        bar = f'<progress aria-label="Reading the files" max="{max(job.total, 1)}" value="{job.done}"></progress>'
        text = f"Read {job.done} of {job.total}" + (f": {escape(job.current)}" if job.current else "")
    return f'<div class="upload-progress" role="status">{bar} <span>{text}</span></div>'


def upload_report(job: Job) -> str:
    """What was added to which collection, and every file that could not be, with its reason."""
    where_to = COLLECTION_NAMES[SHARED if job.collection == SHARED else "personal"]
    if job.error:
        return f'<div class="upload-report" role="alert"><p class="bad">Could not add the files: {escape(job.error)}</p></div>'
    good = [r for r in job.results if r.ok]
    bad = [r for r in job.results if not r.ok]
    parts = ['<div class="upload-report" role="status">']
    if good:
        parts.append(f"<p>Added to {where_to} ({job.seconds:.1f} s):</p><ul>")
        parts += [f'<li class="ok"><span class="name">{escape(r.name)}</span> — {STATUS_TEXT[r.status]}</li>' for r in good]
        parts.append("</ul>")
    if bad:
        parts.append(f'<p class="bad">Could not add {len(bad)} file{"s" if len(bad) != 1 else ""}:</p><ul>')
        parts += [f'<li class="bad"><span class="name">{escape(r.name)}</span> — {escape(_why(r))}</li>' for r in bad]
        parts.append("</ul>")
    parts.append("</div>")
    return "".join(parts)


def _why(result: FileResult) -> str:
    """Why a file is not in the collection as uploaded (a failed replacement keeps the original)."""
    reason = result.reason or "it could not be read"
    return f"not replaced, the original is kept: {reason}" if result.status == "kept" else reason


def feedback_note(question: str, verdict: str) -> str:
    """The thanks shown after a rating, asking for a comment."""
    short = question if len(question) <= 80 else question[:79] + "…"
    return f"<p>Thanks: you rated the answer to <em>{escape(short)}</em> as <strong>{verdict}</strong>. Add a comment?</p>"


def notice(text: str) -> str:
    """A short status line."""
    return f'<p class="notice" role="status">{escape(text)}</p>'


def upload_message(text: str, bad: bool = False) -> str:
    """A one-line upload report (``bad``: a refusal)."""
    return f'<div class="upload-report" role="status"><p class="{"bad" if bad else ""}">{escape(text)}</p></div>'
