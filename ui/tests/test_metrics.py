"""``GET /metrics`` of the served app (``build_app`` under uvicorn on loopback), scraped after
real requests through the API and parsed with prometheus_client's own text parser. Answers
come from the OpenAI-compatible emulator (profile ``echo``, scripted to fail once) with the
offline ``extractive`` answerer behind it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inhouse.keys import KeyStore
from inhouse.testing.emulators.openai_server import OpenAIServer
from support import write_config
from ui_support import serving

DOCS = {
    ".inhouse-acl": "public = true\n",
    "parking.md": "# Parking\n\nVisitors park on level -2 of the Rotterdam garage and register at the front desk.\n",
    "canteen.md": "# Canteen\n\nThe canteen closes at three on Fridays and serves soup on Mondays.\n",
}
PROVIDERS = """
[providers.echo]
use = "openai-compatible"
base_url = "{url}"
model = "test-model"
max_attempts = 1

[providers.extractive]
use = "extractive"

[routing]
default = ["echo", "extractive"]
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, OpenAIServer]]:
    """The app's URL, the assistant and the model emulator."""
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    folder = tmp_path_factory.mktemp("metrics")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    with OpenAIServer() as echo:
        config = write_config(folder, corpus, providers=PROVIDERS.format(url=echo.base_url))
        assistant = Assistant.from_config(config, home=folder / "home")
        assistant.ingest()
        with serving(build_app(assistant, {})) as url:
            yield url, assistant, echo
        assistant.close()


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` parsed: each sample's value by its name and labels."""
    response = httpx.get(url + "metrics", headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def failures(samples: dict[Any, float]) -> float:
    """Echo's attempts that did not end ok, whatever their error code."""
    return sum(
        v for (name, labels), v in samples.items()
        if name == "inhouse_provider_attempts_total" and ("profile", "echo") in labels and ("outcome", "ok") not in labels
    )  # fmt: skip


def test_metrics_count_requests_stages_fallbacks_abstentions_tokens_and_cost(served: Any) -> None:
    url, _, echo = served
    before = scrape(url)
    with httpx.Client(base_url=url + "v1", timeout=120) as api:
        echo.script(["server-error"])  # the first answer falls back to extractive
        first = api.post("/ask", json={"question": "Where do visitors park?"}).json()
        second = api.post("/ask", json={"question": "When does the canteen close?"}).json()
        off_topic = api.post("/ask", json={"question": "What is the boiling point of tungsten in kelvin?"}).json()
    assert first["provider"] == "extractive" and first["route"]["fallback"], first
    assert second["provider"] == "echo" and not second["abstained"], second
    assert off_topic["abstained"], off_topic
    after = scrape(url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("inhouse_http_requests_total", path="/v1/ask", status="200") == 3
    assert grew("inhouse_http_request_duration_seconds_count", path="/v1/ask") == 3
    assert grew("inhouse_answers_total", use_case="default") == 3
    assert grew("inhouse_fallbacks_total", use_case="default") == 1
    assert grew("inhouse_abstentions_total", use_case="default") >= 1
    assert grew("inhouse_provider_attempts_total", profile="echo", outcome="ok") == 1
    assert failures(after) - failures(before) == 1
    assert grew("inhouse_tokens_total", profile="echo", direction="input") > 0
    assert grew("inhouse_tokens_total", profile="echo", direction="output") > 0
    for stage in ("understand", "retrieve", "gate", "answer"):
        assert grew("inhouse_stage_duration_seconds_count", stage=stage) == 3, stage
    assert grew("inhouse_stage_duration_seconds_count", stage="provider") == 3  # echo failed, extractive, echo
    assert grew("inhouse_stage_duration_seconds_sum", stage="answer") > 0
    assert ("inhouse_cost_usd_total", (("profile", "echo"),)) in after


def test_metrics_are_guarded_like_the_api(served: Any) -> None:
    url, assistant, _ = served
    scrape(url)  # no key exists: a client on this machine may read them
    relayed = httpx.get(url + "metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 403 and relayed.json()["error"]["code"] == "loopback_only"
    keys = KeyStore(Path(assistant.home))
    record, key = keys.create("ops")
    try:
        refused = httpx.get(url + "metrics")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        samples = scrape(url, {"Authorization": f"Bearer {key}"})
        assert value(samples, "inhouse_http_requests_total", path="/metrics", status="401") >= 1
    finally:
        keys.revoke(record.id)


def test_readyz_wants_the_models_loaded_and_the_store_answering(tmp_path: Path) -> None:
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    (tmp_path / "corpus").mkdir()
    assistant = Assistant.from_config(write_config(tmp_path, tmp_path / "corpus"), home=tmp_path / "home")
    app = build_app(assistant, {})
    with serving(app) as url:
        assert httpx.get(url + "readyz").status_code == 503  # not warmed up yet
        app.state.warm = True
        assert httpx.get(url + "readyz").json() == {"status": "ready"}
        assistant.store.close()  # its database closed: the store no longer answers
        response = httpx.get(url + "readyz")
        assert response.status_code == 503 and response.json() == {"status": "store unreachable"}
        assert response.headers["Retry-After"] == "5"
    assistant.close()
