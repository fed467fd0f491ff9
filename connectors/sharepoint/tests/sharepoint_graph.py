"""A local Microsoft Graph for the SharePoint connector's tests, on 127.0.0.1, answering in the
shapes Microsoft documents: the identity platform's token endpoint (client credentials),
``/v1.0/sites/{hostname}:/{path}``, ``/v1.0/sites/{id}``, ``/v1.0/sites/{id}/drives``,
``/v1.0/drives/{id}/root/delta`` (pages joined by ``@odata.nextLink``, the last with an
``@odata.deltaLink``; removed items with the ``deleted`` facet; ``@microsoft.graph.sharedChanged``
on items whose sharing changed), ``/v1.0/drives/{d}/items/{i}/permissions`` and
``/v1.0/drives/{d}/items/{i}/content`` (302 to a pre-authenticated ``/download/`` URL).

Every Graph request needs a bearer token the token endpoint gave; ``revoke()`` makes the
current ones fail with 401. ``fail(fragment, status, retry_after)`` answers the next request
whose path holds ``fragment`` with that status once. ``requests`` records
``(method, path, query)`` of each request.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any
from urllib.parse import parse_qs, unquote

from inhouse.testing.emulators.server import Emulator, Handler

TENANT, CLIENT_ID, SECRET = "contoso.onmicrosoft.com", "app-1234", "s3cret"
HOST, SITE_PATH = "contoso.sharepoint.com", "sites/hr"
SITE_ID = f"{HOST},2C712604-1370-44E7-A1F5-426573FDA80A,2D2244C3-251A-49EA-93A8-39E1C3A060FE"


class GraphHandler(Handler):
    """One connection to the local Graph."""

    def respond(self, path: str, query: str, body: bytes) -> None:
        """Route one request."""
        emu: GraphEmulator = self.emulator
        path = unquote(path)
        emu.record((self.command, path, query))
        fault = emu.take_fault(path)
        if fault is not None:
            status, retry_after = fault
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            code = "TooManyRequests" if status == 429 else "serviceNotAvailable" if status == 503 else "generalException"
            return self._json(status, {"error": {"code": code, "message": "scripted fault"}}, headers)
        if path == f"/{TENANT}/oauth2/v2.0/token" and self.command == "POST":
            return self._token(parse_qs(body.decode()))
        if path.startswith("/download/"):
            item = emu.item_of(path.rsplit("/", 1)[-1])
            if item is None or parse_qs(query).get("sig") != ["ok"] or "Authorization" in self.headers:
                return self._json(403, {"error": {"code": "accessDenied", "message": "bad download"}})
            return self.send(200, {"Content-Type": "application/octet-stream"}, emu.contents[item["id"]])
        if self.headers.get("Authorization", "").removeprefix("Bearer ") not in emu.tokens:
            return self._json(401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}})
        answer = emu.answer(path, parse_qs(query), self.headers.get("Prefer", ""))
        if answer is None:
            return self._json(404, {"error": {"code": "itemNotFound", "message": f"{path} not found"}})
        if isinstance(answer, tuple):  # a redirect
            return self.send(302, {"Location": answer[0]}, b"")
        return self._json(answer.pop("@status", 200), answer)

    def _token(self, form: dict[str, list[str]]) -> None:
        emu: GraphEmulator = self.emulator
        ok = form.get("client_id") == [CLIENT_ID] and form.get("client_secret") == [SECRET]
        if not ok or form.get("grant_type") != ["client_credentials"] or not form.get("scope", [""])[0].endswith("/.default"):
            return self._json(401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."})
        token = f"tok-{next(emu.counter)}"
        emu.tokens.add(token)
        self._json(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.send(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode())


class GraphEmulator(Emulator):
    """The site ``contoso.sharepoint.com:/sites/hr`` with the drives ``add_drive`` made."""

    handler_class = GraphHandler

    def __init__(self, page_size: int = 3) -> None:
        self.page_size = page_size
        self.counter = itertools.count(1)
        self.tokens: set[str] = set()
        self.drives: dict[str, dict[str, Any]] = {}  # id -> {"name", "root"}
        self.items: dict[str, dict[str, Any]] = {}  # id -> driveItem (with private "_v", "_shared", "_drive")
        self.tombstones: list[tuple[int, str, dict[str, Any]]] = []  # (version, drive, deleted item)
        self.contents: dict[str, bytes] = {}
        self.perms: dict[str, list[dict[str, Any]]] = {}
        self.version = 0
        self.floor = 0  # delta tokens below this have expired (410)
        self.faults: list[tuple[str, int, str | None]] = []
        self.download_location = ""  # when set, /content redirects here instead
        self._mutex = threading.Lock()
        super().__init__()

    # building the site -------------------------------------------------------------------------

    def add_drive(self, drive_id: str, name: str) -> str:
        """A document library; returns its root folder's id."""
        root = f"{drive_id}-root"
        self.drives[drive_id] = {"name": name, "root": root}
        self._put(drive_id, {"id": root, "name": "root", "root": {}, "folder": {"childCount": 0}}, None)
        return root

    def add_folder(self, drive_id: str, item_id: str, name: str, parent: str) -> str:
        """A folder under ``parent``."""
        self._put(drive_id, {"id": item_id, "name": name, "folder": {"childCount": 0}}, parent)
        return item_id

    def add_file(self, drive_id: str, item_id: str, name: str, parent: str, text: str, perms: list[dict[str, Any]]) -> str:
        """A file with its content and permissions."""
        self.contents[item_id] = text.encode()
        self.perms[item_id] = perms
        mime = "text/markdown" if name.endswith(".md") else "text/plain"
        self._put(drive_id, {"id": item_id, "name": name, "file": {"mimeType": mime}, "size": len(text.encode())}, parent)
        return item_id

    def change_file(self, item_id: str, text: str) -> None:
        """New content: new eTag and cTag, a new version in the delta feed."""
        item = self.items[item_id]
        self.contents[item_id] = text.encode()
        item["size"] = len(text.encode())
        self._put(item["_drive"], item, item["parentReference"]["id"])

    def rename(self, item_id: str, name: str) -> None:
        """Rename an item: only the item itself shows up in the delta feed, not its descendants."""
        item = self.items[item_id]
        item["name"] = name
        self._put(item["_drive"], item, item["parentReference"].get("id"))

    def share(self, item_id: str, perms: list[dict[str, Any]]) -> None:
        """Change an item's permissions: it shows up in the delta feed marked sharedChanged."""
        self.perms[item_id] = perms
        with self._mutex:
            self.version += 1
            self.items[item_id]["_shared"] = self.version

    def delete(self, item_id: str) -> None:
        """Remove an item: the delta feed reports it with the deleted facet."""
        with self._mutex:
            item = self.items.pop(item_id)
            self.version += 1
            self.tombstones.append((self.version, item["_drive"], item))

    def expire_delta_links(self) -> None:
        """Every delta link given so far now gets 410 Gone (resyncRequired)."""
        with self._mutex:
            self.version += 1
            self.floor = self.version

    def revoke(self) -> None:
        """Every token given so far now gets 401."""
        self.tokens.clear()

    def fail(self, fragment: str, status: int = 429, retry_after: str | None = "1") -> None:
        """Answer the next request whose path holds ``fragment`` with ``status`` (once)."""
        with self._mutex:
            self.faults.append((fragment, status, retry_after))

    def take_fault(self, path: str) -> tuple[int, str | None] | None:
        """The fault scripted for ``path``, consumed."""
        with self._mutex:
            for n, (fragment, status, retry_after) in enumerate(self.faults):
                if fragment in path:
                    del self.faults[n]
                    return status, retry_after
        return None

    def item_of(self, item_id: str) -> dict[str, Any] | None:
        """A live item by id."""
        return self.items.get(item_id)

    def count(self, fragment: str, method: str = "GET") -> int:
        """How many requests had ``fragment`` in their path."""
        return sum(1 for m, p, _ in self.requests if m == method and fragment in p)

    # answering ---------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, list[str]], prefer: str) -> dict[str, Any] | tuple[str] | None:
        """The JSON answer of a Graph GET (a 1-tuple: redirect there), None for 404."""
        site = {"id": SITE_ID, "name": "hr", "displayName": "HR", "webUrl": f"https://{HOST}/{SITE_PATH}"}
        if path in (f"/v1.0/sites/{HOST}:/{SITE_PATH}", f"/v1.0/sites/{SITE_ID}"):
            return site
        if path == f"/v1.0/sites/{SITE_ID}/drives":
            return {"value": [{"id": d, "name": v["name"], "driveType": "documentLibrary"} for d, v in self.drives.items()]}
        parts = path.split("/")
        if len(parts) >= 5 and parts[1:3] == ["v1.0", "drives"] and parts[3] in self.drives:
            drive_id, rest = parts[3], parts[4:]
            if rest == ["root", "delta"]:
                return self._delta(drive_id, query, prefer)
            if len(rest) == 3 and rest[0] == "items" and rest[1] in self.items:
                if rest[2] == "permissions":
                    return {"value": self.perms.get(rest[1], [])}
                if rest[2] == "content":
                    return (self.download_location or f"{self.endpoint_url}/download/{rest[1]}?sig=ok",)
        return None

    def _delta(self, drive_id: str, query: dict[str, list[str]], prefer: str) -> dict[str, Any]:
        since = int(query.get("token", ["0"])[0])
        if "token" in query and since < self.floor:
            return {"@status": 410, "error": {"code": "resyncRequired", "message": "Resync required."}}
        if "$skiptoken" in query:  # a next page: "since.skip"
            since, skip = map(int, query["$skiptoken"][0].split("."))
        else:
            skip = 0
        with self._mutex:
            now = self.version
            live = [i for i in self.items.values() if i["_drive"] == drive_id]
            changed = [
                i for i in live if i["_v"] > since or ("deltashowsharingchanges" in prefer and i.get("_shared", 0) > since)
            ]
            gone = [
                {"id": i["id"], "name": i["name"], "deleted": {"state": "deleted"}, "parentReference": i["parentReference"]}
                for v, d, i in self.tombstones
                if d == drive_id and v > since
            ]
        public = [self._public(i, since) for i in sorted(changed, key=lambda i: (i["_v"], i["id"]))] + gone
        page = public[skip : skip + self.page_size]
        base = f"{self.endpoint_url}/v1.0/drives/{drive_id}/root/delta"
        if skip + self.page_size < len(public):
            return {"value": page, "@odata.nextLink": f"{base}?$skiptoken={since}.{skip + self.page_size}"}
        return {"value": page, "@odata.deltaLink": f"{base}?token={now}"}

    def _public(self, item: dict[str, Any], since: int) -> dict[str, Any]:
        out = {k: v for k, v in item.items() if not k.startswith("_")}
        if item.get("_shared", 0) > since:
            out["@microsoft.graph.sharedChanged"] = "True"
        return out

    def _put(self, drive_id: str, item: dict[str, Any], parent: str | None) -> None:
        with self._mutex:
            self.version += 1
            v = self.version
            item.update(
                _drive=drive_id,
                _v=v,
                eTag=f'"{{{item["id"]}}},{v}"',
                cTag=f'"c:{{{item["id"]}}},{v}"',
                lastModifiedDateTime=f"2024-05-01T10:{v // 60 % 60:02d}:{v % 60:02d}Z",
                webUrl=f"https://{HOST}/{SITE_PATH}/{item['name']}",
                parentReference={"driveId": drive_id, "driveType": "documentLibrary", **({"id": parent} if parent else {})},
            )
            self.items[item["id"]] = item


# permission shapes (Graph's permission resource) ----------------------------------------------


def user(graph_id: str, email: str, inherited: bool = False) -> dict[str, Any]:
    """A permission granted to one person."""
    who = {
        "user": {"id": graph_id, "displayName": email.split("@")[0], "email": email},
        "siteUser": {"id": "7", "displayName": email, "loginName": f"i:0#.f|membership|{email}"},
    }
    return {"id": f"p-{graph_id}", "roles": ["read"], "grantedToV2": who, **({"inheritedFrom": {}} if inherited else {})}


def group(graph_id: str, email: str) -> dict[str, Any]:
    """A permission granted to a Microsoft 365 / security group."""
    return {
        "id": f"p-{graph_id}",
        "roles": ["write"],
        "grantedToV2": {"group": {"id": graph_id, "displayName": email, "email": email}},
    }


def site_group(name: str, inherited: bool = True) -> dict[str, Any]:
    """A permission of one of the site's own SharePoint groups (Members, Visitors), inherited."""
    who = {"siteGroup": {"@odata.type": "#microsoft.graph.sharePointIdentity", "id": "5", "displayName": name, "loginName": name}}
    return {
        "id": f"p-{name}",
        "roles": ["read"],
        "grantedToV2": who,
        **({"inheritedFrom": {"driveId": "x"}} if inherited else {}),
    }


def link(scope: str, people: list[tuple[str, str]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """A sharing link (``anonymous``, ``organization``, ``users`` with ``people``, ``existingAccess``)."""
    identities = [{"user": {"id": gid, "displayName": mail, "email": mail}} for gid, mail in people]
    out = {
        "id": f"l-{scope}",
        "roles": ["read"],
        "link": {"scope": scope, "type": "view", "webUrl": "https://contoso.sharepoint.com/:w:/x"},
    }
    return {**out, "grantedToIdentitiesV2": identities} if identities else out
