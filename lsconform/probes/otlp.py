"""OTLP trace messages: build the probe request, encode and decode requests and responses.

Every message is an `opentelemetry-proto` class, so what lsconform sends and reads is byte for
byte what the OpenTelemetry SDK exporters send and a collector returns. Wire access (HTTP, gRPC,
TLS) lives in `otlp_client`, endpoint rules in `otlp_endpoint`.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

log = logging.getLogger(__name__)

# The probe's spans carry this resource attribute with a fresh id, so they can be distinguished from
# every other span in a collector or a trace backend.
PROBE_ATTRIBUTE = "lsconform.probe.id"
PROBE_SERVICE_NAME = "lsconform-probe"
PROBE_SCOPE = "lsconform"

# One probe span carries an attribute of this size (bytes), like the serialized run inputs that
# LangSmith services attach to their spans, so that a collector limiting attribute sizes shows
# its partial_success rejections to the probe as it would to LangSmith.
PROBE_LARGE_ATTRIBUTE_BYTES = 4096

# A decoded OTLP body larger than this is rejected before parsing (bytes, after decompression):
# a collector response is a few bytes, and a gzip bomb must not exhaust memory.
MAX_OTLP_MESSAGE_BYTES = 16 * 1024 * 1024

CONTENT_TYPE_PROTOBUF = "application/x-protobuf"
CONTENT_TYPE_JSON = "application/json"


class OtlpDecodeError(ValueError):
    """An OTLP body that is not a valid message of the expected type."""


@dataclass(frozen=True)
class ExportResult:
    """The result a collector returned for one export request.

    `rejected_spans` and `error_message` come from the response's `partial_success` field
    (OTLP 1.0): a collector that accepted the request may still have dropped some spans.
    """

    rejected_spans: int = 0
    error_message: str = ""

    @property
    def is_partial(self) -> bool:
        """Whether the collector reported rejected spans or a partial_success message."""
        return self.rejected_spans > 0 or bool(self.error_message)


def new_probe_id() -> str:
    """Return a fresh probe id (32 hex characters, usable as a trace id)."""
    return os.urandom(16).hex()


def _string_attribute(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def build_probe_request(
    probe_id: str,
    *,
    service_name: str = PROBE_SERVICE_NAME,
    environment: str = "",
    large_attribute_bytes: int = PROBE_LARGE_ATTRIBUTE_BYTES,
) -> ExportTraceServiceRequest:
    """Build a small trace (a root span and two children) that identifies itself as a probe.

    The trace id is `probe_id`, the resource carries `service.name` and `PROBE_ATTRIBUTE`, and
    the second child carries one attribute of `large_attribute_bytes` bytes.
    """
    trace_id = bytes.fromhex(probe_id)
    now = time.time_ns()
    root_id, child_ids = os.urandom(8), (os.urandom(8), os.urandom(8))
    resource_attributes = [
        _string_attribute("service.name", service_name),
        _string_attribute(PROBE_ATTRIBUTE, probe_id),
    ]
    if environment:
        resource_attributes.append(_string_attribute("deployment.environment", environment))
    root = Span(
        trace_id=trace_id,
        span_id=root_id,
        name="lsconform probe",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=now - 2_000_000,
        end_time_unix_nano=now,
        attributes=[_string_attribute(PROBE_ATTRIBUTE, probe_id)],
    )
    small = Span(
        trace_id=trace_id,
        span_id=child_ids[0],
        parent_span_id=root_id,
        name="probe child",
        start_time_unix_nano=now - 1_500_000,
        end_time_unix_nano=now - 1_000_000,
    )
    large = Span(
        trace_id=trace_id,
        span_id=child_ids[1],
        parent_span_id=root_id,
        name="probe payload",
        start_time_unix_nano=now - 900_000,
        end_time_unix_nano=now - 100_000,
        attributes=[_string_attribute("lsconform.payload", "x" * large_attribute_bytes)],
    )
    scope_spans = ScopeSpans(
        scope=InstrumentationScope(name=PROBE_SCOPE), spans=[root, small, large]
    )
    resource_spans = ResourceSpans(
        resource=Resource(attributes=resource_attributes), scope_spans=[scope_spans]
    )
    return ExportTraceServiceRequest(resource_spans=[resource_spans])


def encode_request(request: ExportTraceServiceRequest) -> bytes:
    """Serialize a request as the OTLP/HTTP protobuf body (and gRPC message) carries it."""
    data: bytes = request.SerializeToString()
    return data


def decode_body(body: bytes, content_encoding: str = "") -> bytes:
    """Undo the HTTP `Content-Encoding` (gzip, deflate or none), capped in size."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        data = body
    elif encoding == "gzip":
        data = _inflate(body, wbits=16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        data = _inflate(body, wbits=zlib.MAX_WBITS)
    else:
        raise OtlpDecodeError(f"unsupported Content-Encoding {content_encoding!r}")
    if len(data) > MAX_OTLP_MESSAGE_BYTES:
        raise OtlpDecodeError(f"message of {len(data)} bytes exceeds {MAX_OTLP_MESSAGE_BYTES}")
    return data


def _inflate(body: bytes, *, wbits: int) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    try:
        data = decompressor.decompress(body, MAX_OTLP_MESSAGE_BYTES + 1)
    except zlib.error as error:
        raise OtlpDecodeError(f"invalid compressed body: {error}") from error
    if len(data) > MAX_OTLP_MESSAGE_BYTES:
        raise OtlpDecodeError(f"decompressed body exceeds {MAX_OTLP_MESSAGE_BYTES} bytes")
    return data


def gzip_body(data: bytes) -> bytes:
    """Compress a body for `Content-Encoding: gzip`."""
    return gzip.compress(data)


def decode_request(data: bytes) -> ExportTraceServiceRequest:
    """Parse a protobuf ExportTraceServiceRequest, raising OtlpDecodeError on malformed input."""
    if len(data) > MAX_OTLP_MESSAGE_BYTES:
        raise OtlpDecodeError(f"message of {len(data)} bytes exceeds {MAX_OTLP_MESSAGE_BYTES}")
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except DecodeError as error:
        raise OtlpDecodeError(f"not an OTLP ExportTraceServiceRequest: {error}") from error
    return request


def decode_response(data: bytes, content_type: str = CONTENT_TYPE_PROTOBUF) -> ExportResult:
    """Parse a collector's ExportTraceServiceResponse (protobuf or OTLP/JSON)."""
    if len(data) > MAX_OTLP_MESSAGE_BYTES:
        raise OtlpDecodeError(f"response of {len(data)} bytes exceeds {MAX_OTLP_MESSAGE_BYTES}")
    if content_type.split(";")[0].strip().lower() == CONTENT_TYPE_JSON:
        return _decode_json_response(data)
    response = ExportTraceServiceResponse()
    try:
        response.ParseFromString(data)
    except DecodeError as error:
        raise OtlpDecodeError(f"not an OTLP ExportTraceServiceResponse: {error}") from error
    return result_from_response(response)


def result_from_response(response: ExportTraceServiceResponse) -> ExportResult:
    """Read the partial_success field of a decoded response."""
    partial = response.partial_success
    return ExportResult(
        rejected_spans=int(partial.rejected_spans), error_message=partial.error_message
    )


def _decode_json_response(data: bytes) -> ExportResult:
    # OTLP/JSON writes int64 fields as strings and uses lowerCamelCase names.
    try:
        document = json.loads(data.decode("utf-8")) if data.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OtlpDecodeError(f"invalid OTLP/JSON response: {error}") from error
    if not isinstance(document, dict):
        raise OtlpDecodeError("OTLP/JSON response is not an object")
    partial = document.get("partialSuccess") or document.get("partial_success") or {}
    if not isinstance(partial, dict):
        raise OtlpDecodeError("partialSuccess is not an object")
    rejected = partial.get("rejectedSpans", partial.get("rejected_spans", 0))
    try:
        rejected_count = int(rejected or 0)
    except (TypeError, ValueError) as error:
        raise OtlpDecodeError(f"rejectedSpans is not an integer: {rejected!r}") from error
    message = partial.get("errorMessage", partial.get("error_message", ""))
    return ExportResult(rejected_spans=rejected_count, error_message=str(message or ""))


def encode_response(rejected_spans: int = 0, error_message: str = "") -> bytes:
    """Serialize an ExportTraceServiceResponse (empty on full success)."""
    response = ExportTraceServiceResponse()
    if rejected_spans or error_message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = error_message
    data: bytes = response.SerializeToString()
    return data


def iter_spans(request: ExportTraceServiceRequest) -> Iterator[tuple[dict[str, str], Span]]:
    """Yield (resource string attributes, span) for every span of a request."""
    for resource_spans in request.resource_spans:
        resource = string_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield resource, span


def string_attributes(attributes: object) -> dict[str, str]:
    """Map attribute keys to their string form (non-string values are rendered with str)."""
    result: dict[str, str] = {}
    for attribute in attributes:  # type: ignore[attr-defined]
        value = attribute.value
        kind = value.WhichOneof("value")
        result[attribute.key] = (
            value.string_value
            if kind == "string_value"
            else ("" if kind is None else str(getattr(value, kind)))
        )
    return result


def count_spans(request: ExportTraceServiceRequest) -> int:
    """Return the number of spans in a request."""
    return sum(1 for _ in iter_spans(request))


def service_names(request: ExportTraceServiceRequest) -> set[str]:
    """Return the `service.name` resource attributes present in a request."""
    return {resource.get("service.name", "") for resource, _ in iter_spans(request)}
