"""End to end over the Bedrock emulator (finding 3 of the security review): after a Private
question, a follow-up in Auto sends neither the private turn to the default chain (Claude on
Bedrock) nor the private question to the remote embedder (Titan on Bedrock) through the
follow-up rewriting. The emulator records every request it receives, so "never sent" is
measured on the wire. No model is loaded: the embedder and Claude are the emulator's, the
private model is the extractive answerer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inhouse import Assistant
from inhouse.testing.emulators.bedrock import BedrockEmulator
from support import EXAMPLES, write_config

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PRIVATE_QUESTION = "How many vacation days do I get while on my oncology treatment leave?"
FOLLOW_UP = "and for contractors?"


@pytest.fixture(scope="module")
def bedrock():
    with BedrockEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, bedrock: BedrockEmulator):
    """Titan embeddings and Claude on the emulator (in-account), the extractive answerer for
    Private; the gate and the support check off, so the follow-up always reaches Claude."""
    folder = tmp_path_factory.mktemp("policy")
    corpus = folder / "docs"
    shutil.copytree(EXAMPLES / "people", corpus / "people")
    aws = f'region = "us-east-1"\nendpoint_url = "{bedrock.endpoint_url}"\nbackoff_base = 0.001'
    providers = f"""
[providers.claude]
use = "bedrock"
model = "{CLAUDE}"
{aws}

[providers.extractive]
use = "extractive"

[routing]
default = ["claude", "extractive"]
private = ["claude", "extractive"]
"""
    extra = "[retrieval]\nmin_similarity = -1.0\n[answer]\nmin_support = 0.0\n"
    path = write_config(folder, corpus, extra=extra, providers=providers)
    path.write_text(
        path.read_text().replace('[embedder]\nuse = "minilm"', f'[embedder]\nuse = "bedrock-embed"\n{aws}'), encoding="utf-8"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTING")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_CONFIG_FILE", str(folder / "no-config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-credentials"))
        a = Assistant.from_config(path, home=folder / "home")
        assert not a.ingest().failed
        yield a
        a.close()


@pytest.fixture(autouse=True)
def clean(aws_credentials: None, bedrock: BedrockEmulator):
    bedrock.reset()
    yield
    assert not bedrock.invalid


def private_exchange(remote: Assistant, bedrock: BedrockEmulator) -> list[dict[str, str]]:
    """A Private question answered locally, as the chat keeps it: each turn with its residency."""
    answer = remote.ask(PRIVATE_QUESTION, mode="private")
    assert answer.provider == "extractive" and answer.route["residency"] == "local" and not answer.abstained
    assert bedrock.requests == [], "private mode reaches neither Claude nor the Titan embedder"
    turn = answer.route["history_residency"]
    assert turn == "local"
    return [
        {"role": "user", "content": PRIVATE_QUESTION, "residency": turn},
        {"role": "assistant", "content": answer.text, "residency": turn},
    ]


def test_a_follow_up_in_auto_does_not_send_the_private_turn_to_claude(remote: Assistant, bedrock: BedrockEmulator) -> None:
    history = private_exchange(remote, bedrock)
    answer = remote.ask(FOLLOW_UP, history=history)
    assert answer.provider == "claude"
    [converse] = [r for r in bedrock.requests if r.model_id == CLAUDE]
    assert [m["content"][0]["text"] for m in converse.params["messages"]] == [FOLLOW_UP]
    sent = json.dumps(converse.to_json())
    assert "oncology" not in sent and history[1]["content"] not in sent
    assert any("earlier turns" in note for note in answer.route["policy"]["notes"])


def test_the_follow_up_rewriting_does_not_send_the_private_question_to_the_remote_embedder(
    remote: Assistant, bedrock: BedrockEmulator
) -> None:
    history = private_exchange(remote, bedrock)
    answer = remote.ask(FOLLOW_UP, history=history)
    embeds = [r for r in bedrock.requests if r.model_id != CLAUDE]
    assert embeds, "the follow-up was embedded by Titan"
    assert all("oncology" not in json.dumps(r.to_json()) for r in embeds)
    assert "search_query" not in answer.route, "searched as asked"


def test_an_auto_turn_is_still_history_for_the_next_auto_question(remote: Assistant, bedrock: BedrockEmulator) -> None:
    first = remote.ask("How many vacation days do I get?")
    assert first.route["history_residency"] == "in-account"
    history = [
        {"role": "user", "content": "How many vacation days do I get?", "residency": "in-account"},
        {"role": "assistant", "content": first.text, "residency": "in-account"},
    ]
    bedrock.reset()
    remote.ask(FOLLOW_UP, history=history)
    [converse] = [r for r in bedrock.requests if r.model_id == CLAUDE]
    assert len(converse.params["messages"]) == 3
    embeds = [json.dumps(r.to_json()) for r in bedrock.requests if r.model_id != CLAUDE]
    assert any("How many vacation days do I get? and for contractors?" in e for e in embeds)


def test_restricted_text_is_never_embedded_by_a_remote_embedder(tmp_path, remote: Assistant, bedrock: BedrockEmulator) -> None:
    """Ingestion keeps the policy too: a restricted file is indexed for its words only, and
    Titan (in-account) never receives its text."""
    corpus = tmp_path / "docs"
    (corpus / "board").mkdir(parents=True)
    (corpus / "board" / ".inhouse-acl").write_text('public = true\nlabel = "restricted"\n', encoding="utf-8")
    (corpus / "board" / "merger.md").write_text("# Merger\n\nProject Bluefin acquires Contoso for 40 million.\n")
    (corpus / "canteen.md").write_text("# Canteen\n\nThe canteen opens at eight.\n")
    same = Path(remote.settings.source).read_text(encoding="utf-8")  # the same providers and embedder, another folder
    text = same.replace(str(remote.settings.connectors["docs"]["path"]), str(corpus))
    (tmp_path / "plugins.toml").write_text(text, encoding="utf-8")
    with Assistant.from_config(tmp_path / "plugins.toml", home=tmp_path / "home") as fresh:
        report = fresh.ingest()
        assert report.added == 2 and report.not_embedded == 1 and not report.failed
        sent = json.dumps([r.to_json() for r in bedrock.requests])
        assert "Canteen" in sent and "Bluefin" not in sent
        [hit] = fresh.search("Project Bluefin merger", k=1, mode="bm25")
        assert hit.chunk.source == "board/merger.md"
