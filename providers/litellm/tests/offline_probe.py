"""Run by test_litellm_offline.py in a fresh interpreter: records every socket connection and
name lookup (``sys.addaudithook``), refusing any that is not for loopback (so nothing leaves
the machine even where there is a network), while the ``litellm`` provider is imported, loads LiteLLM
and answers through the Bedrock emulator and the OpenAI-compatible server, streamed and not;
prints what it saw as one JSON object.

    python offline_probe.py            # through inhouse_litellm
    python offline_probe.py --bare     # only `import litellm`, without the plugin's settings
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SEEN: list[str] = []


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def audit(event: str, args: tuple[Any, ...]) -> None:
    """Note the destination of each ``connect`` and the host of each name lookup; refuse the others."""
    if event == "socket.connect" and isinstance(args[1], tuple):
        kind, host = "connect", str(args[1][0])
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        kind, host = "lookup", str(args[0])
    else:
        return
    SEEN.append(f"{kind} {host}")
    if host not in LOOPBACK:
        raise OSError(f"offline probe: {kind} of {host} refused")


def main() -> None:
    """Probe, then print ``{"seen": [...], ...}``."""
    sys.addaudithook(audit)
    if "--bare" in sys.argv:
        import litellm  # noqa: F401

        print(json.dumps({"seen": SEEN}))
        return
    import inhouse_litellm  # noqa: F401
    from inhouse import registry
    from inhouse.testing.emulators import PROMPT
    from inhouse.testing.emulators.bedrock import BedrockEmulator
    from inhouse.testing.emulators.openai_server import OpenAIServer

    imported_on_load = "litellm" in sys.modules
    home = Path(sys.argv[1])
    texts, statuses = [], []
    with BedrockEmulator() as bedrock, OpenAIServer() as oai:
        profiles = [
            {"model": "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "api_base": bedrock.endpoint_url},
            {"model": "openai/test-model", "api_base": oai.base_url, "api_key": "sk-test"},
        ]
        for profile in profiles:
            for stream in (True, False):
                spec = {"use": "litellm", "stream": stream, "params": {"aws_region_name": "us-east-1"}, **profile}
                if profile["model"].startswith("openai/"):
                    spec.pop("params")
                provider = registry.build("providers", spec, "providers.probe", home=home, base_dir=home)
                provider.warm_up()
                texts.append("".join(i for i in provider.generate(PROMPT) if isinstance(i, str)))
                statuses.append(provider.check())
                provider.count_tokens("How many days of annual leave do staff get?")
                provider.price()
    print(json.dumps({"seen": SEEN, "imported_on_load": imported_on_load, "texts": texts, "checks": statuses}))


if __name__ == "__main__":
    main()
