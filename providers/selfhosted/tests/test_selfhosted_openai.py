"""The ``openai-compatible`` provider over the wire, against a local OpenAI-compatible server
(``inhouse.testing.emulators.openai_server``)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest

from inhouse.errors import ConfigError, InhouseError, ProviderError
from inhouse.plugins import Prompt
from inhouse.testing import ProviderTests
from inhouse.testing.emulators import ANSWER, PROMPT
from inhouse.testing.emulators.openai_server import OpenAIServer
from selfhostedkit import build, usage_of
from support import texts


@pytest.fixture(scope="module")
def oai():
    """One OpenAI-compatible server for the module, serving two models."""
    with OpenAIServer(models=("test-model", "other-model")) as emu:
        yield emu


@pytest.fixture(autouse=True)
def clean(oai: OpenAIServer):
    """Each test starts from a reset server."""
    oai.reset()


def openai_provider(emu: OpenAIServer, **options):
    """An ``openai-compatible`` provider of ``emu`` (model ``test-model`` unless ``options`` name another)."""
    return build("openai-compatible", base_url=emu.base_url, model=options.pop("model", "test-model"), **options)


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


def test_an_abandoned_stream_leaves_the_client_usable(oai: OpenAIServer) -> None:
    provider = openai_provider(oai)
    stream = provider.generate(PROMPT)
    assert next(stream) == "Staff"
    stream.close()
    assert texts(provider.generate(PROMPT)) == ANSWER


# --- conformance -----------------------------------------------------------------------------------


class TestOpenAICompatibleConformance(ProviderTests):
    @pytest.fixture
    def provider(self, oai: OpenAIServer):
        return openai_provider(oai)
