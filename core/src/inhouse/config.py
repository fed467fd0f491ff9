"""Loading ``plugins.toml``: where it is, secrets from the environment, and core settings.

Plugin tables (``[embedder]``, ``[store]``, ``[connectors.NAME]``, ``[providers.NAME]``) keep
their keys raw here; each plugin validates its own with its ``Config`` when it is built
(see ``inhouse.registry``), so an error names the full TOML path either way.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inhouse.budget_settings import BudgetSettings
from inhouse.errors import ConfigError
from inhouse.plugins import Price, Residency

DEFAULT_HOME = Path("~/.local/share/inhouse")
SETTINGS_GROUP = "inhouse.settings"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetrievalSettings(_Section):
    """``[retrieval]``: how many passages to fetch and when nothing is relevant enough."""

    k: int = Field(5, ge=1, le=1000)
    mode: str = Field("hybrid", pattern="^(hybrid|dense|bm25)$")
    # Abstain when the best passage's cosine similarity to the question is below this.
    # Calibrated by bench/calibrate_abstention.py (see README).
    min_similarity: float = Field(0.38, ge=-1, le=1)
    # At most this many passages from one document (None: no limit). Measured on the sample
    # corpus and the 18F handbook, a limit of 1-3 lost more than it gained (see README).
    per_document: int | None = Field(None, ge=1)


class AnswerSettings(_Section):
    """``[answer]``: what the model sees, and when the assistant says the documents do not answer."""

    # Candidate passages: the best ``pool`` hits of each search (the question and each of its
    # parts), widened by ``window`` neighbouring chunks of the same section, deduplicated; the
    # model's own budget (Provider.preferred_context) then decides how many it receives, at
    # most ``context_passages``.
    pool: int = Field(12, ge=1, le=200)
    window: int = Field(1, ge=0, le=5)
    context_passages: int = Field(10, ge=1, le=100)
    max_parts: int = Field(3, ge=1, le=5, description="parts a multi-part question is split into")
    # The stages before generation, in order (inhouse.answering.stages.STAGES).
    stages: list[str] = Field(default_factory=lambda: ["retrieve", "gate", "expand", "defuse", "score", "check"])
    # Below this probability that the passages answer the question (inhouse.answering.evidence,
    # fitted by bench/calibrate_evidence.py) the assistant abstains before asking a model. 0.42
    # keeps every answerable question of the sample corpus' two sets (the colloquial one
    # included) answered; on the held-out 18F handbook set it wrongly refuses 2% (see the README).
    min_support: float = Field(0.42, ge=0, le=1)
    max_tokens: int = Field(200, ge=1)
    history_turns: int = Field(2, ge=0)


class UseCaseSettings(_Section):
    """``[use_cases.NAME]``: how one use case of ``[routing]`` is answered. The built-in ones
    (``image``, ``private``, ``multilingual``) come with defaults; any key given here wins."""

    retrieve: bool = Field(True, description="search the documents (false: the request goes to the model alone)")
    produces: Literal["text", "image"] = "text"
    residency: list[Residency] | None = Field(
        None, description="the only residencies that may receive the context (and embed the question)"
    )
    min_similarity: float | None = Field(None, ge=-1, le=1, description="instead of [retrieval] min_similarity")
    min_support: float | None = Field(None, ge=0, le=1, description="instead of [answer] min_support")
    detect: Literal["image-request", "language"] | None = Field(None, description="when the router picks it by itself")


BUILTIN_USE_CASES: dict[str, dict[str, Any]] = {
    "image": {"retrieve": False, "produces": "image", "detect": "image-request"},
    "private": {},  # residency: [router] private_residency
    # The similarity and support thresholds are calibrated on English: a question in another
    # language is left to the model's own "not found" (a multilingual embedder is the real fix).
    "multilingual": {"min_similarity": -1.0, "min_support": 0.0, "detect": "language"},
}


class IngestSettings(_Section):
    """``[ingest]``: chunking, the per-file size limit and the parser worker's limits."""

    chunk_size: int = Field(900, ge=100, description="characters")
    chunk_overlap: int = Field(120, ge=0)
    max_file_mb: float = Field(50, gt=0)
    batch_size: int = Field(128, ge=1, description="chunks per embedding batch")
    # Parsing runs in a worker process under these limits; a file over one fails alone.
    parse_timeout_s: float = Field(60, gt=0, description="wall-clock seconds per file")
    parse_memory_mb: int = Field(1024, ge=64, description="memory one file's parsing may use, above the worker's own")
    max_text_mb: float = Field(20, gt=0, description="text one file may yield")
    # A connector's open() that fails with IngestError(retryable=True) is tried this often in all.
    open_attempts: int = Field(3, ge=1, le=10, description="tries per item when a connector says retrying may help")
    open_backoff_s: float = Field(1.0, ge=0, description="retry n waits up to this * 2**(n-1) seconds, jittered")


Label = Literal["public", "internal", "confidential", "restricted"]
LABELS: tuple[Label, ...] = ("public", "internal", "confidential", "restricted")


class UserSettings(_Section):
    """``[users.NAME]``: a person and the groups they belong to."""

    groups: list[str] = Field(default_factory=list)


class AccessRule(_Section):
    """One ``[[access.rules]]`` entry: files whose path (relative to their connector's root)
    matches ``glob`` get these groups (and ``public``/``label``), unless a ``.inhouse-acl``
    file or the connector says otherwise."""

    glob: str
    groups: list[str] = Field(default_factory=list)
    public: bool = False
    label: Label | None = None


class AccessSettings(_Section):
    """``[access]``: who may read sources that say nothing themselves, and their label."""

    rules: list[AccessRule] = Field(default_factory=list)
    default_label: Label = "internal"


def _default_residencies() -> dict[Label, list[Residency]]:
    return {
        "public": ["local", "self-hosted", "in-account", "external"],
        "internal": ["local", "self-hosted", "in-account", "external"],
        "confidential": ["local", "self-hosted", "in-account"],
        "restricted": ["local", "self-hosted"],
    }


class PolicySettings(_Section):
    """``[policy]``: where text of each sensitivity label may be sent, and what is redacted."""

    labels: dict[Label, list[Residency]] = Field(default_factory=_default_residencies)
    # Personal data is replaced by placeholders before any call to these residencies.
    redact: list[Residency] = Field(default_factory=lambda: ["external"])
    redact_kinds: list[str] = Field(default_factory=lambda: ["email", "phone", "card", "national_id", "iban", "ip", "name"])


class AuditSettings(_Section):
    """``[audit]``: the tamper-evident log of questions and outbound calls."""

    enabled: bool = True
    question_text: bool = Field(False, description="keep the question's text (else only its hash)")
    retention_days: int | None = Field(365, ge=1, description="records older than this are dropped (None: kept)")


class TracingSettings(_Section):
    """``[tracing]``: OpenTelemetry spans of answers and ingestion, exported over OTLP/HTTP."""

    enabled: bool = False
    otlp_endpoint: str | None = Field(
        None,
        pattern="^https?://",
        description="the collector's traces URL (http/protobuf), e.g. http://127.0.0.1:4318/v1/traces; "
        "None: the exporter's default (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else localhost:4318)",
    )
    service_name: str = Field("inhouse", min_length=1)
    include_text: bool = Field(False, description="put the question's text in the answer span (never by default)")


class RouterSettings(_Section):
    """``[router]``: how a use case is chosen and when a provider is rested."""

    # Route questions not in English to routing.multilingual (when configured): when the
    # offline detector gives English at most this probability. 0.05 kept 709 of 710 English
    # questions on the default chain and moved 48 of 48 in 26 other languages (README).
    detect_language: bool = True
    max_english_probability: float = Field(0.05, ge=0, le=1)
    # After this many calls in a row ended throttled (the provider's own retries spent),
    # skip that provider+model for cooldown_seconds.
    cooldown_after: int = Field(2, ge=1)
    cooldown_seconds: float = Field(30.0, ge=0)
    # Residencies that routing.private may send context to: never Bedrock or external APIs.
    private_residency: list[Residency] = Field(default_factory=lambda: ["local", "self-hosted"])


class CoreSettings(_Section):
    """The non-plugin tables of the configuration."""

    routing: dict[str, list[str]] = Field(default_factory=dict)
    router: RouterSettings = Field(default_factory=RouterSettings)
    use_cases: dict[str, UseCaseSettings] = Field(default_factory=dict)
    # By model id; merged over the packaged table (inhouse/prices.toml).
    prices: dict[str, Price] = Field(default_factory=dict)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    users: dict[str, UserSettings] = Field(default_factory=dict)
    access: AccessSettings = Field(default_factory=AccessSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)


PLUGIN_TABLES = ("embedder", "store")
PLUGIN_MAPS = ("connectors", "providers")


@dataclass
class Settings:
    """A loaded configuration: plugin specs (raw dicts with ``use``) plus core settings."""

    source: str  # the file it came from, or "<packaged default>"
    base_dir: Path  # relative paths inside the configuration are taken from here
    embedder: dict[str, Any]
    store: dict[str, Any]
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Seconds between background syncs, by connector (``schedule`` of [connectors.NAME]).
    schedules: dict[str, float] = field(default_factory=dict)
    core: CoreSettings = field(default_factory=CoreSettings)
    # Top-level tables another distribution owns (``[ui]``: inhouse-ui), kept raw: the owner,
    # named by its ``inhouse.settings`` entry point, validates its table when it reads it.
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def use_case(self, name: str) -> UseCaseSettings:
        """The settings of use case ``name``: its built-in defaults under ``[use_cases.NAME]``."""
        defaults = dict(BUILTIN_USE_CASES.get(name, {}))
        if name == "private":
            defaults["residency"] = list(self.core.router.private_residency)
        given = self.core.use_cases.get(name)
        return UseCaseSettings.model_validate({**defaults, **(given.model_dump(exclude_unset=True) if given else {})})

    def table(self, name: str, model: type[BaseModel]) -> Any:
        """The owned table ``[name]`` validated by ``model`` (an empty table when absent);
        errors name the TOML path, like a plugin's."""
        try:
            return model.model_validate(self.tables.get(name, {}))
        except ValidationError as exc:
            raise ConfigError(describe(exc, name, self.source, model)) from None


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """``--config``, else ``$INHOUSE_CONFIG``, else ``./plugins.toml``; None means the packaged default."""
    chosen = explicit or os.environ.get("INHOUSE_CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(f"configuration file {path} does not exist (from --config or $INHOUSE_CONFIG)")
        return path
    local = Path("plugins.toml")
    return local if local.is_file() else None


def home_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--home``, else ``$INHOUSE_HOME``, else ``~/.local/share/inhouse``."""
    chosen = explicit or os.environ.get("INHOUSE_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and check a configuration (see ``config_path`` for which file)."""
    file = config_path(path)
    if file is None:
        text = resources.files("inhouse").joinpath("default_plugins.toml").read_text()
        return parse(text, "<packaged default>", Path.cwd())
    return parse(file.read_text(encoding="utf-8"), str(file), file.resolve().parent)


def parse(text: str, source: str, base_dir: Path) -> Settings:
    """Parse TOML text into ``Settings``; errors name the file and the TOML path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    data = resolve_secrets(data, ())
    plugin_specs: dict[str, Any] = {}
    for key in PLUGIN_TABLES:
        spec = data.pop(key, None)
        if spec is None:
            raise ConfigError(f'{source}: missing table [{key}] (add one with use = "..."; run `inhouse plugins`)')
        plugin_specs[key] = _spec(spec, key, source)
    for key in PLUGIN_MAPS:
        table = data.pop(key, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {key} must be a table of [{key}.NAME] tables")
        plugin_specs[key] = {name: _spec(spec, f"{key}.{name}", source) for name, spec in table.items()}
    # ``schedule`` is the core's key of every connector table: taken out before the plugin validates its own.
    schedules = {
        name: _schedule(spec.pop("schedule"), f"connectors.{name}.schedule", source)
        for name, spec in plugin_specs["connectors"].items()
        if "schedule" in spec
    }
    tables = _owned_tables(data, source)
    try:
        core = CoreSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, "", source, CoreSettings)) from None
    for use_case, chain in core.routing.items():
        for profile in chain:
            if profile not in plugin_specs["providers"]:
                known = ", ".join(sorted(plugin_specs["providers"])) or "none"
                raise ConfigError(
                    f"{source}: routing.{use_case} names provider profile '{profile}', "
                    f"but there is no [providers.{profile}] table (defined: {known})"
                )
    return Settings(source=source, base_dir=base_dir, core=core, tables=tables, schedules=schedules, **plugin_specs)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float | None:
    """``30s``, ``15m``, ``2h``, ``7d`` (a whole number and a unit) in seconds; None when ``text``
    is not such a duration."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    return int(match.group(1)) * _UNITS[match.group(2)] if match else None


def duration_text(seconds: float) -> str:
    """``seconds`` as ``duration_seconds`` reads it, in the largest whole unit (900 → ``15m``)."""
    unit = next(u for u in ("d", "h", "m", "s") if seconds % _UNITS[u] == 0 or u == "s")
    return f"{seconds / _UNITS[unit]:g}{unit}"


def _schedule(value: Any, where: str, source: str) -> float:
    seconds = duration_seconds(value) if isinstance(value, str) else None
    if not seconds:
        raise ConfigError(f'{source}: {where} must be a duration like "30s", "15m", "2h" or "1d", not {value!r}')
    return float(seconds)


def _owned_tables(data: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Take out of ``data`` the top-level tables that an installed distribution declares in the
    ``inhouse.settings`` entry-point group (by name: nothing is imported). Other unknown keys
    stay, so ``CoreSettings`` reports them with a did-you-mean."""
    owners = {ep.name for ep in entry_points(group=SETTINGS_GROUP)}
    tables = {}
    for name in [key for key in data if key in owners and key not in CoreSettings.model_fields]:
        table = data.pop(name)
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {name} must be a table ([{name}])")
        tables[name] = table
    return tables


def _spec(spec: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: {where} must be a table")
    if not isinstance(spec.get("use"), str):
        raise ConfigError(f"{source}: {where}.use is missing: name the plugin (see `inhouse plugins`)")
    return spec


def resolve_secrets(value: Any, where: tuple[str, ...]) -> Any:
    """Replace every ``{ env = "NAME" }`` table with the environment variable's value."""
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            name = value["env"]
            if name not in os.environ:
                raise ConfigError(f"{'.'.join(where)}: set the environment variable {name} (the configuration reads it)")
            return os.environ[name]
        return {k: resolve_secrets(v, (*where, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, (*where, str(i))) for i, v in enumerate(value)]
    return value


def describe(exc: ValidationError, prefix: str, source: str, model: type[BaseModel] | None = None) -> str:
    """One line per problem, each naming its TOML path (``providers.local.temprature``)."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        if err["type"] == "extra_forbidden":
            known = list(_fields_at(model, err["loc"][:-1]))
            close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else (f" (known: {', '.join(known)})" if known else "")
            lines.append(f"{path}: unknown key{hint}")
        else:
            lines.append(f"{path}: {err['msg']}")
    return f"{source}: " + "; ".join(lines)


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> dict[str, Any]:
    """The fields of the (nested) model found by following ``loc`` from ``model``."""
    for part in loc:
        field_info = model.model_fields.get(str(part)) if model is not None else None
        annotation = field_info.annotation if field_info is not None else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model.model_fields if model is not None else {}
