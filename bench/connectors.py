"""``make bench``: each connector against its local server through ``Assistant.ingest`` (the real
MiniLM embedder, the local store; the model's load is not counted): items/s of the first sync,
the requests and seconds of a re-sync with nothing changed and of one with one item changed;
then an ``inhouse sync`` of ~200 files killed with ``kill -9`` mid-sync and resumed.

    python bench/connectors.py [--items 150] [--only s3,web,confluence,sharepoint,filesystem]

The servers are the connectors' test servers (moto's S3 server for S3); requests are counted on
the server's side (S3: every HTTP request boto3 sends, from a botocore hook). Results go to
bench/results/connectors.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
for folder in ("connectors/confluence/tests", "connectors/sharepoint/tests", "connectors/web/tests", "core/tests", "tests"):
    sys.path.insert(0, str(REPO / folder))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from inhouse import Assistant, registry  # noqa: E402
from inhouse.plugins import Connector  # noqa: E402
from inhouse.sync import sync  # noqa: E402
from inhouse.types import Source  # noqa: E402

CONNECTORS = ("s3", "web", "confluence", "sharepoint", "filesystem")
BASE = '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
WORDS = ["leave", "policy", "salary", "office", "laptop", "travel", "expense", "badge", "holiday", "training", "approval"]
console = Console(width=max(Console().width, 150))


def text(i: int, rng: random.Random, length: int = 200) -> str:
    """A ~1.5 KB handbook note of its own (a codeword ``zqNNNx`` and ``length`` words)."""
    words = " ".join(rng.choice(WORDS) for _ in range(length))
    return f"Note {i} has the codeword zq{i:03d}x. {words}. Ask the people team about note {i}."


@dataclass
class Site:
    """One connector's local server: its ``[connectors.NAME]`` table, how many requests it has
    answered so far, and ``change()``, which edits one item there."""

    table: str
    requests: Callable[[], int]
    change: Callable[[], None]
    hook: Callable[[Connector], None] | None = None  # starts counting a connector's requests


# ------------------------------------------------------------------------------------------- servers


@contextmanager
def s3_site(items: int, rng: random.Random, _: Path) -> Iterator[Site]:
    """A bucket on moto's S3 server with ``items`` objects under ``kb/``."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request

    os.environ.update(AWS_ACCESS_KEY_ID="AKIDTESTING", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=url)
        s3.create_bucket(Bucket="handbook")
        for i in range(items):
            s3.put_object(Bucket="handbook", Key=f"kb/note{i:03d}.md", Body=text(i, rng).encode())
        sent = [0]

        def counted(connector: Connector) -> None:  # every HTTP request the connector's client sends
            connector.aws.client.meta.events.register("before-send.s3", lambda **_: sent.__setitem__(0, sent[0] + 1))

        yield Site(
            f'use = "s3"\nbucket = "handbook"\nprefix = "kb"\nregion = "us-east-1"\nendpoint_url = "{url}"\nacl = ["*"]\n',
            lambda: sent[0],
            lambda: s3.put_object(Bucket="handbook", Key="kb/note007.md", Body=b"Note 7 now has the codeword zq777x."),
            counted,
        )
    finally:
        server.stop()


@contextmanager
def web_site(items: int, rng: random.Random, _: Path) -> Iterator[Site]:
    """A site whose home page links to ``items - 1`` pages (each links back home and to /news)."""
    from web_site import Server
    from web_site import Site as Pages

    paths = ["/news"] + [f"/kb/note{i:03d}" for i in range(2, items)]  # every page's sidebar links /news
    # Half a note: the site's page template shows the text twice (article and details).
    texts = {path: (f"Note {i}", text(i, rng, 100)) for i, path in enumerate(paths, 1)}
    server = Server(Pages(texts=texts, links=["/"], extra={"/": paths}, last_modified_only=set()))
    try:
        yield Site(
            f'use = "web"\nurl = "{server.url}/"\nrate = 1000\nmax_pages = {items + 10}\nacl = ["*"]\n',
            lambda: len(server.site.log),
            lambda: texts.__setitem__("/kb/note007", ("Note 7", "Note 7 now has the codeword zq777x.")),
        )
    finally:
        server.stop()


@contextmanager
def confluence_site(items: int, rng: random.Random, _: Path) -> Iterator[Site]:
    """Two spaces of ``items`` pages in all (every tenth restricted to a group, every twentieth
    with a text attachment, which counts as an item too)."""
    from confluence_server import EMAIL, TOKEN, Wiki, serve

    wiki = Wiki()
    for key in ("ENG", "OPS"):
        wiki.space(key)
    pages = []
    for i in range(items - (items + 19) // 20):
        pages.append(wiki.page(("ENG", "OPS")[i % 2], f"Procedure {i}", f"<p>{text(i, rng)}</p>", groups=["ops"] * (i % 10 == 0)))
        if i % 20 == 0:
            wiki.attach(pages[-1], f"checklist-{i}.txt", "text/plain", f"Checklist {i}: verify, sign, file.\n".encode())

    def change() -> None:
        pages[7].body, pages[7].version = "<p>Procedure 7 now has the codeword zq777x.</p>", pages[7].version + 1

    os.environ["BENCH_CONFLUENCE_TOKEN"] = TOKEN
    with serve(wiki) as base:
        yield Site(
            f'use = "confluence"\nbase_url = "{base}"\nemail = "{EMAIL}"\ntoken = {{ env = "BENCH_CONFLUENCE_TOKEN" }}\n'
            'spaces = ["ENG", "OPS"]\nacl = ["staff"]\n',
            lambda: len(wiki.requests),
            change,
        )


@contextmanager
def sharepoint_site(items: int, rng: random.Random, _: Path) -> Iterator[Site]:
    """Two document libraries of ten folders each, ``items`` Markdown files over them."""
    from sharepoint_graph import CLIENT_ID, HOST, SECRET, SITE_PATH, TENANT, GraphEmulator, group

    with GraphEmulator(page_size=200) as emu:
        for d, drive in enumerate(("Documents", "Engineering")):
            root = emu.add_drive(f"b!{drive}", drive)
            folders = [emu.add_folder(f"b!{drive}", f"{drive}-f{n}", f"folder{n}", root) for n in range(10)]
            for i in range(d, items, 2):
                emu.add_file(f"b!{drive}", f"i{i}", f"note{i:03d}.md", folders[i % 10], text(i, rng), [group("g-staff", "s@x")])
        os.environ["BENCH_SHAREPOINT_SECRET"] = SECRET
        yield Site(
            f'use = "sharepoint"\ntenant = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n'
            f'client_secret = {{ env = "BENCH_SHAREPOINT_SECRET" }}\nsite = "{HOST}:/{SITE_PATH}"\n'
            f'graph_url = "{emu.endpoint_url}"\nauthority = "{emu.endpoint_url}"\n'
            '[connectors.bench.group_map]\ng-staff = "staff"\n',
            lambda: len(emu.requests),
            lambda: emu.change_file("i7", "Note 7 now has the codeword zq777x."),
        )


@contextmanager
def filesystem_site(items: int, rng: random.Random, work: Path) -> Iterator[Site]:
    """A folder of ``items`` Markdown notes (no server: requests are the files read)."""
    folder = work / "docs"
    folder.mkdir()
    for i in range(items):
        (folder / f"note{i:03d}.md").write_text(text(i, rng))
    yield Site(
        f'use = "filesystem"\npath = "{folder}"\n',
        lambda: 0,
        lambda: (folder / "note007.md").write_text("Note 7 now has the codeword zq777x."),
    )


SITES = {
    "s3": s3_site,
    "web": web_site,
    "confluence": confluence_site,
    "sharepoint": sharepoint_site,
    "filesystem": filesystem_site,
}


# ---------------------------------------------------------------------------------------- measuring


def instrument(connector: Connector) -> dict[str, float]:
    """Counts ``connector``'s ``open`` calls and the seconds spent in its ``fetch`` and ``open``
    (the connector's own share of a sync: the rest is parsing, embedding and storing)."""
    spent = {"opened": 0, "s": 0.0}
    real_fetch, real_open = connector.fetch, connector.open

    def fetch() -> Iterator[Source]:
        started = time.perf_counter()
        sources = list(real_fetch())
        spent["s"] += time.perf_counter() - started
        yield from sources

    def open_(path: str) -> bytes:
        started = time.perf_counter()
        try:
            return real_open(path)
        finally:
            spent["opened"] += 1
            spent["s"] += time.perf_counter() - started

    connector.fetch, connector.open = fetch, open_  # type: ignore[method-assign]
    return spent


def bench_connector(name: str, items: int, work: Path) -> dict[str, Any]:
    """First sync, a no-change re-sync and a one-change re-sync of connector ``name``."""
    with SITES[name](items, random.Random(7), work) as site:
        config = work / "plugins.toml"
        config.write_text(f"{BASE}[connectors.bench]\n{site.table}", encoding="utf-8")
        with Assistant.from_config(config, home=work / "home") as assistant:
            assistant.embedder.embed(["warm up"])  # the model's load is not the connector's cost
            [connector] = assistant.connectors()
            if site.hook:
                site.hook(connector)
            spent = instrument(connector)
            out: dict[str, Any] = {}
            for step in ("first", "resync", "changed"):
                if step == "changed":
                    site.change()
                requests, opens, inside, started = site.requests(), spent["opened"], spent["s"], time.perf_counter()
                report = assistant.ingest(connector)
                seconds = time.perf_counter() - started
                out[step] = {
                    "s": round(seconds, 3),
                    "requests": site.requests() - requests,
                    "opened": spent["opened"] - opens,
                    "connector_s": round(spent["s"] - inside, 3),
                    "added": report.added,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                    "removed": report.removed,
                    "failed": len(report.failed),
                    "failures": [f"{f['path']}: {f['reason']}" for f in report.failed[:5]],
                    "chunks": report.chunks,
                }
    first = out["first"]
    out["items"] = first["added"]
    out["items_per_s"] = round(first["added"] / first["s"], 1)
    out["connector_items_per_s"] = round(first["added"] / first["connector_s"], 1)
    ok = out["resync"]["unchanged"] == first["added"] and out["resync"]["opened"] == 0 and out["changed"]["updated"] == 1
    out["ok"] = ok and not first["failed"]
    return out


def kill_9(total: int, work: Path) -> dict[str, Any]:
    """``inhouse sync`` of ``total`` files killed with SIGKILL once some are committed, resumed
    in this process: items committed before the kill, re-fetched on resume, lost (goal 0)."""
    from support import write_config
    from test_sync import committed, notes

    folder = notes(work / "docs", total)
    config, home = write_config(work, folder, "[ingest]\nbatch_size = 8\n"), work / "home"
    db = home / "index" / "store.sqlite3"
    command = [sys.executable, "-m", "inhouse", "--config", str(config), "--home", str(home), "sync", "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while committed(db) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acknowledged = committed(db)
    cls = registry.load_class("connectors", "filesystem")
    real_open, opened = cls.open, [0]

    def counted_open(self: Connector, path: str) -> bytes:
        opened[0] += 1
        return real_open(self, path)

    cls.open = counted_open  # type: ignore[method-assign]
    try:
        with Assistant.from_config(config, home) as assistant:
            started = time.perf_counter()
            [result] = sync(assistant)
            resume_s = time.perf_counter() - started
    finally:
        cls.open = real_open  # type: ignore[method-assign]
    with sqlite3.connect(db) as conn:
        sources = {s for (s,) in conn.execute("SELECT DISTINCT source FROM documents")}
        twice = conn.execute("SELECT count(*) FROM (SELECT 1 FROM documents GROUP BY source HAVING count(*) > 1)").fetchone()[0]
    return {
        "files": total,
        "committed_before_kill": acknowledged,
        "refetched": opened[0],
        "lost": total - len({f"note{i:03d}.md" for i in range(total)} & sources),
        "duplicated": twice,
        "resume_state": result.state,
        "resume_s": round(resume_s, 2),
        "mid_sync": 0 < acknowledged < total,
    }


def table(results: dict[str, Any]) -> Table:
    """One table: a row per connector, the kill -9 figures in the caption."""
    out = Table(title="Connectors against their local servers (MiniLM, local store)")
    for column in ("connector", "items", "chunks", "1st sync s", "items/s", "connector items/s",
                   "no change: req", "s", "opened", "1 changed: req", "s", "opened", "ok"):  # fmt: skip
        out.add_column(column, justify="left" if column == "connector" else "right")
    for name, r in results["connectors"].items():
        first, same, one = r["first"], r["resync"], r["changed"]
        out.add_row(
            name, str(r["items"]), str(first["chunks"]), f"{first['s']:.2f}", f"{r['items_per_s']:.1f}",
            f"{r['connector_items_per_s']:.0f}", str(same["requests"]), f"{same['s']:.3f}", str(same["opened"]),
            str(one["requests"]), f"{one['s']:.3f}", str(one["opened"]), "yes" if r["ok"] else "NO",
        )  # fmt: skip
    if k := results.get("kill_9"):
        out.caption = (
            f"inhouse sync of {k['files']} files, kill -9 after {k['committed_before_kill']} committed: "
            f"resume re-fetched {k['refetched']}, lost {k['lost']}, duplicated {k['duplicated']} "
            f"({k['resume_state']} in {k['resume_s']:.1f} s)"
        )
    out.caption = (out.caption or "") + (
        "\nreq: requests the server answered (S3: sent by boto3; filesystem: none); opened: items downloaded;"
        "\nconnector items/s: items over the seconds spent in the connector's fetch and open (no parsing or embedding)"
    )
    return out


def main() -> None:
    """Run the chosen connectors, then the kill -9 resume (with filesystem); print and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=150, help="items per connector (default 150)")
    parser.add_argument("--only", default=",".join(CONNECTORS), help="comma-separated: " + ",".join(CONNECTORS))
    args = parser.parse_args()
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    if unknown := [c for c in chosen if c not in CONNECTORS]:
        parser.error(f"--only: unknown connector {', '.join(unknown)} (choose from {', '.join(CONNECTORS)})")
    if args.items < 20:
        parser.error("--items: at least 20")
    results: dict[str, Any] = {"items": args.items, "connectors": {}}
    for name in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            console.print(f"[dim]{name}…[/]")
            results["connectors"][name] = bench_connector(name, args.items, Path(tmp))
    if "filesystem" in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            console.print("[dim]kill -9 resume…[/]")
            results["kill_9"] = kill_9(200, Path(tmp))
    console.print(table(results))
    out = REPO / "bench" / "results" / "connectors.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"[dim]wrote {out.relative_to(REPO)}[/]")


if __name__ == "__main__":
    main()
