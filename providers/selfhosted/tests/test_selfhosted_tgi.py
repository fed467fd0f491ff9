"""The ``tgi`` provider over the wire, against a local TGI server (``inhouse.testing.emulators.tgi``):
the Messages API and TGI's native ``/generate_stream``."""

from __future__ import annotations

import threading

import httpx
import pytest

from inhouse.errors import ConfigError, InhouseError, ProviderError
from inhouse.plugins import Prompt
from inhouse.testing import ProviderTests
from inhouse.testing.emulators import ANSWER, PROMPT
from inhouse.testing.emulators.tgi import TGIEmulator
from selfhostedkit import build, usage_of
from support import texts


@pytest.fixture(scope="module")
def tgi():
    """One TGI server for the module."""
    with TGIEmulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def clean(tgi: TGIEmulator):
    """Each test starts from a reset server."""
    tgi.reset()


def tgi_provider(emu: TGIEmulator, **options):
    """A ``tgi`` provider of ``emu``."""
    return build("tgi", url=emu.endpoint_url, **options)


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


# --- conformance -----------------------------------------------------------------------------------


class TestTGIMessagesConformance(ProviderTests):
    @pytest.fixture
    def provider(self, tgi: TGIEmulator):
        return tgi_provider(tgi)


class TestTGIGenerateConformance(ProviderTests):
    @pytest.fixture
    def provider(self, tgi: TGIEmulator):
        return tgi_provider(tgi, api="generate", template="falcon")
