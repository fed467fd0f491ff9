"""Service-independent checks of raw HTTP requests against botocore's own service models.

An emulator hands :func:`parse_request` what arrived on the wire; it finds the operation whose
``http.requestUri`` and method match, rebuilds the input parameters as the botocore caller passed them
(URI labels, headers, query string, payload or JSON body with blobs and timestamps decoded) and runs
botocore's ``ParamValidator`` on them. Only the ``rest-json`` protocol is supported.

botocore (installed with boto3) is imported when a function here is first called, not with the module,
so the emulators that do not speak AWS (:mod:`inhouse.testing.emulators.tgi`,
:mod:`inhouse.testing.emulators.openai_server`) work without it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs, unquote

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel, Shape

_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class WireRequest(NamedTuple):
    """What :func:`parse_request` found: the operation (None when no route matched), its params and botocore's error report."""

    operation: str | None
    params: dict[str, Any]
    errors: str


class WireResponse(NamedTuple):
    """An HTTP response as it goes on the wire (status, headers, body)."""

    status: int
    headers: dict[str, str]
    body: bytes


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of ``service`` (e.g. ``"bedrock-runtime"``), loaded once."""
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


class _Route(NamedTuple):
    literal_length: int
    pattern: re.Pattern[str]
    method: str
    static_query: dict[str, str]
    operation: OperationModel


@cache
def _routes(service: str) -> list[_Route]:
    """One route per operation, the most specific (most literal characters) first."""
    model = service_model(service)
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        template, _, static_query = operation.http["requestUri"].partition("?")
        pattern = ""
        for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
            pattern += re.escape(literal)
            if label:
                group = re.sub(r"\W", "_", label.rstrip("+"))
                pattern += f"(?P<{group}>.+)" if label.endswith("+") else f"(?P<{group}>[^/]+)"
        query = {key: values[0] for key, values in parse_qs(static_query, keep_blank_values=True).items()}
        literal_length = len(re.sub(r"\{[^}]+\}", "", template))
        routes.append(_Route(literal_length, re.compile(pattern + "$"), operation.http["method"], query, operation))
    return sorted(routes, key=lambda route: -route.literal_length)


def match_operation(service: str, method: str, raw_path: str, query: str = "") -> tuple[OperationModel, dict[str, str]] | None:
    """The operation that ``method`` on ``raw_path`` addresses, with its URL-decoded URI labels; None if there is none."""
    present = parse_qs(query, keep_blank_values=True)
    for route in _routes(service):
        match = route.pattern.match(raw_path)
        if match is None or route.method != method.upper():
            continue
        if all(present.get(key, [None])[0] == value for key, value in route.static_query.items()):
            labels = {group: unquote(value) for group, value in match.groupdict().items()}
            return route.operation, labels
    return None


def _scalar(text: str, shape: Shape) -> Any:
    """A header or query-string value converted to the Python type botocore's caller would have passed."""
    from botocore.utils import parse_timestamp

    converters = {
        "integer": int,
        "long": int,
        "float": float,
        "double": float,
        "boolean": lambda value: {"true": True, "false": False}[value.lower()],
        "timestamp": parse_timestamp,
    }
    converter = converters.get(shape.type_name)
    if converter is None:
        return text
    try:
        return converter(text)
    except (ValueError, KeyError):
        return text


def _header_value(text: str, shape: Shape) -> Any:
    if shape.type_name == "list":
        return [_scalar(part.strip(), shape.member) for part in text.split(",")]
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(text))
        except ValueError:
            return text
    return _scalar(text, shape)


def _from_json(value: Any, shape: Shape, name: str, problems: list[str]) -> Any:
    """``value`` from a JSON body turned back into what the caller passed: blobs decoded, timestamps parsed."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict) and not shape.is_document_type:
        wire_names = {member.serialization.get("name", key): key for key, member in shape.members.items()}
        converted = {}
        for key, item in value.items():
            member = wire_names.get(key)
            converted[member or key] = _from_json(item, shape.members[member], f"{name}.{member}", problems) if member else item
        return converted
    if kind == "list" and isinstance(value, list):
        return [_from_json(item, shape.member, f"{name}[{index}]", problems) for index, item in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {key: _from_json(item, shape.value, f"{name}.{key}", problems) for key, item in value.items()}
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            problems.append(f"Invalid base64 for parameter {name}")
            return value
    if kind == "timestamp" and isinstance(value, int | float | str) and not isinstance(value, bool):
        from botocore.utils import parse_timestamp

        try:
            return parse_timestamp(value)
        except ValueError:
            problems.append(f"Invalid timestamp for parameter {name}, value: {value!r}")
    return value


def _body_params(operation: OperationModel, body: bytes, problems: list[str]) -> dict[str, Any]:
    """Input members carried by the body: the raw payload member, or the members of a JSON document."""
    shape = operation.input_shape
    payload = shape.serialization.get("payload")
    if payload:
        member = shape.members[payload]
        if not body:
            return {}
        if member.type_name == "blob":
            return {payload: body}
        if member.type_name == "string":
            return {payload: body.decode("utf-8", errors="replace")}
        return {payload: _from_json(_json_document(body, problems), member, f"input.{payload}", problems)}
    document = _json_document(body, problems) if body.strip() else {}
    if not isinstance(document, dict):
        problems.append("The request body is not a JSON object")
        return {}
    located = {name for name, member in shape.members.items() if member.serialization.get("location")}
    misplaced = sorted(located & document.keys())
    problems.extend(f'Parameter "{name}" was sent in the JSON body but belongs elsewhere' for name in misplaced)
    body_only = {key: value for key, value in document.items() if key not in located}
    return _from_json(body_only, shape, "input", problems)


def _json_document(body: bytes, problems: list[str]) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.append(f"The request body is not valid JSON: {error}")
        return {}


def _located_params(operation: OperationModel, labels: dict[str, str], query: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """Input members carried by the URI, the query string and the headers."""
    lowered = {key.lower(): value for key, value in headers.items()}
    present = parse_qs(query, keep_blank_values=True)
    params: dict[str, Any] = {}
    for name, member in operation.input_shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and re.sub(r"\W", "_", wire_name) in labels:
            params[name] = _scalar(labels[re.sub(r"\W", "_", wire_name)], member)
        elif location == "header" and wire_name.lower() in lowered:
            params[name] = _header_value(lowered[wire_name.lower()], member)
        elif location == "headers":
            prefix = wire_name.lower()
            found = {key[len(prefix) :]: value for key, value in lowered.items() if key.startswith(prefix)}
            if found:
                params[name] = found
        elif location == "querystring" and member.type_name == "map":
            params[name] = {key: values[0] for key, values in present.items()}
        elif location == "querystring" and wire_name in present:
            values = present[wire_name]
            is_list = member.type_name == "list"
            params[name] = [_scalar(value, member.member) for value in values] if is_list else _scalar(values[0], member)
    return params


def parse_request(service: str, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes) -> WireRequest:
    """Find the operation a raw request addresses, rebuild its input params and validate them as botocore does.

    ``raw_path`` is still percent-encoded (``/model/arn%3Aaws%3A...%2Fmy-profile/converse``); ``query`` is the raw query
    string without ``?``. ``errors`` is empty when the request is valid, else botocore's report (one problem a line).
    """
    from botocore.validate import ParamValidator

    found = match_operation(service, method, raw_path, query)
    if found is None:
        return WireRequest(None, {}, f"No operation of {service} matches {method} {raw_path}")
    operation, labels = found
    problems: list[str] = []
    params = _body_params(operation, body, problems)
    params.update(_located_params(operation, labels, query, headers))
    report = ParamValidator().validate(params, operation.input_shape)
    if report.has_errors():
        problems.append(report.generate_report())
    return WireRequest(operation.name, params, "\n".join(problems))


def check_sigv4(service: str, headers: Mapping[str, str]) -> WireResponse | None:
    """None when the request has a well-formed SigV4 ``Authorization`` scoped to ``service`` and an ``X-Amz-Date``.

    Otherwise the error AWS answers: 403 ``MissingAuthenticationTokenException`` without any ``Authorization``,
    400 ``IncompleteSignatureException`` for a malformed one. The signature itself is not verified.
    """
    signing_name = service_model(service).signing_name
    lowered = {key.lower(): value for key, value in headers.items()}
    authorization = lowered.get("authorization")
    if not authorization:
        return error_response(service, "MissingAuthenticationTokenException", "Missing Authentication Token", status=403)
    match = _SIGV4.match(authorization)
    if match is None:
        message = f"Authorization header requires a well-formed AWS4-HMAC-SHA256 signature; got {authorization[:60]!r}"
    elif match["service"] != signing_name:
        message = f"Credential should be scoped to correct service: '{signing_name}', not '{match['service']}'"
    elif not re.fullmatch(r"\d{8}T\d{6}Z", lowered.get("x-amz-date", "")):
        message = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    else:
        return None
    return error_response(service, "IncompleteSignatureException", message, status=400)


@cache
def _error_statuses(service: str) -> dict[str, int]:
    model = service_model(service)
    statuses = {}
    for name in model.operation_names:
        for shape in model.operation_model(name).error_shapes:
            statuses[shape.name] = shape.metadata.get("error", {}).get("httpStatusCode", 400)
    return statuses


def error_response(
    service: str, code: str, message: str, status: int | None = None, fields: Mapping[str, Any] | None = None
) -> WireResponse:
    """A rest-json error of ``service`` that botocore turns into ``ClientError`` with ``Error.Code == code``.

    ``status`` defaults to the one the service model gives ``code`` (a KeyError for a code it does not model).
    ``fields`` are further members of the error shape (SageMaker's ``ModelError`` has ``OriginalStatusCode``,
    ``OriginalMessage`` and ``LogStreamArn``); botocore adds them to ``ClientError.response``.
    The ``x-amzn-ErrorType`` namespace is ``http://internal.amazon.com/coral/com.amazon.<signing name>/``.
    """
    if status is None:
        status = _error_statuses(service)[code]
    namespace = f"http://internal.amazon.com/coral/com.amazon.{service_model(service).signing_name}/"
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": f"{code}:{namespace}"}
    return WireResponse(status, headers, json.dumps({"message": message, **(fields or {})}).encode("utf-8"))
