"""Documents over the HTTP API: add files to a collection, read what is indexed, delete an upload.

- ``POST /v1/documents`` (multipart: ``files``, ``collection``): the files go into the caller's
  personal collection, or the shared one for members of ``[ui] shared_writers``, through the
  page's own ``inhouse_ui.uploads.Uploads`` (its staging, per-collection queues and workers,
  replacements that keep the original when the new file fails). The answer is a job to poll at
  ``GET /v1/jobs/{id}`` (``api.jobs``). The body is read here, not by FastAPI, so reading stops
  as soon as it passes ``[ingest] max_file_mb`` (all files of one request together).
- ``GET /v1/documents/{id}``, ``GET /v1/documents/{id}/content``: a document and its original
  when the caller may read it (``Assistant.open_document`` decides); else 404.
- ``DELETE /v1/documents/{id}``: a document of the caller's own upload collection (or the
  shared one, for shared writers), removed from its folder and from the index.

Names and ids from clients are never paths: a file keeps only the last component of its name
(``uploads.safe_filename``), an id is looked up in the index, and a deleted file is the record's
own name inside the collection folder the caller may write to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.types import Message

from inhouse.access import readable
from inhouse.errors import AccessDenied
from inhouse.plugins import DocumentRecord
from inhouse_ui.api import jobs
from inhouse_ui.api.common import ERROR_RESPONSES, ApiError, Caller, caller
from inhouse_ui.files import ACTIVE, SANDBOX, content_type, disposition, file_name
from inhouse_ui.uploads import PERSONAL, SHARED, Collection

LOCAL_OWNER = "local"  # whose personal collection the local user (no API key) adds to
MAX_FILES = 100  # files in one request
ID_CHARS = 128  # the longest document id looked up
OVERHEAD = 1024 * 1024  # bytes of a multipart body beyond its files' own (part headers, fields)
NOT_FOUND = "no document with this id, or not one you may read"
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "additionalProperties": False,
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": MAX_FILES,
                            "description": "the files; each keeps the last component of its name",
                        },
                        "collection": {
                            "type": "string",
                            "enum": [PERSONAL, SHARED],
                            "default": PERSONAL,
                            "description": "personal (only you read them) or shared (everyone; [ui] shared_writers only)",
                        },
                    },
                }
            }
        },
    }
}


class UploadAccepted(BaseModel):
    """The upload is queued: poll ``GET /v1/jobs/{job_id}``."""

    job_id: str
    status: Literal["queued"] = "queued"


class DocumentInfo(BaseModel):
    """An indexed document the caller may read."""

    id: str
    source: str = Field(description="its path (or address) within its source")
    title: str
    collection: Literal["personal", "shared"] | None = Field(
        None, description="the upload collection it is in: your personal one or the shared one (null: neither)"
    )
    modified: float = Field(description="when its source last changed (seconds since 1970)")
    sensitivity: str = Field(description="its label: public, internal, confidential or restricted")
    media_type: str


def owner(who: Caller) -> str:
    """The user whose personal collection ``who`` adds to (``LOCAL_OWNER`` for the local user)."""
    return who.user if who.user is not None else LOCAL_OWNER


def may_share(request: Request, who: Caller) -> bool:
    """Whether ``who`` may add to, replace in and delete from the shared collection: the local
    user, or a member of a group of ``[ui] shared_writers``."""
    if who.user is None:
        return True
    groups = request.app.state.assistant.directory.groups(who.user)
    return not set(groups).isdisjoint(request.app.state.ui.shared_writers)


def collection_of(request: Request, who: Caller, record: DocumentRecord) -> tuple[Collection | None, Path | None]:
    """Which of the caller's upload collections holds ``record`` (their personal one, the
    shared one), with its folder; ``(None, None)`` for any other document."""
    uploads = request.app.state.uploads
    for collection in (PERSONAL, SHARED):
        folder = uploads.collection_folder(owner(who), collection)
        if record.root == str(folder.resolve()):
            return collection, folder
    return None, None


router = APIRouter(tags=["documents"])
router.include_router(jobs.router)


@router.post(
    "/documents",
    status_code=202,
    response_model=UploadAccepted,
    responses={**ERROR_RESPONSES, 415: ERROR_RESPONSES[400] | {"description": "The body is not multipart/form-data"}},
    openapi_extra=UPLOAD_BODY,
)
async def add_documents(request: Request, who: Caller = Depends(caller)) -> UploadAccepted:
    """Add files to your personal collection (or the shared one): they are ingested in the
    background; ``GET /v1/jobs/{job_id}`` shows the progress and each file's outcome."""
    state = request.app.state
    if not state.ui.uploads:
        raise ApiError(403, "adding documents is turned off on this server ([ui] uploads = false)", "permission_error", "off")
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(415, "send the files as multipart/form-data (a `files` part for each file)", code="not_multipart")
    limit = int(state.assistant.settings.core.ingest.max_file_mb * 1024 * 1024)
    try:
        form_of = _limited(request, limit + OVERHEAD).form(max_files=MAX_FILES, max_fields=MAX_FILES + 2)
        async with form_of as form:
            files, collection = _fields(form, limit, state.assistant.settings.core.ingest.max_file_mb)
            if collection == SHARED and not may_share(request, who):
                message = "only members of [ui] shared_writers may add to the shared collection"
                raise ApiError(403, message, "permission_error", "not_a_writer")
            job = await run_in_threadpool(state.uploads.add, [(f.filename or "", f.file) for f in files], owner(who), collection)
    except ValueError as exc:  # python-multipart's parse errors
        raise ApiError(400, f"the body is not valid multipart/form-data ({exc})", code="invalid_multipart") from None
    state.jobs.add(job, who.user)
    return UploadAccepted(job_id=job.id)


def _limited(request: Request, cap: int) -> Request:
    """``request`` whose body stops with 413 once it passes ``cap`` bytes (declared or sent)."""
    too_large = ApiError(
        413,
        f"the files are larger than {cap // (1024 * 1024) - 1:g} MB in all ([ingest] max_file_mb): send fewer or smaller files",
        code="body_too_large",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_large
    seen = 0

    async def receive() -> Message:
        nonlocal seen
        message = await request.receive()
        seen += len(message.get("body", b""))
        if seen > cap:
            raise too_large
        return message

    return Request(request.scope, receive)


def _fields(form: FormData, limit: int, limit_mb: float) -> tuple[list[UploadFile], Collection]:
    """The files and the collection of an upload form; ``ApiError`` for anything else in it."""
    unknown = sorted({key for key in form if key not in ("files", "collection")})
    if unknown:
        name = unknown[0][:40]
        raise ApiError(422, f"unknown field {name!r}: send `files` and, optionally, `collection`", param=name)
    files = form.getlist("files")
    if not files:
        raise ApiError(422, "no files: send each file as a `files` part", param="files", code="invalid_value")
    if not all(isinstance(item, UploadFile) for item in files):
        raise ApiError(422, "each `files` part must be a file (with a filename)", param="files", code="invalid_value")
    collections = form.getlist("collection")
    if len(collections) > 1 or (collections and collections[0] not in (PERSONAL, SHARED)):
        raise ApiError(422, "collection must be `personal` or `shared`", param="collection", code="invalid_value")
    for item in files:
        if item.size is not None and item.size > limit:
            raise ApiError(413, f"a file is over the {limit_mb:g} MB limit ([ingest] max_file_mb)", code="file_too_large")
        item.file.seek(0)
    chosen: Collection = SHARED if collections and collections[0] == SHARED else PERSONAL
    return [item for item in files if isinstance(item, UploadFile)], chosen


def _record(request: Request, who: Caller, doc_id: str) -> DocumentRecord:
    """The stored document ``doc_id`` when the caller may read it; ``ApiError`` 404 otherwise."""
    assistant = request.app.state.assistant
    record = assistant.store.document(doc_id) if len(doc_id) <= ID_CHARS else None
    if record is None or not readable(record.acl, assistant.principals(who.user)):
        raise ApiError(404, NOT_FOUND, code="document_not_found", param="doc_id")
    return record


@router.get("/documents/{doc_id}", response_model=DocumentInfo, responses=ERROR_RESPONSES)
def document(doc_id: str, request: Request, who: Caller = Depends(caller)) -> DocumentInfo:
    """What the index holds about a document you may read."""
    record = _record(request, who, doc_id)
    collection, _ = collection_of(request, who, record)
    return DocumentInfo(
        id=record.id,
        source=record.source,
        title=record.title,
        collection=collection,
        modified=record.modified,
        sensitivity=record.sensitivity,
        media_type=content_type(file_name(record)),
    )


@router.get(
    "/documents/{doc_id}/content",
    response_class=Response,
    responses={**ERROR_RESPONSES, 200: {"description": "The original's bytes", "content": {"application/octet-stream": {}}}},
)
def document_content(doc_id: str, request: Request, who: Caller = Depends(caller)) -> Response:
    """The original of a document you may read, as its source holds it now."""
    try:
        record, data = request.app.state.assistant.open_document(doc_id, who.user) if len(doc_id) <= ID_CHARS else (None, b"")
    except AccessDenied:
        record = None
    if record is None:
        raise ApiError(404, NOT_FOUND, code="document_not_found", param="doc_id")
    name = file_name(record)
    mime = content_type(name)
    headers = {"Content-Disposition": disposition("attachment", name), "X-Content-Type-Options": "nosniff"}
    if mime.split(";")[0] in ACTIVE:
        headers["Content-Security-Policy"] = SANDBOX
    return Response(data, media_type=mime, headers=headers)


@router.delete("/documents/{doc_id}", status_code=204, response_class=Response, responses=ERROR_RESPONSES)
def delete_document(doc_id: str, request: Request, who: Caller = Depends(caller)) -> Response:
    """Delete a document of your personal collection (or of the shared one, if you are a shared
    writer): its file is removed and it leaves the index. Other documents: 403 (or 404 when
    you may not read them)."""
    record = _record(request, who, doc_id)
    collection, folder = collection_of(request, who, record)
    if folder is None or (collection == SHARED and not may_share(request, who)):
        raise ApiError(
            403,
            "only documents you uploaded to your personal collection (or, for shared writers, to the shared one) can be "
            "deleted here; others are removed at their source",
            "permission_error",
            "not_deletable",
        )
    try:
        request.app.state.uploads.remove(folder, record.source, record.id)
    except ValueError:
        raise ApiError(403, "this document is not a file of an upload collection", "permission_error", "not_deletable") from None
    return Response(status_code=204)
