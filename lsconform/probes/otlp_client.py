"""Send one OTLP trace export over HTTP/protobuf or gRPC and explain the outcome in one line.

`export` is what `lsconform otlp probe` and the collector-accepts check call. The request goes
to the endpoint's host and port, or to `connect_to` when the endpoint is only reachable through a
relay (a port-forward); the Host header, TLS server name and gRPC authority still name the
endpoint's own host, as the services' exporters would send them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from lsconform.constants import OTLP_GRPC_PORT, OTLP_HTTP_PORT, OTLP_HTTP_TRACES_PATH
from lsconform.probes import otlp_wire as wire
from lsconform.probes.otlp import (
    CONTENT_TYPE_PROTOBUF,
    ExportResult,
    OtlpDecodeError,
    count_spans,
    decode_body,
    decode_response,
    encode_request,
    result_from_response,
)
from lsconform.probes.otlp_endpoint import Endpoint

log = logging.getLogger(__name__)

ACCEPTED = "accepted"
PARTIAL = "partial"
HTTP_STATUS = "http-status"
GRPC_STATUS = "grpc-status"
BAD_RESPONSE = "bad-response"

# After a failure, a second look (TLS handshake or plaintext sniff) tells which side is wrong;
# it may take at most this many seconds on top of the export's own timeout.
DIAGNOSIS_TIMEOUT = 3.0


@dataclass(frozen=True)
class ExportOutcome:
    """The outcome of one export: `kind` is ACCEPTED, PARTIAL, HTTP_STATUS, GRPC_STATUS,
    BAD_RESPONSE or a `otlp_wire` error kind; `explanation` states it in one line."""

    protocol: str
    target: str
    kind: str
    explanation: str
    spans_sent: int
    result: ExportResult | None = None
    status: str = ""
    elapsed: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """Whether the collector took every span of the request."""
        return self.kind == ACCEPTED


def export(
    endpoint: Endpoint,
    request: ExportTraceServiceRequest,
    *,
    protocol: str,
    tls: bool,
    timeout: float,
    connect_to: tuple[str, int] | None = None,
    cafile: str | None = None,
    verify: bool = True,
) -> ExportOutcome:
    """Send `request` to `endpoint` over `protocol` (`http` or `grpc`) and classify the response.

    `tls` says whether to dial with TLS; `verify` whether to check the server's certificate
    (always on for gRPC, which grpcio cannot turn off). `timeout` is in seconds.
    """
    if protocol == "http":
        return export_http(
            endpoint,
            request,
            tls=tls,
            timeout=timeout,
            connect_to=connect_to,
            cafile=cafile,
            verify=verify,
        )
    if protocol == "grpc":
        return export_grpc(
            endpoint, request, tls=tls, timeout=timeout, connect_to=connect_to, cafile=cafile
        )
    raise ValueError(f"unknown OTLP protocol {protocol!r}; expected http or grpc")


def _address(endpoint: Endpoint, protocol: str, tls: bool) -> tuple[str, int]:
    if endpoint.port is not None:
        return endpoint.host, endpoint.port
    if protocol == "grpc":
        return endpoint.host, OTLP_GRPC_PORT
    return endpoint.host, 443 if tls else 80


def export_http(
    endpoint: Endpoint,
    request: ExportTraceServiceRequest,
    *,
    tls: bool,
    timeout: float,
    connect_to: tuple[str, int] | None = None,
    cafile: str | None = None,
    verify: bool = True,
) -> ExportOutcome:
    """POST `request` as OTLP/HTTP protobuf to the endpoint's URL, path included, verbatim."""
    address = connect_to or _address(endpoint, "http", tls)
    path = endpoint.path or "/"
    scheme = "https" if tls else "http"
    url = f"{scheme}://{endpoint.address}{path}"
    spans = count_spans(request)
    context = wire.client_tls_context(verify=verify, cafile=cafile) if tls else None
    started = time.monotonic()
    try:
        exchange = wire.http_exchange(
            address,
            "POST",
            path,
            host_header=endpoint.address,
            body=encode_request(request),
            headers={"Content-Type": CONTENT_TYPE_PROTOBUF},
            tls=context,
            server_name=endpoint.host,
            timeout=timeout,
        )
    except wire.WireError as error:
        kind, detail = _second_look(error, address, endpoint.host, tls)
        return ExportOutcome(
            "http",
            url,
            kind,
            explain_wire(kind, detail, endpoint.address),
            spans,
            status=kind,
            elapsed=time.monotonic() - started,
            evidence={"error": detail, "connected_to": f"{address[0]}:{address[1]}"},
        )
    return _http_outcome(url, path, spans, exchange)


def _http_outcome(url: str, path: str, spans: int, exchange: wire.HttpExchange) -> ExportOutcome:
    evidence: dict[str, Any] = {
        "status": exchange.status,
        "content_type": exchange.headers.get("content-type", ""),
        "elapsed_ms": round(exchange.elapsed * 1000, 1),
    }
    if not 200 <= exchange.status < 300:
        evidence["body"] = exchange.body[:300].decode("utf-8", "replace")
        return ExportOutcome(
            "http",
            url,
            HTTP_STATUS,
            explain_http_status(exchange.status, url, path, exchange.body),
            spans,
            status=str(exchange.status),
            elapsed=exchange.elapsed,
            evidence=evidence,
        )
    try:
        body = decode_body(exchange.body, exchange.headers.get("content-encoding", ""))
        result = decode_response(body, exchange.headers.get("content-type", CONTENT_TYPE_PROTOBUF))
    except OtlpDecodeError as error:
        evidence["body"] = repr(exchange.body[:60])
        return ExportOutcome(
            "http",
            url,
            BAD_RESPONSE,
            f"{url} answered {exchange.status} but the body is not an OTLP export response "
            f"({error}); something other than an OTLP receiver answers there",
            spans,
            status=str(exchange.status),
            elapsed=exchange.elapsed,
            evidence=evidence,
        )
    return _accepted_outcome(
        "http", url, spans, result, str(exchange.status), exchange.elapsed, evidence
    )


def _accepted_outcome(
    protocol: str,
    target: str,
    spans: int,
    result: ExportResult,
    status: str,
    elapsed: float,
    evidence: dict[str, Any],
) -> ExportOutcome:
    evidence = {**evidence, "rejected_spans": result.rejected_spans}
    if result.is_partial:
        evidence["partial_success_message"] = result.error_message
        explanation = (
            f"the collector at {target} accepted the request but rejected {result.rejected_spans} "
            f"of {spans} spans: {result.error_message or '(no message)'}"
        )
        return ExportOutcome(
            protocol, target, PARTIAL, explanation, spans, result, status, elapsed, evidence
        )
    explanation = (
        f"the collector at {target} accepted {spans} spans over "
        f"{'OTLP/HTTP' if protocol == 'http' else 'OTLP/gRPC'} in {elapsed * 1000:.0f} ms"
    )
    return ExportOutcome(
        protocol, target, ACCEPTED, explanation, spans, result, status, elapsed, evidence
    )


def _second_look(
    error: wire.WireError, address: tuple[str, int], server_name: str, tls: bool
) -> tuple[str, str]:
    """Refine a TLS or closed-connection failure by offering the server the other protocol."""
    if tls and error.kind == wire.TLS_FAILED:
        answer = wire.sniff_plaintext(address, server_name, DIAGNOSIS_TIMEOUT)
        if answer in ("http1", "http2"):
            return wire.TLS_TO_PLAINTEXT, f"{error.detail}; the server answers plaintext {answer}"
    if not tls and error.kind in (wire.CLOSED, wire.RESET, wire.GARBAGE):
        probe = wire.probe_tls(address, server_name, DIAGNOSIS_TIMEOUT)
        if probe.speaks_tls:
            return wire.PLAINTEXT_TO_TLS, f"{error.detail}; the server completes a TLS handshake"
    return error.kind, error.detail


def explain_http_status(status: int, url: str, path: str, body: bytes) -> str:
    """Explain an HTTP error status from an OTLP/HTTP endpoint in one line."""
    if status == 404:
        if path != OTLP_HTTP_TRACES_PATH:
            return (
                f"404 at {url}: nothing takes traces at path {path!r}; OTLP/HTTP receivers "
                f"take them at {OTLP_HTTP_TRACES_PATH}"
            )
        return f"404 at {url}: the server has no OTLP/HTTP traces receiver at this path"
    if status == 405:
        return f"405 at {url}: the server does not take POST there; it is not an OTLP receiver"
    if status == 415:
        return f"415 at {url}: the receiver rejects the protobuf content type"
    if status in (401, 403):
        return f"{status} at {url}: the collector requires authentication the services do not send"
    if status in (429, 503):
        return f"{status} at {url}: the collector is overloaded or refusing data; retry later"
    detail = body[:120].decode("utf-8", "replace").strip()
    return f"{status} at {url}: the collector rejected the export" + (
        f": {detail}" if detail else ""
    )


def explain_wire(kind: str, detail: str, target: str) -> str:
    """Explain a connection-level failure in one line naming the likely cause and the fix."""
    explanations = {
        wire.REFUSED: f"connection refused at {target}: nothing listens on that address and port "
        "(collector down, wrong port, or a receiver bound to localhost only)",
        wire.TIMEOUT: f"no answer from {target}: {detail}",
        wire.UNREACHABLE: f"cannot reach {target}: {detail}",
        wire.TLS_TO_PLAINTEXT: f"TLS mismatch at {target}: the client uses TLS but the collector "
        "speaks plaintext; use http:// and useTls: false, or enable TLS on the receiver",
        wire.PLAINTEXT_TO_TLS: f"TLS mismatch at {target}: the collector expects TLS but the "
        "client sends plaintext; use https:// and useTls: true, or turn TLS off on the receiver",
        wire.TLS_FAILED: f"TLS handshake with {target} failed: {detail}",
        wire.TLS_UNTRUSTED: f"TLS with {target} works but its certificate is not trusted: {detail}",
        wire.HTTP2_SERVER: f"{target} speaks HTTP/2 (gRPC), not OTLP/HTTP: use port "
        f"{OTLP_HTTP_PORT}, or exporter grpc",
        wire.GARBAGE: f"the answer from {target} is neither HTTP nor gRPC: {detail}",
        wire.TOO_LARGE: f"the answer from {target} is too large: {detail}",
        wire.RESET: f"{target} reset the connection: {detail}",
        wire.CLOSED: f"{target} closed the connection without an answer: {detail}",
        "http1-server": f"{target} speaks HTTP/1.1, not gRPC: use port {OTLP_GRPC_PORT} for gRPC, "
        "or exporter http with the /v1/traces URL",
        "grpc-unimplemented": f"{target} is a gRPC server without the OTLP trace service",
    }
    return explanations.get(kind, f"export to {target} failed ({kind}): {detail}")


def export_grpc(
    endpoint: Endpoint,
    request: ExportTraceServiceRequest,
    *,
    tls: bool,
    timeout: float,
    connect_to: tuple[str, int] | None = None,
    cafile: str | None = None,
) -> ExportOutcome:
    """Call the OTLP TraceService Export method on `endpoint` with grpcio."""
    address = connect_to or _address(endpoint, "grpc", tls)
    target = f"{endpoint.host}:{endpoint.port or OTLP_GRPC_PORT}"
    spans = count_spans(request)
    options: list[tuple[str, Any]] = [
        ("grpc.default_authority", target),
        ("grpc.enable_retries", 0),
        ("grpc.max_receive_message_length", wire.MAX_RESPONSE_BYTES),
    ]
    channel_target = f"{address[0]}:{address[1]}"
    started = time.monotonic()
    if tls:
        root = _read_file(cafile) if cafile else None
        options.append(("grpc.ssl_target_name_override", endpoint.host))
        channel = grpc.secure_channel(channel_target, grpc.ssl_channel_credentials(root), options)
    else:
        channel = grpc.insecure_channel(channel_target, options)
    try:
        response = TraceServiceStub(channel).Export(request, timeout=timeout)  # type: ignore[no-untyped-call]
    except grpc.RpcError as error:
        return _grpc_failure(error, target, address, endpoint.host, tls, spans, started)
    finally:
        channel.close()
    elapsed = time.monotonic() - started
    result = result_from_response(response)
    return _accepted_outcome(
        "grpc",
        target,
        spans,
        result,
        "OK",
        elapsed,
        {"status": "OK", "elapsed_ms": round(elapsed * 1000, 1)},
    )


def _read_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _grpc_failure(
    error: grpc.RpcError,
    target: str,
    address: tuple[str, int],
    server_name: str,
    tls: bool,
    spans: int,
    started: float,
) -> ExportOutcome:
    code: grpc.StatusCode = error.code()
    details: str = error.details() or ""
    kind = classify_grpc_error(code, details)
    if kind in (GRPC_STATUS, wire.CLOSED, wire.RESET, wire.TLS_FAILED):
        kind = _grpc_second_look(kind, address, server_name, tls)
    elapsed = time.monotonic() - started
    evidence = {
        "grpc_status": code.name,
        "details": details[:300],
        "connected_to": f"{address[0]}:{address[1]}",
    }
    if kind == GRPC_STATUS:
        explanation = f"the collector at {target} returned gRPC {code.name}: {details[:200]}"
    else:
        explanation = explain_wire(kind, details[:200], target)
    return ExportOutcome(
        "grpc",
        target,
        kind,
        explanation,
        spans,
        status=code.name,
        elapsed=elapsed,
        evidence=evidence,
    )


def classify_grpc_error(code: grpc.StatusCode, details: str) -> str:
    """Map a grpcio status and its details text to a wire kind (or GRPC_STATUS)."""
    text = details.lower()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return wire.TIMEOUT
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return "grpc-unimplemented"
    if code != grpc.StatusCode.UNAVAILABLE:
        return GRPC_STATUS
    if "connection refused" in text:
        return wire.REFUSED
    if "http1.x server" in text or "http/1" in text:
        return "http1-server"
    if "ssl" in text or "handshake" in text or "tls" in text:
        return wire.TLS_FAILED
    if "dns" in text or "resolve" in text:
        return wire.UNREACHABLE
    if "reset" in text:
        return wire.RESET
    return wire.CLOSED


def _grpc_second_look(kind: str, address: tuple[str, int], server_name: str, tls: bool) -> str:
    probe = wire.probe_tls(address, server_name, DIAGNOSIS_TIMEOUT)
    if tls and probe.speaks_tls is False:
        return wire.TLS_TO_PLAINTEXT
    if not tls and probe.speaks_tls:
        return wire.PLAINTEXT_TO_TLS
    if probe.plaintext == "http1" and not tls:
        return "http1-server"
    return kind
