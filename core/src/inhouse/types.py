"""Plain data types passed between the pipeline stages and returned by the SDK."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The first sentence of every abstention: the documents do not answer (what follows says what was looked at).
NOT_FOUND = "I could not find an answer to that in the documents."


@dataclass(frozen=True)
class Source:
    """One item a connector found: a file (or record) with a stable id and a content hash.

    Its bytes come from ``Connector.open(source.path)``; ``hash`` changes whenever they do.
    """

    id: str
    path: str  # relative to the connector's root, with forward slashes
    root: str  # the connector's root (an absolute path for the filesystem connector)
    modified: float
    hash: str
    size: int
    # Who may read it (``inhouse.access`` principals) and its sensitivity label, when the
    # connector knows (its configuration, the item's own permissions, a ``.inhouse-acl``
    # file); None leaves them to ``[[access.rules]]`` and the defaults at ingestion.
    acl: tuple[str, ...] | None = None
    uri: str = ""  # where a person can open the original (file://, https://), for display only
    media_type: str = ""  # the content type, when the connector knows it (picks a parser)
    error: str = ""  # set when the connector saw the item but could not read it
    sensitivity: str | None = None  # a label of inhouse.config.LABELS


@dataclass
class Section:
    """A piece of a parsed document with its place: heading path (Markdown, HTML, DOCX),
    page (PDF) or sheet (XLSX)."""

    text: str
    heading: str = ""  # "Leave > Sick leave"
    page: int | None = None


@dataclass
class ParsedDocument:
    """What a parser returns: a title and the document's sections in order."""

    title: str
    sections: list[Section]


@dataclass
class Chunk:
    """The unit that is embedded, stored and retrieved."""

    id: str
    doc_id: str
    source: str  # relative path
    title: str
    text: str
    heading: str = ""
    page: int | None = None
    acl: tuple[str, ...] = ()  # empty: nobody but the local caller (inhouse.access)
    ordinal: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    sensitivity: str = "internal"  # the source's label (inhouse.config.LABELS)

    def embed_text(self) -> str:
        """The text given to the embedder and BM25: title and heading give the passage context."""
        head = " > ".join(p for p in (self.title, self.heading) if p)
        return f"{head}\n{self.text}" if head else self.text


@dataclass
class Hit:
    """A retrieved chunk with its fused score and the per-method evidence."""

    chunk: Chunk
    score: float
    dense: float | None = None  # cosine similarity, when the dense search saw it
    bm25: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``inhouse search --json`` and of the HTTP API's hits."""
        c = self.chunk
        out: dict[str, Any] = {"source": c.source, "title": c.title}
        if c.page is not None:
            out["page"] = c.page
        else:
            out["heading"] = c.heading
        out.update(score=round(self.score, 6), text=c.text, id=c.id, doc_id=c.doc_id, ordinal=c.ordinal)
        out.update(dense=self.dense, bm25=self.bm25, sensitivity=c.sensitivity)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hit:
        """The hit ``to_dict`` describes (its chunk without ACL or metadata: the reader's own view)."""
        chunk = Chunk(
            id=str(data.get("id", "")),
            doc_id=str(data.get("doc_id", "")),
            source=data["source"],
            title=data.get("title", ""),
            text=data.get("text", ""),
            heading=data.get("heading", ""),
            page=data.get("page"),
            ordinal=int(data.get("ordinal", 0)),
            sensitivity=data.get("sensitivity", "internal"),
        )
        return cls(chunk, float(data["score"]), data.get("dense"), data.get("bm25"))


@dataclass
class Citation:
    """A numbered source an answer points to, with the passage itself so a reader can check."""

    n: int
    source: str
    title: str
    text: str
    heading: str = ""
    page: int | None = None
    doc_id: str = ""  # the stored document (the chat page opens the original through it)
    highlights: list[str] = field(default_factory=list)  # sentences of the answer quoted verbatim from it

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a citation in ``inhouse ask --json``."""
        d = asdict(self)
        if self.page is None:
            d.pop("page")
        else:
            d.pop("heading")
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        """The citation ``to_dict`` describes."""
        return cls(**{name: data[name] for name in _CITATION_FIELDS if name in data})

    def label(self) -> str:
        """``path`` plus heading or page, for display."""
        where = f"p. {self.page}" if self.page is not None else self.heading
        return f"{self.source} — {where}" if where else self.source


_CITATION_FIELDS = ("n", "source", "title", "text", "heading", "page", "doc_id", "highlights")


@dataclass
class Usage:
    """Tokens (and images) a provider reports for one generation."""

    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    latency_ms: float | None = None  # the model's own latency, when the provider reports it


@dataclass
class Answer:
    """What ``Assistant.ask`` returns.

    ``route`` is the routing decision: ``use_case``, how it was chosen (``reason``), the
    ``chain``, the ``residency`` of the profile that answered, whether a ``fallback``
    happened, and profiles ``skipped`` (capability, privacy, policy, cooldown);
    ``history_residency``, the residency both turns of this exchange carry when sent back as
    history (``{"role", "content", "residency"}``); and, when ``[policy]`` held anything back,
    ``policy``: ``notes`` (sentences to show with the answer), ``redactions`` (values replaced
    by kind) and, when it could not answer at all, ``blocked`` (``label``, ``allowed``).
    ``attempts`` lists each provider call. ``artifacts`` carries images (``Artifact`` objects).
    """

    text: str
    citations: list[Citation]
    abstained: bool
    provider: str | None
    usage: Usage = field(default_factory=Usage)
    timings: dict[str, float] = field(default_factory=dict)  # retrieval_ms, first_token_ms, total_ms
    attempts: list[dict[str, Any]] = field(default_factory=list)  # routing: profile, ok, error, code, ms
    route: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Any] = field(default_factory=list)
    cost_usd: float | None = None
    # The passages exactly as the model received them: n, source, title, heading/page, text.
    context: list[dict[str, Any]] = field(default_factory=list)
    kind: str = ""  # "generated" (a model's words), "quoted" (the documents' own sentences), "" (abstained)
    related: list[Citation] = field(default_factory=list)  # the closest passages, offered with an abstention

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``inhouse ask --json`` (images as their size, format and meta)."""
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "provider": self.provider,
            "usage": asdict(self.usage),
            "cost_usd": self.cost_usd,
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "route": self.route,
            "attempts": self.attempts,
            "artifacts": [{"mime": a.mime, "bytes": len(a.data), **a.meta} for a in self.artifacts],
            "context": self.context,
            "kind": self.kind,
            "related": [c.to_dict() for c in self.related],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """The answer ``to_dict`` describes (images are not carried: ``artifacts`` is empty)."""
        usage = {name: value for name, value in data.get("usage", {}).items() if name in Usage.__dataclass_fields__}
        return cls(
            text=data["answer"],
            citations=[Citation.from_dict(c) for c in data.get("citations", [])],
            abstained=bool(data.get("abstained", False)),
            provider=data.get("provider"),
            usage=Usage(**usage),
            timings=dict(data.get("timings", {})),
            attempts=list(data.get("attempts", [])),
            route=dict(data.get("route", {})),
            cost_usd=data.get("cost_usd"),
            context=list(data.get("context", [])),
            kind=data.get("kind", ""),
            related=[Citation.from_dict(c) for c in data.get("related", [])],
        )


@dataclass
class IngestReport:
    """Counts and failures of one ingestion run."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}
    skipped: list[dict[str, str]] = field(default_factory=list)  # unsupported types
    chunks: int = 0
    not_embedded: int = 0  # documents whose label ([policy]) may not reach the embedder: BM25 only
    retried: int = 0  # connector open() calls tried again after a retryable IngestError
    failed_unchanged: int = 0  # failed or skipped items not read again: unchanged since they failed
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``inhouse ingest --json``."""
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestReport:
        """The report ``to_dict`` describes (unknown keys are ignored)."""
        return cls(**{name: value for name, value in data.items() if name in cls.__dataclass_fields__})
