"""The filesystem connector: every file under a folder, filtered by globs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field

from inhouse.errors import IngestError
from inhouse.globs import matches
from inhouse.plugins import ConfigPath, Connector, PluginConfig
from inhouse.types import Source

DEFAULT_EXCLUDE = [".*", ".*/**", "**/node_modules/**", "**/__pycache__/**", "~$*"]


def file_hash(path: Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        acl: list[str] = Field(default_factory=list, description="principals allowed to read these files; empty: everyone")

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

    def fetch(self, since: float | None = None) -> Iterator[Source]:
        """Yield every matching file, sorted by path; unreadable files come with ``error`` set."""
        root = self.root
        if root.is_file():
            yield self._source(root, root.name)
            return
        if not root.is_dir():
            raise IngestError(f"{root} does not exist or is not a folder")
        for full, rel in sorted(self._walk(since), key=lambda item: item[1]):
            yield self._source(full, rel)

    def _walk(self, since: float | None) -> Iterator[tuple[Path, str]]:
        root = self.root
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            dirnames[:] = sorted(d for d in dirnames if not self._excluded(_join(rel_dir, d) + "/"))
            for name in sorted(filenames):
                rel = _join(rel_dir, name)
                if self._excluded(rel) or not matches(rel, self.config.include):
                    continue
                full = Path(dirpath) / name
                try:
                    modified = full.stat().st_mtime
                except OSError:
                    modified = 0.0
                if since is not None and modified and modified <= since:
                    continue
                yield full, rel

    def _excluded(self, rel: str) -> bool:
        patterns = [*DEFAULT_EXCLUDE, *self.config.exclude]
        return matches(rel.rstrip("/"), patterns) or (rel.endswith("/") and matches(rel, patterns))

    def _source(self, full: Path, rel: str) -> Source:
        root = str(self.root)
        ident = hashlib.sha1(f"{root}\0{rel}".encode()).hexdigest()[:20]
        common = dict(id=ident, path=rel, root=root, acl=tuple(self.config.acl), uri=full.absolute().as_uri())
        try:
            stat = full.stat()
            digest = file_hash(full)
        except OSError as exc:
            return Source(modified=0.0, hash="", size=0, error=f"unreadable: {exc.strerror or exc}", **common)
        return Source(modified=stat.st_mtime, hash=digest, size=stat.st_size, **common)


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir}/{name}"
