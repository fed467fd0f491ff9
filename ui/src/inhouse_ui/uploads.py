"""Adding documents from the page: files dropped on it are copied into a collection folder and
ingested in the background.

- personal: ``<home>/uploads/users/<user>/``, ingested with ``acl = ["user:NAME"]`` (only the
  owner reads, replaces or deletes them: nobody else can write to that folder);
- shared: ``<home>/uploads/shared/``, ``acl = ["*"]`` (everyone reads; who may write is the
  page's decision, ``[ui] shared_writers``).

Each folder is one filesystem connector root, so ``/files/{doc_id}`` serves the originals and
re-ingesting a folder skips what did not change. A file replacing one of the same name is a
staged replacement: the original is set aside (outside every collection folder) and put back
if the new file cannot be ingested, so a failed replacement keeps the original and says why.
A new file that cannot be ingested is reported with its reason and removed.

Each collection folder has its own queue, and up to ``workers`` folders ingest at the same
time: one slow file holds up its own collection only, never everyone's uploads.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from inhouse.access import PUBLIC, user_principal
from inhouse_ui.upload_guard import open_upload

Collection = Literal["personal", "shared"]
PERSONAL: Collection = "personal"
SHARED: Collection = "shared"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
log = logging.getLogger("inhouse_ui")


@dataclass
class FileResult:
    """What happened to one uploaded file: added, updated, unchanged, failed, skipped or kept
    (a replacement that failed: the original stays)."""

    name: str
    status: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether the file as uploaded is in the collection now."""
        return self.status in ("added", "updated", "unchanged")


@dataclass
class Job:
    """One upload's ingestion, updated by the worker while it runs."""

    user: str
    collection: Collection
    names: list[str]
    replaced: dict[str, Path] = field(default_factory=dict)  # name -> the original, set aside
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    started: bool = False  # the worker has taken it from the queue
    done: int = 0
    total: int | None = None  # files that changed (known once ingestion starts)
    current: str = ""
    results: list[FileResult] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    finished: threading.Event = field(default_factory=threading.Event)


def safe_segment(user: str) -> str:
    """A folder name for ``user``: the name itself when harmless, else a hash of it."""
    if _SEGMENT.match(user) and user not in (".", ".."):
        return user
    return "u-" + hashlib.sha256(user.encode()).hexdigest()[:16]


def safe_filename(name: str) -> str:
    """The last component of an uploaded file's name, without control characters, leading dots
    or ``~$`` (the filesystem connector skips hidden files and Office lock files)."""
    base = re.sub(r"[\x00-\x1f\x7f\ud800-\udfff]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    while base.startswith((".", "~$")):
        base = base[1:] if base.startswith(".") else base[2:]
    stem, dot, ext = base.rpartition(".")
    if dot and len(ext) <= 16 and _fits(base) != base:
        base = f"{_fits(stem, NAME_BYTES - 1 - len(ext.encode()))}.{ext}"
    return _fits(base) or "upload"


NAME_BYTES = 200  # of a stored file's name in UTF-8 (file systems allow 255)


def _fits(text: str, limit: int = NAME_BYTES) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, never inside a character."""
    return text.encode()[:limit].decode(errors="ignore")


_PATHS = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s\\/:'\"()]+){2,}[\\/]?|\b[a-z][a-z0-9+.-]*://[^\s'\"()]+", re.I)


def public_reason(reason: str) -> str:
    """An ingestion reason fit to show: server paths and addresses replaced by ``…``."""
    return _PATHS.sub("…", reason)[:300]


class Uploads:
    """Collection folders and the ingestion queues of one assistant; the uploaded files are
    read from Gradio's upload ``folder`` only (see ``upload_guard``)."""

    def __init__(self, assistant: Any, folder: str | os.PathLike[str] | None = None, workers: int = 4):
        self.assistant = assistant
        self.folder = os.fspath(folder) if folder is not None else None  # set by build_app: Gradio's upload folder
        self.root = Path(assistant.home) / "uploads"
        self._slots = threading.BoundedSemaphore(workers)
        self._queues: dict[Path, deque[Job]] = {}
        self._lock = threading.Lock()
        self._writing: dict[Path, threading.Lock] = {}  # each folder's, held while it changes

    def collection_folder(self, user: str, collection: Collection) -> Path:
        """The folder of ``user``'s personal collection, or of the shared one."""
        folder = self.root / "shared" if collection == SHARED else self.root / "users" / safe_segment(user)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def save(self, files: list[str], user: str, collection: Collection) -> Job:
        """Copy the uploaded files (paths in Gradio's upload folder; anything else raises
        ``UploadRefused`` before a byte is read) into a staging folder and queue their ingestion."""
        descriptors: list[tuple[str, int]] = []
        try:
            for item in files:
                descriptors.append((Path(str(item)).name, open_upload(item, self.folder or "")))
            return self.add([(name, open(fd, "rb", closefd=False)) for name, fd in descriptors], user, collection)
        finally:
            for _, fd in descriptors:
                os.close(fd)

    def add(self, files: Sequence[tuple[str, BinaryIO]], user: str, collection: Collection) -> Job:
        """Copy files received some other way (the HTTP API's uploads: each the name its client
        gave, made safe with ``safe_filename``, and a readable binary file) into a staging
        folder and queue their ingestion."""
        job = Job(user=user, collection=collection, names=[])
        staging = self.root / "staging" / job.id
        staging.mkdir(parents=True)
        for given, src in files:
            name = safe_filename(given)
            with open(staging / name, "wb") as out:
                shutil.copyfileobj(src, out)
            if name not in job.names:
                job.names.append(name)
        folder = self.collection_folder(user, collection)
        with self._lock:
            queue = self._queues.setdefault(folder, deque())
            queue.append(job)
            if len(queue) == 1:  # nobody drains this folder's queue yet
                threading.Thread(target=self._drain, args=(folder,), daemon=True, name="inhouse-ui-uploads").start()
        return job

    def _drain(self, folder: Path) -> None:
        """Run the jobs of one collection folder, oldest first, each in a free slot."""
        while True:
            with self._lock:
                job = self._queues[folder][0]
            try:
                with self._slots, self._writer(folder):
                    self.run(job, folder)
            except Exception:  # never leave the page waiting
                job.error = job.error or self._failure(job)
            job.finished.set()
            with self._lock:
                self._queues[folder].popleft()
                if not self._queues[folder]:
                    del self._queues[folder]
                    return

    def _failure(self, job: Job) -> str:
        log.exception("upload %s of %s failed", job.id, job.user)
        return f"the files could not be added (error {job.id}; the server log has the details)"

    def run(self, job: Job, folder: Path) -> None:
        """Move the staged files into ``folder`` (originals set aside), ingest it, fill in
        ``job.results``, and put back the original of every replacement that failed."""
        started, job.started = time.perf_counter(), True
        staging = self.root / "staging" / job.id
        backups = self.root / "replaced" / job.id
        acl = [user_principal(job.user)] if job.collection == PERSONAL else [PUBLIC]
        processed: set[str] = set()
        for name in job.names:
            if (folder / name).is_file():
                backups.mkdir(parents=True, exist_ok=True)
                os.replace(folder / name, backups / name)
                job.replaced[name] = backups / name
            os.replace(staging / name, folder / name)
        shutil.rmtree(staging, ignore_errors=True)

        def progress(done: int, total: int, path: str) -> None:
            job.done, job.total, job.current = done, total, path
            processed.add(path)

        try:
            report = self._ingest(folder, acl, progress)
        except Exception:
            job.error = self._failure(job)
            report = None
        bad = {} if report is None else {item["path"]: ("failed", item["reason"]) for item in report.failed}
        if report is not None:
            bad.update({item["path"]: ("skipped", item["reason"]) for item in report.skipped})
        for name in job.names:
            original = job.replaced.get(name)
            if report is None or name in bad:
                status, reason = bad.get(name, ("failed", ""))
                if original is not None:  # the replacement failed: the original stays
                    os.replace(original, folder / name)
                    job.results.append(FileResult(name, "kept", public_reason(reason)))
                else:
                    (folder / name).unlink(missing_ok=True)
                    job.results.append(FileResult(name, status, public_reason(reason)))
            else:
                if original is not None:
                    original.unlink(missing_ok=True)
                status = "unchanged" if name not in processed else "updated" if original is not None else "added"
                job.results.append(FileResult(name, status))
        with contextlib.suppress(OSError):
            backups.rmdir()
        job.seconds = time.perf_counter() - started

    def _ingest(self, folder: Path, acl: list[str], progress: Any) -> Any:
        return self.assistant.ingest(folder, acl=acl, on_progress=progress)

    def remove(self, folder: Path, name: str, doc_id: str) -> None:
        """Delete the file ``name`` of the collection ``folder`` and its document ``doc_id`` from
        the index, between two ingestions of that folder (never while one runs)."""
        if safe_filename(name) != name:
            raise ValueError(f"{name!r} is not a file name of a collection folder")
        with self._writer(folder):
            (folder / name).unlink(missing_ok=True)
            self.assistant.store.delete([doc_id])

    def _writer(self, folder: Path) -> threading.Lock:
        with self._lock:
            return self._writing.setdefault(folder, threading.Lock())
