"""``inhouse serve`` as a process: the command comes from the UI distribution (the
``inhouse.commands`` entry point), reads ``[ui]`` (the ``inhouse.settings`` entry point),
refuses a taken port, prints its address, and serves the sign-in page and ``/health``.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from inhouse_ui.sessions import SECRET_FILE
from support import write_config
from ui_support import free_port

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture
def command(tmp_path: Path, echo_model: Any) -> list[str]:
    """``inhouse serve`` on a one-file corpus with ``[ui] users = [ana]`` (password from the environment)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nA document.\n", encoding="utf-8")
    providers = f'[providers.echo]\nuse = "openai-compatible"\nbase_url = "{echo_model.base_url}"\nmodel = "test-model"\n'
    providers += '[routing]\ndefault = ["echo"]\n'
    extra = '[ui]\nusers = [{ name = "ana", password = { env = "INHOUSE_TEST_ANA_PASSWORD" } }]\n'
    config = write_config(tmp_path, corpus, providers=providers, extra=extra)
    return [sys.executable, "-m", "inhouse", "--config", str(config), "--home", str(tmp_path / "home"), "serve"]


def test_inhouse_serve_prints_its_address_and_refuses_a_taken_port(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "INHOUSE_DEBUG": "", "INHOUSE_TEST_ANA_PASSWORD": "pw"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run([*command, "--port", str(port)], capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode != 0 and "pick another --port" in refused.stdout + refused.stderr

    free = free_port()
    proc = subprocess.Popen([*command, "--port", str(free)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == f"inhouse is serving on http://127.0.0.1:{free}", line
        base = f"http://127.0.0.1:{free}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        page = httpx.get(f"{base}/")
        assert page.status_code == 303 and page.headers["location"] == "login"  # [ui] users was read
        signed = httpx.post(f"{base}/login", data={"name": "ana", "password": "pw"})
        assert signed.status_code == 303 and "inhouse_session" in signed.cookies
        secret = tmp_path / "home" / SECRET_FILE
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def test_the_listening_socket_is_tcp_so_replies_are_not_held_by_nagle() -> None:
    """asyncio sets TCP_NODELAY only on connections accepted from an IPPROTO_TCP socket: with
    protocol 0, every reply sent in pieces (headers, then body; each SSE event) waited ~40 ms
    for the client's delayed ACK (the API's first token: 45 ms over the SDK's, 3 ms after)."""
    from inhouse_ui.server import _listen

    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
