"""The Bedrock emulator as a separate process (``python -m inhouse.testing.emulators.bedrock``), driven
through its ``/_emulator/*`` control endpoints."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bedrockkit import CLAUDE, make_client, user
from inhouse.testing.emulators.bedrock_media import png

TESTS = Path(__file__).resolve().parent


def control(url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    """Call a control endpoint: POST ``payload`` as JSON, or GET when it is None."""
    data = None if payload is None else json.dumps(payload).encode()
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data), timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.timeout(60)
def test_subprocess_mode_with_control_endpoints() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "inhouse.testing.emulators.bedrock", "--port", "0"], cwd=TESTS, stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        client = make_client(url)
        image = {"image": {"format": "png", "source": {"bytes": png(8, 8, (1, 2, 3))}}}
        messages = [{"role": "user", "content": [{"text": "look"}, image]}]
        assert client.converse(modelId=CLAUDE, messages=messages)["output"]["message"]["content"][0]["text"] == "You said: look"
        assert control(url, "/_emulator/script", {"outcomes": ["throttle"], "model": CLAUDE}) == {"ok": True}
        with pytest.raises(ClientError, match="ThrottlingException"):
            client.converse(modelId=CLAUDE, messages=user("again"))
        control(url, "/_emulator/reply", {"text": "Remote reply."})
        assert client.converse(modelId=CLAUDE, messages=user("x"))["output"]["message"]["content"][0]["text"] == "Remote reply."
        records = control(url, "/_emulator/requests")
        assert [(record["operation"], record["status"], record["outcome"]) for record in records] == [
            ("Converse", 200, "ok"),
            ("Converse", 429, "throttle"),
            ("Converse", 200, "ok"),
        ]
        assert records[0]["params"]["messages"][0]["content"][1]["image"]["source"]["bytes"] == {
            "omitted_bytes": len(png(8, 8, (1, 2, 3)))
        }
        assert records[0]["started_at"] <= records[0]["first_byte_at"]
        control(url, "/_emulator/faults", {"throttle": 1.0})
        with pytest.raises(ClientError, match="ThrottlingException"):
            client.converse(modelId=CLAUDE, messages=user("x"))
        control(url, "/_emulator/reset", {})
        assert control(url, "/_emulator/requests") == [] and control(url, "/_emulator/invalid") == []
        with pytest.raises(urllib.error.HTTPError) as raised:
            control(url, "/_emulator/faults", {"throttle": 2.0})
        assert raised.value.code == 400
    finally:
        process.kill()
        process.wait()
