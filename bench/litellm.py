"""The built-in direct clients against the ``litellm`` provider (inhouse-litellm), on the same local emulators.

    python bench/litellm.py [--requests 50]

Two pairs of providers answer the grounded question of ``inhouse.testing.emulators.PROMPT``:

- Bedrock: ``bedrock`` (inhouse-bedrock, boto3's ConverseStream) and ``litellm`` with
  ``bedrock/<claude>`` (LiteLLM's own SigV4-signed ConverseStream), against the Bedrock
  emulator in its own process (bench/bedrock.py's ``Emulator``), as bench/bedrock.py measured it;
- OpenAI-compatible: ``openai-compatible`` (inhouse-selfhosted, httpx) and ``litellm`` with
  ``openai/test-model`` + ``api_base``, against ``OpenAIServer`` in this process, as
  bench/openai_client.py measured it.

For each provider: the import time of its module and client library in a fresh interpreter
(median of 5; LiteLLM with the plugin's offline settings), then per request after 5 warm-up
requests: the first-token overhead (the emulator's first text frame on the wire -> the first
``str`` that ``generate`` yields; both clocks are CLOCK_MONOTONIC) and the total (``generate``
called -> its ``Usage``), p50/p95/mean. Results go to bench/results/litellm.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

# This script is named litellm.py: its folder goes behind site-packages, so `import litellm`
# finds LiteLLM while the sibling benchmarks (bedrock.py, openai_client.py) stay importable.
sys.path.append(sys.path.pop(0))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")

from bedrock import CLAUDE, Emulator
from inhouse.plugins import Provider
from inhouse.testing.emulators import PROMPT
from inhouse.testing.emulators.openai_server import OpenAIServer
from inhouse.types import Usage
from inhouse_bedrock.chat import BedrockChat
from inhouse_litellm import library
from inhouse_litellm.provider import LiteLLMProvider
from inhouse_selfhosted.openai import OpenAICompatibleProvider
from openai_client import import_seconds, summary

REPO = Path(__file__).resolve().parents[1]
WARM_UP = 5
# The module and client library each provider needs before its first request.
IMPORTS = {
    "bedrock": "inhouse_bedrock.chat, boto3",
    "openai-compatible": "inhouse_selfhosted.openai, httpx",
    "litellm": "inhouse_litellm.provider, litellm",
}


def timed(provider: Provider, requests: int) -> list[tuple[float, float, float]]:
    """(called, first token, Usage) perf_counter times of ``WARM_UP + requests`` streamed answers."""
    times = []
    for _ in range(WARM_UP + requests):
        called = time.perf_counter()
        first = done = 0.0
        for item in provider.generate(PROMPT):
            if isinstance(item, str) and not first:
                first = time.perf_counter()
            elif isinstance(item, Usage):
                done = time.perf_counter()
        times.append((called, first, done))
    return times[WARM_UP:]


def samples(times: list[tuple[float, float, float]], first_text_on_wire: list[float]) -> list[dict[str, float]]:
    """Per request: overhead (first text frame written -> first token yielded) and total, in ms."""
    return [
        {"overhead_ms": (first - wire) * 1000, "total_ms": (done - called) * 1000}
        for (called, first, done), wire in zip(times, first_text_on_wire, strict=True)
    ]


def bench_bedrock(requests: int) -> dict[str, list[dict[str, float]]]:
    """bedrock vs litellm bedrock/..., on the emulator in its own process."""
    emulator = Emulator()
    try:
        aws = {"region": "us-east-1", "endpoint_url": emulator.url}
        providers = {
            "bedrock": BedrockChat(BedrockChat.Config(model=CLAUDE, **aws)),
            "litellm": LiteLLMProvider(
                LiteLLMProvider.Config(model=f"bedrock/{CLAUDE}", api_base=emulator.url, params={"aws_region_name": "us-east-1"})
            ),
        }
        out = {}
        for name, provider in providers.items():
            provider.warm_up()
            emulator.control("reset", {})
            times = timed(provider, requests)
            records = emulator.control("requests")[WARM_UP:]
            out[name] = samples(times, [record["first_delta_at"] for record in records])
        return out
    finally:
        emulator.close()


def bench_openai(requests: int) -> dict[str, list[dict[str, float]]]:
    """openai-compatible vs litellm openai/..., on OpenAIServer in this process."""
    with OpenAIServer(models=("test-model",)) as emulator:
        providers = {
            "openai-compatible": OpenAICompatibleProvider(
                OpenAICompatibleProvider.Config(base_url=emulator.base_url, model="test-model")
            ),
            "litellm": LiteLLMProvider(
                LiteLLMProvider.Config(model="openai/test-model", api_base=emulator.base_url, api_key="unused")
            ),
        }
        out = {}
        for name, provider in providers.items():
            provider.warm_up()
            emulator.reset()
            times = timed(provider, requests)
            records = emulator.requests[WARM_UP:]
            out[name] = samples(times, [record.first_token_at for record in records])
        return out


def entry(client: str, distribution: str, timings: list[dict[str, float]]) -> dict[str, Any]:
    """One column of the table: versions, import time and the request statistics."""
    return {"client": client, "library": f"{distribution} {metadata.version(distribution)}", **summary(timings)}


def main() -> None:
    """Measure the four providers, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    os.environ.update(library.OFFLINE_ENVIRONMENT)  # the fresh interpreters import LiteLLM as the plugin does
    imports = {name: round(import_seconds(modules), 3) for name, modules in IMPORTS.items()}
    bedrock, openai = bench_bedrock(args.requests), bench_openai(args.requests)
    columns: dict[str, dict[str, Any]] = {
        "bedrock: inhouse-bedrock": entry("bedrock", "boto3", bedrock["bedrock"]),
        "bedrock: litellm": entry("litellm", "litellm", bedrock["litellm"]),
        "openai: inhouse-selfhosted": entry("openai-compatible", "httpx", openai["openai-compatible"]),
        "openai: litellm": entry("litellm", "litellm", openai["litellm"]),
    }
    for column in columns.values():
        column["import_s"] = imports[column["client"]]
    rows: list[tuple[str, str, Callable[[Any], str]]] = [
        ("library", "library", str),
        ("import, fresh interpreter (s)", "import_s", "{:.2f}".format),
        ("first-token overhead p50 (ms)", "overhead_ms_p50", "{:.2f}".format),
        ("first-token overhead p95 (ms)", "overhead_ms_p95", "{:.2f}".format),
        ("total per request p50 (ms)", "total_ms_p50", "{:.2f}".format),
        ("total per request p95 (ms)", "total_ms_p95", "{:.2f}".format),
    ]
    width = 28
    print(f"{'':32}" + "".join(f"{name:>{width}}" for name in columns))
    for label, key, form in rows:
        print(f"{label:32}" + "".join(f"{form(column[key]):>{width}}" for column in columns.values()))
    results = {"python": platform.python_version(), "requests": args.requests, "warm_up": WARM_UP, "providers": columns}
    out = REPO / "bench" / "results" / "litellm.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\n{args.requests} streamed requests per provider (after {WARM_UP} warm-up); written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
