"""The Confluence connector against a local server that answers as Confluence Cloud does:
the conformance kit, listing across cursor pages, restrictions as access lists, retries,
credentials, and what ``open`` refuses."""

from __future__ import annotations

import re
import time

import pytest
from bs4 import BeautifulSoup
from confluence_server import Wiki, options, serve
from pydantic import ValidationError

from inhouse.errors import IngestError
from inhouse.testing import ConnectorTests
from inhouse_confluence.connector import ConfluenceConnector


def by_title(connector: ConfluenceConnector) -> dict:
    """Sources by space and title slug (``ENG/deploy-guide``), attachments by file name
    (``runbook-q1.txt``), failed listings by their path."""
    out = {}
    for s in connector.fetch():
        key, _, rest = s.path.partition("/")
        if re.match(r"\d+/att\d+-", rest):
            out[re.sub(r"^\d+/att\d+-", "", rest)] = s
        elif re.match(r"\d+-", rest):
            out[key + "/" + re.sub(r"^\d+-", "", rest)] = s
        else:
            out[s.path] = s
    return out


class TestConfluenceConformance(ConnectorTests):
    @pytest.fixture
    def connector(self, make) -> ConfluenceConnector:
        return make()


def test_lists_every_page_and_attachment_across_cursor_pages(make, wiki: Wiki) -> None:
    sources = list(make().fetch())
    assert len(sources) == 10  # 9 pages, 1 attachment
    eng = wiki.spaces["ENG"]
    assert wiki.count(f"/wiki/api/v2/spaces/{eng}/pages") == 3  # 7 pages, 3 a page: followed _links.next twice
    assert wiki.bodies() == 0  # listing downloads nothing
    page = next(s for s in sources if s.path.endswith("-deploy-guide"))
    attachment = next(s for s in sources if "/att" in s.path)
    assert page.path.startswith("ENG/") and page.hash.startswith("v1 ") and page.media_type == "text/html"
    assert page.uri.endswith("/wiki/spaces/ENG/pages/" + page.path.split("/")[1].split("-")[0] + "/Deploy%20guide")
    assert attachment.path.startswith(page.path.split("-")[0] + "/att") and attachment.path.endswith("-runbook-q1.txt")
    assert (attachment.media_type, attachment.hash.split()[0], attachment.size) == ("text/plain", "v1", 52)
    assert {s.path.split("/")[0] for s in sources} == {"ENG", "HR"}


def test_view_restrictions_become_access_lists(make) -> None:
    """Users through user_map, groups by name (or group_map), inherited by child pages and
    attachments; unrestricted pages get the table's acl (else None: the rules decide); a
    restriction naming nobody we know hides the page from everyone."""
    s = by_title(make())
    assert s["ENG/salary-bands"].acl == ("group:hr",)
    assert s["ENG/bands-2025"].acl == ("group:hr",)  # the parent's view restriction applies below it
    assert s["ENG/ana-notes"].acl == ("user:ana",)
    assert s["ENG/vault"].acl == ()  # restricted to a person not in user_map: nobody
    assert s["HR/payroll"].acl == ("group:payroll",)
    assert s["HR/leave-policy"].acl is None
    assert s["runbook-q1.txt"].acl is None and s["ENG/deploy-guide"].acl is None
    with_default = by_title(make(acl=["staff"], label="confidential"))
    assert with_default["HR/leave-policy"].acl == ("group:staff",) and with_default["ENG/vault"].acl == ()
    assert {x.sensitivity for x in with_default.values()} == {"confidential"}


def test_nested_restrictions_keep_only_who_every_level_allows(make, wiki: Wiki) -> None:
    bands = next(p for p in wiki.pages.values() if p.title == "Bands 2025")
    bands.groups = ["hr", "finance"]
    bands.users = ["acc-ana"]
    assert by_title(make())["ENG/bands-2025"].acl == ("group:hr",)  # finance and ana are not allowed above


def test_open_returns_the_page_as_html_with_macros_readable(make) -> None:
    connector = make()
    page = by_title(connector)["ENG/deploy-guide"]
    soup = BeautifulSoup(connector.open(page.path), "html.parser")
    assert soup.title.get_text() == "Deploy guide"
    assert soup.find("pre").get_text() == "./deploy --region eu-west-1 && echo '<done>'"  # CDATA kept as text
    assert "bash" not in soup.get_text()  # macro parameters are settings, not text
    assert connector.open(by_title(connector)["runbook-q1.txt"].path) == b"The runbook says: page the on-call engineer Tamsin.\n"


def test_open_refuses_what_this_connector_does_not_yield(make, wiki: Wiki) -> None:
    connector = make(spaces=["ENG"])
    sources = by_title(make())
    eng_page, hr_page = sources["ENG/team-lunch"].path, sources["HR/payroll"].path
    deploy_id = sources["ENG/deploy-guide"].path.split("/")[1].split("-")[0]
    attachment = sources["runbook-q1.txt"].path.rsplit("/", 1)[-1]
    assert connector.open(eng_page)
    hostile = [
        "../../etc/passwd",
        "ENG/../../wiki/rest/api/space",
        hr_page,  # a space this connector does not read
        "ENG/" + hr_page.split("/", 1)[1],  # an HR page claimed to be in ENG
        f"ENG/{eng_page.split('/')[1].split('-')[0]}/{attachment}",  # an attachment of another page
        f"ENG/{deploy_id}/att99999-nothing.txt",
        "ENG/123456789-no-such-page",
        f"ENG/{deploy_id}-x/../{attachment}",
    ]
    for path in hostile:
        with pytest.raises(IngestError):
            connector.open(path)
    next(p for p in wiki.pages.values() if p.title == "Team lunch").status = "trashed"
    with pytest.raises(IngestError, match="not a current page"):
        connector.open(eng_page)
    with pytest.raises(IngestError, match="attachments = false"):
        make(attachments=False).open(f"ENG/{deploy_id}/{attachment}")


def test_credentials_are_checked(make, wiki: Wiki) -> None:
    with pytest.raises(IngestError, match="check email and token"):
        list(make(token="wrong").fetch())
    assert wiki.unauthorised == 1 and not wiki.requests  # a 401 is not retried
    assert len(list(make().fetch())) == 10


def test_a_429_waits_for_retry_after_and_a_500_is_retried(make, wiki: Wiki) -> None:
    eng = wiki.spaces["ENG"]
    wiki.fail(f"/wiki/api/v2/spaces/{eng}/pages", 429, {"Retry-After": "1"})
    wiki.fail("/wiki/rest/api/content/", 500)
    started = time.perf_counter()
    sources = list(make().fetch())
    elapsed = time.perf_counter() - started
    assert len(sources) == 10 and not any(s.error for s in sources)
    assert 1.0 <= elapsed < 4.0  # waited the second it was asked to, not much more
    assert wiki.count(f"/wiki/api/v2/spaces/{eng}/pages") == 4  # the throttled request, sent again
    assert wiki.count("/wiki/rest/api/content/") == 10  # nine restrictions, one of them twice


def test_one_failing_item_does_not_stop_the_sync(make, wiki: Wiki) -> None:
    """A page whose restriction cannot be read is a failed item (never guessed public); its
    children too; a space whose listing keeps failing is one failed item and is left as it is."""
    bands = next(p for p in wiki.pages.values() if p.title == "Salary bands")
    wiki.fail(f"/wiki/rest/api/content/{bands.id}/", 503, times=99)
    hr = wiki.spaces["HR"]
    wiki.fail(f"/wiki/api/v2/spaces/{hr}/pages", 429, {"Retry-After": "600"}, times=99)
    connector = make(max_attempts=2)
    started = time.perf_counter()
    s = by_title(connector)
    assert time.perf_counter() - started < 5  # a Retry-After over max_retry_after is not waited for
    assert "view restrictions could not be read" in s["ENG/salary-bands"].error and s["ENG/salary-bands"].hash == ""
    assert s["ENG/bands-2025"].error  # below it: hidden too
    assert not s["ENG/team-lunch"].error and s["ENG/team-lunch"].hash.startswith("v1 ")
    assert "pages could not be listed" in s["HR"].error and "max_retry_after" in s["HR"].error
    assert not connector.covers("HR/1009-payroll") and connector.covers("ENG/1008-vault")


def test_a_page_whose_attachments_cannot_be_listed_keeps_them(make, wiki: Wiki) -> None:
    deploy = next(p for p in wiki.pages.values() if p.title == "Deploy guide")
    wiki.fail(f"/wiki/api/v2/pages/{deploy.id}/attachments", 500, times=99)
    connector = make(max_attempts=1)
    sources = list(connector.fetch())
    failed = [s for s in sources if s.error]
    assert [s.path for s in failed] == [f"ENG/{deploy.id}"] and "attachments could not be listed" in failed[0].error
    assert not connector.covers(f"ENG/{deploy.id}/{deploy.attachments[0].id}-runbook-q1.txt")
    assert connector.covers(f"ENG/{deploy.id}-deploy-guide")


def test_a_page_moved_without_a_new_version_is_read_again(make, wiki: Wiki) -> None:
    """The hash holds the path too: a stored path that ``open`` would now refuse never stays."""
    before = by_title(make())["ENG/team-lunch"]
    next(p for p in wiki.pages.values() if p.title == "Team lunch").space_id = wiki.spaces["HR"]
    after = by_title(make())["HR/team-lunch"]
    assert after.id == before.id and after.hash != before.hash and after.hash.startswith("v1 ")
    assert b"Fridays" in make().open(after.path)
    with pytest.raises(IngestError):
        make().open(before.path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("base_url", "http://wiki.example.com", "use https"),
        ("base_url", "ftp://x", "not a site address"),
        ("acl", ["role:x"], "not a principal"),
        ("user_map", {"acc": "user:ana"}, "not a name"),
        ("spaces", ["ENG/../x"], "not a space key"),
    ],
)
def test_configuration_errors_name_the_problem(key: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ConfluenceConnector.Config.model_validate(options("https://x.atlassian.net", **{key: value}))


def test_a_link_to_another_site_is_refused(make, wiki: Wiki) -> None:
    """A next-page link pointing elsewhere would carry the credentials there: refused."""
    connector = make()
    with pytest.raises(IngestError, match="another site"):
        connector.client.json("http://127.0.0.2:1/wiki/api/v2/spaces")
    assert not wiki.requests


def test_the_root_and_ids_differ_between_tables_of_other_spaces(make) -> None:
    both, eng = make(), make(spaces=["ENG"])
    assert both.root != eng.root and both.root.endswith("/wiki/spaces/ENG+HR")
    assert not {s.id for s in both.fetch()} & {s.id for s in eng.fetch()}


def test_a_missing_space_is_reported(site: str) -> None:
    connector = ConfluenceConnector(ConfluenceConnector.Config.model_validate(options(site, spaces=["ENG", "NOPE"])))
    failed = [s for s in connector.fetch() if s.error]
    assert [s.path for s in failed] == ["NOPE"] and "space not found" in failed[0].error
    assert not connector.covers("NOPE/1-x")


def test_every_readable_space_without_a_list(site: str) -> None:
    connector = ConfluenceConnector(ConfluenceConnector.Config.model_validate(options(site, spaces=[])))
    assert {s.path.split("/")[0] for s in connector.fetch()} == {"ENG", "HR"}
    assert connector.root.endswith("/wiki")


def test_the_server_answers_only_on_loopback() -> None:
    with serve(Wiki()) as base:
        assert base.startswith("http://127.0.0.1:")
