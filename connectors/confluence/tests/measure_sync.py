"""Figures for the Confluence connector against the local server: items/s of a first
``Assistant.ingest`` (MiniLM, the local store) of about 200 pages, and the requests and
seconds of a re-sync with nothing changed.

    OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 .venv/bin/python connectors/confluence/tests/measure_sync.py [PAGES]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from confluence_server import EMAIL, TOKEN, Wiki, serve

from inhouse import Assistant

PARAGRAPH = (
    "<p>Section {n} of the {space} handbook explains how the team handles request {i}: who approves it, "
    "how long it takes and where the records are kept. Escalations go to the duty manager.</p>"
)


def build(pages: int) -> Wiki:
    """Two spaces; every tenth page restricted to a group, every twentieth with a text attachment."""
    wiki = Wiki()
    for key in ("ENG", "OPS"):
        wiki.space(key)
    for i in range(pages):
        space = ("ENG", "OPS")[i % 2]
        body = f"<h2>Page {i}</h2>" + "".join(PARAGRAPH.format(n=n, space=space, i=i) for n in range(6))
        page = wiki.page(space, f"Procedure {i}", body, groups=["ops"] if i % 10 == 0 else [])
        if i % 20 == 0:
            wiki.attach(page, f"checklist-{i}.txt", "text/plain", f"Checklist {i}: verify, sign, file.\n".encode())
    return wiki


def main(pages: int) -> dict[str, float]:
    wiki = build(pages)
    with tempfile.TemporaryDirectory() as tmp, serve(wiki) as base:
        os.environ["INHOUSE_MEASURE_CONFLUENCE_TOKEN"] = TOKEN
        config = Path(tmp) / "plugins.toml"
        config.write_text(
            f'[embedder]\nuse = "minilm"\n\n[store]\nuse = "local"\n\n'
            f'[providers.extractive]\nuse = "extractive"\n\n[routing]\ndefault = ["extractive"]\n\n'
            f'[connectors.wiki]\nuse = "confluence"\nbase_url = "{base}"\nemail = "{EMAIL}"\n'
            f'token = {{ env = "INHOUSE_MEASURE_CONFLUENCE_TOKEN" }}\nspaces = ["ENG", "OPS"]\nacl = ["staff"]\n'
        )
        assistant = Assistant.from_config(config, home=Path(tmp) / "home")
        assistant.embedder.embed(["warm up"])  # the model's load is not the connector's cost
        started = time.perf_counter()
        first = assistant.ingest()
        first_s = time.perf_counter() - started
        items = first.added
        before, bodies = len(wiki.requests), wiki.bodies()
        started = time.perf_counter()
        again = assistant.ingest()
        resync_s = time.perf_counter() - started
        resync_requests, resync_bodies = len(wiki.requests) - before, wiki.bodies() - bodies
        assistant.close()
    assert not first.failed and again.unchanged == items, (first.failed, again)
    return {
        "items": items,
        "first_ingest_s": round(first_s, 2),
        "items_per_s": round(items / first_s, 1),
        "resync_requests": resync_requests,
        "resync_body_downloads": resync_bodies,
        "resync_s": round(resync_s, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
