"""Recall and precision of the PII detectors (``inhouse.pii``) per entity type.

    python bench/pii.py [--set dev|labelled|both]

Two hand-written sets of enterprise sentences with their personal data labelled by type
(``{"text", "spans": [{"start", "end", "type", "text"}]}``), each with hard negatives
(dates, prices, order and ticket numbers, version strings, ISBNs, card numbers failing Luhn,
IBANs failing mod 97, SSNs never issued, addresses out of range):

- ``bench/pii/dev.jsonl``: what the detectors were built against;
- ``bench/pii/labelled.jsonl``: held out, other sentences and other names, measured once the
  detectors were written. Its people's names include first names outside the built-in list.

A labelled span is *found* when every letter and digit of it lies inside spans the detector
gave the same type (*redacted* when inside a span of any type: what privacy needs); a detected
span is *correct* when it overlaps a labelled span of its type. Also reports the redaction
time per example. Writes bench/results/pii.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from inhouse.pii import KINDS, find
from inhouse.redaction import Redactor

HERE = Path(__file__).resolve().parent
SETS = {"dev": HERE / "pii" / "dev.jsonl", "labelled": HERE / "pii" / "labelled.jsonl"}


def covered(gold: dict[str, Any], spans: list[tuple[int, int]], text: str) -> bool:
    """Whether every letter and digit of ``gold`` lies inside one of ``spans``."""
    return all(any(s <= i < e for s, e in spans) for i in range(gold["start"], gold["end"]) if text[i].isalnum())


def measure(path: Path) -> dict[str, Any]:
    """Per-type counts, recall and precision over one labelled file."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    stats = {k: {"labelled": 0, "found": 0, "redacted": 0, "detected": 0, "correct": 0} for k in KINDS}
    misses: list[str] = []
    false_alarms: list[str] = []
    for row in rows:
        text, gold = row["text"], row["spans"]
        found = find(text)
        for g in gold:
            s = stats[g["type"]]
            s["labelled"] += 1
            same = [(p.start, p.end) for p in found if p.kind == g["type"]]
            s["found"] += covered(g, same, text)
            s["redacted"] += covered(g, [(p.start, p.end) for p in found], text)
            if not covered(g, same, text):
                misses.append(f"{g['type']}: {g['text']!r} in {text!r}")
        for p in found:
            stats[p.kind]["detected"] += 1
            ok = any(g["type"] == p.kind and p.start < g["end"] and g["start"] < p.end for g in gold)
            stats[p.kind]["correct"] += ok
            if not ok:
                false_alarms.append(f"{p.kind}: {p.value!r} in {text!r}")
    redactor = Redactor(KINDS)
    started = time.perf_counter()
    for row in rows:
        redactor.redact(row["text"])
    ms = (time.perf_counter() - started) * 1000 / len(rows)
    for s in stats.values():
        s["recall"] = round(s["found"] / s["labelled"], 3) if s["labelled"] else None
        s["precision"] = round(s["correct"] / s["detected"], 3) if s["detected"] else None
    return {"examples": len(rows), "ms_per_example": round(ms, 3), "types": stats, "misses": misses, "false_alarms": false_alarms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["dev", "labelled", "both"], default="both")
    args = parser.parse_args()
    names = list(SETS) if args.set == "both" else [args.set]
    results = {name: measure(SETS[name]) for name in names}
    for name, result in results.items():
        print(f"\n{name}: {result['examples']} examples, {result['ms_per_example']} ms each")
        print(f"{'type':12} {'labelled':>8} {'recall':>7} {'redacted':>8} {'detected':>8} {'precision':>9}")
        for kind, s in result["types"].items():
            redacted = f"{s['redacted'] / s['labelled']:.3f}" if s["labelled"] else "-"
            print(f"{kind:12} {s['labelled']:8} {s['recall'] if s['recall'] is not None else '-':>7} {redacted:>8} "
                  f"{s['detected']:8} {s['precision'] if s['precision'] is not None else '-':>9}")  # fmt: skip
        for line in result["misses"][:15]:
            print("  missed", line)
        for line in result["false_alarms"][:15]:
            print("  false alarm", line)
    out = HERE / "results" / "pii.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
