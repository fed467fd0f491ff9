"""``inhouse eval``: retrieval quality on a BEIR folder, answer quality on a question file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from inhouse.cli.app import JsonOpt, UserOpt, app, open_assistant, out, print_json

eval_app = typer.Typer(help="Measure retrieval and answer quality.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("beir")
def eval_beir(
    folder: Path,
    split: Annotated[str, typer.Option(help="qrels split")] = "test",
    as_json: JsonOpt = False,
) -> None:
    """nDCG@10, Recall@100 and MRR@10 for bm25, dense and hybrid on a BEIR-format folder."""
    from inhouse.evaluation import beir

    with open_assistant() as assistant:
        results = beir.evaluate(assistant, folder, split, progress=not as_json and sys.stderr.isatty())
    if as_json:
        print_json(results)
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


@eval_app.command("qa")
def eval_qa(
    file: Annotated[Path, typer.Argument(help="questions, one JSON object per line (see the README's eval section)")],
    mode: Annotated[str | None, typer.Option(help="use case from [routing] (default: chosen per question)")] = None,
    profile: Annotated[str | None, typer.Option(help="answer with this [providers.NAME] profile alone")] = None,
    user: UserOpt = None,
    limit: Annotated[int | None, typer.Option(help="only the first N questions")] = None,
    min_support: Annotated[
        float | None, typer.Option("--min-support", min=0.0, max=1.0, help="[answer] min_support for this run")
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="print each question, its answer and the verdict")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Answer every question of FILE and report, by question type: keyword accuracy, right-source
    citations, facts in the model's input, refusals right and wrong, latency; then what each
    stricter [answer] min_support would have refused (run with a low --min-support to see more)."""
    from inhouse.evaluation import qa

    questions = qa.read_questions(file)[:limit]

    def report(result: qa.Result) -> None:
        if show and not as_json:
            verdict = "[green]ok[/]" if result.correct else "[red]wrong[/]"
            out.print(f"{verdict} [bold]{escape(result.question.question)}[/]", highlight=False)
            out.print(f"    {escape(result.answer[:300])}", style="dim", highlight=False)

    with open_assistant() as assistant:
        answer = assistant.settings.core.answer
        answer.min_support = answer.min_support if min_support is None else min_support
        results = qa.evaluate(
            lambda q: assistant.ask(q, user=user, mode=mode, profile=profile),
            questions,
            on_result=report,
            min_support=answer.min_support,
        )
    if as_json:
        print_json(results)
        return
    out.print(qa_table(results["summary"], file.name))
    if "min_support" in results:
        out.print(trade_off_table(results["min_support"]))


def qa_table(summary: dict[str, Any], title: str) -> Table:
    """The summary of ``inhouse.evaluation.qa.evaluate`` as a table, one row per question type."""
    table = Table(
        "type", "n", "states facts", "cites source", "facts in input", "wrongly refused", "refused (unanswerable)",
        "p50 ms", "p95 ms", title=title,
    )  # fmt: skip
    for kind, row in summary.items():
        table.add_row(
            kind, str(row["n"]), _pct(row["keyword_accuracy"]), _pct(row["cited_right_source"]), _pct(row["fact_in_context"]),
            _pct(row["wrongly_refused"]), _pct(row["refused_unanswerable"]), f"{row['p50_ms']:.0f}", f"{row['p95_ms']:.0f}",
        )  # fmt: skip
    return table


def trade_off_table(rows: list[dict[str, Any]]) -> Table:
    """``inhouse.evaluation.qa.trade_off`` as a table: one row per ``[answer] min_support``."""
    table = Table("min_support", "states facts", "wrongly refused", "refused (unanswerable)", title="stricter min_support")
    for row in rows:
        table.add_row(
            f"{row['min_support']:.2f}", *(_pct(row[k]) for k in ("keyword_accuracy", "wrongly_refused", "refused_unanswerable"))
        )
    return table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
