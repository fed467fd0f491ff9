"""The SharePoint connector: the files of a site's document libraries through Microsoft Graph.

Each ``fetch`` resolves the site (``GET /v1.0/sites/{id}`` or ``/sites/{hostname}:/{path}``),
lists its drives (``GET /v1.0/sites/{id}/drives``), asks each selected drive for what changed
since the last sync (a delta query, ``inhouse_sharepoint.delta``), reads the permissions of the
files that changed (``inhouse_sharepoint.permissions``) and yields every current file from what
it remembers (``inhouse_sharepoint.state``), so the ingester sees the whole library each time
while Graph is asked only for the changes. ``open`` downloads a file it yielded
(``GET /v1.0/drives/{d}/items/{i}/content``, ``inhouse_sharepoint.graph``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator

from inhouse.access import Principals, matches
from inhouse.config import Label
from inhouse.errors import IngestError
from inhouse.plugins import Connector, PluginConfig
from inhouse.types import Source
from inhouse_sharepoint import delta, permissions
from inhouse_sharepoint.graph import Gone, Graph
from inhouse_sharepoint.state import DriveState, FileEntry, load, save

DEFAULT_EXCLUDE = ["~$*"]  # Office lock files
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_SITE = re.compile(r"^[A-Za-z0-9.-]+(,[A-Za-z0-9-]+,[A-Za-z0-9-]+|:/[^?#]*)?$")


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


class SharePointConnector(Connector):
    """Yields the files of a SharePoint site's document libraries, with their access from their
    Graph permissions. Ids are stable across renames and moves (from the drive and item ids);
    the hash is the item's ``cTag`` (content) and its path, so content changes, renames and
    moves re-read an item and nothing else does."""

    class Config(PluginConfig):
        """``[connectors.NAME]`` with ``use = "sharepoint"``."""

        tenant: str = Field(description="the directory (tenant) id or domain, e.g. contoso.onmicrosoft.com")
        client_id: str = Field(description="the app registration's application (client) id")
        client_secret: SecretStr = Field(description='the app\'s client secret; write { env = "NAME" }')
        site: str = Field(
            description="a site id (host,guid,guid) or hostname:/server/relative/path, e.g. contoso.sharepoint.com:/sites/hr"
        )
        drives: list[str] = Field(default_factory=list, description="document library names (empty: every document library)")
        include: list[str] = Field(default_factory=lambda: ["**/*"], description="globs on 'library/folder/file'")
        exclude: list[str] = Field(default_factory=list, description="added to the built-in exclusion of Office lock files (~$*)")
        acl: Principals = Field(
            default_factory=list,
            description="who may read an item whose permissions are inherited (inheritedFrom): group names, 'user:NAME', '*'",
        )
        label: Label | None = Field(None, description="sensitivity label of every item (else [[access.rules]] and the default)")
        user_map: dict[str, str] = Field(
            default_factory=dict, description="Graph user id, UPN, e-mail or login → inhouse user name"
        )
        group_map: dict[str, str] = Field(
            default_factory=dict,
            description="Graph group id or e-mail, SharePoint group name, link:organization or link:anonymous → group name",
        )
        graph_url: str = "https://graph.microsoft.com"
        authority: str = "https://login.microsoftonline.com"
        download_hosts: list[str] = Field(
            default_factory=lambda: ["*.sharepoint.com"], description="hosts (globs) a download may be redirected to"
        )
        timeout_s: float = Field(60.0, gt=0)
        max_attempts: int = Field(5, ge=1, le=10, description="tries per request when Graph throttles (429) or fails (5xx)")
        max_retry_wait_s: float = Field(60.0, ge=0, description="the longest Retry-After honoured, in seconds")
        workers: int = Field(8, ge=1, le=32, description="permission reads in parallel")

        @field_validator("tenant", "client_id")
        @classmethod
        def _plain(cls, value: str) -> str:
            if not _NAME.match(value):
                raise ValueError(f"{value!r} must be an id or a domain (letters, digits, '.', '-', '_')")
            return value

        @field_validator("site")
        @classmethod
        def _site(cls, value: str) -> str:
            if not _SITE.match(value) or ".." in value:
                raise ValueError(f"{value!r} must be a site id (host,guid,guid) or hostname:/sites/path")
            return value.rstrip("/")

        @field_validator("graph_url", "authority")
        @classmethod
        def _http(cls, value: str) -> str:
            return _url(value)

        @field_validator("user_map", "group_map")
        @classmethod
        def _lower(cls, value: dict[str, str]) -> dict[str, str]:
            return {k.lower(): v for k, v in value.items()}

    residency = "local"

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        c = self.config
        self.graph = Graph(
            graph_url=c.graph_url,
            authority=c.authority,
            tenant=c.tenant,
            client_id=c.client_id,
            client_secret=c.client_secret.get_secret_value(),
            download_hosts=c.download_hosts,
            timeout_s=c.timeout_s,
            max_attempts=c.max_attempts,
            max_retry_wait_s=c.max_retry_wait_s,
        )
        self._drives: dict[str, DriveState] | None = None  # what the last complete fetch found

    @property
    def root(self) -> str:
        """``sharepoint:`` and the configured site."""
        return f"sharepoint:{self.config.site}"

    @property
    def state_path(self) -> Path | None:
        """Where the delta links and item state are kept (None without a home folder: in memory only)."""
        return self.home / "sharepoint" / f"{self.name or 'default'}.json" if self.home is not None else None

    @property
    def _key(self) -> str:
        """What the saved state must have been written for."""
        return f"{self.config.graph_url}|{self.config.tenant}|{self.config.site}"

    def check(self) -> str:
        """Sign in and resolve the site."""
        return str(self._site().get("webUrl", self.root))

    def close(self) -> None:
        """Close the HTTP connections."""
        self.graph.close()

    def covers(self, path: str) -> bool:
        """A table limited to some ``drives`` lists only those libraries."""
        return not self.config.drives or path.split("/", 1)[0] in self.config.drives

    def fetch(self) -> Iterator[Source]:
        """Yield every selected file, sorted by path; a file whose permissions could not be read
        comes with ``error`` set (retried at the next sync). A site, drive list or delta that
        cannot be read raises ``IngestError`` before anything is yielded. The state is saved
        once the last source has been yielded."""
        remembered = self._drives if self._drives is not None else load(self.state_path, self._key)
        drives = {}
        for info in self._library_list():
            drive = remembered.get(info["id"]) or DriveState(info["id"], info["name"])
            drive.name = info["name"]
            self._sync(drive)
            drives[drive.id] = drive
        sources = sorted((s for d in drives.values() for s in self._sources(d)), key=lambda s: s.path)
        yield from sources
        self._drives = drives
        save(self.state_path, self._key, drives)

    def open(self, path: str) -> bytes:
        """The bytes of the file ``fetch`` yielded at ``path``; anything else is refused
        (``IngestError``) without asking Graph."""
        if self._drives is None:
            self._drives = load(self.state_path, self._key) or None
        if self._drives is None:
            for _ in self.fetch():  # never listed with this home: list once (fetch keeps what it found)
                pass
        found = self._index().get(path)
        if found is None:
            raise IngestError(f"{path!r} is not a file of {self.root}")
        drive_id, item_id = found
        return self.graph.download(f"/v1.0/drives/{quote(drive_id, safe='')}/items/{quote(item_id, safe='')}/content")

    # listing -----------------------------------------------------------------------------------

    def _site(self) -> dict:
        site = self.config.site
        if ":/" in site:
            host, path = site.split(":/", 1)
            return self.graph.get_json(f"/v1.0/sites/{host}:/{quote(path)}")
        return self.graph.get_json(f"/v1.0/sites/{quote(site, safe=',')}")

    def _library_list(self) -> list[dict]:
        site_id = quote(str(self._site().get("id", "")), safe=",")
        found = [d for page in self.graph.pages(f"/v1.0/sites/{site_id}/drives") for d in page.get("value", [])]
        libraries = [d for d in found if d.get("driveType", "documentLibrary") == "documentLibrary" and d.get("id")]
        if not self.config.drives:
            return libraries
        by_name = {d.get("name"): d for d in libraries}
        missing = [n for n in self.config.drives if n not in by_name]
        if missing:
            names = ", ".join(sorted(str(n) for n in by_name)) or "none"
            raise IngestError(f"drives: {', '.join(missing)} not found on {self.config.site} (document libraries: {names})")
        return [by_name[n] for n in self.config.drives]

    def _sync(self, drive: DriveState) -> None:
        """Bring ``drive`` up to date: its delta since the last sync (everything the first time,
        or when Graph says the delta link expired: 410), then the permissions that changed."""
        start = f"/v1.0/drives/{quote(drive.id, safe='')}/root/delta"
        headers = {"Prefer": delta.PREFER}
        try:
            pages = list(self.graph.pages(drive.delta or start, headers))
        except Gone:
            drive.delta, drive.folders, drive.files = "", {}, {}
            pages = list(self.graph.pages(start, headers))
        reread = delta.apply(drive, (item for page in pages for item in page.get("value", [])))
        drive.delta = str(pages[-1].get("@odata.deltaLink", "")) if pages else ""
        selected = {fid for fid, entry in drive.files.items() if self._selected(drive, fid, entry)}
        todo = sorted((reread | {fid for fid in selected if drive.files[fid].grants is None}) & selected)
        with ThreadPoolExecutor(max_workers=self.config.workers, thread_name_prefix="inhouse-sharepoint") as pool:
            for fid, outcome in zip(todo, pool.map(lambda fid: self._permissions(drive.id, fid), todo), strict=True):
                entry = drive.files[fid]
                entry.grants, entry.error = (None, outcome) if isinstance(outcome, str) else (outcome, "")

    def _permissions(self, drive_id: str, item_id: str) -> list[permissions.Grant] | str:
        url = f"/v1.0/drives/{quote(drive_id, safe='')}/items/{quote(item_id, safe='')}/permissions"
        try:
            return permissions.grants(p for page in self.graph.pages(url) for p in page.get("value", []))
        except IngestError as exc:
            return f"permissions unreadable: {exc}"

    def _selected(self, drive: DriveState, item_id: str, entry: FileEntry) -> bool:
        path = drive.path_of(item_id, entry.name, entry.parent)
        if path is None:
            return False
        folders = [p + "/" for p in _prefixes(path)]
        excluded = [*DEFAULT_EXCLUDE, *self.config.exclude]
        return (
            matches(path, self.config.include) and not matches(path, excluded) and not any(matches(f, excluded) for f in folders)
        )

    def _sources(self, drive: DriveState) -> Iterator[Source]:
        for fid, entry in drive.files.items():
            if not self._selected(drive, fid, entry):
                continue
            path = drive.path_of(fid, entry.name, entry.parent)
            assert path is not None  # _selected says it has one
            ident = hashlib.sha1(f"{self.root}\0{drive.id}\0{fid}".encode()).hexdigest()[:20]
            common = dict(id=ident, path=path, root=self.root, uri=entry.url, media_type=entry.mime, modified=entry.modified)
            if entry.grants is None:
                yield Source(hash="", size=entry.size, error=entry.error or "permissions not read", **common)
                continue
            acl = permissions.principals(entry.grants, self.config.user_map, self.config.group_map, self.config.acl)
            digest = hashlib.sha256(f"{entry.ctag}\0{path}".encode()).hexdigest()
            yield Source(hash=digest, size=entry.size, acl=acl, sensitivity=self.config.label, **common)

    def _index(self) -> dict[str, tuple[str, str]]:
        """Path → (drive id, item id) of every file the last fetch yielded without an error."""
        index = {}
        for drive in (self._drives or {}).values():
            for fid, entry in drive.files.items():
                if entry.grants is not None and self._selected(drive, fid, entry):
                    path = drive.path_of(fid, entry.name, entry.parent)
                    index[str(path)] = (drive.id, fid)
        return index


def _prefixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts))]
