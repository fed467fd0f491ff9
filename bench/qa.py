"""Answer quality (``make bench``): the question sets of bench/qa answered by each kind of model.

    python bench/qa.py [--shared ../shared/data] [--work DIR] [--only extractive,local,claude] [--sets examples,handbook]

For the sample corpus (``bench/qa/examples.jsonl``) and the 18F handbook (``bench/qa/handbook.jsonl``):

- ``extractive``: the offline default, quoting the documents;
- ``local``: SmolLM2-135M writing its own answer (``--mode generative``);
- ``claude``: a Claude profile (``anthropic.claude-3-5-sonnet``, its 12k-token context budget)
  answered by the Bedrock emulator in its own process: what matters there is whether the facts
  reach the model (``fact_in_context``), since the emulator's model only echoes passage [1].

Prints a table per set and writes bench/results/qa.json (``inhouse eval qa`` figures by type),
with the offline default's ``min_support`` trade-off (``inhouse.evaluation.qa.trade_off``) under
``trade_off``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from rich.console import Console

from inhouse import Assistant
from inhouse.cli.evaluate import qa_table, trade_off_table
from inhouse.evaluation import qa

REPO = Path(__file__).resolve().parents[1]
console = Console()
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def config(folder: Path, corpus: Path, bedrock: str | None) -> Path:
    """A configuration on ``corpus`` with the extractive, local and (with an emulator) claude profiles."""
    claude = (
        f'[providers.claude]\nuse = "bedrock"\nmodel = "{CLAUDE}"\nregion = "us-east-1"\nendpoint_url = "{bedrock}"\n'
        if bedrock
        else ""
    )
    path = folder / "plugins.toml"
    path.write_text(
        '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
        f'[connectors.corpus]\nuse = "filesystem"\npath = "{corpus}"\n'
        '[providers.extractive]\nuse = "extractive"\n[providers.local]\nuse = "local"\n'
        f'{claude}[routing]\ndefault = ["extractive"]\ngenerative = ["local"]\n',
        encoding="utf-8",
    )
    return path


def emulator() -> tuple[subprocess.Popen[str], str]:
    """The Bedrock emulator in its own process, and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "inhouse.testing.emulators.bedrock", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip().rsplit(" ", 1)[-1]


def run_set(name: str, corpus: Path, questions: Path, work: Path, profiles: list[str], bedrock: str | None) -> dict[str, Any]:
    """Every profile's report on one question set."""
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with Assistant.from_config(config(folder, corpus, bedrock), folder / "home") as assistant:
        assistant.ingest()
        assistant.ask("warm up")
        items = qa.read_questions(questions)
        for profile in profiles:
            if profile == "claude" and not bedrock:
                continue
            threshold = assistant.settings.core.answer.min_support if profile == "extractive" else None
            report = qa.evaluate(lambda q, p=profile: assistant.ask(q, profile=p), items, min_support=threshold)
            results[profile] = report["summary"]
            console.print(qa_table(report["summary"], f"{name}: {profile}"))
            if "min_support" in report:
                results["trade_off"] = {"profile": profile, "rows": report["min_support"]}
                console.print(trade_off_table(report["min_support"]))
    return results


def main() -> None:
    """Run the sets, print the tables, save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "inhouse-qa")
    parser.add_argument("--only", default="extractive,local,claude")
    parser.add_argument("--sets", default="examples,handbook")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "qa.json")
    args = parser.parse_args()
    profiles = args.only.split(",")
    proc, url = emulator() if "claude" in profiles else (None, None)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDBENCH")  # the emulator checks signatures, not keys
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    try:
        sets = {"examples": (REPO / "examples" / "handbook", REPO / "bench" / "qa" / "examples.jsonl")}
        if (args.shared / "handbook").is_dir():
            sets["handbook"] = (args.shared / "handbook", REPO / "bench" / "qa" / "handbook.jsonl")
        results = {
            name: run_set(name, corpus, questions, args.work, profiles, url)
            for name, (corpus, questions) in sets.items()
            if name in args.sets.split(",")
        }
    finally:
        if proc is not None:
            proc.terminate()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"[dim]written {args.out}[/]")


if __name__ == "__main__":
    main()
