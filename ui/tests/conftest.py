"""Fixtures of the UI tests.

- ``tiny``: a real ``Assistant`` on a four-file corpus (hybrid retrieval, MiniLM loaded once per
  session, answers from the OpenAI-compatible emulator), for the fast ``TestClient`` tests.
- ``server``, ``browser``, ``sign_in``: the chat page served by uvicorn on the sample corpus:
  quoted answers by default (the ``extractive`` answerer), the local chat model in the
  Generative mode, the Bedrock emulator for images; and headless Chromium.

Browser tests (marked ``browser``) need Playwright and Chromium (/usr/bin/chromium, or
``INHOUSE_TEST_CHROMIUM``). Without them they FAIL, saying how to install them, before any
server starts; ``INHOUSE_SKIP_BROWSER=1`` skips them instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inhouse.testing.emulators.bedrock import BedrockEmulator
from inhouse.testing.emulators.openai_server import OpenAIServer
from support import EXAMPLES, write_config
from ui_support import CHROMIUM, USERS, Server, password_users, serving, sign_in_client, sign_in_page

SKIP_BROWSER = "INHOUSE_SKIP_BROWSER"
TINY_FILES = {
    "parking.md": "# Parking\n\nVisitors park on level -2 of the Rotterdam garage.\n",
    "notice.html": "<html><head><title>Notice</title></head><body><h1>Notice</h1>"
    "<p>The canteen closes at three on Fridays.</p><script>document.title = 'ran'</script></body></html>",
    "café menu.md": "# Café menu\n\nThe café serves stroopwafels on Wednesdays.\n",
}
PERSONAL = {"salary-ana.md": "# Ana's salary review\n\nAna's review with the manager is booked for the 14th of March.\n"}


def browser_missing() -> str | None:
    """Why the browser tests cannot run on this machine, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: pip install -e 'ui[test]'"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM}: install it with `apt-get install chromium` (or set INHOUSE_TEST_CHROMIUM)"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail (or, with INHOUSE_SKIP_BROWSER=1, skip) a browser test that cannot run, before its fixtures."""
    if item.get_closest_marker("browser") is None:
        return
    missing = browser_missing()
    if missing is None:
        return
    if os.environ.get(SKIP_BROWSER) == "1":
        pytest.skip(f"{SKIP_BROWSER}=1: browser tests skipped ({missing})")
    pytest.fail(f"{missing}; or set {SKIP_BROWSER}=1 to skip the browser tests", pytrace=False)


# ------------------------------------------------------------------ the tiny assistant


@pytest.fixture(scope="session")
def echo_model() -> Iterator[OpenAIServer]:
    """An OpenAI-compatible server that answers with the first sentence of passage [1]."""
    with OpenAIServer() as emu:
        yield emu


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, echo_model: OpenAIServer) -> Iterator[Any]:
    """A real assistant: ``TINY_FILES`` for everyone, ``PERSONAL`` ingested with ``acl = ["user:ana"]``."""
    from inhouse import Assistant

    folder = tmp_path_factory.mktemp("tiny")
    corpus, personal = folder / "corpus", folder / "ana"
    for where, files in ((corpus, TINY_FILES), (personal, PERSONAL)):
        where.mkdir()
        for name, text in files.items():
            (where / name).write_text(text, encoding="utf-8")
    providers = f"""
[providers.echo]
use = "openai-compatible"
base_url = "{echo_model.base_url}"
model = "test-model"

[routing]
default = ["echo"]
"""
    # Hybrid retrieval, as configured by default: the evidence gate's support needs the dense
    # similarity, and with [retrieval] mode = "bm25" it abstains on every question (support ~0.06).
    config = write_config(folder, corpus, providers=providers)
    assistant = Assistant.from_config(config, home=folder / "home")
    for report in (assistant.ingest(), assistant.ingest(personal, acl=["user:ana"])):
        assert not report.failed and not report.skipped, report
    yield assistant
    assistant.close()


# ---------------------------------------------------------------- the page in a browser


@pytest.fixture(scope="session")
def emulator() -> Iterator[BedrockEmulator]:
    """The Bedrock emulator (the image model)."""
    with BedrockEmulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, emulator: BedrockEmulator) -> Iterator[Server]:
    """The page with password sign-in for ``USERS``, on the sample corpus; ``calls`` records
    what the page passes to ``Assistant.stream``. Default answers quote the documents
    (``extractive``); the Generative mode has the local chat model write its own."""
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    folder = tmp_path_factory.mktemp("ui")
    providers = f"""
[providers.extractive]
use = "extractive"

[providers.local]
use = "local"

[providers.stability]
use = "bedrock-image"
endpoint_url = "{emulator.endpoint_url}"
region = "us-east-1"

[routing]
default = ["extractive"]
generative = ["local"]
image = ["stability"]
private = ["extractive"]
"""
    config = write_config(folder, EXAMPLES, providers=providers, extra="[answer]\nmax_tokens = 60\n")
    assistant = Assistant.from_config(config, home=folder / "home")
    report = assistant.ingest()
    assert not report.failed, report.failed
    assistant.warm_up()
    assistant.warm_up("generative")
    calls: list[dict[str, Any]] = []
    stream = assistant.stream

    def spy(question: str, **kwargs: Any) -> Any:
        """Record the call, then answer."""
        calls.append({"question": question, **kwargs})
        return stream(question, **kwargs)

    assistant.stream = spy
    app = build_app(assistant, password_users())
    with serving(app) as url:
        yield Server(url, assistant, app, calls, config)
    assistant.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def sign_in(browser: Any, server: Server) -> Iterator[Callable[..., Any]]:
    """``sign_in("ana")`` -> a page of a fresh browser context, signed in as ana."""
    contexts = []

    def open_page(user: str, width: int = 1280, height: int = 900) -> Any:
        """A new browser context of this size, signed in as ``user``."""
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        sign_in_page(page, server.url, user, USERS[user])
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def as_user(app: Any) -> Any:
    """``as_user("ana")``: a TestClient of the test module's ``app`` (lifespan running: Gradio's
    queue) signed in as ana."""
    with ExitStack() as stack:

        def client(user: str) -> TestClient:
            c = stack.enter_context(TestClient(app))
            assert sign_in_client(c, user, USERS[user]).status_code == 303
            return c

        yield client
