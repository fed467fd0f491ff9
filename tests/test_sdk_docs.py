"""docs/sdk.md runs as written: every ``python`` block, in order and in one namespace (as a
reader goes down the page), from the repository's root, against a real server (uvicorn on
127.0.0.1, the configuration ``make run`` uses) on a data folder that has ingested the sample
corpus. The page's ``$INHOUSE_URL`` and ``$INHOUSE_HOME`` point at that server and folder."""

from __future__ import annotations

import re

import pytest

from inhouse import Assistant
from support import REPO, in_fresh_thread
from ui_support import serving

PAGE = REPO / "docs" / "sdk.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

pytestmark = [pytest.mark.model, pytest.mark.slow]


def blocks() -> list[str]:
    """The page's python blocks, in order."""
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_the_page_has_in_process_and_remote_examples() -> None:
    code = "\n".join(blocks())
    assert len(blocks()) >= 8
    for name in ("Assistant.from_config", "Client(", ".conversation(", ".aask(", ".astream(", ".asearch(", ".ingest("):
        assert name in code, f"docs/sdk.md has no example of {name}"


def test_every_python_block_runs(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from inhouse_ui.server import build_app

    home = tmp_path / "home"
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("INHOUSE_HOME", str(home))
    monkeypatch.delenv("INHOUSE_CONFIG", raising=False)
    monkeypatch.delenv("INHOUSE_API_KEY", raising=False)
    with Assistant.from_config(REPO / "plugins.toml", home) as served:
        report = served.ingest()
        assert not report.failed, report.failed
        with serving(build_app(served)) as url:
            monkeypatch.setenv("INHOUSE_URL", url)
            namespace: dict[str, object] = {"__name__": "sdk_docs"}
            for n, code in enumerate(blocks(), 1):
                try:
                    in_fresh_thread(exec, compile(code, f"docs/sdk.md block {n}", "exec"), namespace)
                except Exception as exc:
                    pytest.fail(f"docs/sdk.md block {n} failed: {type(exc).__name__}: {exc}\n{code}")
    printed = capsys.readouterr().out
    assert "26 days" in printed and "Lattice-Guest" in printed and "Hotel Duna" in printed
    assert "refused:" in printed and "422" in printed
