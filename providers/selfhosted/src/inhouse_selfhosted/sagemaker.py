"""``sagemaker``: a model on an Amazon SageMaker real-time endpoint running the Hugging Face
TGI container, streamed through InvokeEndpointWithResponseStream.

The container takes a raw prompt (``{"inputs": ..., "parameters": {...}}``, see
``inhouse_selfhosted.templates``) and streams TGI's server-sent events inside
``PayloadPart`` bytes that SageMaker slices anywhere, even inside a UTF-8 character;
``inhouse_selfhosted.sse`` puts the lines back together.

Errors, as SageMaker Runtime reports them (AWS code -> our code, retried here, router may
fall back):

==============================================================  ===============  =====  ========
ModelNotReadyException; ValidationError "no capacity"/"zero"    not-ready        no     yes
ThrottlingException                                             throttled        yes    yes
ServiceUnavailable, InternalFailure, InternalDependencyExc.     unavailable      yes    yes
ModelError (the container failed; its status and message kept)  error            no     yes
ModelStreamError, InternalStreamFailure (event-stream)          stream           yes*   yes
ValidationError "Endpoint ... not found"                        not-found        no     no
ValidationError (other)                                         validation       no     no
AccessDenied / unrecognized or expired credentials              access-denied    no     no
read timeouts, connection errors                                timeout/unav.    yes    yes
==============================================================  ===============  =====  ========

\\* before any text only: after text, the error is raised as "the answer broke off mid-stream".
A cold endpoint is not retried here: scaling from zero takes minutes, and the failed call is
what starts it (SageMaker's NoCapacityInvocationFailures metric), so the router falls back
at once and later requests find the endpoint warm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from inhouse.errors import ProviderError
from inhouse.plugins import Artifact, Prompt, Provider
from inhouse.providerkit import BudgetSettings
from inhouse.types import Usage
from inhouse_aws import AwsClient, AwsSettings, ErrorTable, map_error
from inhouse_selfhosted import templates, tgi_wire
from inhouse_selfhosted.sse import SSEParser

_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"  # SageMaker's endpoint and variant names
_COLD = ("not-ready", False, True)
_MISSING = ("not-found", False, False)
# SageMaker Runtime's error codes (lower-cased) -> (our code, retry here, router may fall back).
ERRORS: ErrorTable = {
    "modelnotreadyexception": _COLD,
    "throttlingexception": ("throttled", True, True),
    "serviceunavailable": ("unavailable", True, True),
    "internalfailure": ("unavailable", True, True),
    "internaldependencyexception": ("unavailable", True, True),
    "modelerror": ("error", False, True),
    "modelstreamerror": ("stream", True, True),
    "internalstreamfailure": ("stream", True, True),
    "validationerror": ("validation", False, False),
    "accessdeniedexception": ("access-denied", False, False),
    "unrecognizedclientexception": ("access-denied", False, False),
    "invalidclienttokenid": ("access-denied", False, False),
    "expiredtokenexception": ("access-denied", False, False),
    "invalidsignatureexception": ("access-denied", False, False),
    "incompletesignatureexception": ("access-denied", False, False),
    "missingauthenticationtokenexception": ("access-denied", False, False),
}
# ValidationError also stands for a scaled-to-zero inference component and a missing endpoint.
_COLD_MESSAGE = re.compile(r"no capacity|(?:to|from) zero|not ready", re.IGNORECASE)
_MISSING_MESSAGE = re.compile(r"\bnot found\b", re.IGNORECASE)


def _advice(endpoint: str) -> dict[str, str]:
    return {
        "not-ready": f"endpoint {endpoint} is cold or scaling from zero; falling back while it warms",
        "unavailable": f"endpoint {endpoint} is unavailable or scaling; falling back while it recovers",
        "throttled": f"endpoint {endpoint} is at capacity; add instances or copies, or let the router cool it down",
        "not-found": f"check endpoint_name, inference_component and region: endpoint {endpoint} must exist and be InService",
        "access-denied": "allow sagemaker:InvokeEndpoint and sagemaker:InvokeEndpointWithResponseStream on the endpoint",
        "validation": "the request was refused: check the template, the inference parameters and the prompt's length",
        "error": f"see the CloudWatch log group /aws/sagemaker/Endpoints/{endpoint}",
    }


class _Runtime(AwsClient):
    """The ``sagemaker-runtime`` client, whose errors are classified by code and, for
    ``ValidationError``, by message; ``ModelError`` keeps the container's own answer."""

    def classify(self, exc: Exception) -> tuple[ProviderError, bool]:
        """``map_error`` with SageMaker Runtime's codes and the endpoint's advice."""
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            return map_error(exc, self.label, self.errors, self.advice, self.provider)
        table = self.errors
        err = exc.response.get("Error", {})
        if str(err.get("Code")).lower() == "validationerror":
            message = str(err.get("Message", ""))
            refined = _COLD if _COLD_MESSAGE.search(message) else _MISSING if _MISSING_MESSAGE.search(message) else None
            table = {**table, "validationerror": refined} if refined else table
        error, retry_here = map_error(exc, self.label, table, self.advice, self.provider)
        if "OriginalStatusCode" in exc.response:  # ModelError: SageMaker's message usually quotes the container's
            original = str(exc.response.get("OriginalMessage", ""))
            said = f": {original}" if original not in str(err.get("Message", "")) else ""
            message = f"{error} [the container answered {exc.response['OriginalStatusCode']}{said}]"
            error = ProviderError(message, retryable=error.retryable, provider=error.provider, code=error.code)
        return error, retry_here


class SageMakerProvider(Provider):
    """Chat with a TGI model on a SageMaker endpoint, streamed.

    ``residency``: the class says ``self-hosted``: the company runs the model on its own
    endpoint, in its own account, so ``routing.private`` may use it under the default
    ``private_residency``. A profile may set ``residency = "in-account"`` to be treated like
    the AWS services instead: the instance reports it, and the router reads that for its privacy
    check, and the ledger and the answer's route report it.
    """

    class Config(AwsSettings, BudgetSettings):
        """``[providers.NAME]`` with ``use = "sagemaker"``."""

        endpoint_name: str = Field(..., max_length=63, pattern=_NAME, description="the SageMaker endpoint")
        inference_component: str | None = Field(None, max_length=63, description="InferenceComponentName, when it hosts several")
        target_variant: str | None = Field(None, max_length=63, pattern=_NAME, description="a production variant to pin")
        model: str | None = Field(None, description="label for the ledger and prices; default: the endpoint name")
        template: templates.Template = Field(
            "chatml", description="falcon, chatml, llama3, or a format string with {system} {history} {question}"
        )
        stream: bool = Field(True, description="false: InvokeEndpoint, the whole answer at once")
        max_new_tokens: int | None = Field(None, ge=1, description="default: the assistant's [answer] max_tokens")
        temperature: float | None = Field(None, ge=0, description="default: the assistant's (0: greedy)")
        top_p: float | None = Field(None, gt=0, lt=1)
        stop: list[str] = Field(default_factory=list, description="added to the template's and the assistant's own")
        residency: Literal["self-hosted", "in-account"] = "self-hosted"

    capabilities = frozenset({"text", "stream"})
    context_window = 4096  # TGI's MAX_TOTAL_TOKENS varies: set context_window in the profile
    preferred_context = 2500
    residency = "self-hosted"

    def __init__(self, config: Config | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        self.residency = cfg.residency  # the instance reports what the profile says
        self.residency_note = f"a SageMaker endpoint in the company's account (residency = {cfg.residency!r})"
        label = f"SageMaker endpoint {cfg.endpoint_name}" + (f" ({cfg.inference_component})" if cfg.inference_component else "")
        self.aws = _Runtime(cfg, "sagemaker-runtime", label, ERRORS, _advice(cfg.endpoint_name), self.name or None)

    @property
    def model_id(self) -> str:
        """The configured ``model`` label, else the endpoint name."""
        return self.config.model or self.config.endpoint_name

    def check(self) -> str:
        """Credentials and region are resolvable (no call is made)."""
        return f"{self.config.endpoint_name}: {self.aws.credentials_status()}"

    def warm_up(self) -> None:
        """Build the boto3 client (loads botocore's service model)."""
        _ = self.aws.client

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.aws.close()

    def stops(self, prompt: Prompt) -> list[str]:
        """The template's, the profile's and the prompt's stop sequences, in that order."""
        return templates.stop_sequences(self.config.template, self.config.stop, prompt.stop)

    def body(self, prompt: Prompt) -> dict[str, Any]:
        """The TGI request body: the rendered prompt and the generation parameters (see
        ``tgi_wire.parameters``; all the stop sequences are applied here too, beyond TGI's four)."""
        cfg = self.config
        temperature = prompt.temperature if cfg.temperature is None else cfg.temperature
        max_new_tokens = cfg.max_new_tokens or prompt.max_tokens
        parameters = tgi_wire.parameters(max_new_tokens, temperature, self.stops(prompt), top_p=cfg.top_p)
        body: dict[str, Any] = {"inputs": templates.render(cfg.template, prompt), "parameters": parameters}
        if cfg.stream:
            body["stream"] = True
        return body

    def request(self, prompt: Prompt) -> dict[str, Any]:
        """The boto3 arguments of the invocation for ``prompt`` (also what the tests inspect)."""
        return self._request(self.body(prompt))

    def _request(self, body: dict[str, Any]) -> dict[str, Any]:
        cfg = self.config
        request: dict[str, Any] = {
            "EndpointName": cfg.endpoint_name,
            "ContentType": "application/json",
            "Body": json.dumps(body).encode("utf-8"),
        }
        if cfg.inference_component:
            request["InferenceComponentName"] = cfg.inference_component
        if cfg.target_variant:
            request["TargetVariant"] = cfg.target_variant
        return request

    def generate(self, prompt: Prompt) -> Iterator[str | Usage | Artifact]:
        """Stream the reply, then its ``Usage``; retries happen before the first token only."""
        body = self.body(prompt)
        request = self._request(body)
        if not self.config.stream:
            yield from self._complete(request, body["inputs"], prompt)
            return
        events = self.aws.stream(
            lambda: self._events(self.aws.client.invoke_endpoint_with_response_stream(**request)["Body"]),
            has_text=lambda event: bool(tgi_wire.token_text(event)),
        )
        yield from tgi_wire.stream_answer(events, self.stops(prompt), self.count_tokens(body["inputs"]))

    def _events(self, body: Any) -> Iterator[dict[str, Any]]:
        """TGI's stream events from SageMaker's ``PayloadPart``s, however they were sliced."""
        parser = SSEParser()
        for part in body:
            for event in parser.feed(part.get("PayloadPart", {}).get("Bytes", b"")):
                yield self._decode(event.data)
        for event in parser.close():
            yield self._decode(event.data)

    def _decode(self, data: str) -> dict[str, Any]:
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            raise ProviderError(f"{self.aws.label}: not a TGI stream event: {data[:200]!r}", provider=self.name or None) from None
        if not isinstance(event, dict) or "error" in event:
            message = event.get("error") if isinstance(event, dict) else event
            raise ProviderError(f"{self.aws.label}: the model failed: {message}", retryable=True, provider=self.name or None)
        return event

    def _complete(self, request: dict[str, Any], inputs: str, prompt: Prompt) -> Iterator[str | Usage]:
        """InvokeEndpoint: the whole answer (``[{"generated_text": ..., "details": ...}]``) at once."""
        raw = self.aws.call(lambda: self.aws.client.invoke_endpoint(**request)["Body"].read())
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ProviderError(f"{self.aws.label}: not a TGI answer: {raw[:200]!r}", provider=self.name or None) from None
        answer = payload[0] if isinstance(payload, list) and payload else payload
        if not isinstance(answer, dict) or "generated_text" not in answer:
            raise ProviderError(f"{self.aws.label}: not a TGI answer: {raw[:200]!r}", provider=self.name or None)
        cut = templates.StopFilter(self.stops(prompt))
        text = cut.feed(answer["generated_text"] or "") + cut.flush()
        if text:
            yield text
        yield tgi_wire.usage(answer.get("details") or {}, self.count_tokens(inputs), self.count_tokens(text))
