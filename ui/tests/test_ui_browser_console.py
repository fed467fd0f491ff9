"""The admin console in a real browser (headless Chromium): signed in as an admin, the usage
and answer-rate charts render (inline SVG under the console's content security policy, no
violation reported), the filter form submits, and a CSV download arrives. Screenshots go to
tests/artifacts/ui/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support import EXAMPLES, write_config
from ui_support import USERS, password_users, serving, shot

pytestmark = [pytest.mark.model, pytest.mark.browser]


@pytest.fixture(scope="module")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server of an assistant whose ana is an admin, after questions by ana and bob (quoted answers)."""
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    folder = tmp_path_factory.mktemp("console-browser")
    users = '[users.ana]\ngroups = ["admins"]\n\n[users.bob]\ngroups = ["staff"]\n\n[[access.rules]]\nglob = "*"\npublic = true\n'
    with Assistant.from_config(write_config(folder, EXAMPLES, users), home=folder / "home") as assistant:
        assert not assistant.ingest().failed
        for user in ("ana", "bob", "bob"):
            assistant.ask("How many days of annual leave do employees get?", user=user)
        with serving(build_app(assistant, {**password_users(), "admins": ["admins"]})) as url:
            yield url


def test_an_admin_sees_the_charts_rendered(browser: Any, console_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(console_url + "login")
        page.get_by_label("Name").fill("ana")
        page.get_by_label("Password").fill(USERS["ana"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(console_url)
        page.goto(console_url + "admin/usage?by=user&metric=calls")
        assert page.locator("figure.chart svg").count() == 2
        lines = page.locator("figure.chart svg polyline")
        assert lines.count() == 2  # ana and bob
        box = lines.nth(0).bounding_box()
        assert box is not None and box["width"] > 300  # drawn across the 30 days
        legend = page.locator("ul.legend li").all_inner_texts()
        assert legend == ["bob", "ana"]  # the most calls first
        bars = page.locator("figure.chart svg rect.bar")
        widths = [bars.nth(n).bounding_box()["width"] for n in range(bars.count())]  # type: ignore[index]
        assert len(widths) == 2 and widths[0] == pytest.approx(2 * widths[1], rel=0.05)
        shot(page, "console-usage", full_page=True)
        page.select_option("select[name=by]", "group")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**/admin/usage?by=group*")
        assert set(page.locator("ul.legend li").all_inner_texts()) == {"admins", "staff"}
        with page.expect_download() as download:
            page.get_by_role("link", name="Download as CSV").click()
        assert download.value.suggested_filename == "usage-by-group.csv"
        page.goto(console_url + "admin/answers")
        assert page.locator("figure.chart svg polyline").count() == 2
        shot(page, "console-answers", full_page=True)
        assert not [p for p in problems if "Content Security Policy" in p], problems
    finally:
        context.close()
