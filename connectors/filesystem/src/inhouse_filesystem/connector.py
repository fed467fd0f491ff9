"""The filesystem connector: every file under a folder, filtered by globs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field

from inhouse.errors import IngestError
from inhouse.plugins import ConfigPath, Connector, PluginConfig
from inhouse.types import Source
from inhouse_filesystem.globs import matches

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

    def fetch(self) -> Iterator[Source]:
        """Yield every matching file, sorted by path; unreadable files come with ``error`` set."""
        root = self.root
        if root.is_file():
            yield self._source(root, root.name)
            return
        if not root.is_dir():
            raise IngestError(f"{root} does not exist or is not a folder")
        for full, rel in sorted(self._walk(), key=lambda item: item[1]):
            yield self._source(full, rel)

    def open(self, path: str) -> bytes:
        """The bytes of the file at ``path`` under the root. Refused (``IngestError``): a path
        that leaves the root (``..``, an absolute path, a symbolic link pointing out), one the
        globs exclude, and anything that is not a regular file (a device would never end)."""
        full = self.resolve(path)
        if full is None:
            raise IngestError(f"{path!r} is not a file of {self.root}")
        try:
            return full.read_bytes()
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
            if self._excluded(path) or any(map(self._excluded, folders)) or not matches(path, self.config.include):
                return None
            candidate = (root / path).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return None
        return candidate if candidate.is_relative_to(root) and candidate.is_file() else None

    @classmethod
    def reopen(cls, root: str) -> FilesystemConnector | None:
        """A connector on ``root`` when it is an absolute path (documents ingested from a path
        given on the command line or uploaded through the page), with the default globs."""
        return cls(cls.Config(path=Path(root)), name="reopened") if Path(root).is_absolute() else None

    def _walk(self) -> Iterator[tuple[Path, str]]:
        root = self.root
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            dirnames[:] = sorted(d for d in dirnames if not self._excluded(_join(rel_dir, d) + "/"))
            for name in sorted(filenames):
                rel = _join(rel_dir, name)
                if self._excluded(rel) or not matches(rel, self.config.include):
                    continue
                yield Path(dirpath) / name, rel

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
