"""Commands that answer: ``search``, ``ask`` and ``chat``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from inhouse.cli.app import JsonOpt, UserOpt, app, open_assistant, out, print_json
from inhouse.types import Answer


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("--k", min=1, help="how many passages")] = 5,
    mode: Annotated[str | None, typer.Option(help="hybrid, dense or bm25")] = None,
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages that best match QUERY."""
    with open_assistant() as assistant:
        hits = assistant.search(query, k=k, user=user, mode=mode)  # type: ignore[arg-type]
    if as_json:
        print_json([h.to_dict() for h in hits])
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
    if answer.related:
        out.print("\n[bold]Closest passages[/]")
        for c in answer.related:
            out.print(f" - {c.label()}", highlight=False, markup=False)
    out.print(f"[dim]{escape(_meta_line(answer))}[/]", highlight=False)


def _meta_line(answer: Answer) -> str:
    """Who answered, where the data went, tokens, cost and time; and any fallback."""
    route = answer.route
    kinds = {"quoted": "quoted from the documents", "generated": "written by the model"}
    parts = [answer.provider or "no model"] + ([kinds[answer.kind]] if answer.kind in kinds else [])
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
    with open_assistant() as assistant:
        if as_json:
            answer = assistant.ask(question, user=user, mode=mode, images=images)
            print_json(answer.to_dict())
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
    with open_assistant() as assistant:
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
