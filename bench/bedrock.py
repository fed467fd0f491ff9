"""Routing over Bedrock (the local emulator, in its own process) and language routing figures.

    python bench/bedrock.py [--questions 1000] [--only faults,language] [--shared ../shared/data]

faults:   N questions through claude -> jamba -> local with 30% of Bedrock calls answered
          429 and 5% 5xx (default backoff): share answered, attempts per provider per
          question, added latency against the same questions without faults, and the
          plugin overhead (the emulator's first text frame on the wire -> the first token
          yielded by Assistant.stream; both clocks are CLOCK_MONOTONIC).
language: English questions kept on the default chain, others sent to multilingual.

Results go to bench/results/bedrock.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console
from rich.table import Table

from inhouse import Assistant
from inhouse.evaluation.metrics import percentile
from inhouse.types import Answer

REPO = Path(__file__).resolve().parents[1]
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
JAMBA = "ai21.jamba-1-5-large-v1:0"
console = Console()


class Emulator:
    """The Bedrock emulator in a separate process, driven over its control endpoints."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "inhouse.testing.emulators.bedrock", "--port", "0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline().strip()  # "listening on http://127.0.0.1:PORT"
        self.url = line.rsplit(" ", 1)[-1]

    def control(self, path: str, payload: dict | None = None) -> object:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method="GET" if data is None else "POST")
        with urllib.request.urlopen(request) as response:
            body = response.read()
        return json.loads(body) if body else None

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def make_assistant(work: Path, url: str) -> Assistant:
    """claude -> jamba -> local on the sample corpus; abstention off so every question calls a model."""
    aws = f'region = "us-east-1"\nendpoint_url = "{url}"'
    config = work / "plugins.toml"
    config.write_text(
        f'[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
        f'[connectors.examples]\nuse = "filesystem"\npath = "{REPO / "examples" / "handbook"}"\n'
        f'[providers.claude]\nuse = "bedrock"\nmodel = "{CLAUDE}"\n{aws}\n'
        f'[providers.jamba]\nuse = "bedrock"\nmodel = "{JAMBA}"\n{aws}\n'
        '[providers.local]\nuse = "local"\n'
        '[routing]\ndefault = ["claude", "jamba", "local"]\n[retrieval]\nmin_similarity = -1\n[answer]\nmin_support = 0\n'
    )
    return Assistant.from_config(config, work / "home")


def run_questions(assistant: Assistant, questions: list[str]) -> list[dict]:
    """Ask each question; keep its start, first-token and end times and the final Answer."""
    rows = []
    for question in questions:
        start = time.perf_counter()
        first = None
        answer: Answer | None = None
        for item in assistant.stream(question):
            if isinstance(item, Answer):
                answer = item
            elif first is None:
                first = time.perf_counter()
        rows.append({"start": start, "first": first, "end": time.perf_counter(), "answer": answer})
    return rows


def requests_by_question(requests: list[dict], rows: list[dict]) -> list[list[dict]]:
    """Assign each emulator request to the question whose time window holds it (asked one at a time)."""
    out: list[list[dict]] = [[] for _ in rows]
    i = 0
    for req in sorted(requests, key=lambda r: r["started_at"]):
        while i < len(rows) - 1 and req["started_at"] > rows[i]["end"]:
            i += 1
        out[i].append(req)
    return out


def bench_faults(n: int) -> dict:
    """Answered share, attempts, added latency and plugin overhead over the emulator."""
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true")
    base = [q["question"] for q in json.loads((REPO / "tests" / "e2e_questions.json").read_text())]
    questions = [base[i % len(base)] for i in range(n)]
    emulator = Emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp, make_assistant(Path(tmp), emulator.url) as assistant:
            assistant.ingest()
            assistant.warm_up()
            run_questions(assistant, questions[:20])  # warm connections and caches
            emulator.control("reset", {})
            calm = run_questions(assistant, questions)
            calm_requests = requests_by_question(emulator.control("requests"), calm)
            emulator.control("reset", {})
            emulator.control("faults", {"throttle": 0.30, "server_error": 0.05, "seed": 7})
            faulty = run_questions(assistant, questions)
            faulty_requests = requests_by_question(emulator.control("requests"), faulty)
    finally:
        emulator.close()

    overhead = [
        (row["first"] - reqs[-1]["first_delta_at"]) * 1000
        for row, reqs in zip(calm, calm_requests, strict=True)
        if reqs and reqs[-1].get("first_delta_at") and row["first"]
    ]
    added = [(f["end"] - f["start"] - (c["end"] - c["start"])) * 1000 for f, c in zip(faulty, calm, strict=True)]
    per_provider = [Counter(r["model_id"] for r in reqs) for reqs in faulty_requests]
    answered = [r for r in faulty if r["answer"] and not r["answer"].abstained and r["answer"].text]
    providers = Counter(r["answer"].provider for r in faulty if r["answer"])
    outcomes = Counter(r["outcome"] for reqs in faulty_requests for r in reqs)
    rested = sum(1 for r in faulty if r["answer"] and any("cooling down" in s["reason"] for s in r["answer"].route["skipped"]))
    costs = [r["answer"].cost_usd for r in faulty if r["answer"] and r["answer"].cost_usd is not None]
    return {
        "questions": n,
        "fault_shares": {"throttle": 0.30, "server_error": 0.05},
        "answered": len(answered),
        "answered_share": len(answered) / n,
        "answered_by": dict(providers),
        "emulator_outcomes": dict(outcomes),
        "max_attempts_per_provider_per_question": max((max(c.values()) for c in per_provider if c), default=0),
        "questions_with_retries": sum(1 for c in per_provider if sum(c.values()) > 1),
        "questions_past_a_resting_provider": rested,
        "added_latency_ms": {"p50": percentile(added, 50), "p95": percentile(added, 95), "max": max(added)},
        "latency_without_faults_ms": {
            "p50": percentile([(c["end"] - c["start"]) * 1000 for c in calm], 50),
            "p95": percentile([(c["end"] - c["start"]) * 1000 for c in calm], 95),
        },
        "plugin_overhead_ms": {"p50": percentile(overhead, 50), "p95": percentile(overhead, 95), "n": len(overhead)},
        "estimated_cost_usd": sum(costs),
    }


def bench_language(shared: Path) -> dict:
    """How the offline detector routes real English questions and 48 in 26 other languages."""
    from inhouse.config import RouterSettings
    from inhouse.usecase import LanguageDetector, choose

    english = [json.loads(line)["q"] for line in (REPO / "bench" / "handbook_questions.jsonl").read_text().splitlines()]
    english += [q["question"] for q in json.loads((REPO / "tests" / "e2e_questions.json").read_text())]
    for name in ("answerable", "unanswerable"):
        path = shared / "clapnq" / "annotated_data" / "dev" / f"clapnq_dev_{name}.jsonl"
        if path.exists():
            english += [json.loads(line)["input"] for line in path.read_text().splitlines() if line.strip()]
    others = [json.loads(line) for line in (REPO / "tests" / "data" / "multilingual_questions.jsonl").read_text().splitlines()]
    routing = {"default": ["a"], "multilingual": ["b"]}
    detector, settings = LanguageDetector(), RouterSettings()
    detector.load()
    t0 = time.perf_counter()
    moved = [q for q in english if choose(q, None, routing, settings, detector).use_case != "default"]
    per_question_ms = (time.perf_counter() - t0) * 1000 / len(english)
    chosen = [choose(r["q"], None, routing, settings, detector) for r in others]
    return {
        "english_questions": len(english),
        "english_sent_to_multilingual": len(moved),
        "english_misrouted_examples": moved[:5],
        "other_language_questions": len(others),
        "languages": len({r["lang"] for r in others}),
        "other_sent_to_multilingual": sum(c.use_case == "multilingual" for c in chosen),
        "language_named_right": sum(c.language == r["lang"] for c, r in zip(chosen, others, strict=True)),
        "detect_ms_per_question": per_question_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--only", default="faults,language")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    results: dict = {}
    if "language" in sections:
        results["language"] = lang = bench_language(args.shared)
        table = Table("language routing", "result", title="use case by language (offline detector)")
        table.add_row(
            "English kept on default",
            f"{lang['english_questions'] - lang['english_sent_to_multilingual']}/{lang['english_questions']}",
        )
        table.add_row(
            f"other languages ({lang['languages']}) sent to multilingual",
            f"{lang['other_sent_to_multilingual']}/{lang['other_language_questions']}",
        )
        table.add_row("language named right", f"{lang['language_named_right']}/{lang['other_language_questions']}")
        table.add_row("detection per question", f"{lang['detect_ms_per_question']:.2f} ms")
        console.print(table)
    if "faults" in sections:
        results["faults"] = r = bench_faults(args.questions)
        table = Table("claude -> jamba -> local", "result", "goal", title=f"{r['questions']} questions, 30% 429 + 5% 5xx")
        table.add_row("answered", f"{r['answered']}/{r['questions']} ({r['answered_share']:.1%})", "100%")
        table.add_row("answered by", ", ".join(f"{k}: {v}" for k, v in r["answered_by"].items()), "")
        table.add_row("max attempts per provider per question", str(r["max_attempts_per_provider_per_question"]), "≤ 3")
        table.add_row("questions that needed a retry", str(r["questions_with_retries"]), "")
        table.add_row("questions that skipped a resting (cooled-down) provider", str(r["questions_past_a_resting_provider"]), "")
        a = r["added_latency_ms"]
        table.add_row("added latency p50 / p95 / max", f"{a['p50']:.0f} / {a['p95']:.0f} / {a['max']:.0f} ms", "")
        c = r["latency_without_faults_ms"]
        table.add_row("latency without faults p50 / p95", f"{c['p50']:.0f} / {c['p95']:.0f} ms", "")
        o = r["plugin_overhead_ms"]
        table.add_row("plugin overhead p50 / p95 (first byte → first token)", f"{o['p50']:.2f} / {o['p95']:.2f} ms", "p95 ≤ 5 ms")
        console.print(table)
    out = REPO / "bench" / "results" / "bedrock.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"[dim]written {out.relative_to(REPO)}[/]")


if __name__ == "__main__":
    main()
