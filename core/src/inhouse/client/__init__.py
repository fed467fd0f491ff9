"""``inhouse.Client``: the SDK over the HTTP API of a running ``inhouse serve``.

It has the methods of the in-process ``Assistant`` and returns the same types::

    with inhouse.Client("http://127.0.0.1:7860", api_key="ih-...") as client:
        answer = client.ask("How many vacation days do I get?")        # an inhouse.Answer
        hits = client.search("vacation days", k=3)                     # list[inhouse.Hit]

The key (else ``$INHOUSE_API_KEY``) decides who asks: each request runs as the key's user
(``inhouse keys create``); a server with no keys serves loopback clients as its local user.
Errors come back as the inhouse exceptions with the server's message and the HTTP ``status``
(``inhouse.client.wire.check``): ``AccessDenied`` (401 with "API key missing or wrong", 403,
404), ``ProviderError`` (``retryable``: 502 when every model failed, 503, 504, and 429 rate
limits with ``retry_after``), ``InhouseError`` for a request the server refused (400, 413,
415, 422), a server error (500) or a server that cannot be reached.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from inhouse.client.uploads import BATCH_MB, UploadReport, add_file, add_job, batches, files_of, media_type
from inhouse.client.wire import KEY_ENV, EventDecoder, ask_body, check, conversation_info, conversation_path, decoded, unreachable
from inhouse.conversations import ConversationInfo, StoredTurn
from inhouse.errors import AccessDenied, IngestError, InhouseError
from inhouse.ingest import ProgressCallback
from inhouse.plugins import SearchMode
from inhouse.sdk import Conversation, History
from inhouse.types import Answer, Hit

POLL_SECONDS = 0.2  # between looks at an upload's job


class Client:
    """Ask, search, upload and converse with a running inhouse server, as ``Assistant`` does in process.

    ``base_url`` is the server's address (``http://host:7860``; a trailing ``/v1`` is fine);
    ``api_key`` one of ``inhouse keys create`` (default ``$INHOUSE_API_KEY``); ``timeout``
    the seconds any one request may take. Close it (or use ``with``) to release connections."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 120.0):
        root = base_url.rstrip("/").removesuffix("/v1")
        if not root.startswith(("http://", "https://")):
            raise InhouseError(f"base_url must start with http:// or https://, not {base_url!r}")
        self.base_url = root
        key = api_key if api_key is not None else os.environ.get(KEY_ENV)
        self._options: dict[str, Any] = {
            "base_url": f"{root}/v1",
            "headers": {"Authorization": f"Bearer {key}"} if key else {},
            "timeout": timeout,
        }
        self._http = httpx.Client(**self._options)
        self._async: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"  # never the key

    # ------------------------------------------------------------------------- answers

    def ask(self, question: str, *, history: History = (), mode: str | None = None, profile: str | None = None) -> Answer:
        """Answer ``question`` from the documents the key's user may read, with citations
        (``mode`` a use case of ``[routing]``, ``profile`` one provider profile)."""
        data = self._json("POST", "/ask", json=ask_body(question, history, mode, profile))
        return Answer.from_dict(data)

    def stream(
        self, question: str, *, history: History = (), mode: str | None = None, profile: str | None = None
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as the server streams it, then the final ``Answer``."""
        return self._stream(ask_body(question, history, mode, profile, stream=True))

    def search(self, query: str, k: int = 5, *, mode: SearchMode | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query`` that the key's user may read."""
        data = self._json("POST", "/search", json={"query": query, "k": k, "mode": mode})
        return [Hit.from_dict(hit) for hit in data["hits"]]

    async def aask(self, question: str, *, history: History = (), mode: str | None = None, profile: str | None = None) -> Answer:
        """``ask``, async."""
        data = await self._ajson("POST", "/ask", json=ask_body(question, history, mode, profile))
        return Answer.from_dict(data)

    def astream(
        self, question: str, *, history: History = (), mode: str | None = None, profile: str | None = None
    ) -> AsyncIterator[str | Answer]:
        """``stream``, async: ``async for piece in client.astream(question)``."""
        return self._astream(ask_body(question, history, mode, profile, stream=True))

    async def asearch(self, query: str, k: int = 5, *, mode: SearchMode | None = None) -> list[Hit]:
        """``search``, async."""
        data = await self._ajson("POST", "/search", json={"query": query, "k": k, "mode": mode})
        return [Hit.from_dict(hit) for hit in data["hits"]]

    # -------------------------------------------------------------------------- upload

    def ingest(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        collection: str = "personal",
        on_progress: ProgressCallback | None = None,
        batch_mb: float = BATCH_MB,
    ) -> UploadReport:
        """Upload files (a folder: the files in it, at any depth) to the key's user's personal
        collection (``collection="shared"``: everyone's, for ``[ui] shared_writers``) and wait
        until the server has ingested them; ``on_progress(done, total, name)`` follows it.

        Unlike ``Assistant.ingest``, which indexes paths where they are, the server keeps
        copies under its data folder: the files' names (not their folders) name them there.
        Files go in requests of up to ``batch_mb`` megabytes (keep it under the server's
        ``[ingest] max_file_mb``); a file the server refuses as too large is reported failed."""
        started = time.perf_counter()
        report = UploadReport()
        offset = 0
        for batch in batches(files_of(paths), int(batch_mb * 1024 * 1024)):
            job = self._upload(batch, collection, report)
            while job is not None:
                total = job.get("total") or 0
                if on_progress is not None and job["status"] in ("running", "done") and total:
                    on_progress(offset + int(job.get("done") or 0), offset + total, str(job.get("current") or ""))
                if job["status"] == "failed":
                    raise IngestError(job.get("error") or "the server could not ingest the upload")
                if job["status"] == "done":
                    add_job(report, job)
                    offset += total
                    break
                time.sleep(POLL_SECONDS)
                job = self._json("GET", f"/jobs/{quote(str(job['id']), safe='')}")
        report.seconds = time.perf_counter() - started
        return report

    def _upload(self, batch: list[Path], collection: str, report: UploadReport) -> dict[str, Any] | None:
        """Send one request of files; its job, or None when the server refused the one file it held as too large."""
        with ExitStack() as stack:
            parts = [("files", (p.name, stack.enter_context(p.open("rb")), media_type(p))) for p in batch]
            try:
                queued = self._json("POST", "/documents", files=parts, data={"collection": collection})
            except InhouseError as exc:
                if getattr(exc, "status", None) != 413 or len(batch) > 1:
                    raise
                add_file(report, batch[0].name, "failed", str(exc))
                return None
        return {"id": queued["job_id"], "status": "queued"}

    # ---------------------------------------------------------------------- conversations

    def conversation(self, id: str | None = None) -> Conversation:
        """A new conversation of the key's user, or their conversation ``id`` (``AccessDenied``
        when it does not exist or is someone else's)."""
        backend = RemoteConversations(self)
        info = conversation_info(self._json("POST", "/conversations", json={})) if id is None else backend.info(id)
        return Conversation(backend, info)

    def conversations(self) -> list[ConversationInfo]:
        """The key's user's conversations, the most recently continued first."""
        return [conversation_info(item) for item in self._json("GET", "/conversations")["data"]]

    # -------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Release the connections (the async ones only when closed from their event loop: ``aclose``)."""
        self._http.close()

    async def aclose(self) -> None:
        """Release every connection, the async ones included."""
        self._http.close()
        if self._async is not None:
            await self._async[1].aclose()
            self._async = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --------------------------------------------------------------------------- transport

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        check(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return decoded(self._send(method, path, **kwargs))

    def _stream(self, body: dict[str, Any]) -> Iterator[str | Answer]:
        try:
            with self._http.stream("POST", "/ask", json=body) as response:
                if not response.is_success:
                    response.read()
                    check(response)
                decoder = EventDecoder()
                for line in response.iter_lines():
                    item = decoder.item(line)
                    if item is not None:
                        yield item
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        decoder.finish()

    def _aclient(self) -> httpx.AsyncClient:
        """The async client of the running event loop (a client's connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            self._async = (loop, httpx.AsyncClient(**self._options))
        return self._async[1]

    async def _ajson(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._aclient().request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        check(response)
        return decoded(response)

    async def _astream(self, body: dict[str, Any]) -> AsyncIterator[str | Answer]:
        try:
            async with self._aclient().stream("POST", "/ask", json=body) as response:
                if not response.is_success:
                    await response.aread()
                    check(response)
                decoder = EventDecoder()
                async for line in response.aiter_lines():
                    item = decoder.item(line)
                    if item is not None:
                        yield item
        except httpx.HTTPError as exc:
            raise unreachable(self.base_url, exc) from exc
        decoder.finish()


class RemoteConversations:
    """The ``ConversationBackend`` of a ``Client``: conversations stored by the server, under the key's user."""

    def __init__(self, client: Client):
        self.client = client

    def info(self, conversation_id: str) -> ConversationInfo:
        """The conversation as the server stores it; ``AccessDenied`` when it is not the caller's."""
        return conversation_info(self.client._json("GET", conversation_path(conversation_id)))

    def stream(self, conversation_id: str, question: str, mode: str | None, profile: str | None) -> Iterator[str | Answer]:
        """Answer in the conversation: the server reads its history and keeps the turn."""
        return self.client._stream(ask_body(question, (), mode, profile, stream=True, conversation_id=conversation_id))

    def astream(self, conversation_id: str, question: str, mode: str | None, profile: str | None) -> AsyncIterator[str | Answer]:
        """``stream``, async."""
        return self.client._astream(ask_body(question, (), mode, profile, stream=True, conversation_id=conversation_id))

    def turns(self, conversation_id: str) -> list[StoredTurn]:
        """Its turns, in order."""
        data = self.client._json("GET", conversation_path(conversation_id))
        return [
            StoredTurn(int(t["id"]), t["question"], Answer.from_dict(t["answer"]), float(t["created"])) for t in data["turns"]
        ]

    def delete(self, conversation_id: str) -> bool:
        """Delete it; False when the server has none of the caller's."""
        try:
            self.client._send("DELETE", conversation_path(conversation_id))
        except AccessDenied as exc:
            if getattr(exc, "status", None) == 404:
                return False
            raise
        return True


__all__ = ["Client", "RemoteConversations", "UploadReport"]
