"""Helpers the repository's tests share (``pythonpath`` in pyproject.toml puts this folder on
``sys.path``): where the sample corpus is, a configuration writer, and ``texts``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "handbook"


def texts(items: Iterable[Any]) -> str:
    """The text a provider generated, its ``Usage`` and artifacts left out."""
    return "".join(item for item in items if isinstance(item, str))


def write_config(folder: Path, corpus: Path, extra: str = "", providers: str = "") -> Path:
    """A plugins.toml on ``corpus`` with the offline defaults (the extractive answerer, the local
    model as ``generative``) plus ``extra`` tables."""
    providers = providers or (
        '[providers.extractive]\nuse = "extractive"\n\n[providers.local]\nuse = "local"\n\n'
        '[routing]\ndefault = ["extractive"]\ngenerative = ["local"]\n'
    )
    path = folder / "plugins.toml"
    path.write_text(
        f"""
[embedder]
use = "minilm"

[store]
use = "local"

[connectors.docs]
use = "filesystem"
path = "{corpus}"

{providers}
{extra}
""",
        encoding="utf-8",
    )
    return path


def in_fresh_thread(function: Any, *args: Any) -> Any:
    """``function(*args)`` run in a new thread: its result, or its exception re-raised here.

    Code that starts its own event loop (``asyncio.run``) cannot run in a thread where a loop is
    running, and Playwright's sync API keeps one running in the main thread for as long as the
    browser tests' session-wide browser lives."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()
