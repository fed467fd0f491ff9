"""The plugin contract: one base class per entry-point group.

A plugin is a class with a nested pydantic ``Config`` (``extra="forbid"``), built as
``Plugin(config, name=..., home=...)``. It declares ``capabilities`` (text, stream, image,
embed) and ``residency`` (where data goes when it runs): the router uses both.

| group                | base        | the one method that matters                          |
|----------------------|-------------|------------------------------------------------------|
| inhouse.connectors   | Connector   | fetch() -> Iterator[Source]; open(path) -> bytes     |
| inhouse.embedders    | Embedder    | embed(texts) -> float32 array (n, dim), unit length |
| inhouse.stores       | Store       | upsert, search(vector, query, k, acl, filters), delete |
| inhouse.providers    | Provider    | generate(prompt) -> Iterator[str | Usage | Artifact] |
| inhouse.parsers      | Parser      | parse(data, path) -> ParsedDocument                  |

Two more groups hold no plugin classes: ``inhouse.commands`` (a function that adds
commands to the ``inhouse`` CLI, see ``inhouse.cli``) and ``inhouse.settings`` (the
pydantic model of a top-level configuration table a distribution owns, such as ``[ui]``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from inhouse.types import Chunk, Hit, ParsedDocument, Source, Usage

Residency = Literal["local", "in-account", "self-hosted", "external"]
SearchMode = Literal["hybrid", "dense", "bm25"]

GROUPS = {
    "connectors": "inhouse.connectors",
    "embedders": "inhouse.embedders",
    "stores": "inhouse.stores",
    "providers": "inhouse.providers",
    "parsers": "inhouse.parsers",
}


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    value = value.expanduser()
    return value if value.is_absolute() or base is None else (Path(base) / value).resolve()


ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]
"""A path in a plugin config: relative paths are taken from the configuration file's folder."""


class PluginConfig(BaseModel):
    """Base of every plugin's ``Config``: unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid")


class Price(PluginConfig):
    """The price of one model: USD per million input / output tokens and per image."""

    input: float = Field(0.0, ge=0)
    output: float = Field(0.0, ge=0)
    image: float = Field(0.0, ge=0)


class Plugin:
    """Common base: holds the validated config, the profile name and the data directory.

    ``capabilities`` and ``residency`` are what the router decides with. They are class
    attributes by default; a plugin whose residency depends on its configuration (a
    server's address, a declared ``residency`` key) sets ``self.residency`` in ``__init__``
    and explains it in ``residency_note``: the router only ever reads the instance.
    ``use`` is the entry-point name the plugin was built from (set by the registry).
    """

    Config: ClassVar[type[PluginConfig]] = PluginConfig
    capabilities: ClassVar[frozenset[str]] = frozenset()
    residency: Residency = "local"
    residency_note: str = ""
    use: str = ""

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        self.config = config if config is not None else self.Config()
        self.name = name
        self.home = home

    def price(self) -> Price | None:
        """The list price of the model this plugin calls, or None when unknown (free local
        models: None too; the ledger counts local calls as costing nothing). A price in the
        configuration's ``[prices]`` table wins over this."""
        return None

    def check(self) -> str:
        """A cheap readiness check for ``inhouse doctor``: return a short status, or raise an
        ``InhouseError`` that says what to do (install a package, set a variable)."""
        return "ok"

    def close(self) -> None:
        """Release files, sockets or models. Safe to call twice."""


class Connector(Plugin):
    """Finds sources. ``fetch`` yields every current source; the ingester works out what
    changed (by hash) and what was deleted (ids no longer yielded), so ``fetch`` always
    lists everything. ``open`` returns the original bytes of one of them.

    Every ``Source`` it yields carries ``root == str(connector.root)``: the ingester compares
    what is stored under that root with what ``fetch`` found, to remove deleted items, and
    ``Assistant.open_document`` finds the connector of a stored document by its root.
    """

    @property
    def root(self) -> str | Path:
        """Where this connector reads from (default: its profile name)."""
        return self.name

    def fetch(self) -> Iterator[Source]:
        """Yield every source, each with a stable ``id`` and a content ``hash``."""
        raise NotImplementedError

    def open(self, path: str) -> bytes:
        """The original bytes of the source this connector yielded with ``Source.path == path``.

        ``path`` comes from the store, not from a person, but treat it as hostile anyway:
        raise ``IngestError`` for anything this connector did not yield (outside its root,
        gone, unreadable)."""
        raise NotImplementedError

    def covers(self, path: str) -> bool:
        """Whether ``fetch`` lists everything there is at ``path`` (a stored source's path): the
        ingester removes a stored document it did not yield only then. A connector limited to
        part of its root (``inhouse ingest`` of a subfolder) says no for the rest. Default: yes."""
        return True

    @classmethod
    def reopen(cls, root: str) -> Connector | None:
        """A connector that can ``open`` documents stored under ``root`` by an earlier run
        (one not in the configuration, e.g. a folder ingested from the command line), or
        None when the root alone is not enough to rebuild one (the default)."""
        return None


class Embedder(Plugin):
    """Turns texts into unit-length float32 vectors.

    Embedders that call a remote model add the tokens they sent to ``usage`` (the
    assistant records the growth in the usage ledger)."""

    capabilities = frozenset({"embed"})

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        self.usage = Usage()

    @property
    def model_id(self) -> str:
        """Identifies the model: the store rebuilds its vectors when this changes."""
        raise NotImplementedError

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        raise NotImplementedError

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents: returns a float32 array of shape (len(texts), dimension), rows of norm 1."""
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query (models with a query/document distinction override this)."""
        return self.embed([text])[0]


@dataclass
class DocumentRecord:
    """What the store keeps about one ingested source."""

    id: str
    source: str
    root: str
    title: str
    hash: str
    modified: float
    acl: tuple[str, ...] = ()  # principals (inhouse.access); empty: nobody but the local caller
    connector: str = ""  # the entry-point name of the connector that yielded it ("" if unknown)
    sensitivity: str = "internal"  # the source's label (inhouse.config.LABELS)


class Store(Plugin):
    """Keeps documents, chunks and vectors, and searches them (dense + BM25, fused)."""

    def upsert(self, doc: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace everything stored for ``doc`` with these chunks, atomically and durably."""
        raise NotImplementedError

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove documents and their chunks."""
        raise NotImplementedError

    def set_access(self, doc_id: str, acl: Sequence[str], sensitivity: str) -> None:
        """Give document ``doc_id`` and all its chunks this ACL and label, durably, without
        touching texts or vectors: a tightened permission applies to an unchanged file at
        the next ingestion. Raise ``NotImplementedError`` when the store cannot (the ingester
        then re-indexes the document instead)."""
        raise NotImplementedError

    def documents(self, root: str | None = None) -> dict[str, DocumentRecord]:
        """Every stored document (of one connector root, if given), by id."""
        raise NotImplementedError

    def document(self, doc_id: str) -> DocumentRecord | None:
        """One stored document by id, or None (stores with an index override this)."""
        return self.documents().get(doc_id)

    def count(self) -> int:
        """Number of stored chunks."""
        raise NotImplementedError

    def neighbours(self, chunk: Chunk, before: int = 1, after: int = 1) -> list[Chunk]:
        """The chunks of ``chunk``'s document from ``before`` places before it to ``after`` after
        it, in reading order, ``chunk`` included: the answer pipeline widens a passage whose
        fact may run across a chunk boundary. Default: ``[chunk]`` (a store that cannot)."""
        return [chunk]

    def export(self) -> Iterator[tuple[DocumentRecord, list[Chunk], np.ndarray]]:
        """Every stored document with its chunks (reading order) and their vectors (one row each),
        for ``inhouse migrate``: another store's ``upsert`` of each gives the same index without
        re-embedding. Raise ``NotImplementedError`` when the store cannot (the default)."""
        raise NotImplementedError(f"the {type(self).__name__} store cannot export its index")

    def embedder_of(self) -> tuple[str | None, int | None]:
        """The embedder model id and dimension the stored vectors came from (``check_embedder``
        remembered them), or ``(None, None)`` when unknown. Default: unknown."""
        return None, None

    def check_embedder(self, model_id: str, dimension: int) -> None:
        """Remember which embedder made the vectors; raise ``ConfigError`` when the stored
        vectors came from another one (they cannot be compared). Default: no check."""

    def flush(self) -> None:
        """Make every write visible to searches and persist derived indexes. Default: nothing."""

    def reset(self) -> None:
        """Drop every document, chunk and vector (``inhouse ingest --rebuild``)."""
        self.delete(list(self.documents()))

    def search(
        self,
        vector: np.ndarray | None,
        query: str,
        k: int = 5,
        acl: Sequence[str] | None = None,
        filters: dict[str, Any] | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """Return the ``k`` best chunks for the query, best first.

        ``acl`` is the caller's principals (None: no filtering, the local caller). A chunk is
        visible when its ACL shares a principal with them (``*`` is an ordinary principal,
        the one every caller has); an empty chunk ACL is visible to nobody. The ACL acts
        inside the search: ``k`` results come back whenever ``k`` visible chunks match.
        ``filters`` match chunk fields exactly (``{"source": "hr/leave.md"}``) or by prefix with a trailing ``*``.
        """
        raise NotImplementedError


class Parser(Plugin):
    """Turns a file's bytes into a ``ParsedDocument`` (title and sections).

    Parsers are found by entry-point name: a file suffix (``.md``, lower case with the dot)
    or a media type (``text/markdown``, for sources without a telling name). A parser from
    another distribution wins over the built-in one for the same name. Raise ``IngestError``
    with the reason for an empty, corrupt or encrypted file; never read outside ``data``.
    """

    capabilities = frozenset({"parse"})

    def parse(self, data: bytes, path: str) -> ParsedDocument:
        """Parse ``data``; ``path`` gives the file name (for a fallback title and the suffix)."""
        raise NotImplementedError


@dataclass
class Artifact:
    """Non-text data (an image): bytes plus what is known about them (format, seed, finish reason)."""

    data: bytes
    mime: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredSentence:
    """One sentence of a passage with how well it answers the question (see
    ``inhouse.answering.evidence``): ``score`` combines the embedding similarity (``dense``)
    and the share of the question's words it holds (``lexical``) for the question ``part`` it
    answers best; ``kind`` says whether it holds the kind of answer asked (a number, a date)."""

    passage: int  # the passage's number, as cited: [n]
    index: int  # its position in the passage
    text: str
    score: float
    part: int
    dense: float
    lexical: float
    kind: bool


@dataclass(frozen=True)
class Passage:
    """A numbered passage of the prompt's context: one retrieved chunk, or several neighbouring
    chunks of one document joined (``chunk_ids``)."""

    n: int
    doc_id: str
    source: str
    title: str
    text: str
    heading: str = ""
    page: int | None = None
    score: float = 0.0  # the retrieval score of its best chunk
    chunk_ids: tuple[str, ...] = ()
    similarity: float | None = None  # the best cosine similarity of its chunks to the question, when known
    sensitivity: str = "internal"  # the source's sensitivity label (inhouse.config.LABELS)

    def label(self) -> str:
        """``title > heading`` or ``title, page N``."""
        where = f"page {self.page}" if self.page is not None else self.heading
        return f"{self.title} > {where}" if where else self.title


@dataclass
class Prompt:
    """What a provider receives: a system message, the conversation, and input images
    (for image-to-image models; the last user message is the image prompt).

    For answers from documents it also carries the context in structured form: the numbered
    ``passages`` (also rendered into ``system``), the question's ``parts`` (a question asking
    two things has two), and the ``sentences`` of the passages scored against them, so a
    provider that quotes rather than generates needs no parsing and no model of its own."""

    system: str
    messages: list[dict[str, str]]  # [{"role": "user"|"assistant", "content": ...}]
    max_tokens: int = 256
    temperature: float = 0.0
    stop: list[str] = field(default_factory=list)
    images: list[Artifact] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    sentences: list[ScoredSentence] = field(default_factory=list)


class Provider(Plugin):
    """A model. ``generate`` streams text pieces (or yields ``Artifact`` images), then
    optionally one ``Usage``.

    Raise ``ProviderError(retryable=True)`` for failures worth trying elsewhere (overload,
    timeouts, a cold endpoint) and ``retryable=False`` for the rest.
    """

    capabilities = frozenset({"text", "stream"})
    #: Tokens of context the model takes (its window, prompt and reply together) and the size of
    #: context it answers best and fastest with: the pipeline packs passages up to the smaller of
    #: ``preferred_context`` and what the window leaves after the instructions and the reply.
    context_window: int = 8192
    preferred_context: int = 3000
    #: What kind of answer it writes: "generated" (a model's own words) or "quoted" (sentences
    #: of the documents, verbatim). The answer says which, and the page shows it.
    answers: Literal["generated", "quoted"] = "generated"

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        # A profile may size the context itself (``context_window`` / ``context_tokens`` keys,
        # see ``inhouse.providerkit.BudgetSettings``).
        window, tokens = getattr(self.config, "context_window", None), getattr(self.config, "context_tokens", None)
        self.context_window = window or self.context_window
        self.preferred_context = tokens or self.preferred_context

    @property
    def model_id(self) -> str:
        """The model this provider calls (prices and cooldowns are kept per model)."""
        return type(self).__name__

    def generate(self, prompt: Prompt) -> Iterator[str | Usage | Artifact]:
        """Stream the reply to ``prompt``."""
        raise NotImplementedError

    def warm_up(self) -> None:
        """Load models or open connections ahead of the first request. Default: nothing."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` costs this model (a 4-characters-per-token estimate by default)."""
        return max(1, len(text) // 4)
