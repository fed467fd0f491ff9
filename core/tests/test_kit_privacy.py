"""The privacy checks of the conformance kit fail the plugins they are meant to catch, and pass
honest ones: a ``local`` provider that calls a non-loopback address (refused before anything is
sent), a connector that writes next to its documents or into the working directory, and one
whose ids or access lists are not what the contract says."""

from __future__ import annotations

import http.server
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from inhouse.errors import IngestError
from inhouse.plugins import Connector, PluginConfig, Prompt, Provider
from inhouse.testing import ConnectorTests, ProviderTests
from inhouse.testing.privacy import allowed, connections
from inhouse.types import Source, Usage


class Reply(http.server.BaseHTTPRequestHandler):
    """A loopback "model server": answers every GET with one word."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Reply)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


class RemoteProvider(Provider):
    """Declares ``local`` but fetches its reply from ``url``."""

    class Config(PluginConfig):
        url: str

    residency = "local"

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to the address
        with opener.open(self.config.url, timeout=5) as response:
            yield response.read().decode()
        yield Usage(1, 1)


class Folder(Connector):
    """Yields one file; ``mode`` makes it misbehave in one way."""

    class Config(PluginConfig):
        path: Path
        mode: str = "honest"

    @property
    def root(self) -> Path:
        return self.config.path

    def fetch(self) -> Iterator[Source]:
        mode, path = self.config.mode, self.config.path
        if mode == "writes-beside":
            (path / "cache.json").write_text("{}")
        elif mode == "writes-cwd":
            Path("state.db").write_text("")
        elif mode == "writes-home" and self.home is not None:
            self.home.mkdir(parents=True, exist_ok=True)
            (self.home / "state.db").write_text("")
        doc_id = uuid.uuid4().hex if mode == "random-ids" else "doc-1"
        acl = ("hr",) if mode == "plain-acl" else ("group:hr",)
        yield Source(doc_id, "a.md", str(path), 0.0, "h", 1, acl=acl)

    def open(self, path: str) -> bytes:
        if path != "a.md":
            raise IngestError(f"{path!r} was not yielded")
        return (self.config.path / "a.md").read_bytes()


def folder(tmp_path: Path, mode: str) -> Folder:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "a.md").write_text("# A")
    return Folder(Folder.Config(path=docs, mode=mode), name="docs", home=tmp_path / "home")


def test_a_local_provider_calling_a_public_address_fails_and_sends_nothing() -> None:
    provider = RemoteProvider(RemoteProvider.Config(url="http://203.0.113.7:9/"))  # TEST-NET-3: never routed
    with pytest.raises(AssertionError, match=r"a local plugin tried to connect to \['203.0.113.7:9'\]"):
        ProviderTests().test_connects_only_where_its_residency_allows(provider)


def test_a_local_provider_on_loopback_passes(server: str) -> None:
    provider = RemoteProvider(RemoteProvider.Config(url=server))
    ProviderTests().test_connects_only_where_its_residency_allows(provider)
    with connections("local") as seen:
        assert "".join(p for p in provider.generate(Prompt("", [])) if isinstance(p, str)) == "hello"
    assert seen.seen == [server.removeprefix("http://").rstrip("/")] and not seen.refused


@pytest.mark.parametrize(
    ("host", "local", "self_hosted", "external"),
    [
        ("127.0.0.1", True, True, True),
        ("::1", True, True, True),
        ("localhost", True, True, True),
        ("10.2.3.4", False, True, True),
        ("192.168.1.20", False, True, True),
        ("fd00::5", False, True, True),
        ("169.254.169.254", False, False, True),  # cloud metadata: never "self-hosted"
        ("52.95.110.1", False, False, True),
        ("api.example.com", False, False, True),  # a name: not provably private
    ],
)
def test_destinations_each_residency_allows(host: str, local: bool, self_hosted: bool, external: bool) -> None:
    assert (allowed(host, "local"), allowed(host, "self-hosted"), allowed(host, "external")) == (local, self_hosted, external)


@pytest.mark.parametrize("mode", ["writes-beside", "writes-cwd"])
def test_writing_outside_the_data_folder_fails(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    connector = folder(tmp_path, mode)
    with pytest.raises(AssertionError, match="files written outside the data folder") as failure:
        ConnectorTests().test_writes_only_inside_its_data_folder(connector, tmp_path, tmp_path_factory, monkeypatch)
    assert ("cache.json" if mode == "writes-beside" else "state.db") in str(failure.value)


def test_writing_inside_the_data_folder_passes(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = folder(tmp_path, "writes-home")
    ConnectorTests().test_writes_only_inside_its_data_folder(connector, tmp_path, tmp_path_factory, monkeypatch)
    assert (tmp_path / "home" / "state.db").exists()


def test_unstable_ids_and_plain_acl_names_fail(tmp_path: Path) -> None:
    kit = ConnectorTests()
    kit.test_ids_are_stable_and_unique(folder(tmp_path, "honest"))
    kit.test_sources_carry_root_acl_and_label(folder(tmp_path, "honest"))
    with pytest.raises(AssertionError):
        kit.test_ids_are_stable_and_unique(folder(tmp_path, "random-ids"))
    with pytest.raises(AssertionError, match="mixes plain names with principals"):
        kit.test_sources_carry_root_acl_and_label(folder(tmp_path, "plain-acl"))
