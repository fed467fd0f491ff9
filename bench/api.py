"""The HTTP API under load, and what it adds to the SDK's own time to first token.

    python bench/api.py [--seconds 60] [--search-clients 32] [--chat-clients 8] [--rounds 5]
    python bench/api.py --smoke          # a few seconds per phase (or INHOUSE_BENCH_SMOKE=1)

A real server (``inhouse serve`` in its own process on 127.0.0.1, the configuration ``make
run`` uses: ./plugins.toml, the extractive answerer, MiniLM, the sample corpus) is loaded on
loopback by a load generator in this process (httpx.AsyncClient), in two phases that stop by
themselves: ``--search-clients`` concurrent clients on ``POST /v1/search`` for ``--seconds``,
then ``--chat-clients`` on ``POST /v1/chat/completions``. Each client sends its next request
when the last one is answered; every non-2xx answer or failed request is an error (zero
expected). Throughput and latency percentiles per phase.

Time to first token: each question of ``QUESTIONS`` is asked ``--rounds`` times with
``POST /v1/ask`` streaming; the client's time to the first text piece minus the SDK's own
``first_token_ms`` of the same answer (measured by ``Assistant.stream`` inside the server) is
the API's overhead, per request (goal: <= 5 ms at p95). For reference, the same questions
through ``Assistant.stream`` in this process with no server in between, and through
``/v1/chat/completions`` with ``stream: true``, and a ``GET /healthz`` round trip after each
(what any request costs on this machine at that moment: on a busy machine every thread hop
waits for a core). Results go to bench/results/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
from rich.console import Console
from rich.table import Table

from benchkit import machine, save
from inhouse import Answer, Assistant
from inhouse.evaluation.metrics import percentile

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "plugins.toml"
OUT = REPO / "bench" / "results" / "api.json"
SMOKE_ENV = "INHOUSE_BENCH_SMOKE"
GOAL_OVERHEAD_P95_MS = 5.0
QUESTIONS = [
    "How many days of annual leave do employees get?",
    "How much can I spend on food per day when travelling?",
    "Which wifi should my visitors join?",
    "How long is parental leave?",
    "How do I report a phishing email?",
    "How do I get access to the VPN?",
    "What is the learning budget per year?",
    "Who do I contact when my laptop breaks?",
]
QUERIES = ["annual leave", "guest wifi password", "meal allowance travel", "VPN access", "phishing report", "learning budget"]
console = Console(width=120)  # the tables, also when the output is not a terminal


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``inhouse serve`` on ``home``; returns once ``/readyz`` says the models are loaded."""
    command = [sys.executable, "-m", "inhouse", "--config", str(CONFIG), "--home", str(home), "serve", "--port", str(port)]
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the server was not ready in 300 s:\n{log.read_text(errors='replace')[-3000:]}")


# --------------------------------------------------------------------------------- load


async def load(base: str, path: str, bodies: list[dict[str, Any]], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` concurrent clients sending ``bodies`` (in turn) to ``path`` for ``seconds``."""
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        deadline = time.perf_counter() + seconds

        async def client(n: int) -> None:
            i = n
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.post(path, json=bodies[i % len(bodies)])
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                    else:
                        latencies.append((time.perf_counter() - started) * 1000)
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                i += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "path": path,
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_samples": errors[:5],
        "throughput_rps": round((len(latencies) + len(errors)) / elapsed, 1),
        "latency_ms": summary(latencies, (50, 95, 99)),
    }


def summary(values: list[float], qs: tuple[int, ...] = (50, 95)) -> dict[str, float]:
    """Percentiles (and the max) of ``values``, rounded to 0.01 ms."""
    out = {f"p{q}": round(percentile(values, q), 2) for q in qs}
    out["max"] = round(max(values, default=0.0), 2)
    return out


# ------------------------------------------------------------------------ first token


def api_first_token(http: httpx.Client, question: str) -> tuple[float, float]:
    """``POST /v1/ask`` streamed: (ms to the first text piece, the server SDK's own first_token_ms)."""
    started, first = time.perf_counter(), None
    event, answer = "", None
    with http.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event == "delta" and first is None:
                first = time.perf_counter()
            elif line.startswith("data:") and event == "answer":
                answer = json.loads(line.partition(":")[2])
    assert first is not None and answer is not None, "the stream carried no text or no answer"
    return (first - started) * 1000, float(answer["timings"]["first_token_ms"])


def chat_first_token(http: httpx.Client, question: str) -> float:
    """``POST /v1/chat/completions`` streamed: ms to the first chunk with content."""
    body = {"model": "inhouse-auto", "stream": True, "messages": [{"role": "user", "content": question}]}
    started = time.perf_counter()
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                choices = json.loads(line[5:]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    return (time.perf_counter() - started) * 1000
    raise AssertionError("the completion streamed no content")


def sdk_first_token(assistant: Assistant, question: str) -> float:
    """``Assistant.stream`` in this process: ms to the first text piece."""
    started = time.perf_counter()
    for item in assistant.stream(question):
        if isinstance(item, str):
            return (time.perf_counter() - started) * 1000
        if isinstance(item, Answer):
            break
    raise AssertionError(f"no text streamed for {question!r}")


def first_tokens(base: str, assistant: Assistant, rounds: int) -> dict[str, Any]:
    """Time to first token through the API and the SDK, ``rounds`` times per question."""
    overhead, api, server_sdk, chat, local, floor = [], [], [], [], [], []
    with httpx.Client(base_url=base, timeout=60) as http:
        for question in QUESTIONS:  # warm each path once, uncounted
            api_first_token(http, question), chat_first_token(http, question), sdk_first_token(assistant, question)
        for _ in range(rounds):
            for question in QUESTIONS:
                client_ms, sdk_ms = api_first_token(http, question)
                api.append(client_ms)
                server_sdk.append(sdk_ms)
                overhead.append(client_ms - sdk_ms)
                chat.append(chat_first_token(http, question))
                local.append(sdk_first_token(assistant, question))
                started = time.perf_counter()
                http.get("/healthz").raise_for_status()
                floor.append((time.perf_counter() - started) * 1000)
    return {
        "requests": len(overhead),
        "overhead_ms": summary(overhead),
        "api_first_token_ms": summary(api),
        "server_sdk_first_token_ms": summary(server_sdk),
        "chat_completions_first_token_ms": summary(chat),
        "in_process_sdk_first_token_ms": summary(local),
        "healthz_round_trip_ms": summary(floor),
        "goal_overhead_p95_ms": GOAL_OVERHEAD_P95_MS,
        "meets_goal": percentile(overhead, 95) <= GOAL_OVERHEAD_P95_MS,
    }


# --------------------------------------------------------------------------------- main


def report(results: dict[str, Any]) -> None:
    """Print the tables."""
    table = Table(title="HTTP API under load (loopback)")
    for column in ("route", "clients", "seconds", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "route" else "right")
    for phase in results["load"]:
        ms = phase["latency_ms"]
        table.add_row(
            phase["path"], str(phase["clients"]), str(phase["seconds"]), str(phase["requests"]), str(phase["errors"]),
            str(phase["throughput_rps"]), f"{ms['p50']:.1f}", f"{ms['p95']:.1f}", f"{ms['p99']:.1f}",
        )  # fmt: skip
    console.print(table)
    ttft = results["first_token"]
    table = Table(title=f"time to first token ({ttft['requests']} answers, extractive)")
    for column in ("measure", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for name, key in (
        ("API overhead (client - server SDK, same answer)", "overhead_ms"),
        ("POST /v1/ask stream, client", "api_first_token_ms"),
        ("  Assistant.stream inside the server", "server_sdk_first_token_ms"),
        ("POST /v1/chat/completions stream, client", "chat_completions_first_token_ms"),
        ("Assistant.stream in process (no server)", "in_process_sdk_first_token_ms"),
        ("GET /healthz round trip (the HTTP floor now)", "healthz_round_trip_ms"),
    ):
        ms = ttft[key]
        table.add_row(name, f"{ms['p50']:.2f}", f"{ms['p95']:.2f}", f"{ms['max']:.2f}")
    console.print(table)
    verdict = "meets" if ttft["meets_goal"] else "MISSES"
    console.print(f"API overhead p95 {ttft['overhead_ms']['p95']:.2f} ms: {verdict} the goal of <= {GOAL_OVERHEAD_P95_MS} ms")


def main() -> None:
    """Start the server, run the phases, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each load phase")
    parser.add_argument("--search-clients", type=int, default=32)
    parser.add_argument("--chat-clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="first-token measurements per question")
    parser.add_argument("--smoke", action="store_true", help=f"a few seconds per phase (also ${SMOKE_ENV}=1)")
    parser.add_argument("--out", type=Path, help=f"results file (default {OUT.relative_to(REPO)}; a smoke run saves none)")
    args = parser.parse_args()
    smoke = args.smoke or os.environ.get(SMOKE_ENV) == "1"
    if smoke:
        args.seconds, args.rounds = 3.0, 1
    out = args.out or (None if smoke else OUT)
    with tempfile.TemporaryDirectory(prefix="inhouse-bench-api-") as work:
        home = Path(work) / "home"
        with Assistant.from_config(CONFIG, home) as assistant:
            ingested = assistant.ingest()
            assert not ingested.failed, ingested.failed
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = start_server(home, port, Path(work) / "server.log")
            try:
                search = [{"query": q, "k": 5} for q in QUERIES]
                chat = [{"model": "inhouse-auto", "messages": [{"role": "user", "content": q}]} for q in QUESTIONS]
                phases = [
                    asyncio.run(load(base, "/v1/search", search, args.search_clients, args.seconds)),
                    asyncio.run(load(base, "/v1/chat/completions", chat, args.chat_clients, args.seconds)),
                ]
                ttft = first_tokens(base, assistant, args.rounds)
            finally:
                server.terminate()
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    server.kill()
    results = {
        "machine": machine(),
        "config": "./plugins.toml (make run): extractive answerer, minilm, hybrid retrieval; examples/handbook",
        "smoke": smoke,
        "load": phases,
        "first_token": ttft,
    }
    report(results)
    save(results, out, console)
    if any(phase["errors"] for phase in phases):
        raise SystemExit("errors under load: see error_samples in the results")


if __name__ == "__main__":
    main()
