"""What the chat page adds to the answer's wait, measured in a real browser.

    python bench/ui.py [--questions 10] [--loads 10] [--out bench/results/ui.json]

A server process (the sample corpus, local MiniLM embedder and local chat model, the page
with one anonymous user) records the SDK's own ``first_token_ms`` of every answer; headless
Chromium (Playwright, /usr/bin/chromium) presses Enter and timestamps the first frame in
which the answer's first words are on screen. Page overhead = browser first token - SDK
first token, per question (the SDK's clock starts when the page calls ``Assistant.stream``).
Before serving, the server asks each question once straight through the SDK, with no page,
for reference. Page load to interactive: a fresh browser context (empty cache) opens the page
until the question box is enabled and the page's load event has filled in the header; then the
same context opens it again (cached). The same is measured for a bare Gradio page (one textbox
and a load event) on the same server process: the floor that Gradio's frontend sets.

Goals: the page adds <= 300 ms at p95; load to interactive <= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
QUESTIONS = [
    "How many vacation days do I get?",
    "How much can I spend on food per day when travelling?",
    "Which wifi should my visitors join?",
    "How long is parental leave?",
    "How do I report a phishing email?",
    "How do I get access to the VPN?",
    "What is the learning budget per year?",
    "Who do I contact when my laptop breaks?",
    "How often are performance reviews held?",
    "Can I work remotely from another country?",
    "How do I book a business trip?",
    "What should I do during my first week?",
]
GOAL_OVERHEAD_P95_MS = 300.0
GOAL_LOAD_MS = 1500.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


# ------------------------------------------------------------------------------------ server


def serve(port: int, work: Path, questions: list[str], log: Path) -> None:
    """The server process: ingest, SDK-only reference run, then the page (records SDK timings)."""
    import uvicorn

    from inhouse import Assistant
    from inhouse.types import Answer
    from inhouse_ui.server import build_app

    config = work / "plugins.toml"
    config.write_text(
        '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
        f'[connectors.handbook]\nuse = "filesystem"\npath = "{REPO / "examples" / "handbook"}"\n'
        '[providers.local]\nuse = "local"\n[routing]\ndefault = ["local"]\n[answer]\nmax_tokens = 60\n',
        encoding="utf-8",
    )
    assistant = Assistant.from_config(config, work / "home")
    assistant.ingest()
    assistant.warm_up()
    records = log.open("a", encoding="utf-8")

    def record(kind: str, question: str, answer: Answer) -> None:
        records.write(json.dumps({"kind": kind, "question": question, **answer.timings}) + "\n")
        records.flush()

    for question in questions:  # the SDK alone, no page
        record("sdk", question, assistant.ask(question))
    stream = assistant.stream

    def timed(question: str, **kwargs):  # type: ignore[no-untyped-def]
        for item in stream(question, **kwargs):
            if isinstance(item, Answer):
                record("page", question, item)
            yield item

    assistant.stream = timed  # type: ignore[method-assign]
    app = build_app(assistant, None)
    bare = threading.Thread(target=serve_bare, args=(port + 1,), daemon=True)
    bare.start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_bare(port: int) -> None:
    """A bare Gradio page (a textbox, and a load event that marks the header ready)."""
    import gradio as gr
    import uvicorn
    from fastapi import FastAPI

    with gr.Blocks(analytics_enabled=False) as demo:
        gr.Textbox(elem_id="question", label="Question")
        header = gr.HTML('<header class="page-header"></header>', elem_id="header")
        demo.load(lambda: '<header class="page-header ready"></header>', None, header, queue=False)
    app = FastAPI()
    gr.mount_gradio_app(app, demo, path="/", footer_links=[], run_history=False, ssr_mode=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# ----------------------------------------------------------------------------------- browser

OBSERVE = """() => {
    const box = document.querySelector('#question textarea');
    const start = document.querySelectorAll('#chat [data-testid="bot"]').length;
    window.__bench = {enter: null, dom: null, paint: null};
    box.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && window.__bench.enter === null) window.__bench.enter = performance.now();
    }, {capture: true, once: true});
    const observer = new MutationObserver(() => {
        const bots = document.querySelectorAll('#chat [data-testid="bot"]');
        if (bots.length <= start || !bots[bots.length - 1].innerText.trim()) return;
        observer.disconnect();
        window.__bench.dom = performance.now();
        requestAnimationFrame(() => requestAnimationFrame(() => { window.__bench.paint = performance.now(); }));
    });
    observer.observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true});
}"""


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ui.json")
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "WORK", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    questions = QUESTIONS[: args.questions]
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]), questions, Path(args.serve[2]))
        return

    from playwright.sync_api import sync_playwright
    from rich.console import Console
    from rich.table import Table

    port = free_port_pair()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="inhouse-bench-ui-") as tmp:
        log = Path(tmp) / "timings.jsonl"
        cmd = [sys.executable, __file__, "--questions", str(args.questions), "--serve", str(port), tmp, str(log)]
        proc = subprocess.Popen(cmd, cwd=REPO)
        try:
            wait_port(port, proc)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
                wait_port(port + 1, proc)
                loads = measure_loads(browser, url, args.loads)
                bare = measure_loads(browser, f"http://127.0.0.1:{port + 1}/", args.loads)
                answers = measure_answers(browser, url, questions, log)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
        sdk_alone = {r["question"]: r for r in map(json.loads, log.read_text().splitlines()) if r["kind"] == "sdk"}

    rows = []
    for a in answers:
        ref = sdk_alone.get(a["question"], {})
        rows.append({**a, "sdk_alone_first_token_ms": round(ref.get("first_token_ms", 0.0), 1)})
    overhead = [r["overhead_ms"] for r in rows]
    summary = {
        "overhead_ms": {"p50": percentile(overhead, 50), "p95": percentile(overhead, 95), "max": max(overhead)},
        "browser_first_token_ms": {"p50": percentile([r["browser_first_token_ms"] for r in rows], 50)},
        "sdk_first_token_ms": {"p50": percentile([r["sdk_first_token_ms"] for r in rows], 50)},
        "sdk_alone_first_token_ms": {"p50": percentile([r["sdk_alone_first_token_ms"] for r in rows], 50)},
        "load_to_interactive_ms": spread([x["interactive_ms"] for x in loads]),
        "load_to_interactive_cached_ms": spread([x["cached_interactive_ms"] for x in loads]),
        "question_box_ready_ms": spread([x["question_box_ms"] for x in loads]),
        "bare_gradio_load_to_interactive_ms": spread([x["interactive_ms"] for x in bare]),
        "bare_gradio_load_to_interactive_cached_ms": spread([x["cached_interactive_ms"] for x in bare]),
    }
    summary["goals"] = {
        "overhead_p95_le_300ms": summary["overhead_ms"]["p95"] <= GOAL_OVERHEAD_P95_MS,
        "load_p95_le_1500ms": summary["load_to_interactive_ms"]["p95"] <= GOAL_LOAD_MS,
    }
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "browser": "chromium (headless)"},
        "model": "local (SmolLM2-135M-Instruct), max_tokens 60; embedder minilm",
        "summary": summary,
        "questions": rows,
        "loads": loads,
        "bare_gradio_loads": bare,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    console = Console()
    table = Table(title="Enter -> first visible token (ms)")
    for col in ("question", "SDK alone", "SDK (page request)", "browser", "page adds"):
        table.add_column(col, justify="left" if col == "question" else "right")
    for r in rows:
        table.add_row(
            r["question"][:48],
            f"{r['sdk_alone_first_token_ms']:.0f}",
            f"{r['sdk_first_token_ms']:.0f}",
            f"{r['browser_first_token_ms']:.0f}",
            f"{r['overhead_ms']:.0f}",
        )
    console.print(table)
    s = summary
    adds = s["overhead_ms"]
    console.print(
        f"page adds: p50 {adds['p50']:.0f} ms, p95 {adds['p95']:.0f} ms, max {adds['max']:.0f} ms"
        f" (goal p95 <= {GOAL_OVERHEAD_P95_MS:.0f}: {'met' if s['goals']['overhead_p95_le_300ms'] else 'MISSED'})"
    )
    loads_table = Table(title=f"Page load to interactive, ms ({len(loads)} visits each)")
    for col in ("page", "first visit p50", "p95", "cached p50", "p95"):
        loads_table.add_column(col, justify="left" if col == "page" else "right")
    for name, key in (("chat page", "load_to_interactive"), ("bare Gradio page", "bare_gradio_load_to_interactive")):
        cold, warm = s[f"{key}_ms"], s[f"{key}_cached_ms"]
        loads_table.add_row(name, f"{cold['p50']:.0f}", f"{cold['p95']:.0f}", f"{warm['p50']:.0f}", f"{warm['p95']:.0f}")
    console.print(loads_table)
    console.print(
        f"page load, first visit: p95 {s['load_to_interactive_ms']['p95']:.0f} ms (goal <= {GOAL_LOAD_MS:.0f}:"
        f" {'met' if s['goals']['load_p95_le_1500ms'] else 'MISSED'}); question box ready p50"
        f" {s['question_box_ready_ms']['p50']:.0f} ms"
    )
    console.print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")


def spread(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "max": max(values)}


def free_port_pair() -> int:
    """A free port whose successor is free too (the bare page listens there)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise SystemExit("no free ports")


def load_once(page, url: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Navigation start -> question box enabled, and -> the page's load event done (ms)."""
    page.goto(url, wait_until="commit")
    page.wait_for_function("() => { const b = document.querySelector('#question textarea'); return b && !b.disabled; }")
    box = page.evaluate("performance.now()")
    page.wait_for_selector("#header .page-header.ready", state="attached")
    return box, page.evaluate("performance.now()")


def measure_loads(browser, url: str, n: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """A fresh context (empty cache) per visit, then a second visit in the same context (cached)."""
    out = []
    for _ in range(n + 1):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        box, ready = load_once(page, url)
        _, cached = load_once(page, url)
        out.append(
            {"question_box_ms": round(box, 1), "interactive_ms": round(ready, 1), "cached_interactive_ms": round(cached, 1)}
        )
        context.close()
    return out[1:]  # the first visit also warms the server's own caches


def measure_answers(browser, url: str, questions: list[str], log: Path) -> list[dict]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#header .page-header.ready")
    rows = []
    for question in questions:
        page.locator("#new-chat").click()
        page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"user\"]')")
        box = page.locator("#question textarea")
        box.fill(question)
        page.evaluate(OBSERVE)
        box.press("Enter")
        page.wait_for_function("() => window.__bench.paint !== null", timeout=120_000)
        page.locator('#chat [data-testid="bot"] .answer-meta').first.wait_for(timeout=120_000)
        b = page.evaluate("window.__bench")
        time.sleep(0.2)
        page_records = [json.loads(x) for x in log.read_text().splitlines()]
        sdk = [r for r in page_records if r["kind"] == "page" and r["question"] == question][-1]
        browser_ms = b["paint"] - b["enter"]
        rows.append(
            {
                "question": question,
                "sdk_first_token_ms": round(sdk["first_token_ms"], 1),
                "browser_first_token_ms": round(browser_ms, 1),
                "browser_dom_first_token_ms": round(b["dom"] - b["enter"], 1),
                "overhead_ms": round(browser_ms - sdk["first_token_ms"], 1),
            }
        )
    context.close()
    return rows


if __name__ == "__main__":
    main()
