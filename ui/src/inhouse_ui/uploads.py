"""Adding documents from the page: files dropped on it are saved to a collection folder and
ingested in a background thread, one job at a time.

- personal: ``<home>/uploads/users/<user>/``, ingested with ``acl = [user]`` (only they find it)
- shared: ``<home>/uploads/shared/``, ``acl = []`` (everyone)

Each folder is one filesystem connector root, so ``/files/{doc_id}`` serves the originals and
re-ingesting a folder skips what did not change. A file that cannot be ingested is reported
with its reason and deleted, so it is not retried on every upload.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Collection = Literal["personal", "shared"]
PERSONAL: Collection = "personal"
SHARED: Collection = "shared"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass
class FileResult:
    """What happened to one uploaded file: added, updated, unchanged, failed or skipped."""

    name: str
    status: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether the file is in the collection now."""
        return self.status in ("added", "updated", "unchanged")


@dataclass
class Job:
    """One upload's ingestion, updated by the worker while it runs."""

    user: str
    collection: Collection
    names: list[str]
    replaced: set[str] = field(default_factory=set)
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
    base = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    while base.startswith((".", "~$")):
        base = base[1:] if base.startswith(".") else base[2:]
    stem, dot, ext = base.rpartition(".")
    if dot and len(base) > 180:
        base = f"{stem[: 179 - len(ext)]}.{ext}"
    return base[:180] or "upload"


class Uploads:
    """Collection folders and the ingestion worker of one assistant."""

    def __init__(self, assistant: Any):
        self.assistant = assistant
        self.root = Path(assistant.home) / "uploads"
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def folder(self, user: str, collection: Collection) -> Path:
        """The folder of ``user``'s personal collection, or of the shared one."""
        folder = self.root / "shared" if collection == SHARED else self.root / "users" / safe_segment(user)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def save(self, files: list[str | os.PathLike[str]], user: str, collection: Collection) -> Job:
        """Copy the uploaded files into the collection folder and queue their ingestion."""
        folder = self.folder(user, collection)
        job = Job(user=user, collection=collection, names=[])
        for item in files:
            src = Path(item)
            name = safe_filename(src.name)
            dest = folder / name
            if dest.exists():
                job.replaced.add(name)
            partial = folder / f".{name}.part"  # hidden: a concurrent ingestion skips it
            shutil.copyfile(src, partial)
            os.replace(partial, dest)
            if name not in job.names:
                job.names.append(name)
        self._submit(job)
        return job

    def _submit(self, job: Job) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, daemon=True, name="inhouse-ui-uploads")
                self._worker.start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                self.run(job)
            finally:
                job.finished.set()

    def run(self, job: Job) -> None:
        """Ingest the job's collection folder and fill in ``job.results``."""
        started = time.perf_counter()
        folder = self.folder(job.user, job.collection)
        acl = [job.user] if job.collection == PERSONAL else []
        processed: set[str] = set()

        def progress(done: int, total: int, path: str) -> None:
            job.done, job.total, job.current = done, total, path
            processed.add(path)

        try:
            report = self._ingest(folder, acl, progress)
        except Exception as exc:  # the page shows it; the files stay for the next try
            job.error = str(exc) or type(exc).__name__
            job.seconds = time.perf_counter() - started
            return
        bad = {item["path"]: ("failed", item["reason"]) for item in report.failed}
        bad.update({item["path"]: ("skipped", item["reason"]) for item in report.skipped})
        for name in job.names:
            if name in bad:
                status, reason = bad[name]
                job.results.append(FileResult(name, status, reason))
                (folder / name).unlink(missing_ok=True)
            elif name not in processed:
                job.results.append(FileResult(name, "unchanged"))
            else:
                job.results.append(FileResult(name, "updated" if name in job.replaced else "added"))
        job.seconds = time.perf_counter() - started

    def _ingest(self, folder: Path, acl: list[str], progress: Any) -> Any:
        return self.assistant.ingest(folder, acl=acl, on_progress=progress)
