"""``inhouse sync``: incremental, crash-safe syncs of the configured connectors, retries of
items a connector says may pass, the sync record ``inhouse doctor`` shows, and the scheduler
that ``inhouse serve`` runs. Real MiniLM, real files, the real filesystem connector."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from inhouse import Assistant, SyncLog, SyncScheduler, registry
from inhouse.cli import app
from inhouse.config import parse
from inhouse.doctor import run_checks
from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import Connector
from inhouse.sync import _lock, sync
from inhouse.types import Source
from support import write_config

pytestmark = pytest.mark.model


def notes(folder: Path, count: int, start: int = 0) -> Path:
    """``count`` small Markdown notes, each with its own codeword ``zqNNNx``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        (folder / f"note{i:03d}.md").write_text(f"# Note {i}\n\nThe codeword of this note is zq{i:03d}x.")
    return folder


def committed(db: Path) -> int:
    """Documents the store has committed (0 before it exists)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_for(check: Callable[[], Any], seconds: float = 40) -> Any:
    """``check()``'s first true value, polled until ``seconds`` pass (then the test fails)."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts every ``open`` of the real filesystem connector (which still reads the file)."""
    calls = {"open": 0}
    cls = registry.load_class("connectors", "filesystem")
    real = cls.open

    def open_counted(self: Connector, path: str) -> bytes:
        calls["open"] += 1
        return real(self, path)

    monkeypatch.setattr(cls, "open", open_counted)
    yield calls


def test_a_resync_with_nothing_changed_opens_and_embeds_nothing(tmp_path: Path, counted: dict[str, int]) -> None:
    """The second sync reads no file and embeds nothing; a changed file is the only one read."""
    folder = notes(tmp_path / "docs", 30)
    with Assistant.from_config(write_config(tmp_path, folder), tmp_path / "home") as a:
        embedded = []
        real_embed = a.embedder.embed
        a.embedder.embed = lambda texts: embedded.append(len(texts)) or real_embed(texts)  # type: ignore[method-assign]
        [first] = sync(a)
        assert (first.state, first.counts["added"], counted["open"]) == ("ok", 30, 30) and sum(embedded) >= 30
        counted["open"], embedded[:] = 0, []
        [again] = sync(a, ["docs"])
        assert again.counts["unchanged"] == 30 and counted["open"] == 0 and embedded == []
        (folder / "note007.md").write_text("# Note 7\n\nThe codeword is now zq777x.")
        [changed] = sync(a)
        assert (changed.counts["updated"], changed.counts["unchanged"], counted["open"]) == (1, 29, 1)
        assert a.search("zq777x", k=1, mode="bm25")[0].chunk.source == "note007.md"


class Flaky(Connector):
    """Real files of a folder; ``open`` fails for some of them as a remote source would."""

    def __init__(self, folder: Path, failures: dict[str, tuple[int, bool]]):
        super().__init__(name="flaky")
        self.folder, self.failures, self.opens = folder, dict(failures), {}  # name -> (times left, retryable)

    @property
    def root(self) -> str:
        return str(self.folder)

    def fetch(self) -> Iterator[Source]:
        for path in sorted(self.folder.iterdir()):
            data = path.read_bytes()
            yield Source(f"flaky:{path.name}", path.name, self.root, 0.0, str(hash(data)), len(data))

    def open(self, path: str) -> bytes:
        self.opens[path] = self.opens.get(path, 0) + 1
        left, retryable = self.failures.get(path, (0, False))
        if left:
            self.failures[path] = (left - 1, retryable)
            raise IngestError("HTTP 503 from the server" if retryable else "HTTP 404: gone", retryable=retryable)
        return (self.folder / path).read_bytes()


def test_retryable_open_failures_are_retried_and_one_bad_item_never_stops_the_sync(tmp_path: Path) -> None:
    """A 503 that passes is retried into success; one that does not fails after ``open_attempts``
    tries; a 404 is not retried; the other items are ingested."""
    folder = notes(tmp_path / "docs", 5)
    extra = "[ingest]\nopen_attempts = 3\nopen_backoff_s = 0.01\n"
    with Assistant.from_config(write_config(tmp_path, folder, extra), tmp_path / "home") as a:
        flaky = Flaky(folder, {"note001.md": (2, True), "note002.md": (9, True), "note003.md": (9, False)})
        report = a.ingest(flaky)
        reasons = {f["path"]: f["reason"] for f in report.failed}
        assert reasons == {"note002.md": "HTTP 503 from the server (tried 3 times)", "note003.md": "HTTP 404: gone"}
        assert flaky.opens == {"note000.md": 1, "note001.md": 3, "note002.md": 3, "note003.md": 1, "note004.md": 1}
        assert (report.added, report.retried) == (3, 4)
        assert IngestError("x").retryable is False  # the old signature still works, not retryable


def test_a_connector_that_fails_is_recorded_and_the_next_one_still_syncs(tmp_path: Path) -> None:
    """``inhouse sync --json``: a missing folder fails its connector (exit 1), the other syncs;
    ``doctor`` shows both; a name not configured is a clear error."""
    folder = notes(tmp_path / "docs", 3)
    extra = f'[connectors.gone]\nuse = "filesystem"\npath = "{tmp_path / "nowhere"}"\nschedule = "2h"\n'
    config, home = write_config(tmp_path, folder, extra), tmp_path / "home"
    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(config), "--home", str(home), "sync", "--json"])
    assert result.exit_code == 1, result.output
    by_name = {r["connector"]: r for r in json.loads(result.stdout)}
    assert by_name["docs"]["state"] == "ok" and by_name["docs"]["counts"]["added"] == 3
    assert by_name["gone"]["state"] == "failed" and "does not exist" in by_name["gone"]["error"]
    lines = {c.name: c for c in run_checks(config, home)}
    assert lines["connectors.docs sync"].ok and "ok in" in lines["connectors.docs sync"].detail
    assert "3 added" in lines["connectors.docs sync"].detail and "no schedule" in lines["connectors.docs sync"].detail
    assert not lines["connectors.gone sync"].ok and "does not exist" in lines["connectors.gone sync"].detail
    assert "every 2h" in lines["connectors.gone sync"].detail
    table = runner.invoke(app, ["--config", str(config), "--home", str(home), "sync", "docs"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "unchanged" in table.stdout and "│ 3 " in table.stdout
    with Assistant.from_config(config, home) as a, pytest.raises(ConfigError, match=r"no \[connectors.nope\] table"):
        sync(a, ["nope"])


def test_one_sync_per_connector_at_a_time(tmp_path: Path) -> None:
    """While another process (here: another lock holder) syncs a connector, a second sync of it
    does not start and says so; its record is left alone."""
    folder = notes(tmp_path / "docs", 2)
    with Assistant.from_config(write_config(tmp_path, folder), tmp_path / "home") as a:
        with _lock(a.home, "docs") as held:
            assert held
            [busy] = sync(a)
        assert busy.state == "busy" and "another sync of connectors.docs is running" in busy.error
        assert SyncLog(a.home).records() == {}
        assert sync(a)[0].state == "ok"


def test_schedule_is_a_core_key_of_every_connector_table() -> None:
    """``schedule`` is taken out before the plugin's own ``Config`` sees the table; a bad value names its key."""
    base = '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n[connectors.wiki]\nuse = "filesystem"\npath = "."\n'
    settings = parse(base + 'schedule = "30s"\n', "t.toml", Path.cwd())
    assert settings.schedules == {"wiki": 30.0} and "schedule" not in settings.connectors["wiki"]
    assert parse(base + 'schedule = "2h"\n', "t.toml", Path.cwd()).schedules == {"wiki": 7200.0}
    for bad in ('"15 minutes"', '"0m"', "15"):
        with pytest.raises(ConfigError, match=r"t.toml: connectors.wiki.schedule must be a duration like"):
            parse(base + f"schedule = {bad}\n", "t.toml", Path.cwd())


def test_the_scheduler_syncs_a_new_file_without_a_manual_ingest(tmp_path: Path) -> None:
    """With ``schedule = "1s"`` a file added to the folder becomes searchable by itself; the
    doctor line shows the last sync and the schedule; stopping ends the thread."""
    folder = notes(tmp_path / "docs", 2)
    config = write_config(tmp_path, folder)
    config.write_text(config.read_text().replace('path = "', 'schedule = "1s"\npath = "'))
    with Assistant.from_config(config, tmp_path / "home") as a:
        scheduler = SyncScheduler(a)
        assert scheduler.start()
        try:
            first = wait_for(lambda: (r := SyncLog(a.home).records().get("docs")) and r.state == "ok" and r)
            assert first.counts["added"] == 2  # never synced: due at start
            (folder / "late.md").write_text("# Late\n\nThe codeword of the late note is qlatex.")
            hits = wait_for(lambda: [h for h in a.search("qlatex", k=1, mode="bm25") if h.chunk.source == "late.md"])
            assert "qlatex" in hits[0].chunk.text
            assert SyncLog(a.home).records()["docs"].started >= first.started + 1  # a later run, a schedule apart
        finally:
            scheduler.stop()
        assert scheduler._thread is not None and not scheduler._thread.is_alive()
    [line] = [c for c in run_checks(config, tmp_path / "home") if c.name == "connectors.docs sync"]
    assert line.ok and "ok in" in line.detail and "every 1s while `inhouse serve` runs" in line.detail


def test_kill_9_mid_sync_resumes_and_loses_nothing(tmp_path: Path) -> None:
    """``kill -9`` an ``inhouse sync`` of 200 files once the store holds some: the next sync
    re-reads only what was not committed, and every file is in the index exactly once."""
    total = 200
    folder = notes(tmp_path / "docs", total)
    config, home = write_config(tmp_path, folder, "[ingest]\nbatch_size = 8\n"), tmp_path / "home"
    db = home / "index" / "store.sqlite3"
    command = [sys.executable, "-m", "inhouse", "--config", str(config), "--home", str(home), "sync", "--json"]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 90
    while committed(db) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acknowledged = committed(db)
    assert 0 < acknowledged < total, f"{acknowledged} committed: the kill did not land mid-sync"
    [record] = SyncLog(home).records().values()
    assert record.state == "interrupted" and "interrupted" in record.summary()
    with Assistant.from_config(config, home) as a:  # the resume, in this process: the model loads faster here
        [result] = sync(a)
    assert (result.state, result.failed) == ("ok", 0)
    assert (result.counts["unchanged"], result.counts["added"]) == (acknowledged, total - acknowledged)
    with sqlite3.connect(db) as conn:
        per_source = dict(conn.execute("SELECT source, count(*) FROM documents GROUP BY source").fetchall())
        with_chunks = conn.execute("SELECT count(DISTINCT doc_id) FROM chunks").fetchone()[0]
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM chunks GROUP BY doc_id, ordinal HAVING count(*) > 1)"
        ).fetchone()
    assert per_source == {f"note{i:03d}.md": 1 for i in range(total)} and with_chunks == total and twice == (0,)
    print(f"\nkill -9 after {acknowledged}/{total} committed: re-fetched {total - acknowledged}, lost 0")
