"""Items per second of the SharePoint connector against the local Graph, alone (``fetch`` and
``open`` of every item) and through ``Assistant.ingest`` (MiniLM, the local store), and what a
re-sync with nothing changed costs (requests, seconds).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python connectors/sharepoint/tests/bench_sharepoint.py [--items 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from sharepoint_graph import CLIENT_ID, HOST, SECRET, SITE_PATH, TENANT, GraphEmulator, group

from inhouse import Assistant
from inhouse_sharepoint.connector import SharePointConnector

WORDS = ["leave", "policy", "salary", "office", "laptop", "travel", "expense", "badge", "holiday", "training"]


def build(emu: GraphEmulator, items: int, rng: random.Random) -> None:
    """Two libraries, ten folders each, ``items`` markdown files of ~1.5 KB spread over them."""
    per_drive = items // 2
    for drive in ("Documents", "Engineering"):
        root = emu.add_drive(f"b!{drive}", drive)
        folders = [emu.add_folder(f"b!{drive}", f"{drive}-f{n}", f"folder{n}", root) for n in range(10)]
        for n in range(per_drive):
            words = " ".join(rng.choice(WORDS) for _ in range(200))
            text = f"# {drive} note {n}\n\n{words}.\n\n## Details\n\n{words[::-1]}.\n"
            emu.add_file(f"b!{drive}", f"{drive}-i{n}", f"note{n}.md", folders[n % 10], text, [group("g-staff", "staff@x")])


def assistant(emu: GraphEmulator, folder: Path) -> Assistant:
    os.environ["SP_BENCH_SECRET"] = SECRET
    (folder / "plugins.toml").write_text(
        f"""
[embedder]
use = "minilm"
[store]
use = "local"
[connectors.sp]
use = "sharepoint"
tenant = "{TENANT}"
client_id = "{CLIENT_ID}"
client_secret = {{ env = "SP_BENCH_SECRET" }}
site = "{HOST}:/{SITE_PATH}"
graph_url = "{emu.endpoint_url}"
authority = "{emu.endpoint_url}"
[connectors.sp.group_map]
g-staff = "staff"
[users.ana]
groups = ["staff"]
""",
        encoding="utf-8",
    )
    return Assistant.from_config(folder / "plugins.toml", home=folder / "home")


def main() -> None:
    """Run the measurement and print it as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, GraphEmulator(page_size=200) as emu:
        build(emu, args.items, random.Random(7))
        alone = SharePointConnector(
            SharePointConnector.Config(
                tenant=TENANT,
                client_id=CLIENT_ID,
                client_secret=SECRET,
                site=f"{HOST}:/{SITE_PATH}",
                graph_url=emu.endpoint_url,
                authority=emu.endpoint_url,
            )
        )
        started = time.perf_counter()
        opened = sum(len(alone.open(s.path)) > 0 for s in list(alone.fetch()))
        connector_seconds = time.perf_counter() - started
        alone.close()
        first = assistant(emu, Path(tmp))
        first.embedder.embed(["warm up"])  # the model's load time is not the connector's
        emu.reset()
        started = time.perf_counter()
        report = first.ingest()
        seconds = time.perf_counter() - started
        first_requests = len(emu.requests)
        first.close()
        emu.reset()
        again = assistant(emu, Path(tmp))  # a new process: delta links from the state file
        started = time.perf_counter()
        resync = again.ingest()
        resync_seconds = time.perf_counter() - started
        out = {
            "connector_items_per_s": round(opened / connector_seconds, 1),
            "items": report.added,
            "failed": len(report.failed),
            "chunks": report.chunks,
            "first_sync_s": round(seconds, 2),
            "items_per_s": round(report.added / seconds, 1),
            "first_sync_requests": first_requests,
            "resync_unchanged": resync.unchanged,
            "resync_requests": len(emu.requests),
            "resync_downloads": emu.count("/content"),
            "resync_s": round(resync_seconds, 3),
        }
        again.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
