"""Bedrock's list prices belong to this package: each plugin prices its own model, and the
configuration's ``[prices]`` wins over them."""

from __future__ import annotations

import pytest

from inhouse.ledger import PriceTable
from inhouse.plugins import Price
from inhouse.types import Usage
from inhouse_bedrock.aws import model_price
from inhouse_bedrock.chat import BedrockChat
from inhouse_bedrock.embed import BedrockEmbedder

SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"


@pytest.mark.parametrize(
    "model",
    [SONNET, f"us.{SONNET}", f"eu.{SONNET}", f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{SONNET}"],
)
def test_an_inference_profile_or_arn_takes_the_price_of_the_model_it_names(model: str) -> None:
    assert model_price(model) == Price(input=3.0, output=15.0)


def test_each_plugin_prices_its_own_model_and_unknown_models_are_unpriced() -> None:
    assert BedrockChat(BedrockChat.Config(model="ai21.jamba-1-5-large-v1:0")).price() == Price(input=2.0, output=8.0)
    assert BedrockEmbedder(BedrockEmbedder.Config(model="amazon.titan-embed-text-v2:0")).price() == Price(input=0.02)
    assert BedrockChat(BedrockChat.Config(model="vendor.unknown-model-v9:0")).price() is None


def test_the_configuration_overrides_the_list_price() -> None:
    chat = BedrockChat(BedrockChat.Config(model=SONNET))
    usage = Usage(input_tokens=1000, output_tokens=2000)
    assert PriceTable().cost(chat, SONNET, usage) == pytest.approx(0.033)
    assert PriceTable({SONNET: Price(input=1.0, output=1.0)}).cost(chat, SONNET, usage) == pytest.approx(0.003)
    assert PriceTable().cost(BedrockChat(BedrockChat.Config(model="vendor.x-v1:0")), "vendor.x-v1:0", usage) is None
