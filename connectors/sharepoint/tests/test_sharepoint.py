"""The SharePoint connector against a local Microsoft Graph (``sharepoint_graph``): listing by
delta with pages, permissions → ACLs seen through a real ``Assistant`` with ``[users]``,
incremental re-syncs (changed, deleted, added, re-shared items), throttling, token refresh,
download redirects and hostile paths."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sharepoint_graph import CLIENT_ID, HOST, SECRET, SITE_PATH, TENANT, GraphEmulator, group, link, site_group, user

from inhouse import Assistant
from inhouse.errors import IngestError
from inhouse.testing.connector import ConnectorTests
from inhouse_sharepoint.connector import SharePointConnector

pytestmark = pytest.mark.model  # the Assistant tests embed with MiniLM

MAPS = {
    "user_map": {"ANA@contoso.com": "ana", "u-bob": "bob"},
    "group_map": {"g-hr": "hr", "link:organization": "staff"},
    "acl": ["staff"],
}
TEXT = "# {title}\n\nContoso {title}: {body}\n"


def build_site(emu: GraphEmulator) -> None:
    """Documents/Policies/{handbook.md, HR/{leave.md, pay.md}, ~$lock.md}; Engineering/{design/api.md, secret.md, anyone.md}."""
    root = emu.add_drive("b!docs", "Documents")
    policies = emu.add_folder("b!docs", "f-pol", "Policies", root)
    hr = emu.add_folder("b!docs", "f-hr", "HR", policies)
    emu.add_file(
        "b!docs",
        "i-hand",
        "handbook.md",
        policies,
        TEXT.format(title="Handbook", body="office hours are nine to five."),
        [site_group("Contoso Members")],
    )
    emu.add_file(
        "b!docs",
        "i-leave",
        "leave.md",
        hr,
        TEXT.format(title="Leave", body="twenty-five days of annual leave."),
        [group("g-hr", "hr@contoso.com"), site_group("Contoso Owners", inherited=False)],
    )
    emu.add_file(
        "b!docs",
        "i-pay",
        "pay.md",
        hr,
        TEXT.format(title="Pay", body="salaries are paid monthly."),
        [user("u-ana", "ana@contoso.com"), user("u-zed", "zed@contoso.com")],
    )
    emu.add_file("b!docs", "i-lock", "~$leave.md", hr, "lock", [])
    eng = emu.add_drive("b!eng", "Engineering")
    design = emu.add_folder("b!eng", "f-des", "design", eng)
    emu.add_file(
        "b!eng",
        "i-api",
        "api.md",
        design,
        TEXT.format(title="API", body="the API uses JSON over HTTPS."),
        [link("organization"), link("users", [("u-bob", "bob@contoso.com")])],
    )
    emu.add_file(
        "b!eng",
        "i-secret",
        "secret.md",
        eng,
        TEXT.format(title="Secret", body="the launch code."),
        [user("u-zed", "zed@contoso.com")],
    )
    emu.add_file(
        "b!eng",
        "i-anyone",
        "anyone.md",
        eng,
        TEXT.format(title="Anyone", body="shared by an anonymous link."),
        [link("anonymous"), link("existingAccess")],
    )


@pytest.fixture
def graph():
    with GraphEmulator(page_size=3) as emu:
        build_site(emu)
        yield emu


def config(emu: GraphEmulator, **extra) -> dict:
    return {
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "site": f"{HOST}:/{SITE_PATH}",
        "graph_url": emu.endpoint_url,
        "authority": emu.endpoint_url,
        "download_hosts": [],
        "max_retry_wait_s": 2,
        **MAPS,
        **extra,
    }


def make(emu: GraphEmulator, home: Path | None = None, **extra) -> SharePointConnector:
    return SharePointConnector(SharePointConnector.Config.model_validate(config(emu, **extra)), name="sp", home=home)


class TestSharePointConformance(ConnectorTests):
    @pytest.fixture
    def connector(self, graph: GraphEmulator, tmp_path: Path):
        c = make(graph, tmp_path)
        yield c
        c.close()


def test_lists_every_file_with_paths_ids_and_access(graph: GraphEmulator) -> None:
    sources = {s.path: s for s in make(graph).fetch()}
    assert sorted(sources) == [
        "Documents/Policies/HR/leave.md",
        "Documents/Policies/HR/pay.md",
        "Documents/Policies/handbook.md",
        "Engineering/anyone.md",
        "Engineering/design/api.md",
        "Engineering/secret.md",
    ]  # folders, roots and the ~$ lock file are not documents
    acl = {path: s.acl for path, s in sources.items()}
    assert acl == {
        "Documents/Policies/handbook.md": ("group:staff",),  # inherited site group → the table's acl
        "Documents/Policies/HR/leave.md": ("group:hr",),  # the unmapped, not inherited Owners group is dropped
        "Documents/Policies/HR/pay.md": ("user:ana",),  # matched by e-mail, whatever its case; zed is unmapped
        "Engineering/design/api.md": ("group:staff", "user:bob"),  # organization link + specific-people link
        "Engineering/secret.md": (),  # nobody: fail closed
        "Engineering/anyone.md": (),  # an unmapped anonymous link and an existing-access link grant nothing
    }
    api = sources["Engineering/design/api.md"]
    assert api.media_type == "text/markdown" and api.size > 0 and api.root == f"sharepoint:{HOST}:/{SITE_PATH}"
    assert graph.count("/root/delta") == 5  # 7 items in Documents and 5 in Engineering, 3 per page: 3 + 2 pages


def test_unknown_drive_and_bad_secret_are_clear_errors(graph: GraphEmulator) -> None:
    with pytest.raises(IngestError, match=r"drives: Wiki not found.*Documents, Engineering"):
        list(make(graph, drives=["Wiki"]).fetch())
    with pytest.raises(IngestError, match=r"invalid_client.*client_secret"):
        list(make(graph, client_secret="wrong").fetch())
    with pytest.raises(ValueError, match="site"):
        make(graph, site="contoso.sharepoint.com:/sites/../../x")


def test_open_refuses_what_it_did_not_yield(graph: GraphEmulator, tmp_path: Path) -> None:
    c = make(graph, tmp_path, exclude=["Engineering/**"])
    paths = [s.path for s in c.fetch()]
    assert all(p.startswith("Documents/") for p in paths)
    before = len(graph.requests)
    for hostile in (
        "Engineering/secret.md",
        "Documents/Policies/HR/~$leave.md",
        "Documents/../Engineering/secret.md",
        "/etc/passwd",
    ):
        with pytest.raises(IngestError, match="is not a file of"):
            c.open(hostile)
    assert len(graph.requests) == before  # refused without asking Graph
    # a new connector on the same home opens from the saved state, without listing again
    graph.reset()
    again = make(graph, tmp_path, exclude=["Engineering/**"])
    assert again.open("Documents/Policies/HR/pay.md").startswith(b"# Pay")
    assert graph.count("/root/delta") == 0 and graph.count("/content") == 1 and graph.count("/download/") == 1


def test_download_redirect_only_to_allowed_hosts(graph: GraphEmulator) -> None:
    """The 302 of /content is followed without the token to Graph's host or download_hosts only
    (no request leaves loopback: refused targets are never contacted)."""
    c = make(graph)
    list(c.fetch())
    assert c.open("Engineering/secret.md") == graph.contents["i-secret"]  # 302 to /download, fetched without the token
    graph.download_location = "https://attacker.example/steal"
    with pytest.raises(IngestError, match="not an allowed download host"):
        c.open("Engineering/secret.md")
    c2 = make(graph, download_hosts=["*.sharepoint.com"])
    list(c2.fetch())
    graph.download_location = "ftp://files.sharepoint.com/x"  # an allowed host, but not https
    with pytest.raises(IngestError, match="not an allowed download host"):
        c2.open("Engineering/secret.md")


def test_throttling_is_retried_after_retry_after_and_401_refreshes_the_token(graph: GraphEmulator) -> None:
    c = make(graph)
    graph.fail("/root/delta", 429, "1")
    graph.fail("/items/i-pay/permissions", 503, "0")
    started = time.perf_counter()
    sources = {s.path: s for s in c.fetch()}
    assert time.perf_counter() - started >= 1.0  # Retry-After: 1 honoured
    assert not any(s.error for s in sources.values()) and sources["Documents/Policies/HR/pay.md"].acl == ("user:ana",)
    graph.revoke()
    assert c.open("Documents/Policies/handbook.md").startswith(b"# Handbook")
    assert graph.count("/oauth2/v2.0/token", "POST") == 2  # the first sign-in, then once after the 401


def test_a_failing_permission_read_is_an_item_error_retried_next_time(graph: GraphEmulator, tmp_path: Path) -> None:
    c = make(graph, tmp_path)
    graph.fail("/items/i-leave/permissions", 500, None)  # not a status Graph asks to retry
    sources = {s.path: s for s in c.fetch()}
    leave = sources["Documents/Policies/HR/leave.md"]
    assert leave.error.startswith("permissions unreadable") and "500" in leave.error and leave.hash == ""
    assert sum(bool(s.error) for s in sources.values()) == 1  # one bad item does not stop the rest
    sources = {s.path: s for s in make(graph, tmp_path).fetch()}  # next sync: read again
    assert not sources["Documents/Policies/HR/leave.md"].error and sources["Documents/Policies/HR/leave.md"].acl == ("group:hr",)


def test_an_expired_delta_link_lists_everything_again(graph: GraphEmulator, tmp_path: Path) -> None:
    first = {s.path: s.hash for s in make(graph, tmp_path).fetch()}
    graph.expire_delta_links()
    graph.reset()
    assert {s.path: s.hash for s in make(graph, tmp_path).fetch()} == first
    assert graph.count("/root/delta") == 2 + 5  # a 410 per drive, then the full listing again


def test_a_renamed_folder_moves_its_files_and_keeps_their_ids(graph: GraphEmulator, tmp_path: Path) -> None:
    """Delta sends only the renamed folder; paths below it are rebuilt from the remembered
    folders, ids stay, hashes change (the store records the path ``open`` uses), and the
    files below are re-read for permissions (a move can change what they inherit)."""
    c = make(graph, tmp_path)
    before = {s.id: s for s in c.fetch()}
    graph.rename("f-hr", "People")
    graph.reset()
    after = {s.id: s for s in c.fetch()}
    assert before.keys() == after.keys()
    moved = {i for i in after if after[i].path != before[i].path}
    assert {after[i].path for i in moved} == {"Documents/Policies/People/leave.md", "Documents/Policies/People/pay.md"}
    assert all(after[i].hash != before[i].hash for i in moved)
    assert all(after[i].hash == before[i].hash for i in after.keys() - moved)
    assert graph.count("/permissions") == 2 and graph.count("/content") == 0
    assert c.open("Documents/Policies/People/pay.md").startswith(b"# Pay")
    with pytest.raises(IngestError):
        c.open("Documents/Policies/HR/pay.md")


def test_a_changed_map_applies_without_asking_graph(graph: GraphEmulator, tmp_path: Path) -> None:
    list(make(graph, tmp_path).fetch())
    graph.reset()
    remapped = make(graph, tmp_path, user_map={"u-zed": "zed"}, group_map={}, acl=[])
    acl = {s.path: s.acl for s in remapped.fetch()}
    assert acl["Engineering/secret.md"] == ("user:zed",) and acl["Documents/Policies/HR/pay.md"] == ("user:zed",)
    assert acl["Documents/Policies/handbook.md"] == ()  # the inherited grant no longer gives anyone
    assert graph.count("/permissions") == 0


# through a real Assistant -----------------------------------------------------------------------


def assistant(emu: GraphEmulator, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    monkeypatch.setenv("SP_TEST_SECRET", SECRET)
    table = "\n".join(
        f"{k} = {v!r}".replace("'", '"')
        for k, v in config(emu).items()
        if k not in ("client_secret", "user_map", "group_map", "acl", "download_hosts")
    )
    users = {"ana": ["hr", "staff"], "bob": ["staff"], "carl": ["eng"]}
    text = (
        '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
        f'[connectors.sp]\nuse = "sharepoint"\nclient_secret = {{ env = "SP_TEST_SECRET" }}\n{table}\n'
        'acl = ["staff"]\ndownload_hosts = []\n'
        '[connectors.sp.user_map]\n"ana@contoso.com" = "ana"\n"u-bob" = "bob"\n'
        '[connectors.sp.group_map]\n"g-hr" = "hr"\n"link:organization" = "staff"\n'
        + "".join(f"[users.{name}]\ngroups = {groups!r}\n".replace("'", '"') for name, groups in users.items())
    )
    (folder / "plugins.toml").write_text(text, encoding="utf-8")
    return Assistant.from_config(folder / "plugins.toml", home=folder / "home")


def visible(a: Assistant, who: str | None) -> set[str]:
    return {h.chunk.source for h in a.search("Contoso", k=20, user=who, mode="bm25")}


def test_acls_reach_search_and_resyncs_are_incremental(
    graph: GraphEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = assistant(graph, tmp_path, monkeypatch)
    report = a.ingest()
    assert (report.added, report.failed) == (6, [])
    assert visible(a, "ana") == {
        "Documents/Policies/handbook.md",
        "Documents/Policies/HR/leave.md",
        "Documents/Policies/HR/pay.md",
        "Engineering/design/api.md",
    }
    assert visible(a, "bob") == {"Documents/Policies/handbook.md", "Engineering/design/api.md"}
    assert visible(a, "carl") == set()
    assert len(visible(a, None)) == 6  # the trusted local caller sees everything

    # a re-sync with nothing changed: no downloads, no permission reads, one delta request per drive
    graph.reset()
    a2 = assistant(graph, tmp_path, monkeypatch)  # a new process: the delta links come from the state file
    report = a2.ingest()
    assert (report.unchanged, report.added, report.updated, report.removed) == (6, 0, 0, 0)
    assert graph.count("/content") == graph.count("/permissions") == 0
    assert graph.count("/root/delta") == 2 and len(graph.requests) == 5  # token, site, drives, 2 deltas

    # one changed, one deleted, one added, one folder re-shared
    graph.change_file("i-leave", TEXT.format(title="Leave", body="thirty days of annual leave."))
    graph.delete("i-anyone")
    graph.add_file(
        "b!eng",
        "i-new",
        "onboarding.md",
        "f-des",
        TEXT.format(title="Onboarding", body="badges on day one."),
        [group("g-hr", "hr")],
    )
    graph.share("f-hr", [])  # the HR folder's sharing changed: pay.md below it is re-read...
    graph.perms["i-pay"] = [user("u-bob", "bob@contoso.com")]  # ...and now grants bob instead of ana
    graph.reset()
    report = a2.ingest()
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 2, 1, 3), report
    assert graph.count("/content") == 2  # leave.md and onboarding.md only; pay.md's access changed in place
    assert graph.count("/permissions") == 3  # leave.md, onboarding.md and pay.md (below the re-shared folder)
    assert "Documents/Policies/HR/pay.md" in visible(a2, "bob") and "Documents/Policies/HR/pay.md" not in visible(a2, "ana")
    assert "Engineering/anyone.md" not in visible(a2, None)
    assert "Engineering/design/onboarding.md" in visible(a2, "ana")
    hits = a2.search("thirty days annual leave", k=1, user="ana", mode="bm25")
    assert hits and hits[0].chunk.source == "Documents/Policies/HR/leave.md"
    _, data = a2.open_document(hits[0].chunk.doc_id, user="ana")
    assert data.startswith(b"# Leave") and b"thirty" in data
    a.close()
    a2.close()
