"""The chat page in a real browser: adding documents (personal, and a file that cannot be
read), the page under its content security policy, and the image mode (the Bedrock
emulator's image model). See conftest.py for the server and the browser; screenshots go to
tests/artifacts/ui/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ui_support import Server, ask, shot

pytestmark = [
    pytest.mark.model,
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # its pandas summary after each event
]


def test_an_uploaded_file_is_ingested_and_cited_only_for_its_owner(
    server: Server, sign_in: Callable[..., Any], tmp_path: Path
) -> None:
    doc = tmp_path / "office-mascot.md"
    doc.write_text(
        "# Office mascot\n\nThe office mascot of Northwind Lattice is a zebra called Quillon. "
        "Quillon the zebra lives in the Rotterdam atrium and is fed by the facilities team.\n",
        encoding="utf-8",
    )
    page = sign_in("ana")
    page.locator("#upload input[type=file]").set_input_files([str(doc)])
    report = page.locator("#upload-status .upload-report")
    report.wait_for(timeout=60_000)
    assert "office-mascot.md — added" in report.inner_text()
    assert "personal collection" in report.inner_text()
    shot(page, "upload")
    saved = server.assistant.home / "uploads" / "users" / "ana" / "office-mascot.md"
    assert saved.is_file()

    answer = ask(page, "What is the office mascot called?")
    titles = [c.inner_text() for c in answer.locator("button.cite-chip").all()]
    assert any("Office mascot" in t for t in titles), titles
    answer.locator("button.cite-chip", has_text="Office mascot").first.click()
    page.locator("#citation-panel .passage-text", has_text="Quillon").wait_for()
    href = page.locator("#citation-panel a").get_attribute("href")
    assert page.request.get(server.url + href).text().startswith("# Office mascot")

    other = sign_in("bob")  # a personal collection is personal
    answer = ask(other, "What is the office mascot called?")
    assert not any("Office mascot" in c.inner_text() for c in answer.locator("button.cite-chip").all())
    assert other.request.get(server.url + href).status == 404


def test_a_bad_upload_shows_its_reason(server: Server, sign_in: Callable[..., Any], tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not really a PDF\n")
    good = tmp_path / "parking.md"
    good.write_text("# Parking\n\nVisitors park on level -2 of the Rotterdam garage.\n", encoding="utf-8")
    page = sign_in("cleo")
    assert page.locator("#collection").get_by_label("Shared: everyone").count() == 0  # not a shared writer
    page.locator("#upload input[type=file]").set_input_files([str(broken), str(good)])
    report = page.locator("#upload-status .upload-report")
    report.wait_for(timeout=60_000)
    text = report.inner_text()
    assert "parking.md — added" in text and "personal collection" in text
    assert "Could not add 1 file" in text
    bad = report.locator("li.bad").inner_text()
    assert bad.startswith("broken.pdf — ") and len(bad) > len("broken.pdf — ") + 5, bad
    shot(page, "bad-upload")
    own = server.assistant.home / "uploads" / "users" / "cleo"
    assert (own / "parking.md").is_file() and not (own / "broken.pdf").exists()


def test_image_mode_shows_the_image(server: Server, sign_in: Callable[..., Any], aws_credentials: None) -> None:
    page = sign_in("dev")
    page.locator("#mode").get_by_label("Image").check()
    answer = ask(page, "A lighthouse at dusk, in watercolour")
    image = answer.locator("figure.answer-image img")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert server.calls[-1]["mode"] == "image"
    meta = answer.locator(".answer-meta").inner_text()
    assert "in-account" in meta and "stability" in meta and "1 image" in meta
    href = answer.locator("figure.answer-image a").get_attribute("href")
    download = page.request.get(server.url + href)
    assert download.status == 200 and download.body().startswith(b"\x89PNG")
    assert download.headers["content-disposition"].startswith("attachment")
    shot(page, "image")
    other = sign_in("erin")  # an image is its owner's
    assert other.request.get(server.url + href).status == 404


def test_the_page_works_under_its_content_security_policy(server: Server, sign_in: Callable[..., Any], tmp_path: Path) -> None:
    """Finding 5: the policy the page now sends must not break Gradio's frontend: asking and
    uploading work, the browser reports no violation, and nothing is fetched from elsewhere."""
    page = sign_in("fay")
    violations: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith((server.url, "data:", "blob:")) else None)
    page.reload()
    page.locator("#question textarea").wait_for()
    answer = ask(page, "How many vacation days do I get?")
    assert answer.locator("button.cite-chip").count() >= 1
    doc = tmp_path / "csp-note.md"
    doc.write_text("# Bike racks\n\nThe bike racks are behind the Rotterdam office.\n", encoding="utf-8")
    page.locator("#upload input[type=file]").set_input_files([str(doc)])
    report = page.locator("#upload-status .upload-report")
    report.wait_for(timeout=60_000)
    assert "csp-note.md — added" in report.inner_text()
    assert violations == [] and elsewhere == []
