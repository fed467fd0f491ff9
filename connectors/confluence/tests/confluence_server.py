"""A local Confluence Cloud for the tests: the response shapes of Atlassian's REST API that the
connector reads (v2 spaces, pages and attachments with cursor pagination in ``_links.next``,
v1 read restrictions, attachment downloads), basic auth with an email and an API token, and
faults on demand (a 429 with ``Retry-After``, a 500). It records every request it answers.
Loopback only (127.0.0.1)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

EMAIL, TOKEN = "bot@example.com", "api-token-123"
WHEN = "2024-05-01T10:00:00.000Z"


@dataclass
class Attachment:
    id: str
    title: str
    media_type: str
    data: bytes
    version: int = 1
    status: str = "current"


@dataclass
class Page:
    id: str
    space_id: str
    title: str
    body: str
    parent: str | None = None
    version: int = 1
    users: list[str] = field(default_factory=list)  # accountIds the read restriction names
    groups: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    status: str = "current"


@dataclass
class Wiki:
    """The site's content, the requests it answered and the faults still to serve."""

    spaces: dict[str, str] = field(default_factory=dict)  # key -> id
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # "path?query" of each authorised request
    unauthorised: int = 0
    faults: list[list[Any]] = field(default_factory=list)  # [path prefix, status, headers, times left]
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 1000

    def space(self, key: str) -> str:
        self.spaces[key] = str(len(self.spaces) + 65536)
        return self.spaces[key]

    def page(self, key: str, title: str, body: str, parent: Page | None = None, **extra: Any) -> Page:
        self.next_id += 1
        page = Page(str(self.next_id), self.spaces[key], title, body, parent.id if parent else None, **extra)
        self.pages[page.id] = page
        return page

    def attach(self, page: Page, title: str, media_type: str, data: bytes) -> Attachment:
        self.next_id += 1
        attachment = Attachment(f"att{self.next_id}", title, media_type, data)
        page.attachments.append(attachment)
        return attachment

    def fail(self, prefix: str, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        self.faults.append([prefix, status, headers or {}, times])

    def count(self, prefix: str, containing: str = "") -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.startswith(prefix) and containing in r)

    def bodies(self) -> int:
        """Requests that download content: page bodies and attachment files."""
        return self.count("/wiki/api/v2/pages/", "body-format=storage") + self.count("/wiki/download/")


def _page_json(wiki: Wiki, page: Page, body: bool) -> dict[str, Any]:
    key = next(k for k, v in wiki.spaces.items() if v == page.space_id)
    out = {
        "id": page.id,
        "status": page.status,
        "title": page.title,
        "spaceId": page.space_id,
        "parentId": page.parent,
        "parentType": "page" if page.parent else None,
        "authorId": "557058:author",
        "createdAt": WHEN,
        "version": {"createdAt": WHEN, "message": "", "number": page.version, "minorEdit": False, "authorId": "557058:author"},
        "_links": {"webui": f"/spaces/{key}/pages/{page.id}/{quote(page.title)}", "tinyui": f"/x/{page.id}"},
    }
    if body:
        out["body"] = {"storage": {"representation": "storage", "value": page.body}}
    return out


def _attachment_json(page: Page, a: Attachment) -> dict[str, Any]:
    download = f"/download/attachments/{page.id}/{quote(a.title)}?version={a.version}&modificationDate=1714557600000&api=v2"
    return {
        "id": a.id,
        "status": a.status,
        "title": a.title,
        "createdAt": WHEN,
        "pageId": page.id,
        "mediaType": a.media_type,
        "mediaTypeDescription": "",
        "comment": "",
        "fileId": f"file-{a.id}",
        "fileSize": len(a.data),
        "webuiLink": f"/pages/viewpageattachments.action?pageId={page.id}&preview={quote(a.title)}",
        "downloadLink": download,
        "version": {"createdAt": WHEN, "message": "", "number": a.version, "minorEdit": False, "authorId": "557058:author"},
        "_links": {"webui": f"/pages/viewpageattachments.action?pageId={page.id}", "download": download},
    }


class Handler(BaseHTTPRequestHandler):
    """Routes GET requests of the documented paths; anything else is a 404."""

    wiki: Wiki
    base: str

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        wiki = self.wiki
        expected = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            with wiki.lock:
                wiki.unauthorised += 1
            return self._json(401, {"code": 401, "message": "Unauthorized; scope does not match"})
        with wiki.lock:
            wiki.requests.append(self.path)
            fault = next((f for f in wiki.faults if self.path.startswith(f[0]) and f[3] > 0), None)
            if fault is not None:
                fault[3] -= 1
        if fault is not None:
            return self._json(fault[1], {"statusCode": fault[1], "message": "injected fault"}, fault[2])
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        try:
            self._route(parts, query)
        except KeyError:
            self._json(404, {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]})

    def _route(self, parts: list[str], query: dict[str, str]) -> None:
        wiki = self.wiki
        match parts:
            case ["wiki", "api", "v2", "spaces"]:
                keys = [k for v in query.get("keys", "").split(",") if (k := v.strip())]
                items = [
                    {"id": sid, "key": key, "name": key.title(), "type": "global", "status": "current",
                     "_links": {"webui": f"/spaces/{key}"}}
                    for key, sid in sorted(wiki.spaces.items()) if not keys or key in keys
                ]  # fmt: skip
                self._list(items, query)
            case ["wiki", "api", "v2", "spaces", space_id, "pages"]:
                pages = [p for p in wiki.pages.values() if p.space_id == space_id and p.status == query.get("status", "current")]
                body = query.get("body-format") == "storage"
                self._list([_page_json(wiki, p, body) for p in sorted(pages, key=lambda p: int(p.id))], query)
            case ["wiki", "api", "v2", "pages", page_id]:
                self._json(200, _page_json(wiki, wiki.pages[page_id], query.get("body-format") == "storage"))
            case ["wiki", "api", "v2", "pages", page_id, "attachments"]:
                page = wiki.pages[page_id]
                self._list([_attachment_json(page, a) for a in page.attachments if a.status == "current"], query)
            case ["wiki", "api", "v2", "attachments", att_id]:
                page, a = next((p, a) for p in wiki.pages.values() for a in p.attachments if a.id == att_id)
                self._json(200, _attachment_json(page, a))
            case ["wiki", "download", "attachments", page_id, _name]:
                page = wiki.pages[page_id]
                a = next(a for a in page.attachments if a.title == self._name())
                self._raw(200, a.data, a.media_type)
            case ["wiki", "rest", "api", "content", page_id, "restriction", "byOperation", "read"]:
                self._json(200, self._restriction(wiki.pages[page_id], query))
            case _:
                raise KeyError(parts)

    def _name(self) -> str:
        return unquote(urlsplit(self.path).path.rsplit("/", 1)[-1])

    def _restriction(self, page: Page, query: dict[str, str]) -> dict[str, Any]:
        start, limit = int(query.get("start", 0)), int(query.get("limit", 100))
        users = [
            {"type": "known", "accountId": a, "accountType": "atlassian", "displayName": a, "publicName": a} for a in page.users
        ][start : start + limit]
        groups = [{"type": "group", "name": g, "id": f"id-{g}"} for g in page.groups][start : start + limit]
        expand = query.get("expand", "")
        restrictions: dict[str, Any] = {}
        for kind, items in (("user", users), ("group", groups)):
            if f"restrictions.{kind}" in expand:
                restrictions[kind] = {"results": items, "start": start, "limit": limit, "size": len(items)}
        return {
            "operation": "read",
            "restrictions": restrictions,
            "_expandable": {"content": f"/rest/api/content/{page.id}"},
            "_links": {"self": f"{self.base}/wiki/rest/api/content/{page.id}/restriction/byOperation/read"},
        }

    def _list(self, items: list[dict[str, Any]], query: dict[str, str]) -> None:
        """Cursor pagination as v2 does it: an opaque ``cursor``, the next page in ``_links.next``."""
        limit = int(query.get("limit", 25))
        offset = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if "cursor" in query else 0
        links: dict[str, str] = {"base": f"{self.base}/wiki"}
        if offset + limit < len(items):
            cursor = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
            rest = {k: v for k, v in query.items() if k != "cursor"}
            links["next"] = f"{urlsplit(self.path).path}?{urlencode({**rest, 'cursor': cursor})}"
        self._json(200, {"results": items[offset : offset + limit], "_links": links})

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(body).encode(), "application/json", headers)

    def _raw(self, status: int, data: bytes, media_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve(wiki: Wiki) -> Iterator[str]:
    """Serve ``wiki`` on a free loopback port; yields its base URL."""
    handler = type("WikiHandler", (Handler,), {"wiki": wiki})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler.base
    finally:
        server.shutdown()
        server.server_close()


CODE = (
    '<h2>Steps</h2><p>Run the deploy script.</p><ac:structured-macro ac:name="code">'
    '<ac:parameter ac:name="language">bash</ac:parameter>'
    "<ac:plain-text-body><![CDATA[./deploy --region eu-west-1 && echo '<done>']]></ac:plain-text-body>"
    "</ac:structured-macro>"
)


def build_wiki() -> Wiki:
    """ENG: seven pages (three listing pages at page_size 3), one attachment, a group-restricted
    page with an unrestricted child, a page for one person, one for a person nobody mapped.
    HR: a public policy and a page restricted to a group renamed by ``group_map``."""
    wiki = Wiki()
    wiki.space("ENG")
    wiki.space("HR")
    home = wiki.page("ENG", "Engineering home", "<p>Welcome to engineering.</p>")
    deploy = wiki.page("ENG", "Deploy guide", CODE, parent=home)
    wiki.attach(deploy, "Runbook Q1.txt", "text/plain", b"The runbook says: page the on-call engineer Tamsin.\n")
    bands = wiki.page("ENG", "Salary bands", "<p>Band seven is codenamed Heliotrope.</p>", parent=home, groups=["hr"])
    wiki.page("ENG", "Bands 2025", "<p>The 2025 bands are codenamed Marigold.</p>", parent=bands)
    wiki.page("ENG", "Ana notes", "<p>Ana keeps the Quillfeather notes here.</p>", users=["acc-ana"])
    wiki.page("ENG", "Vault", "<p>The vault code word is Obsidian.</p>", users=["acc-zed"])
    wiki.page("ENG", "Team lunch", "<p>The team lunch is on Fridays.</p>", parent=home)
    wiki.page("HR", "Leave policy", "<p>Everyone gets twenty-five days of leave.</p>")
    wiki.page("HR", "Payroll", "<p>Payroll runs on the 25th, codename Saffron.</p>", groups=["payroll-team"])
    return wiki


def options(base: str, **extra: Any) -> dict[str, Any]:
    """A connector table on the local site (fast retries, small listing pages)."""
    return {
        "base_url": base,
        "email": EMAIL,
        "token": TOKEN,
        "spaces": ["ENG", "HR"],
        "page_size": 3,
        "backoff_base": 0.05,
        "user_map": {"acc-ana": "ana"},
        "group_map": {"payroll-team": "payroll"},
        **extra,
    }
