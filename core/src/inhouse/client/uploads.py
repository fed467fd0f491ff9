"""The upload side of ``inhouse.Client.ingest``: which files a call sends and what it reports."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inhouse.errors import IngestError
from inhouse.types import IngestReport

MAX_FILES = 100  # files per upload request (the server's limit)
BATCH_MB = 32.0  # megabytes per upload request, under the server's default [ingest] max_file_mb (50)


@dataclass
class UploadReport(IngestReport):
    """What ``Client.ingest`` returns: an ``IngestReport`` counted from the server's upload job.

    ``added``, ``updated``, ``unchanged``, ``failed`` and ``skipped`` count the uploaded files
    (a replacement the server could not ingest is in ``failed``: the original stays);
    ``seconds`` is how long the client waited. The server does not report ``chunks``,
    ``removed``, ``not_embedded``, ``retried`` or ``failed_unchanged`` for an upload: they stay 0.
    ``files`` has each file's ``{"name", "status", "reason"}`` as the server reported it;
    ``jobs`` the server's job ids (one per upload request: large uploads go in several)."""

    jobs: list[str] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)


def files_of(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files to upload: each file named, and the files under each folder (hidden ones left out)."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(
                p for p in item.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(item).parts)
            )
        elif item.is_file():
            files.append(item)
        else:
            raise IngestError(f"no such file or folder: {item}")
    if not files:
        raise IngestError(f"no files to upload in {', '.join(map(str, items)) or 'nothing'}")
    names: dict[str, Path] = {}
    for path in files:
        if path.name in names:
            raise IngestError(
                f"two files named {path.name!r} ({names[path.name]}, {path}): the server keeps uploads by name, upload them apart"
            )
        names[path.name] = path
    return files


def media_type(path: Path) -> str:
    """The content type an upload of ``path`` declares (by its suffix)."""
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def batches(files: list[Path], max_bytes: int, max_files: int = MAX_FILES) -> list[list[Path]]:
    """``files`` in upload requests of at most ``max_files`` files and ``max_bytes`` in all (a
    larger file goes alone: the server then says whether it takes it)."""
    out: list[list[Path]] = []
    size = 0
    for path in files:
        length = path.stat().st_size
        if not out or len(out[-1]) >= max_files or size + length > max_bytes:
            out.append([])
            size = 0
        out[-1].append(path)
        size += length
    return out


def add_job(report: UploadReport, job: dict[str, Any]) -> None:
    """Count a finished job's per-file results into ``report``."""
    report.jobs.append(str(job["id"]))
    for result in job.get("results") or []:
        add_file(report, str(result["name"]), str(result["status"]), str(result.get("reason") or ""))


def add_file(report: UploadReport, name: str, status: str, reason: str = "") -> None:
    """Count one file: ``added``/``updated``/``unchanged``, ``skipped``, else ``failed``."""
    report.files.append({"name": name, "status": status, "reason": reason})
    if status in ("added", "updated", "unchanged"):
        setattr(report, status, getattr(report, status) + 1)
    elif status == "skipped":
        report.skipped.append({"path": name, "reason": reason})
    else:
        kept = " (the file it was to replace is kept)" if status == "kept" else ""
        report.failed.append({"path": name, "reason": (reason or status) + kept})
