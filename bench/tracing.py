"""What tracing adds to an answer: the same questions with tracing off and on (goal: <= 2%).

    python bench/tracing.py [--rounds 10]
    python bench/tracing.py --smoke          # two rounds (or INHOUSE_BENCH_SMOKE=1)

Two assistants on the sample corpus (``./plugins.toml``: MiniLM, the extractive answerer), each
with its own home: one with ``[tracing]`` off (the default: no spans at all), one with
``[tracing] enabled = true`` exporting over OTLP/HTTP (the SDK's batch processor) to a receiver
on loopback in this process that reads each export and answers 200, as a collector does.
Each round asks every question of ``bench/handbook_questions.jsonl`` of both, alternating
which goes first, so both see the same machine load; the latency of an answer is the wall
time of ``Assistant.ask``, and its CPU time that of the whole process meanwhile (the batch
exporter's thread included), which other programs on a shared machine disturb less. The
overhead is the median of the paired differences (traced minus untraced, same question, same
round) over the untraced median; the medians and 95th percentiles of each side are shown too.
Results go to bench/results/tracing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console
from rich.table import Table

from inhouse import Assistant
from inhouse.evaluation.metrics import percentile

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "plugins.toml"
QUESTIONS = REPO / "bench" / "handbook_questions.jsonl"
RESULTS = REPO / "bench" / "results" / "tracing.json"


class _Collector(BaseHTTPRequestHandler):
    """Reads an OTLP/HTTP export and answers 200 (an empty ExportTraceServiceResponse)."""

    exports = 0
    bytes_received = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).exports += 1
        type(self).bytes_received += len(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def assistant(home: Path, tracing: str) -> Assistant:
    """An assistant of ./plugins.toml with ``tracing`` (a ``[tracing]`` table) added, its index in ``home``."""
    config = home / "plugins.toml"
    text = CONFIG.read_text(encoding="utf-8").replace('path = "examples/', f'path = "{REPO}/examples/')
    config.write_text(text + "\n" + tracing, encoding="utf-8")
    a = Assistant.from_config(config, home=home / "home")
    a.ingest()
    a.warm_up()
    return a


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", default=os.environ.get("INHOUSE_BENCH_SMOKE") == "1")
    args = parser.parse_args()
    rounds = 2 if args.smoke else args.rounds
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "off").mkdir()
        (Path(tmp) / "on").mkdir()
        off = assistant(Path(tmp) / "off", "")
        on = assistant(Path(tmp) / "on", f'[tracing]\nenabled = true\notlp_endpoint = "{endpoint}"\n')
        assert on.tracing.active and not off.tracing.active
        times: dict[str, list[float]] = {"off": [], "on": []}
        cpu: dict[str, list[float]] = {"off": [], "on": []}
        for q in questions:  # one untimed pass of each: caches and lazy loads
            off.ask(q)
            on.ask(q)
        for r in range(rounds):
            for i, q in enumerate(questions):
                pair = [("off", off), ("on", on)] if (r + i) % 2 == 0 else [("on", on), ("off", off)]
                for name, a in pair:
                    t0, c0 = time.perf_counter(), time.process_time()
                    a.ask(q)
                    times[name].append((time.perf_counter() - t0) * 1000)
                    cpu[name].append((time.process_time() - c0) * 1000)
        on.close()
        off.close()
    collector.shutdown()
    report(times, cpu, rounds, len(questions))


def side(ts: list[float]) -> dict[str, float]:
    """Median, mean and 95th percentile of one side, in ms."""
    return {
        "answers": len(ts),
        "median_ms": round(statistics.median(ts), 3),
        "mean_ms": round(statistics.fmean(ts), 3),
        "p95_ms": round(percentile(ts, 95), 3),
    }


def paired_overhead(measured: dict[str, list[float]]) -> dict[str, float]:
    """The median paired difference (on minus off, in ms) and that over the untraced median (in %)."""
    extra = statistics.median(b - a for a, b in zip(measured["off"], measured["on"], strict=True))
    return {"median_extra_ms": round(extra, 3), "pct": round(extra / statistics.median(measured["off"]) * 100, 2)}


def report(times: dict[str, list[float]], cpu: dict[str, list[float]], rounds: int, n_questions: int) -> None:
    """Print the table and write the JSON."""
    summary = {"wall": {n: side(ts) for n, ts in times.items()}, "cpu": {n: side(ts) for n, ts in cpu.items()}}
    overhead = {"wall": paired_overhead(times), "cpu": paired_overhead(cpu)}
    table = Table(title=f"Answer latency with tracing off and on ({n_questions} questions x {rounds} rounds)")
    for column in ("measure", "tracing", "answers", "median ms", "mean ms", "p95 ms", "overhead (paired median)"):
        table.add_column(column, justify="right")
    for measure, sides in summary.items():
        for name, s in sides.items():
            extra = overhead[measure]
            said = f"{extra['median_extra_ms']:+.3f} ms = {extra['pct']:+.2f}%" if name == "on" else ""
            figures = [f"{s[k]:.2f}" for k in ("median_ms", "mean_ms", "p95_ms")]
            table.add_row(measure, name, str(s["answers"]), *figures, said)
    console = Console()
    console.print(table)
    goal = overhead["wall"]["pct"] <= 2.0
    console.print(
        f"tracing overhead on an answer: {overhead['wall']['pct']:+.2f}% wall, {overhead['cpu']['pct']:+.2f}% CPU; "
        f"goal <= 2%: {'met' if goal else 'NOT met'}; "
        f"OTLP exports received: {_Collector.exports} ({_Collector.bytes_received} bytes)"
    )
    RESULTS.write_text(
        json.dumps(
            {
                "rounds": rounds,
                "questions": n_questions,
                "latency": summary,  # wall: Assistant.ask's wall time; cpu: the process's CPU time meanwhile
                "overhead": overhead,
                "goal_pct": 2.0,
                "goal_met": goal,
                "otlp_exports": _Collector.exports,
                "otlp_bytes": _Collector.bytes_received,
                "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()},
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
