"""The ``inhouse`` command line."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inhouse.errors import InhouseError
from inhouse.gpu.cli import gpu_app
from inhouse.types import Answer

app = typer.Typer(help="inhouse: answers from your own documents, with citations.", no_args_is_help=True, add_completion=False)
eval_app = typer.Typer(help="Measure retrieval quality.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(gpu_app, name="gpu")
out = Console()
err = Console(stderr=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="data folder (else $INHOUSE_HOME, else ~/.local/share/inhouse)")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="configuration (else $INHOUSE_CONFIG, ./plugins.toml, the packaged default)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
UserOpt = Annotated[str | None, typer.Option("--user", help="ask as this user (their permissions apply)")]


class _State:
    home: Path | None = None
    config: Path | None = None


state = _State()


@app.callback()
def _main(home: HomeOpt = None, config: ConfigOpt = None) -> None:
    state.home, state.config = home, config


def _assistant():  # imported lazily so `inhouse --help` stays fast
    from inhouse.assistant import Assistant

    return Assistant.from_config(state.config, state.home)


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders (default: the configured connectors)")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="empty the index first (e.g. after changing the embedder)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest documents: new and changed files are indexed, deleted ones removed."""
    with _assistant() as assistant:
        report = assistant.ingest(paths or None, rebuild=rebuild, progress=not as_json and sys.stderr.isatty())
    if as_json:
        _print_json(report.to_dict())
        return
    table = Table(title="ingestion", show_header=False)
    for key in ("added", "updated", "unchanged", "removed"):
        table.add_row(key, str(getattr(report, key)))
    table.add_row("failed", str(len(report.failed)))
    table.add_row("skipped", str(len(report.skipped)))
    table.add_row("chunks", str(report.chunks))
    table.add_row("seconds", f"{report.seconds:.1f}")
    out.print(table)
    for item in report.failed:
        out.print(f"[red]failed[/] {escape(item['path'])}: {escape(item['reason'])}", highlight=False)
    for item in report.skipped:
        out.print(f"[yellow]skipped[/] {escape(item['path'])}: {escape(item['reason'])}", highlight=False)


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("--k", min=1, help="how many passages")] = 5,
    mode: Annotated[str | None, typer.Option(help="hybrid, dense or bm25")] = None,
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages that best match QUERY."""
    with _assistant() as assistant:
        hits = assistant.search(query, k=k, user=user, mode=mode)  # type: ignore[arg-type]
    if as_json:
        _print_json([h.to_dict() for h in hits])
        return
    for n, hit in enumerate(hits, 1):
        c = hit.chunk
        where = f"p. {c.page}" if c.page is not None else c.heading
        out.print(f"[bold]{n}. {escape(c.source)}[/] [dim]{escape(where)} · {hit.score:.4f}[/]", highlight=False)
        out.print(f"   {c.text[:300]}", highlight=False, markup=False)


def _print_sources(answer: Answer) -> None:
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            out.print(f" [{c.n}] {c.label()}", highlight=False, markup=False)
            excerpt = " ".join(c.text.split())
            out.print(f"     {excerpt[:240]}{'…' if len(excerpt) > 240 else ''}", style="dim", highlight=False, markup=False)
    out.print(f"[dim]{escape(_meta_line(answer))}[/]", highlight=False)


def _meta_line(answer: Answer) -> str:
    """Who answered, where the data went, tokens, cost and time; and any fallback."""
    route = answer.route
    parts = [answer.provider or "no model"]
    if route.get("residency"):
        parts.append(route["residency"])
    if route.get("use_case") and route["use_case"] != "default":
        parts.append(f"{route['use_case']} ({route.get('reason', '')})")
    if answer.usage.input_tokens or answer.usage.output_tokens:
        parts.append(f"{answer.usage.input_tokens}+{answer.usage.output_tokens} tokens")
    if answer.cost_usd:
        parts.append(f"${answer.cost_usd:.4f}")
    parts.append(f"{answer.timings.get('total_ms', 0) / 1000:.1f}s")
    if route.get("fallback"):
        passed = [a["profile"] for a in answer.attempts if not a["ok"]] + [s["profile"] for s in route.get("skipped", [])]
        parts.append(f"fallback from {', '.join(passed)}")
    return " · ".join(parts)


def _save_artifacts(answer: Answer, target: Path | None) -> None:
    """Write images to ``target`` (a file for one image, else numbered files next to it)."""
    for n, artifact in enumerate(answer.artifacts, 1):
        suffix = "." + artifact.mime.rsplit("/", 1)[-1]
        base = target or Path(f"inhouse-image{suffix}")
        path = base if len(answer.artifacts) == 1 else base.with_name(f"{base.stem}-{n}{base.suffix or suffix}")
        path.write_bytes(artifact.data)
        out.print(f"image written to {path} ({len(artifact.data)} bytes, seed {artifact.meta.get('seed', '?')})", highlight=False)


ModeOpt = Annotated[
    str | None,
    typer.Option(help="use case from [routing]: default, reasoning, multilingual, image, private (default: chosen per question)"),
]


@app.command()
def ask(
    question: str,
    user: UserOpt = None,
    mode: ModeOpt = None,
    image: Annotated[Path | None, typer.Option(help="an input image for image-to-image")] = None,
    save: Annotated[Path | None, typer.Option("--out", help="where to write generated images")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer QUESTION from the documents, with citations (or make an image, in image mode)."""
    images = [image.read_bytes()] if image else []
    with _assistant() as assistant:
        if as_json:
            answer = assistant.ask(question, user=user, mode=mode, images=images)
            _print_json(answer.to_dict())
        else:
            answer = _stream(assistant, question, user, [], mode, images)
            _print_sources(answer)
    _save_artifacts(answer, save)


def _stream(assistant, question: str, user: str | None, history: list, mode: str | None, images: list[bytes] = ()) -> Answer:
    answer = None
    for item in assistant.stream(question, user=user, history=history, mode=mode, images=images):
        if isinstance(item, Answer):
            answer = item
        else:
            out.print(item, end="", highlight=False, markup=False)
            out.file.flush()
    out.print()
    assert answer is not None
    return answer


@app.command()
def chat(user: UserOpt = None, mode: ModeOpt = None) -> None:
    """An interactive chat in the terminal (empty line or Ctrl-D to leave)."""
    with _assistant() as assistant:
        threading.Thread(target=assistant.warm_up, args=(mode,), daemon=True, name="inhouse-warm-up").start()
        out.print("[bold]inhouse chat[/] — ask about your documents. Empty line or Ctrl-D quits.")
        history: list[dict[str, str]] = []
        while True:
            try:
                question = out.input("[bold green]you>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                out.print()
                break
            if not question:
                break
            answer = _stream(assistant, question, user, history, mode)
            _print_sources(answer)
            _save_artifacts(answer, None)
            history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 7860,
) -> None:
    """Start the chat page (and, later, the HTTP API) on one server."""
    try:
        from inhouse_ui.server import serve as run_server
    except ImportError:
        raise InhouseError(
            "the chat page is in the inhouse-ui package: pip install inhouse-ui (in this repository: pip install -e ui)"
        ) from None
    run_server(state.config, state.home, host, port)


@app.command()
def usage(
    by: Annotated[str, typer.Option(help="group by model, profile, use_case, user, day or residency")] = "model",
    since: Annotated[str | None, typer.Option(help="7d, 24h, 30m or a date (2026-11-01); default: everything")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Model calls, tokens and estimated cost from the usage ledger."""
    from inhouse.config import home_path
    from inhouse.ledger import Ledger, parse_since

    path = home_path(state.home) / "usage.sqlite3"
    rows = []
    if path.exists():
        ledger = Ledger(path)
        rows = ledger.summary(by=by, since=parse_since(since))
        ledger.close()
    if as_json:
        _print_json(rows)
        return
    if not rows:
        out.print(f"no model calls recorded in {path}")
        return
    table = Table(title="usage")
    table.add_column(by, overflow="fold")
    for name in ("residency", "calls", "failed", "tokens in", "tokens out", "images", "cost (USD)"):
        table.add_column(name, justify="left" if name == "residency" else "right", no_wrap=True)
    for r in rows:
        cost = f"{r['cost_usd']:.4f}" + (f" (+{r['unpriced_calls']} unpriced)" if r["unpriced_calls"] else "")
        table.add_row(
            str(r[by]),
            r["residency"],
            str(r["calls"]),
            str(r["failed"]),
            f"{r['input_tokens']:,}",
            f"{r['output_tokens']:,}",
            str(r["images"]),
            cost,
        )
    out.print(table)
    total = sum(r["cost_usd"] for r in rows)
    out.print(f"[dim]total ${total:.4f} (estimated from inhouse/prices.toml and the configuration's \\[prices])[/]")


@app.command()
def plugins(as_json: JsonOpt = False) -> None:
    """List every installed plugin: kind, name, distribution, version, capabilities, residency."""
    from inhouse.doctor import plugin_rows

    rows = plugin_rows()
    if as_json:
        _print_json(rows)
        return
    table = Table("kind", "name", "distribution", "version", "capabilities", "residency", "status")
    for r in rows:
        status = "ok" if r["status"] == "ok" else "[red]broken[/]"
        table.add_row(r["kind"], r["name"], r["distribution"], r["version"], ", ".join(r["capabilities"]), r["residency"], status)
    out.print(table)
    for r in rows:
        if r["status"] != "ok":
            out.print(f"[red]{r['kind']} {r['name']}[/]: {escape(str(r['status']))}", highlight=False)


@app.command()
def doctor() -> None:
    """Check the configuration, plugins, model files and data folder."""
    from inhouse.doctor import run_checks

    ok = True
    for check in run_checks(state.config, state.home):
        mark = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
        out.print(f"{mark}  {check.name}: {escape(check.detail)}", highlight=False, soft_wrap=True)
        ok &= check.ok
    raise typer.Exit(0 if ok else 1)


@eval_app.command("beir")
def eval_beir(
    folder: Path,
    split: Annotated[str, typer.Option(help="qrels split")] = "test",
    as_json: JsonOpt = False,
) -> None:
    """nDCG@10, Recall@100 and MRR@10 for bm25, dense and hybrid on a BEIR-format folder."""
    from inhouse.evaluation import beir

    with _assistant() as assistant:
        results = beir.evaluate(assistant, folder, split, progress=not as_json and sys.stderr.isatty())
    if as_json:
        _print_json(results)
        return
    table = Table("method", "nDCG@10", "Recall@100", "MRR@10", "p50 ms", "p95 ms", title=f"{folder.name} ({split})")
    for method, r in results["methods"].items():
        table.add_row(
            method,
            f"{r['ndcg@10']:.4f}",
            f"{r['recall@100']:.4f}",
            f"{r['mrr@10']:.4f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
        )
    out.print(table)
    out.print(f"[dim]{results['queries']} queries, {results['documents']} documents, indexing {results['index_seconds']:.1f}s[/]")


def main() -> None:
    """Entry point: runs the app, turning inhouse errors into a message and exit code 1."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed PDFs are reported in the ingest report
    try:
        app()
    except InhouseError as exc:
        if os.environ.get("INHOUSE_DEBUG"):
            raise
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
