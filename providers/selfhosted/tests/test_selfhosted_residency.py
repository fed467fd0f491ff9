"""A self-hosted profile's residency is judged from its server's address, or declared, and the
instance reports it (the router and ``inhouse plugins`` read the instance)."""

from __future__ import annotations

import pytest

from inhouse_selfhosted.openai import OpenAICompatibleProvider
from inhouse_selfhosted.residency import judge
from inhouse_selfhosted.tgi import TGIProvider


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", "self-hosted"),
        ("http://localhost:8000/v1", "self-hosted"),
        ("http://[::1]:8000/v1", "self-hosted"),
        ("http://10.1.2.3:8080", "self-hosted"),
        ("http://192.168.0.7", "self-hosted"),
        ("http://[fd00::7]:80", "self-hosted"),
        ("http://tgi:8080", "self-hosted"),
        ("http://tgi.internal:8080", "self-hosted"),
        ("https://llm.corp/v1", "self-hosted"),
        ("https://api.openai.com/v1", "external"),
        ("https://api.together.xyz/v1", "external"),
        ("http://8.8.8.8:8080", "external"),
        ("https://my-endpoint.endpoints.huggingface.cloud", "external"),
    ],
)
def test_the_address_decides_when_nothing_is_declared(url: str, expected: str) -> None:
    residency, why = judge(url, None)
    assert residency == expected and why


def test_a_declared_residency_wins_and_says_so() -> None:
    residency, why = judge("https://llm.example.com/v1", "self-hosted")
    assert residency == "self-hosted" and "declared" in why


def test_an_openai_compatible_profile_on_a_public_address_is_external() -> None:
    provider = OpenAICompatibleProvider(OpenAICompatibleProvider.Config(base_url="https://api.openai.com/v1", model="gpt"))
    assert provider.residency == "external" and "api.openai.com" in provider.residency_note
    declared = OpenAICompatibleProvider.Config(base_url="https://vllm.example.com/v1", model="m", residency="self-hosted")
    assert OpenAICompatibleProvider(declared).residency == "self-hosted"


def test_a_tgi_profile_on_the_company_network_is_self_hosted() -> None:
    assert TGIProvider(TGIProvider.Config(url="http://10.0.0.5:8080")).residency == "self-hosted"
    assert TGIProvider(TGIProvider.Config(url="https://tgi.example.com")).residency == "external"
