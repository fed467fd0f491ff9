"""Upload jobs of the HTTP API: ``POST /v1/documents`` queues one (``inhouse_ui.uploads``), and
``GET /v1/jobs/{id}`` shows its progress and, once done, what happened to each file, to the
user who started it only (anyone else gets the same 404 as for an id that never existed).

``Jobs`` (``app.state.jobs``) remembers the most recent jobs in memory: a job is a moment's
progress, not a record; what it added is in the index.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from inhouse_ui.api.common import ERROR_RESPONSES, ApiError, Caller, caller
from inhouse_ui.uploads import Job

JobStatus = Literal["queued", "running", "done", "failed"]
_ID = re.compile(r"^[0-9a-f]{1,64}$")


class FileOutcome(BaseModel):
    """What happened to one file: ``added``, ``updated``, ``unchanged``, ``failed``, ``skipped``
    (a type that cannot be read) or ``kept`` (a replacement that failed: the original stays)."""

    name: str
    status: str
    reason: str = Field("", description="why it failed or was skipped")


class JobInfo(BaseModel):
    """An upload's progress: ``done`` of ``total`` files ingested (``total`` is null until
    ingestion starts), the file being read, and once finished each file's outcome."""

    id: str
    status: JobStatus
    done: int
    total: int | None
    current: str
    results: list[FileOutcome]
    error: str | None = Field(None, description="why the whole job failed (a file's failure is in results)")

    @classmethod
    def of(cls, job: Job) -> JobInfo:
        """The state of ``job`` now."""
        finished = job.finished.is_set()
        status: JobStatus = ("failed" if job.error else "done") if finished else "running" if job.started else "queued"
        return cls(
            id=job.id,
            status=status,
            done=job.done,
            total=job.total,
            current="" if finished else job.current,
            results=[FileOutcome(name=r.name, status=r.status, reason=r.reason) for r in job.results] if finished else [],
            error=job.error or None,
        )


class Jobs:
    """The API's upload jobs by id, each with its owner; at most ``limit`` finished ones are kept."""

    def __init__(self, limit: int = 1000):
        self.limit = limit
        self._items: OrderedDict[str, tuple[Job, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, job: Job, owner: str | None) -> None:
        """Remember ``job``, started by ``owner`` (None: the local user)."""
        with self._lock:
            self._items[job.id] = (job, owner)
            finished = [key for key, (item, _) in self._items.items() if item.finished.is_set()]
            for key in finished[: max(0, len(self._items) - self.limit)]:
                del self._items[key]

    def get(self, job_id: str, owner: str | None) -> Job | None:
        """The job ``job_id`` when ``owner`` started it, else None."""
        with self._lock:
            item = self._items.get(job_id)
        return item[0] if item is not None and item[1] == owner else None


router = APIRouter(tags=["documents"])


@router.get("/jobs/{job_id}", response_model=JobInfo, responses=ERROR_RESPONSES)
def job_status(job_id: str, request: Request, who: Caller = Depends(caller)) -> JobInfo:
    """The progress of an upload (``POST /v1/documents``) the caller started; poll until
    ``status`` is ``done`` or ``failed``."""
    job = request.app.state.jobs.get(job_id, who.user) if _ID.match(job_id) else None
    if job is None:
        raise ApiError(404, "no upload job of yours has this id", code="job_not_found", param="job_id")
    return JobInfo.of(job)
