"""The direct httpx client of ``openai-compatible`` against litellm, on a local OpenAI-compatible server.

    python bench/openai_client.py [--requests 200]
    /tmp/litellm-venv/bin/python bench/openai_client.py     # an environment that also has litellm

Measures, for each client: the import time (a fresh interpreter, median of 5), the installed
distributions it pulls in and their size (from the installed RECORDs; "beyond" leaves out
what inhouse core and boto3, which inhouse-selfhosted needs anyway, install), and per streamed
request the client's overhead: from the server's first response byte to the first token
the caller gets (both clocks are time.perf_counter in this process). Both ask for the same
grounded answer from ``inhouse.testing.emulators.openai_server``; warm-up requests are not counted.
litellm runs with LITELLM_LOCAL_MODEL_COST_MAP=True (no remote cost-map fetch) and is
skipped when it is not importable. Results go to bench/results/openai_client.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[1]
from inhouse.plugins import Prompt  # noqa: E402
from inhouse.testing.emulators.openai_server import OpenAIServer  # noqa: E402
from inhouse_selfhosted.openai import OpenAICompatibleProvider  # noqa: E402

MODEL = "test-model"
PROMPT = Prompt(
    system="Answer from the context.\n\nContext:\n"
    "[1] (Leave > Annual leave)\nStaff get 25 days of annual leave. Carry-over is 5 days.",
    messages=[{"role": "user", "content": "How many days of leave?"}],
    max_tokens=50,
)
WARM_UP = 5


def import_seconds(module: str, runs: int = 5) -> float:
    """Median seconds to import ``module`` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def closure(name: str) -> list[str]:
    """``name`` and every installed distribution it requires here, recursively (no extras)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        try:
            dist = metadata.distribution(todo.pop())
        except metadata.PackageNotFoundError:
            continue
        key = canonicalize_name(dist.metadata["Name"])
        if key in seen:
            continue
        seen.add(key)
        for requirement in map(Requirement, dist.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return sorted(seen)


def installed_mb(names: list[str]) -> float:
    """Size on disk of the files these distributions installed."""
    total = 0
    for name in names:
        for file in metadata.distribution(name).files or []:
            path = file.locate()
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def timed(requests: int, emulator: OpenAIServer, stream: Callable[[], Iterator[str]]) -> tuple[float, list[dict[str, float]]]:
    """The first call's time to its first token (lazy imports and connection included), then per
    request: call -> first token, server's first byte -> first token, and the whole answer (ms)."""
    first_call_ms, samples = 0.0, []
    for i in range(WARM_UP + requests):
        called = time.perf_counter()
        pieces = stream()
        next(pieces)
        first_token = time.perf_counter()
        for _ in pieces:
            pass
        done = time.perf_counter()
        record = emulator.requests[-1]
        if i == 0:
            first_call_ms = (first_token - called) * 1000
        if i >= WARM_UP:
            samples.append(
                {
                    "call_to_first_token_ms": (first_token - called) * 1000,
                    "overhead_ms": (first_token - record.first_byte_at) * 1000,
                    "total_ms": (done - called) * 1000,
                }
            )
    return first_call_ms, samples


def direct_stream(emulator: OpenAIServer) -> Callable[[], Iterator[str]]:
    """The ``openai-compatible`` provider's text pieces."""
    provider = OpenAICompatibleProvider(OpenAICompatibleProvider.Config(base_url=emulator.base_url, model=MODEL))

    def stream() -> Iterator[str]:
        return (item for item in provider.generate(PROMPT) if isinstance(item, str))

    return stream


def litellm_stream(emulator: OpenAIServer) -> Callable[[], Iterator[str]]:
    """litellm.completion(..., stream=True)'s text pieces."""
    import litellm

    messages = [{"role": "system", "content": PROMPT.system}, *PROMPT.messages]

    def stream() -> Iterator[str]:
        response = litellm.completion(
            model=f"openai/{MODEL}",
            api_base=emulator.base_url,
            api_key="unused",
            messages=messages,
            max_tokens=PROMPT.max_tokens,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        return (chunk.choices[0].delta.content for chunk in response if chunk.choices and chunk.choices[0].delta.content)

    return stream


def summary(samples: list[dict[str, float]]) -> dict[str, float]:
    """Median, p95 and mean of each timing."""
    out: dict[str, float] = {}
    for key in samples[0]:
        values = sorted(sample[key] for sample in samples)
        out[f"{key}_p50"] = round(statistics.median(values), 3)
        out[f"{key}_p95"] = round(values[int(0.95 * (len(values) - 1))], 3)
        out[f"{key}_mean"] = round(statistics.fmean(values), 3)
    return out


def main() -> None:
    """Measure both clients, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    try:
        import litellm  # noqa: F401

        clients = ["direct", "litellm"]
    except ImportError:
        clients = ["direct"]
        print("litellm is not importable here: measuring the direct client only", file=sys.stderr)
    results: dict[str, Any] = {"python": platform.python_version(), "requests": args.requests, "clients": {}}
    setup = {
        "direct": ("inhouse_selfhosted.openai", "httpx", direct_stream),
        "litellm": ("litellm", "litellm", litellm_stream),
    }
    base = set(closure("inhouse")) | set(closure("boto3"))  # what inhouse-selfhosted needs besides its HTTP client
    with OpenAIServer(models=(MODEL,)) as emulator:
        for client in clients:
            module, dist, make = setup[client]
            names = closure(dist)
            added = sorted(set(names) - base)
            entry = {
                "version": metadata.version(dist),
                "import_s": round(import_seconds(module), 3),
                "import_httpx_s": round(import_seconds("httpx"), 3) if client == "direct" else None,
                "distributions": len(names),
                "installed_mb": round(installed_mb(names), 1),
                "distribution_names": names,
                "added_distributions": len(added),
                "added_mb": round(installed_mb(added), 1),
                "added_names": added,
            }
            emulator.reset()
            first_call_ms, samples = timed(args.requests, emulator, make(emulator))
            entry["first_call_ms"] = round(first_call_ms, 1)
            entry.update(summary(samples))
            results["clients"][client] = entry
    rows = [
        ("version", "version", "{}"),
        ("import (fresh interpreter), s", "import_s", "{:.3f}"),
        ("  of which httpx alone, s", "import_httpx_s", "{}"),
        ("distributions pulled in", "distributions", "{}"),
        ("installed size, MB", "installed_mb", "{:.1f}"),
        ("  beyond inhouse + boto3: distributions", "added_distributions", "{}"),
        ("  beyond inhouse + boto3: MB", "added_mb", "{:.1f}"),
        ("first call -> first token, ms", "first_call_ms", "{:.1f}"),
        ("server first byte -> first token, p50 ms", "overhead_ms_p50", "{:.3f}"),
        ("server first byte -> first token, p95 ms", "overhead_ms_p95", "{:.3f}"),
        ("call -> first token, p50 ms", "call_to_first_token_ms_p50", "{:.3f}"),
        ("call -> first token, p95 ms", "call_to_first_token_ms_p95", "{:.3f}"),
        ("whole answer, p50 ms", "total_ms_p50", "{:.3f}"),
    ]
    print(f"{'':44}" + "".join(f"{client:>14}" for client in clients))
    for label, key, form in rows:
        cells = [results["clients"][c][key] for c in clients]
        print(f"{label:44}" + "".join(f"{form.format(v) if v is not None else '-':>14}" for v in cells))
    out = REPO / "bench" / "results" / "openai_client.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\n{args.requests} streamed requests per client (after {WARM_UP} warm-up); written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
