"""Local, wire-exact emulators of the services model plugins talk to, for tests on loopback.

Each emulator is a real HTTP server on ``127.0.0.1`` that the real client library reaches
through its endpoint setting, so a plugin is tested through the same code path as in
production, never by patching its internals:

=====================================  ==============================================================
``bedrock.BedrockEmulator``            Amazon Bedrock Runtime (Converse, ConverseStream, InvokeModel,
                                       InvokeModelWithResponseStream), for boto3's ``bedrock-runtime``
``sagemaker.SageMakerEmulator``        SageMaker Runtime endpoints running the TGI container
``tgi.TGIEmulator``                    Hugging Face TGI (``/generate_stream``, the Messages API)
``openai_server.OpenAIServer``         any OpenAI-compatible chat-completions server (vLLM, llama.cpp)
=====================================  ==============================================================

Their deterministic "grounded" model answers a prompt whose system message carries numbered
context with the first sentence of passage ``[1]``, cited: :data:`PROMPT` is such a prompt and
:data:`ANSWER` its answer. Faults (throttling, 5xx, errors mid-stream, slow replies) are
scripted per request; see each module. The AWS emulators check every request against
botocore's own service model and SigV4 signature, so they need ``botocore`` (installed
with boto3) when they are used::

    from inhouse.testing.emulators import ANSWER, PROMPT
    from inhouse.testing.emulators.tgi import TGIEmulator

    with TGIEmulator() as tgi:
        provider = MyProvider(MyProvider.Config(url=tgi.endpoint_url))
        assert "".join(p for p in provider.generate(PROMPT) if isinstance(p, str)) == ANSWER
"""

from __future__ import annotations

from inhouse.plugins import Prompt

#: A question with its context, as the assistant sends it.
PROMPT = Prompt(
    system="Answer from the context.\n\nContext:\n"
    "[1] (Leave > Annual leave)\nStaff get 25 days of annual leave. Carry-over is 5 days.",
    messages=[{"role": "user", "content": "How many days of leave?"}],
    max_tokens=50,
    stop=["\n\n\n"],
)
#: What every emulator's grounded model answers to :data:`PROMPT`.
ANSWER = "Staff get 25 days of annual leave. [1]"

__all__ = ["ANSWER", "PROMPT"]
