"""The ``tgi`` and ``openai-compatible`` providers over the wire, against local TGI and
OpenAI-compatible servers (``inhouse.testing.emulators.tgi``, ``inhouse.testing.emulators.openai_server``)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from inhouse import registry
from inhouse.errors import ConfigError, InhouseError, ProviderError
from inhouse.plugins import Prompt
from inhouse.testing import ProviderTests
from inhouse.testing.emulators import ANSWER, PROMPT
from inhouse.testing.emulators.openai_server import OpenAIServer
from inhouse.testing.emulators.tgi import TGIEmulator
from inhouse.types import Usage
from inhouse_selfhosted.http import ServerError, json_events, reported_error
from support import texts


@pytest.fixture(scope="module")
def tgi():
    with TGIEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def oai():
    with OpenAIServer(models=("test-model", "other-model")) as emu:
        yield emu


@pytest.fixture(autouse=True)
def clean(tgi: TGIEmulator, oai: OpenAIServer):
    tgi.reset()
    oai.reset()


def build(use: str, **options):
    home = Path("/tmp")
    spec = {"use": use, "backoff_base": 0.001, **options}
    return registry.build("providers", spec, f"providers.{use}", home=home, base_dir=home)


def tgi_provider(emu: TGIEmulator, **options):
    return build("tgi", url=emu.endpoint_url, **options)


def openai_provider(emu: OpenAIServer, **options):
    return build("openai-compatible", base_url=emu.base_url, model=options.pop("model", "test-model"), **options)


def usage_of(items) -> Usage:
    usages = [i for i in items if isinstance(i, Usage)]
    assert len(usages) == 1 and isinstance(items[-1], Usage)
    return usages[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- openai-compatible ------------------------------------------------------------------------


def test_openai_request_carries_the_prompt_and_the_key(oai: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oai, "api_key", "sk-test")
    items = list(openai_provider(oai, api_key="sk-test").generate(PROMPT))
    assert texts(items) == ANSWER
    assert len([i for i in items if isinstance(i, str)]) == 8  # streamed word by word
    [req] = oai.requests
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.headers["Authorization"] == "Bearer sk-test"
    body = req.body
    assert body["model"] == "test-model"
    assert body["messages"][0]["role"] == "system" and "[1] (Leave > Annual leave)" in body["messages"][0]["content"]
    assert body["messages"][1:] == [{"role": "user", "content": "How many days of leave?"}]
    assert (body["max_tokens"], body["temperature"], body["stop"]) == (50, 0.0, ["\n\n\n"])
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    usage = usage_of(items)
    assert usage.output_tokens == 8 and usage.input_tokens > 20


def test_openai_sends_no_authorization_without_a_key_and_adds_headers(oai: OpenAIServer) -> None:
    list(openai_provider(oai, headers={"X-Team": "hr"}).generate(PROMPT))
    headers = oai.requests[0].headers
    assert "Authorization" not in headers and headers["X-Team"] == "hr"


def test_openai_refused_key_is_access_denied(oai: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oai, "api_key", "sk-right")
    with pytest.raises(ProviderError) as info:
        list(openai_provider(oai, api_key="sk-wrong").generate(PROMPT))
    assert info.value.code == "access-denied" and not info.value.retryable and "api_key" in str(info.value)
    assert len(oai.requests) == 1
    assert "sk-wrong" not in repr(openai_provider(oai, api_key="sk-wrong").config)


def test_openai_whole_answer_when_not_streaming(oai: OpenAIServer) -> None:
    items = list(openai_provider(oai, stream=False).generate(PROMPT))
    assert items[:-1] == [ANSWER]
    assert usage_of(items).output_tokens == 8
    body = oai.requests[0].body
    assert body["stream"] is False and "stream_options" not in body


def test_extra_body_is_merged_last(oai: OpenAIServer) -> None:
    items = list(openai_provider(oai, extra_body={"top_p": 0.9, "max_tokens": 3}).generate(PROMPT))
    assert texts(items) == "Staff get 25"
    body = oai.requests[0].body
    assert body["top_p"] == 0.9 and body["max_tokens"] == 3


def test_usage_is_estimated_when_the_server_reports_none(oai: OpenAIServer) -> None:
    items = list(openai_provider(oai, extra_body={"stream_options": {"include_usage": False}}).generate(PROMPT))
    usage = usage_of(items)
    assert usage.output_tokens == 8 and usage.input_tokens == len(PROMPT.system + PROMPT.messages[0]["content"]) // 4


def test_history_alternates_and_starts_with_the_user(oai: OpenAIServer) -> None:
    prompt = Prompt(
        system="s",
        messages=[
            {"role": "assistant", "content": "Hello, how can I help?"},
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "and then?"},
        ],
    )
    assert texts(openai_provider(oai).generate(prompt)) == "You said: and then?"
    sent = [(m["role"], m["content"]) for m in oai.requests[0].body["messages"]]
    assert sent == [("system", "s"), ("user", "first\n\nsecond"), ("assistant", "answer"), ("user", "and then?")]


@pytest.mark.parametrize(
    ("outcome", "code", "retryable", "attempts"),
    [
        ("throttle", "throttled", True, 3),
        ("server-error", "unavailable", True, 3),
        ("unavailable", "not-ready", True, 3),
        ("bad-request", "validation", False, 1),
        ("unauthorized", "access-denied", False, 1),
    ],
)
@pytest.mark.parametrize("in_stream", [False, True], ids=["http-status", "error-event"])
def test_openai_error_mapping_and_retries(
    oai: OpenAIServer, outcome: str, code: str, retryable: bool, attempts: int, in_stream: bool
) -> None:
    oai.errors_in_stream = in_stream
    oai.script([outcome] * 5)
    with pytest.raises(ProviderError) as info:
        list(openai_provider(oai).generate(PROMPT))
    assert (info.value.code, info.value.retryable) == (code, retryable)
    assert "broke off" not in str(info.value)
    assert len(oai.requests) == attempts


def test_retries_recover_before_the_first_token(oai: OpenAIServer) -> None:
    oai.script(["throttle", "server-error", "ok"])
    assert texts(openai_provider(oai).generate(PROMPT)) == ANSWER
    assert [r.outcome for r in oai.requests] == ["throttle", "server-error", "ok"]


def test_unknown_model_names_the_served_ones(oai: OpenAIServer) -> None:
    with pytest.raises(ProviderError) as info:
        list(openai_provider(oai, model="gpt-4").generate(PROMPT))
    assert info.value.code == "not-found" and not info.value.retryable
    assert "the server serves: test-model, other-model" in str(info.value)
    assert [r.path for r in oai.requests] == ["/v1/chat/completions", "/v1/models"]


def test_openai_mid_stream_error_is_raised_without_retry(oai: OpenAIServer) -> None:
    oai.script(["stream-error"])
    items: list = []
    with pytest.raises(ProviderError) as info:
        items.extend(openai_provider(oai).generate(PROMPT))
    assert items == ["Staff"]
    assert str(info.value).startswith("the answer broke off mid-stream: ") and "The engine died" in str(info.value)
    assert info.value.code == "unavailable" and info.value.retryable
    assert len(oai.requests) == 1


def test_read_timeout_is_a_retryable_timeout(oai: OpenAIServer) -> None:
    oai.slow_seconds = 0.5
    oai.script(["slow"])
    with pytest.raises(ProviderError) as info:
        list(openai_provider(oai, read_timeout=0.1, max_attempts=1).generate(PROMPT))
    assert info.value.code == "timeout" and info.value.retryable


def test_openai_check(oai: OpenAIServer) -> None:
    assert "ready" in openai_provider(oai).check()
    with pytest.raises(InhouseError, match=r"does not serve 'gpt-4'.*test-model, other-model"):
        openai_provider(oai, model="gpt-4").check()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inhouse test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "ca.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_with_a_private_ca(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with OpenAIServer(tls=tls) as emu:
        assert emu.base_url.startswith("https://")
        assert texts(openai_provider(emu, ca_bundle=str(cert)).generate(PROMPT)) == ANSWER
        with pytest.raises(ProviderError) as info:
            list(openai_provider(emu).generate(PROMPT))  # the system CAs do not know it
        assert info.value.code == "unavailable" and "set ca_bundle" in str(info.value)
        assert len(emu.requests) == 1  # not retried: it would fail the same way
    with pytest.raises(ConfigError, match="is not a file"):
        build("openai-compatible", base_url="https://llm.internal/v1", model="m", ca_bundle=str(tmp_path / "missing.pem"))


# --- cold servers -------------------------------------------------------------------------------


@pytest.mark.parametrize("use", ["tgi", "openai-compatible"])
def test_nothing_listening_is_retryable_and_quick(use: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    options = {"url": url} if use == "tgi" else {"base_url": f"{url}/v1", "model": "m"}
    provider = build(use, connect_timeout=0.2, max_attempts=2, **options)
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        list(provider.generate(PROMPT))
    assert time.perf_counter() - started < 2
    assert info.value.code == "unavailable" and info.value.retryable and "is the server running?" in str(info.value)
    with pytest.raises(InhouseError, match="is the server running"):
        provider.check()


# --- tgi: Messages API ---------------------------------------------------------------------------


def test_tgi_messages_api_sends_model_tgi_and_labels_with_model(tgi: TGIEmulator) -> None:
    provider = tgi_provider(tgi, model="falcon-7b-instruct", parameters={"top_p": 0.9})
    assert provider.model_id == "falcon-7b-instruct"
    items = list(provider.generate(PROMPT))
    assert texts(items) == ANSWER and usage_of(items).output_tokens == 8
    [req] = tgi.requests
    assert req.path == "/v1/chat/completions"
    assert req.body["model"] == "tgi" and req.body["top_p"] == 0.9 and req.body["stream"] is True
    assert "[1] (Leave > Annual leave)" in req.body["messages"][0]["content"]


# --- tgi: native generate ------------------------------------------------------------------------


def test_tgi_generate_request(tgi: TGIEmulator) -> None:
    provider = tgi_provider(tgi, api="generate", template="falcon")
    items = list(provider.generate(PROMPT))
    assert texts(items) == ANSWER  # the special </s> token is not text
    [req] = tgi.requests
    assert req.path == "/generate_stream"
    inputs = req.body["inputs"]
    assert inputs.startswith("System: Answer from the context.") and "[1] (Leave > Annual leave)\nStaff get" in inputs
    assert inputs.endswith("\nUser: How many days of leave?\nFalcon:")
    assert req.body["parameters"] == {
        "max_new_tokens": 50,
        "do_sample": False,  # greedy: TGI refuses temperature 0
        "return_full_text": False,
        "details": True,
        "stop": ["\nUser:", "\n\n\n"],
    }
    usage = usage_of(items)
    assert usage.output_tokens == 9  # 8 words and </s>, as TGI counts them
    assert usage.input_tokens == len(inputs.split())  # details.input_length


def test_tgi_generate_sampling_and_stop_limit(tgi: TGIEmulator) -> None:
    prompt = Prompt(system="s", messages=[{"role": "user", "content": "q"}], temperature=0.7, stop=["a1", "a2", "a3", "a4"])
    provider = tgi_provider(tgi, api="generate", template="chatml")
    list(provider.generate(prompt))
    body = tgi.requests[0].body
    assert body["inputs"] == "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    params = body["parameters"]
    assert params["do_sample"] is True and params["temperature"] == 0.7
    assert params["stop"] == ["<|im_end|>", "a1", "a2", "a3"]  # TGI takes four


def test_tgi_generate_cuts_the_stop_sequence_tgi_leaves_in(tgi: TGIEmulator) -> None:
    tgi.reply("Paris is nice.\nUser: and now")
    items = list(tgi_provider(tgi, api="generate", template="falcon").generate(PROMPT))
    assert texts(items) == "Paris is nice."
    assert usage_of(items).output_tokens == 4


def test_tgi_generate_custom_template(tgi: TGIEmulator) -> None:
    template = "### System\n{system}\n{history}\n### Question\n{question}\n### Answer\n"
    list(tgi_provider(tgi, api="generate", template=template).generate(PROMPT))
    inputs = tgi.requests[0].body["inputs"]
    assert inputs.startswith("### System\nAnswer from the context.") and inputs.endswith("How many days of leave?\n### Answer\n")


TGI_ERRORS = [
    ("overloaded", "throttled", True, 3),
    ("validation", "validation", False, 1),
    ("generation-error", "error", True, 1),
]


def test_the_tgi_emulator_answers_like_tgi(tgi: TGIEmulator) -> None:
    """What the provider relies on: TGI keeps the stop sequence in its text and counts </s>."""
    tgi.reply("Paris is nice.\nUser: and now")
    params = {"max_new_tokens": 20, "stop": ["\nUser:"], "details": True}
    answer = httpx.post(f"{tgi.endpoint_url}/generate", json={"inputs": "q", "parameters": params}).json()
    assert answer["generated_text"] == "Paris is nice.\nUser:"
    assert answer["details"]["finish_reason"] == "stop_sequence" and answer["details"]["generated_tokens"] == 4
    tgi.reply(None)
    answer = httpx.post(f"{tgi.endpoint_url}/generate", json={"inputs": "q", "parameters": {"details": True}}).json()
    assert answer["details"]["tokens"][-1] == {"id": 2, "text": "</s>", "logprob": -0.1, "special": True}
    refused = httpx.post(f"{tgi.endpoint_url}/generate", json={"inputs": "q", "parameters": {"temperature": 0}})
    assert refused.status_code == 422 and refused.json()["error_type"] == "validation"


@pytest.mark.parametrize(
    ("outcome", "code", "retryable", "attempts", "in_stream"),
    [
        *[(*case, False) for case in TGI_ERRORS],
        ("loading", "not-ready", True, 3, False),  # a proxy in front of TGI answers 503 while the model loads
        # TGI's router answers a streamed request 200, then sends the error as an event
        *[(*case, True) for case in TGI_ERRORS],
    ],
)
@pytest.mark.parametrize("api", ["generate", "messages"])
def test_tgi_error_mapping_and_retries(
    tgi: TGIEmulator, outcome: str, code: str, retryable: bool, attempts: int, in_stream: bool, api: str
) -> None:
    tgi.errors_in_stream = in_stream
    tgi.script([outcome] * 5)
    with pytest.raises(ProviderError) as info:
        list(tgi_provider(tgi, api=api).generate(PROMPT))
    assert (info.value.code, info.value.retryable) == (code, retryable)
    assert TGIEmulator.ERRORS[outcome][2] in str(info.value)
    assert len(tgi.requests) == attempts


def test_tgi_refuses_what_it_validates(tgi: TGIEmulator) -> None:
    provider = tgi_provider(tgi, api="generate", parameters={"max_new_tokens": 5000})
    with pytest.raises(ProviderError) as info:
        list(provider.generate(PROMPT))
    assert info.value.code == "validation" and "must be <= 2048" in str(info.value) and "input limit" in str(info.value)


@pytest.mark.parametrize("api", ["generate", "messages"])
def test_tgi_mid_stream_error(tgi: TGIEmulator, api: str) -> None:
    tgi.script(["stream-error"])
    items: list = []
    with pytest.raises(ProviderError) as info:
        items.extend(tgi_provider(tgi, api=api).generate(PROMPT))
    assert items == ["Staff"]
    assert str(info.value).startswith("the answer broke off mid-stream: ") and "the shard died" in str(info.value)
    assert len(tgi.requests) == 1


def test_tgi_check(tgi: TGIEmulator) -> None:
    status = tgi_provider(tgi).check()
    assert "tiiuae/falcon-7b-instruct" in status and "max_input_tokens 1024" in status and "max_total_tokens 2048" in status
    assert [r.path for r in tgi.requests] == ["/health", "/info"]
    tgi.ready = False
    with pytest.raises(InhouseError, match=r"503.*loading the model"):
        tgi_provider(tgi).check()


# --- plumbing -------------------------------------------------------------------------------------


def test_one_client_serves_threads_and_close_is_safe(tgi: TGIEmulator) -> None:
    provider = tgi_provider(tgi)
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(texts(provider.generate(PROMPT)))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [ANSWER] * 8
    provider.close()
    provider.close()
    assert texts(provider.generate(PROMPT)) == ANSWER  # a new client after close


def test_an_abandoned_stream_leaves_the_client_usable(oai: OpenAIServer) -> None:
    provider = openai_provider(oai)
    stream = provider.generate(PROMPT)
    assert next(stream) == "Staff"
    stream.close()
    assert texts(provider.generate(PROMPT)) == ANSWER


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "tgi:8080"}, "not an http"),
        ({"url": "http://tgi:8080", "template": "{system} {prompt}"}, "question"),
        ({"url": "http://tgi:8080", "api": "completions"}, "api"),
        ({"url": "http://tgi:8080", "read_timout": 3}, "read_timout"),
    ],
)
def test_tgi_config_is_validated(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build("tgi", **options)


@pytest.mark.parametrize(
    ("payload", "status", "kind"),
    [
        ({"error": "Model is overloaded", "error_type": "overloaded"}, None, "overloaded"),  # TGI
        ({"error": {"message": "Rate limited", "type": "requests", "code": "rate_limit_exceeded"}}, None, "requests"),
        ({"object": "error", "message": "Rate limited", "type": "RateLimitError", "code": 429}, 429, "RateLimitError"),
    ],
)
def test_error_bodies_of_each_server_family(payload: dict, status: int | None, kind: str) -> None:
    error = reported_error(payload)
    assert error is not None and (error.status, error.kind) == (status, kind)
    assert str(error) in ("Model is overloaded", "Rate limited")
    assert reported_error({"choices": []}) is None


def test_event_stream_errors_and_done() -> None:
    ok = httpx.Response(200, content=b'data: {"a": 1}\n\ndata: [DONE]\n\ndata: {"after": "done"}\n\n')
    assert list(json_events(ok)) == [{"a": 1}]
    named = httpx.Response(200, content=b'data: {"a": 1}\n\nevent: error\ndata: shard lost\n\n')
    with pytest.raises(ServerError, match="shard lost"):
        list(json_events(named))
    for garbage in (b"data: <html>\n\n", b"data: 42\n\n"):
        with pytest.raises(ValueError):
            list(json_events(httpx.Response(200, content=garbage)))


# --- conformance -----------------------------------------------------------------------------------


class TestTGIMessagesConformance(ProviderTests):
    @pytest.fixture
    def provider(self, tgi: TGIEmulator):
        return tgi_provider(tgi)


class TestTGIGenerateConformance(ProviderTests):
    @pytest.fixture
    def provider(self, tgi: TGIEmulator):
        return tgi_provider(tgi, api="generate", template="falcon")


class TestOpenAICompatibleConformance(ProviderTests):
    @pytest.fixture
    def provider(self, oai: OpenAIServer):
        return openai_provider(oai)
