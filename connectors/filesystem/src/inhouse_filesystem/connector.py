"""The filesystem connector: every file under a folder, filtered by globs, with its access.

Access comes from the table's ``acl`` and ``label`` when set, else from ``.inhouse-acl`` files
(``inhouse_filesystem.aclfiles``); what neither says is left to the ingester
(``[[access.rules]]`` and the defaults). Only regular files under the folder are read:
a symbolic link out of it, a device, a pipe or a socket is reported, never opened.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field

from inhouse.access import Principals, matches
from inhouse.config import Label
from inhouse.errors import IngestError
from inhouse.plugins import ConfigPath, Connector, PluginConfig
from inhouse.types import Source
from inhouse_filesystem.aclfiles import ACCESS_FILE, AccessFiles
from inhouse_filesystem.regular import hash_regular, inside, read_regular

DEFAULT_EXCLUDE = [".*", ".*/**", "**/node_modules/**", "**/__pycache__/**", "~$*"]


class FilesystemConnector(Connector):
    """Walks a folder (or takes one file) and yields each matching file as a ``Source``.

    Ids are stable (derived from the root and the relative path), so a file keeps its id
    across runs and a changed hash means changed content.
    """

    class Config(PluginConfig):
        """``[connectors.NAME]`` with ``use = "filesystem"``."""

        path: ConfigPath
        include: list[str] = Field(default_factory=lambda: ["**/*"])
        exclude: list[str] = Field(
            default_factory=list, description="added to the built-in exclusions (hidden files, node_modules, ...)"
        )
        acl: Principals = Field(
            default_factory=list,
            description="who may read every file: group names, 'user:NAME', '*' (empty: .inhouse-acl files and [[access.rules]])",
        )
        label: Label | None = Field(None, description="sensitivity label of every file (else .inhouse-acl, rules, default)")
        within: str = Field(
            "",
            description="only this file or folder under path (`inhouse ingest PATH` inside the folder): ids and access unchanged",
        )

    residency = "local"

    @property
    def root(self) -> Path:
        """The folder (or single file) this connector reads."""
        return self.config.path

    def check(self) -> str:
        """The root must exist."""
        if not self.root.exists():
            raise IngestError(f"{self.root} does not exist: fix `path` in the configuration")
        return str(self.root)

    def fetch(self) -> Iterator[Source]:
        """Yield every matching file, sorted by path; unreadable files come with ``error`` set."""
        root = self.root
        if root.is_file():
            yield self._source(root, root.name, AccessFiles(root.parent))
            return
        if not root.is_dir():
            raise IngestError(f"{root} does not exist or is not a folder")
        files = AccessFiles(root)
        for full, rel in sorted(self._walk(), key=lambda item: item[1]):
            if self.covers(rel):
                yield self._source(full, rel, files)

    def covers(self, path: str) -> bool:
        """Whether ``path`` lies in what ``fetch`` lists (all of the root, unless ``within`` is set)."""
        within = self.config.within.strip("/")
        return not within or path == within or path.startswith(within + "/")

    def open(self, path: str) -> bytes:
        """The bytes of the file at ``path`` under the root. Refused (``IngestError``): a path
        that leaves the root (``..``, an absolute path, a symbolic link pointing out), one the
        globs exclude, and anything that is not a regular file (a device would never end)."""
        full = self.resolve(path)
        if full is None:
            raise IngestError(f"{path!r} is not a file of {self.root}")
        try:
            return read_regular(full)
        except OSError as exc:
            raise IngestError(f"unreadable: {exc.strerror or exc}") from exc

    def resolve(self, path: str) -> Path | None:
        """The real file behind ``path`` when it is one this connector would yield, else None."""
        try:
            root = self.root.resolve(strict=True)
            if root.is_file():
                return root if path == root.name else None
            parts = path.split("/")
            folders = ("/".join(parts[:n]) + "/" for n in range(1, len(parts)))
            hidden = parts[-1] == ACCESS_FILE or self._excluded(path) or any(map(self._excluded, folders))
            if hidden or not matches(path, self.config.include):
                return None
            candidate = inside(root / path, root)
        except (OSError, RuntimeError, ValueError, IngestError):
            return None
        return candidate if candidate.is_file() else None

    @classmethod
    def reopen(cls, root: str) -> FilesystemConnector | None:
        """A connector on ``root`` when it is an absolute path (documents ingested from a path
        given on the command line or uploaded through the page), with the default globs."""
        return cls(cls.Config(path=Path(root)), name="reopened") if Path(root).is_absolute() else None

    def _walk(self) -> Iterator[tuple[Path, str]]:
        """Every selected file, and each link to a folder outside the root (reported, not walked)."""
        root, real_root = self.root, self.root.resolve()
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            dirnames[:] = sorted(d for d in dirnames if not self._excluded(_join(rel_dir, d) + "/"))
            for name in dirnames:  # os.walk does not follow links: one leaving the root is reported
                link = Path(dirpath) / name
                if link.is_symlink() and not link.resolve().is_relative_to(real_root):
                    yield link, _join(rel_dir, name)
            for name in sorted(filenames):
                rel = _join(rel_dir, name)
                if name == ACCESS_FILE or self._excluded(rel) or not matches(rel, self.config.include):
                    continue
                yield Path(dirpath) / name, rel

    def _excluded(self, rel: str) -> bool:
        patterns = [*DEFAULT_EXCLUDE, *self.config.exclude]
        return matches(rel.rstrip("/"), patterns) or (rel.endswith("/") and matches(rel, patterns))

    def _source(self, full: Path, rel: str, files: AccessFiles) -> Source:
        root = str(self.root)
        ident = hashlib.sha1(f"{root}\0{rel}".encode()).hexdigest()[:20]
        common = dict(id=ident, path=rel, root=root, uri=full.absolute().as_uri())
        try:
            acl, label = files.resolve(rel if full != self.root else full.name)
            real = inside(full, files.root) if full != self.root else full
            digest, stat = hash_regular(real)
        except IngestError as exc:
            return Source(modified=0.0, hash="", size=0, error=str(exc), **common)
        except OSError as exc:
            return Source(modified=0.0, hash="", size=0, error=f"unreadable: {exc.strerror or exc}", **common)
        config_acl = tuple(self.config.acl) or None
        return Source(
            modified=stat.st_mtime,
            hash=digest,
            size=stat.st_size,
            acl=config_acl if config_acl is not None else acl,
            sensitivity=self.config.label or label,
            **common,
        )


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir}/{name}"
