"""Helpers the UI tests share (``conftest.py`` holds the fixtures): a server in a thread, the
browser helpers (sign in, ask, screenshots), the HTTP side of the Gradio page (signing in
with a ``TestClient``, running one of the page's events the way its frontend does), and for
the HTTP API an assistant in a data folder of its own (its own API keys), served.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import REPO, write_config

CHROMIUM = os.environ.get("INHOUSE_TEST_CHROMIUM", "/usr/bin/chromium")  # never `playwright install`
ARTIFACTS = REPO / "tests" / "artifacts" / "ui"
USERS = {"ana": "ana-pw", "bob": "bob-pw", "cleo": "cleo-pw", "dev": "dev-pw", "erin": "erin-pw", "fay": "fay-pw"}
ANSWER_MS = 90_000  # ms: the longest a local answer may take on a slow 2-core machine
BOT = '#chat [data-testid="bot"]'


def password_users(users: dict[str, str] = USERS) -> dict[str, Any]:
    """A ``[ui]`` table signing these users in with their passwords."""
    return {"users": [{"name": n, "password": p} for n, p in users.items()]}


def doc_id(assistant: Any, name: str) -> str:
    """The id of the one stored document whose source ends with ``name``."""
    [found] = [d.id for d in assistant.store.documents().values() if d.source.endswith(name)]
    return found


# ------------------------------------------------------------------------------------ server


@dataclass
class Server:
    """A running app: its address, the assistant behind it, and the questions the page asked."""

    url: str
    assistant: Any
    app: Any
    calls: list[dict[str, Any]]
    config: Path

    @property
    def page(self) -> Any:
        """The app's ``Page`` (its conversations, feedback and images)."""
        return self.app.state.page


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yields its URL (``/`` ended)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # so asyncio sets TCP_NODELAY
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------- browser


def sign_in_page(page: Any, url: str, user: str, password: str) -> None:
    """Open ``url`` (the sign-in page comes first), sign in, and wait for the chat page."""
    page.goto(url)
    page.get_by_label("Name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#question textarea").wait_for()
    page.locator("#header .who").wait_for()


def shot(page: Any, name: str, full_page: bool = False) -> None:
    """A screenshot in tests/artifacts/ui/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def ask(page: Any, question: str, *, keyboard: bool = True) -> Any:
    """Type ``question``, send it (Enter, or the Send button) and wait for the finished answer."""
    before = page.locator(BOT).count()
    box = page.locator("#question textarea")
    box.fill(question)
    if keyboard:
        box.press("Enter")
    else:
        page.locator("#send").click()
    answer = page.locator(BOT).nth(before)
    answer.locator(".answer-meta, .error").first.wait_for(timeout=ANSWER_MS)
    return answer


def watch_stream(page: Any) -> None:
    """Record each text the newest answer shows while it streams (``window.__snaps``)."""
    page.evaluate(
        """() => {
        const start = document.querySelectorAll('#chat [data-testid="bot"]').length;
        window.__snaps = [];
        new MutationObserver(() => {
            const bots = document.querySelectorAll('#chat [data-testid="bot"]');
            if (bots.length <= start) return;
            const text = bots[bots.length - 1].innerText;
            if (window.__snaps[window.__snaps.length - 1] !== text) window.__snaps.push(text);
        }).observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true});
    }"""
    )


# ---------------------------------------------------------------------- the page over HTTP


def sign_in_client(client: Any, user: str, password: str) -> Any:
    """``POST /login`` with a ``TestClient`` (the cookie stays in the client); the response."""
    return client.post("/login", data={"name": user, "password": password}, follow_redirects=False)


def run_event(client: Any, elem_id: str, event: str, data: list[Any], session: str) -> list[Any]:
    """Run the handler of ``event`` on the component ``elem_id`` as Gradio's frontend does
    (``/config``, ``queue/join``, the ``queue/data`` event stream); its final outputs.
    Raises AssertionError with Gradio's answer when the event is refused or fails."""
    config = client.get("/config")
    assert config.status_code == 200, config.text
    components = config.json()["components"]
    [component] = [c for c in components if c.get("props", {}).get("elem_id") == elem_id]
    [dependency] = [d for d in config.json()["dependencies"] if [component["id"], event] in [list(t) for t in d["targets"]]]
    body = {
        "data": data,
        "fn_index": dependency["id"],
        "trigger_id": component["id"],
        "session_hash": session,
        "event_data": None,
    }
    joined = client.post("/gradio_api/queue/join", json=body)
    assert joined.status_code == 200, joined.text
    output: list[Any] | None = None
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}") as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[len("data:") :])
            assert message.get("msg") != "unexpected_error", message
            if message.get("msg") == "process_completed":
                assert message.get("success", True), message
                output = message["output"]["data"]
            if message.get("msg") == "close_stream":
                break
    assert output is not None, "the event did not complete"
    return output


def upload(client: Any, name: str, content: bytes) -> dict[str, Any]:
    """Upload one file through Gradio's ``/gradio_api/upload``; the ``FileData`` of an event."""
    response = client.post("/gradio_api/upload", files=[("files", (name, content, "application/octet-stream"))])
    assert response.status_code == 200, response.text
    [path] = response.json()
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


# ------------------------------------------------------------------------------ the HTTP API

API_CORPUS = {
    "parking.md": "# Parking\n\nVisitors park on level -2 of the Rotterdam garage.\n",
    "canteen.md": "# Canteen\n\nThe canteen closes at three on Fridays.\n",
}
API_ANA_ONLY = {"salary-ana.md": "# Ana's salary review\n\nAna's review with the manager is booked for the 14th of March.\n"}
API_USERS = '[users.ana]\ngroups = ["staff"]\n\n[users.bob]\ngroups = ["staff"]\n'


def api_assistant(folder: Path, model_url: str, extra: str = "") -> Any:
    """An assistant on ``API_CORPUS`` (everyone) and ``API_ANA_ONLY`` (``user:ana``), answering with the
    OpenAI-compatible server at ``model_url`` (profile ``echo``); ``extra`` adds TOML tables."""
    from inhouse import Assistant

    corpus, personal = folder / "corpus", folder / "ana"
    for where, files in ((corpus, API_CORPUS), (personal, API_ANA_ONLY)):
        where.mkdir(parents=True)
        for name, text in files.items():
            (where / name).write_text(text, encoding="utf-8")
    providers = f'[providers.echo]\nuse = "openai-compatible"\nbase_url = "{model_url}"\nmodel = "test-model"\n\n'
    providers += '[routing]\ndefault = ["echo"]\n'
    config = write_config(folder, corpus, providers=providers, extra=API_USERS + extra)
    assistant = Assistant.from_config(config, home=folder / "home")
    for report in (assistant.ingest(), assistant.ingest(personal, acl=["user:ana"])):
        assert not report.failed and not report.skipped, report
    return assistant


@contextmanager
def served(assistant: Any, ui: dict[str, Any] | None = None) -> Iterator[tuple[Any, str]]:
    """The app of ``assistant`` (``[ui]`` table ``ui``: anonymous visitors by default) on a free
    loopback port; yields the app and the API's base URL (``.../v1``)."""
    from inhouse_ui.server import build_app

    app = build_app(assistant, ui or {})
    with serving(app) as url:
        yield app, url + "v1"
