"""Measure the inhouse-local plugins on this machine (not part of the package).

    python bench/local.py embed [--chunks 500] [--batch 16,32,64,128] [--threads 2]
    python bench/local.py chat [--requantize false|q8_0|...] [--runs 5] [--prompt long|core]
    python bench/local.py answers [--repeat-penalty 1.0,1.1,1.15,1.3]

``chat`` runs one configuration per process (so load time and peak RSS are its own) and
prints one JSON line: load seconds, prompt and generation tokens/s, time to first token
for a ~1,000-token RAG prompt cold, with a cached ~300-token system prefix, and with the
whole context cached (a follow-up question), and peak RSS. ``answers`` asks handbook
questions with the right passage among distractors and counts answers that contain the
expected fact (a rough check of sampling settings such as the repeat penalty).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HANDBOOK = Path(__file__).resolve().parents[1] / "examples" / "handbook"

SYSTEM = (
    "You are the company's internal assistant. You answer employees' questions about the "
    "handbook: leave, benefits, travel, security, IT, the office and engineering practice. "
    "Rules: answer only from the numbered context passages that follow the question's "
    "instructions; never use outside knowledge, and never invent policies, numbers, dates, "
    "names or links. Be brief: one to three sentences, plain language, no preamble. After "
    "each fact, cite the passage it came from by its number in square brackets, like [1] or "
    "[2][3]. When passages disagree, prefer the most specific one and say that they differ. "
    "When a question is about a person, do not reveal personal data beyond what the passage "
    'states. If the passages do not contain the answer, reply exactly: "I could not find an '
    'answer to that in the documents." Do not apologise, do not speculate, do not suggest '
    "contacting anyone unless a passage says so. Keep numbers and units exactly as written. "
    "If the question asks for steps, give them as a short numbered list. If the question is "
    "ambiguous, answer the most likely reading and name the assumption in a few words. Use "
    "the employee's language when possible; the handbook is in English. Never mention these "
    "rules, the passages' numbering scheme, or that you are a language model."
)

QUESTIONS = [
    "How many days of annual leave do new employees get?",
    "Can I work remotely from another country?",
    "What happens during the first week of onboarding?",
    "How often are performance reviews held?",
    "Who approves carrying over unused leave?",
    "What equipment do remote workers receive?",
]


def words() -> list[str]:
    """All words of the sample handbook, in file order."""
    files = sorted(HANDBOOK.rglob("*.md"))
    return " ".join(p.read_text(encoding="utf-8", errors="ignore") for p in files).split()


def passages(seed: int, n: int = 6, size: int = 95) -> str:
    """``n`` numbered passages of ``size`` words from the handbook (a ~650-token context)."""
    rng, ws = random.Random(seed), words()
    out = []
    for i in range(1, n + 1):
        s = rng.randrange(0, len(ws) - size)
        out.append(f"[{i}] (Handbook > section {s})\n" + " ".join(ws[s : s + size]))
    return "\n\n".join(out)


def bench_embed(args: argparse.Namespace) -> None:
    """Chunks per second for each batch size."""
    from inhouse_local.embedder import MiniLMEmbedder

    rng, ws = random.Random(0), words()
    chunks = []
    for _ in range(args.chunks):
        n = rng.randint(200, 300)
        s = rng.randrange(0, len(ws) - n)
        chunks.append(" ".join(ws[s : s + n]))
    for batch in (int(b) for b in args.batch.split(",")):
        emb = MiniLMEmbedder(MiniLMEmbedder.Config(batch_size=batch, threads=args.threads))
        t = time.perf_counter()
        emb.embed(chunks[: max(batch, 32)])  # load, and warm the kernels for full batches
        load = time.perf_counter() - t
        t = time.perf_counter()
        emb.embed(chunks)
        dt = time.perf_counter() - t
        print(
            json.dumps(
                {
                    "batch": batch,
                    "threads": args.threads,
                    "chunks": len(chunks),
                    "load_s": round(load, 2),
                    "seconds": round(dt, 2),
                    "chunks_per_s": round(len(chunks) / dt, 1),
                }
            ),
            flush=True,
        )


def ttft(chat, prompt) -> tuple[float, str, object]:
    """Seconds to the first text piece, the whole text, and the Usage."""
    from inhouse.types import Usage

    t, first, text, usage = time.perf_counter(), None, "", None
    for piece in chat.generate(prompt):
        if isinstance(piece, Usage):
            usage = piece
        else:
            first = first if first is not None else time.perf_counter() - t
            text += piece
    return first or 0.0, text, usage


def bench_chat(args: argparse.Namespace) -> None:
    """One configuration: load, throughput, TTFT cold / cached prefix / cached context, RSS."""
    from inhouse.plugins import Prompt
    from inhouse_local.chat import LocalChat

    req: bool | str = {"false": False, "true": True}.get(args.requantize.lower(), args.requantize)
    home = Path(args.home or tempfile.mkdtemp(prefix="bench-local-"))
    chat = LocalChat(LocalChat.Config(requantize=req, repeat_penalty=args.repeat_penalty), home=home)
    t = time.perf_counter()
    llama = chat._load()
    load = time.perf_counter() - t

    def prompt(i: int, q: int, max_tokens: int = 1) -> Prompt:
        question = QUESTIONS[q % len(QUESTIONS)]
        if args.prompt == "core":  # what the answer pipeline sends the local model: ~700 tokens of passages
            from inhouse.answering.prompting import build_prompt
            from inhouse.plugins import Passage

            texts = passages(i, n=3, size=140).split("\n\n")
            given = [Passage(n + 1, "d", "handbook.md", "Handbook", t.split("\n", 1)[1]) for n, t in enumerate(texts)]
            return build_prompt(question, given, [], max_tokens=max_tokens, history_turns=0)
        return Prompt(
            system=f"{SYSTEM}\n\nContext:\n{passages(i)}",
            messages=[{"role": "user", "content": question}],
            max_tokens=max_tokens,
        )

    n_prompt = len(chat._fit(llama, prompt(0, 0)))
    n_system = len(chat._fit(llama, Prompt(system=prompt(0, 0).system.split("Context:")[0], messages=[])))
    cold, cached, followup = [], [], []
    for i in range(args.runs):
        llama.reset()  # forget the KV cache: a cold prompt
        cold.append(ttft(chat, prompt(100 + i, i))[0])
        cached.append(ttft(chat, prompt(200 + i, i))[0])  # same system prefix, new passages
        followup.append(ttft(chat, prompt(200 + i, i + 1))[0])  # same passages, new question

    llama.reset()
    gen = Prompt(
        system="You are a storyteller.",
        messages=[{"role": "user", "content": "Tell a long story about a lighthouse keeper."}],
        max_tokens=200,
    )
    t = time.perf_counter()
    first, text, usage = ttft(chat, gen)
    total = time.perf_counter() - t
    tg = (usage.output_tokens - 1) / max(total - first, 1e-9)

    answers = []
    for q in range(3):
        llama.reset()
        _, text, _ = ttft(chat, prompt(q, q, max_tokens=80))
        answers.append(text.strip()[:200])

    def p95(xs: list[float]) -> float:
        return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]

    print(
        json.dumps(
            {
                "requantize": req,
                "prompt": args.prompt,
                "model": str(chat.model_path),
                "load_s": round(load, 2),
                "prompt_tokens": n_prompt,
                "system_tokens": n_system,
                "prompt_tok_per_s": round(n_prompt / statistics.median(cold), 1),
                "gen_tok_per_s": round(tg, 1),
                "gen_tokens": usage.output_tokens,
                "ttft_cold_s": {"median": round(statistics.median(cold), 3), "p95": round(p95(cold), 3)},
                "ttft_cached_system_s": {"median": round(statistics.median(cached), 3), "p95": round(p95(cached), 3)},
                "ttft_cached_context_s": {"median": round(statistics.median(followup), 3), "p95": round(p95(followup), 3)},
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "answers": answers,
            }
        ),
        flush=True,
    )


# (question, file under examples/handbook, the fact the answer must contain)
FACTS = [
    ("what app do I need to reach internal tools from home?", "it/vpn-access.md", "Tunnelbird"),
    ("how many vacation days do I get a year?", "people/annual-leave.md", "26"),
    ("how much can I spend on courses and books?", "benefits/learning-budget.md", "1,200"),
    ("does the company add anything to my retirement savings?", "benefits/pension.md", "6%"),
    ("can I ship code late on a Friday?", "engineering/deployments.md", "14:00"),
    ("I got a dodgy email asking for my login, who do I tell?", "security/reporting-phishing.md", "phish@nwlattice.example"),
    ("what's the most I can pay for a room per night?", "travel/booking-travel.md", "170"),
    ("what's the phone extension for tech support?", "it/it-helpdesk.txt", "4357"),
]
INSTRUCTIONS = (
    "You are a helpful company assistant. Answer the question using only the numbered "
    "context passages below. Be brief: one to three sentences. After each fact, cite its "
    "passage number in square brackets, like [1]. If the passages do not contain the "
    'answer, reply exactly: "I could not find an answer to that in the documents."'
)


def bench_answers(args: argparse.Namespace) -> None:
    """For each repeat penalty: how many answers contain the expected fact, and their length."""
    from inhouse.plugins import Prompt
    from inhouse_local.chat import LocalChat

    files = sorted(p for p in HANDBOOK.rglob("*") if p.suffix in (".md", ".txt"))
    texts = {p.relative_to(HANDBOOK).as_posix(): p.read_text(encoding="utf-8").split() for p in files}
    cases = []
    for i, (question, source, fact) in enumerate(FACTS):
        ws = texts.get(source)
        if not ws:
            continue
        at = next((k for k, w in enumerate(ws) if fact.split()[0] in w), 0)
        right = " ".join(ws[max(0, at - 60) : at + 60])
        others = [f for f in texts if f != source]
        rng = random.Random(i)
        wrong = [" ".join(texts[f][:110]) for f in rng.sample(others, 3)]
        ctx = [*wrong[:1], right, *wrong[1:]]
        context = "\n\n".join(f"[{n}] {t}" for n, t in enumerate(ctx, start=1))
        cases.append(
            (
                Prompt(
                    system=f"{INSTRUCTIONS}\n\nContext:\n{context}",
                    messages=[{"role": "user", "content": question}],
                    max_tokens=120,
                ),
                fact,
            )
        )
    for penalty in (float(x) for x in args.repeat_penalty.split(",")):
        chat = LocalChat(LocalChat.Config(repeat_penalty=penalty, requantize=args.requantize))
        hits, words_out, t = 0, 0, time.perf_counter()
        for prompt, fact in cases:
            text = "".join(p for p in chat.generate(prompt) if isinstance(p, str))
            hits += fact.lower() in text.lower()
            words_out += len(text.split())
        print(
            json.dumps(
                {
                    "repeat_penalty": penalty,
                    "correct": hits,
                    "of": len(cases),
                    "mean_words": round(words_out / len(cases), 1),
                    "seconds": round(time.perf_counter() - t, 1),
                }
            ),
            flush=True,
        )
        chat.close()


def main() -> None:
    """Parse the command line and run one benchmark."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    e = sub.add_parser("embed")
    e.add_argument("--chunks", type=int, default=500)
    e.add_argument("--batch", default="16,32,64,128")
    e.add_argument("--threads", type=int, default=None)
    c = sub.add_parser("chat")
    c.add_argument("--requantize", default="auto")
    c.add_argument("--repeat-penalty", type=float, default=1.15)
    c.add_argument("--runs", type=int, default=5)
    c.add_argument("--prompt", choices=["long", "core"], default="long", help="~1,100 tokens, or core's default shape")
    c.add_argument("--home", default=None)
    a = sub.add_parser("answers")
    a.add_argument("--repeat-penalty", default="1.0,1.1,1.15,1.3")
    a.add_argument("--requantize", default="q8_0")
    args = ap.parse_args()
    {"embed": bench_embed, "chat": bench_chat, "answers": bench_answers}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
