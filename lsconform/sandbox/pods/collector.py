"""The sandbox's OpenTelemetry collector gateway, with a trace store that plays Tempo and Jaeger.

It behaves, on the wire, like `otel/opentelemetry-collector-contrib` 0.123 configured as the
langsmith-observability chart configures its gateway: an OTLP receiver on gRPC 4317 and HTTP 4318
(`/v1/traces`, protobuf), bound to the pod IP. Its own metrics are on 8888 `/metrics` under the
collector's names, with the `_total` suffix that recent releases give counters (0.91 had none).
Its trace pipeline exports every accepted span to a store. The store serves a Tempo-style query
API on 3200 (`/api/search`, `/api/traces/<id>`, `/api/echo`, `/ready`) and a Jaeger-style one on
16686 (`/api/services`, `/api/traces?service=`).

Faults applied here:
- `collector-localhost-only`: the OTLP receivers listen on 127.0.0.1 only, as a collector 0.104 or
  later does when its config gives no endpoint; other pods get "connection refused".
- `collector-partial-success`: spans carrying an attribute value longer than
  `PARTIAL_SUCCESS_VALUE_LIMIT` bytes are rejected with an OTLP `partial_success` response.
- `collector-down`: nothing is started and nothing listens.

`start(plan, workdir, faults, dns)` is what the sandbox's pod starter calls for a pod of role
"otel-collector"; the returned handle's `stop()` closes every listener.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from lsconform.constants import OTLP_GRPC_PORT, OTLP_HTTP_PORT, OTLP_HTTP_TRACES_PATH

log = logging.getLogger(__name__)

COLLECTOR_VERSION = "0.123.0"
COLLECTOR_SERVICE_NAME = "otelcol-contrib"
METRICS_PORT = 8888
TEMPO_PORT = 3200
JAEGER_PORT = 16686
EXPORTER_NAME = "otlphttp/traces"

# The collector's default limit on an OTLP/HTTP request body (confighttp, 20 MiB).
MAX_REQUEST_BYTES = 20 * 1024 * 1024
# Spans kept in the store; the oldest traces are dropped first.
MAX_STORED_SPANS = 20_000
# Under collector-partial-success, spans with a string attribute longer than this are rejected.
PARTIAL_SUCCESS_VALUE_LIMIT = 2048
# Seconds a connection may sit idle in a request before the server drops it.
REQUEST_TIMEOUT = 10.0

LOCALHOST_ONLY = "collector-localhost-only"
PARTIAL_SUCCESS = "collector-partial-success"
DOWN = "collector-down"


@dataclass
class StoredSpan:
    """One span as the store keeps it, with the resource it came with."""

    trace_id: str
    service_name: str
    name: str
    start_ns: int
    end_ns: int
    resource_spans: ResourceSpans


class SpanStore:
    """A bounded, thread-safe store of received spans, grouped by trace id (hex)."""

    def __init__(self, max_spans: int = MAX_STORED_SPANS) -> None:
        self._traces: OrderedDict[str, list[StoredSpan]] = OrderedDict()
        self._count = 0
        self._max_spans = max_spans
        self._lock = threading.Lock()

    def add(self, resource_spans: ResourceSpans, scope: ScopeSpans, span: Span) -> None:
        service = _service_name(resource_spans)
        single = ResourceSpans(
            resource=resource_spans.resource,
            schema_url=resource_spans.schema_url,
            scope_spans=[ScopeSpans(scope=scope.scope, schema_url=scope.schema_url, spans=[span])],
        )
        stored = StoredSpan(
            span.trace_id.hex(),
            service,
            span.name,
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            single,
        )
        with self._lock:
            self._traces.setdefault(stored.trace_id, []).append(stored)
            self._count += 1
            while self._count > self._max_spans and self._traces:
                _, dropped = self._traces.popitem(last=False)
                self._count -= len(dropped)

    def traces(self) -> list[list[StoredSpan]]:
        with self._lock:
            return [list(spans) for spans in self._traces.values()]

    def trace(self, trace_id: str) -> list[StoredSpan]:
        with self._lock:
            return list(self._traces.get(trace_id.lower(), []))

    def services(self) -> list[str]:
        with self._lock:
            return sorted({s.service_name for spans in self._traces.values() for s in spans})


def _service_name(resource_spans: ResourceSpans) -> str:
    for attribute in resource_spans.resource.attributes:
        if attribute.key == "service.name":
            return str(attribute.value.string_value)
    return "unknown_service"


class CollectorTelemetry:
    """The collector's own metrics, under the names and labels of collector 0.123."""

    def __init__(self, instance_id: str) -> None:
        self.registry = CollectorRegistry()
        common = {
            "service_instance_id": instance_id,
            "service_name": COLLECTOR_SERVICE_NAME,
            "service_version": COLLECTOR_VERSION,
        }
        self._common = common
        receiver_labels = ["receiver", "transport", *common]
        exporter_labels = ["exporter", *common]
        self.accepted = Counter(
            "otelcol_receiver_accepted_spans",
            "Number of spans successfully pushed into the pipeline. [alpha]",
            receiver_labels,
            registry=self.registry,
        )
        self.refused = Counter(
            "otelcol_receiver_refused_spans",
            "Number of spans that could not be pushed into the pipeline. [alpha]",
            receiver_labels,
            registry=self.registry,
        )
        self.sent = Counter(
            "otelcol_exporter_sent_spans",
            "Number of spans successfully sent to destination. [alpha]",
            exporter_labels,
            registry=self.registry,
        )
        self.send_failed = Counter(
            "otelcol_exporter_send_failed_spans",
            "Number of spans in failed attempts to send to destination. [alpha]",
            exporter_labels,
            registry=self.registry,
        )
        self.queue_size = Gauge(
            "otelcol_exporter_queue_size",
            "Current size of the retry queue (in batches). [alpha]",
            exporter_labels,
            registry=self.registry,
        )
        self.uptime = Counter(
            "otelcol_process_uptime_seconds",
            "Uptime of the process [alpha]",
            list(common),
            registry=self.registry,
        )
        for transport in ("grpc", "http"):
            self.accepted.labels("otlp", transport, *common.values())
            self.refused.labels("otlp", transport, *common.values())
        self.sent.labels(EXPORTER_NAME, *common.values())
        self.send_failed.labels(EXPORTER_NAME, *common.values())
        self.queue_size.labels(EXPORTER_NAME, *common.values()).set(0)
        self._started = time.monotonic()
        self._reported_uptime = 0.0

    def received(self, transport: str, accepted: int, refused: int) -> None:
        values = self._common.values()
        self.accepted.labels("otlp", transport, *values).inc(accepted)
        self.refused.labels("otlp", transport, *values).inc(refused)
        self.sent.labels(EXPORTER_NAME, *values).inc(accepted)

    def exposition(self) -> bytes:
        now = time.monotonic() - self._started
        self.uptime.labels(*self._common.values()).inc(max(0.0, now - self._reported_uptime))
        self._reported_uptime = now
        # prometheus_client adds `<name>_created` samples that the collector never exposes.
        lines = generate_latest(self.registry).decode("utf-8").splitlines(keepends=True)
        return "".join(line for line in lines if "_created{" not in line).encode("utf-8")


class Pipeline:
    """Receive an export request, apply the partial-success rule, store and count the spans."""

    def __init__(
        self,
        store: SpanStore,
        telemetry: CollectorTelemetry,
        *,
        reject_large: bool,
        log_line: Callable[[str], None],
    ) -> None:
        self.store = store
        self.telemetry = telemetry
        self.reject_large = reject_large
        self.log_line = log_line

    def consume(
        self, request: ExportTraceServiceRequest, transport: str
    ) -> ExportTraceServiceResponse:
        accepted = rejected = 0
        for resource_spans in request.resource_spans:
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    if self.reject_large and _has_large_value(span):
                        rejected += 1
                        continue
                    self.store.add(resource_spans, scope, span)
                    accepted += 1
        self.telemetry.received(transport, accepted, rejected)
        response = ExportTraceServiceResponse()
        if rejected:
            message = (
                f"{rejected} spans rejected: an attribute value exceeds the limit of "
                f"{PARTIAL_SUCCESS_VALUE_LIMIT} bytes"
            )
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = message
            self.log_line(
                f"warn\totlpreceiver\tPartial success response\t"
                f'{{"message": "{message}", "dropped_spans": {rejected}}}'
            )
        return response


def _has_large_value(span: Span) -> bool:
    return any(
        attribute.value.WhichOneof("value") == "string_value"
        and len(attribute.value.string_value.encode("utf-8")) > PARTIAL_SUCCESS_VALUE_LIMIT
        for attribute in span.attributes
    )


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def Export(  # the method name is fixed by the OTLP service definition
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        del context
        return self.pipeline.consume(request, "grpc")


class _Handler(BaseHTTPRequestHandler):
    """Shared plumbing of the collector's HTTP servers: bounded bodies, quiet logging."""

    server_version = "otelcol-contrib"
    sys_version = ""
    timeout = REQUEST_TIMEOUT
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("collector %s: " + format, self.server.server_address, *args)

    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status: int, document: object) -> None:
        self.reply(status, json.dumps(document).encode("utf-8"), "application/json")

    def read_body(self) -> bytes | None:
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self.reply(411, b"Content-Length required\n")
            return None
        length = int(length_text)
        if length > MAX_REQUEST_BYTES:
            self.reply(413, b"request body too large\n")
            self.close_connection = True
            return None
        return self.rfile.read(length)


class _OtlpHttpHandler(_Handler):
    pipeline: Pipeline

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path != OTLP_HTTP_TRACES_PATH:
            self.reply(404, b"404 page not found\n")
            return
        body = self.read_body()
        if body is None:
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/x-protobuf":
            self.reply(
                415,
                f"415 unsupported media type, supported: [application/x-protobuf]"
                f" (got {content_type!r})\n".encode(),
            )
            return
        try:
            data = _decompress(body, self.headers.get("Content-Encoding", ""))
            request = ExportTraceServiceRequest()
            request.ParseFromString(data)
        except (DecodeError, ValueError, OSError) as error:
            self.reply(400, _status_message(3, f"proto: {error}"), "application/x-protobuf")
            return
        response = self.pipeline.consume(request, "http")
        self.reply(200, response.SerializeToString(), "application/x-protobuf")

    def do_GET(self) -> None:
        if urllib.parse.urlsplit(self.path).path == OTLP_HTTP_TRACES_PATH:
            self.reply(405, b"405 method not allowed, supported: [POST]\n")
        else:
            self.reply(404, b"404 page not found\n")


def _decompress(body: bytes, encoding: str) -> bytes:
    import gzip
    import zlib

    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding in ("deflate", "zlib"):
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def _status_message(code: int, message: str) -> bytes:
    # The collector returns OTLP/HTTP errors as a google.rpc.Status, where field 1 is the code and
    # field 2 the message, encoded by hand to avoid depending on googleapis' protos.
    text = message.encode("utf-8")[:1024]
    return bytes([0x08, code, 0x12]) + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _MetricsHandler(_Handler):
    telemetry: CollectorTelemetry

    def do_GET(self) -> None:
        if urllib.parse.urlsplit(self.path).path == "/metrics":
            self.reply(200, self.telemetry.exposition(), CONTENT_TYPE_LATEST)
        else:
            self.reply(404, b"404 page not found\n")


class _TempoHandler(_Handler):
    store: SpanStore

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path == "/api/echo":
            self.reply(200, b"echo")
        elif parts.path == "/ready":
            self.reply(200, b"ready")
        elif parts.path in (
            "/api/search/tag/service.name/values",
            "/api/v2/search/tag/resource.service.name/values",
        ):
            values = self.store.services()
            if parts.path.startswith("/api/v2/"):
                self.reply_json(
                    200, {"tagValues": [{"type": "string", "value": v} for v in values]}
                )
            else:
                self.reply_json(200, {"tagValues": values})
        elif parts.path == "/api/search":
            self.reply_json(200, tempo_search(self.store, query))
        elif parts.path.startswith("/api/traces/"):
            spans = self.store.trace(parts.path.rsplit("/", 1)[-1])
            if not spans:
                self.reply(404, b"trace not found")
            else:
                self.reply_json(
                    200, {"batches": [json_format.MessageToDict(s.resource_spans) for s in spans]}
                )
        else:
            self.reply(404, b"404 page not found\n")


class _JaegerHandler(_Handler):
    store: SpanStore

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path == "/api/services":
            services = self.store.services()
            self.reply_json(200, {"data": services, "total": len(services), "errors": None})
        elif parts.path == "/api/traces":
            service = (query.get("service") or [""])[0]
            if not service:
                self.reply_json(
                    400,
                    {
                        "data": None,
                        "errors": [{"code": 400, "msg": "parameter 'service' is required"}],
                    },
                )
                return
            self.reply_json(200, jaeger_search(self.store, service, query))
        else:
            self.reply(404, b"404 page not found\n")


def _search_window(query: Mapping[str, list[str]]) -> tuple[int, int, int]:
    def number(name: str, default: int) -> int:
        text = (query.get(name) or [""])[0]
        return int(text) if text.isdigit() else default

    limit = min(max(number("limit", 20), 1), 1000)
    return number("start", 0), number("end", 0), limit


def _tempo_service(query: Mapping[str, list[str]]) -> str | None:
    for tags in query.get("tags", []):
        for pair in tags.split(" "):
            key, _, value = pair.partition("=")
            if key in ("service.name", "resource.service.name"):
                return value.strip('"')
    for traceql in query.get("q", []):
        marker = "service.name"
        if marker in traceql:
            rest = traceql.split(marker, 1)[1].lstrip(" =")
            return rest.split('"')[1] if rest.startswith('"') else rest.split("}")[0].strip()
    return None


def tempo_search(store: SpanStore, query: Mapping[str, list[str]]) -> dict[str, Any]:
    """Build the response to a Tempo `/api/search`: traces with a span of the requested service."""
    start, end, limit = _search_window(query)
    service = _tempo_service(query)
    found = []
    for spans in reversed(store.traces()):
        matching = [s for s in spans if service is None or s.service_name == service]
        if not matching or not _in_window(spans, start, end):
            continue
        root = min(spans, key=lambda s: s.start_ns)
        found.append(
            {
                "traceID": root.trace_id,
                "rootServiceName": root.service_name,
                "rootTraceName": root.name,
                "startTimeUnixNano": str(root.start_ns),
                "durationMs": max(0, (max(s.end_ns for s in spans) - root.start_ns) // 1_000_000),
            }
        )
        if len(found) >= limit:
            break
    return {
        "traces": found,
        "metrics": {"inspectedTraces": len(found), "completedJobs": 1, "totalJobs": 1},
    }


def _in_window(spans: Iterable[StoredSpan], start: int, end: int) -> bool:
    first = min(s.start_ns for s in spans) // 1_000_000_000
    return (not start or first >= start) and (not end or first <= end)


def jaeger_search(store: SpanStore, service: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
    """Build the response to a Jaeger `/api/traces?service=`: traces with spans of that service."""
    _, _, limit = _search_window(query)
    data = []
    for spans in reversed(store.traces()):
        if not any(s.service_name == service for s in spans):
            continue
        processes: dict[str, dict[str, Any]] = {}
        jaeger_spans = []
        for stored in spans:
            process_id = f"p{len(processes) + 1}"
            for key, process in processes.items():
                if process["serviceName"] == stored.service_name:
                    process_id = key
            processes.setdefault(process_id, {"serviceName": stored.service_name, "tags": []})
            span = stored.resource_spans.scope_spans[0].spans[0]
            jaeger_spans.append(
                {
                    "traceID": stored.trace_id,
                    "spanID": span.span_id.hex(),
                    "operationName": stored.name,
                    "references": [],
                    "startTime": stored.start_ns // 1000,
                    "duration": max(0, (stored.end_ns - stored.start_ns) // 1000),
                    "tags": [],
                    "processID": process_id,
                }
            )
        data.append({"traceID": spans[0].trace_id, "spans": jaeger_spans, "processes": processes})
        if len(data) >= limit:
            break
    return {"data": data, "total": len(data), "limit": 0, "offset": 0, "errors": None}


@dataclass
class CollectorHandle:
    """The running collector of one pod: its listening addresses and how to stop it.

    `status` maps the container name to (started, reason); `addresses` maps a listener name
    (otlp-grpc, otlp-http, metrics, tempo, jaeger) to its (host, port).
    """

    pod: str
    status: dict[str, tuple[bool, str]]
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)
    store: SpanStore | None = None
    _servers: list[ThreadingHTTPServer] = field(default_factory=list)
    _grpc: grpc.Server | None = None
    _executor: ThreadPoolExecutor | None = None
    _log: Any = None

    @property
    def started(self) -> bool:
        """Whether every container of the pod is running."""
        return all(started for started, _ in self.status.values())

    def stop(self) -> None:
        """Close every listener and wait for the servers' threads to end."""
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait(2)
            self._grpc = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        if self._log is not None:
            self._log.close()


def _port(container: Mapping[str, Any], names: tuple[str, ...], default: int) -> int:
    for port in container.get("ports") or []:
        if port.get("name") in names:
            return int(port["containerPort"])
    return default


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (a protocol sniff, a timed-out probe) is routine.
        log.debug("collector connection from %s ended with an error", client_address, exc_info=True)


def _serve_http(
    address: tuple[str, int], handler: type[_Handler], attributes: dict[str, Any], name: str
) -> ThreadingHTTPServer:
    bound = type(f"{handler.__name__}Bound", (handler,), attributes)
    server = _QuietServer(address, bound)
    threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name=f"collector-{name}",
        daemon=True,
    ).start()
    return server


def _container_log(
    plan: Mapping[str, Any], container: Mapping[str, Any], faults: frozenset[str]
) -> Any:
    if not container.get("log_dir"):
        return None
    from lsconform.sandbox.pods.crilog import ContainerLog, log_mode

    container_log = ContainerLog(plan, container, log_mode(set(faults)))
    container_log.open()
    return container_log


def start(
    plan: Mapping[str, Any], workdir: Path, faults: frozenset[str], dns: Mapping[str, Any]
) -> CollectorHandle:
    """Start the collector of one pod plan and return once every listener is bound.

    `workdir` and `dns` are accepted for the pod starter's common signature; the collector
    exports to its own store, so it resolves no other Service.
    """
    del workdir, dns
    container = (plan.get("containers") or [{"name": "otc-container"}])[0]
    name = str(container.get("name", "otc-container"))
    pod = str(plan.get("name", "collector"))
    if DOWN in faults:
        log.info("collector %s not started (fault %s)", pod, DOWN)
        return CollectorHandle(pod, {name: (False, f"not started: fault {DOWN}")})
    ip = str(plan["ip"])
    receiver_host = "127.0.0.1" if LOCALHOST_ONLY in faults else ip
    container_log = _container_log(plan, container, faults)
    write = container_log.write if container_log is not None else (lambda _line: None)
    handle = CollectorHandle(pod, {name: (True, "running")}, _log=container_log)
    telemetry = CollectorTelemetry(str(plan.get("uid", pod)))
    store = SpanStore()
    handle.store = store
    pipeline = Pipeline(store, telemetry, reject_large=PARTIAL_SUCCESS in faults, log_line=write)
    try:
        _start_listeners(handle, container, ip, receiver_host, pipeline, telemetry, store, write)
    except OSError as error:
        handle.stop()
        log.error("collector %s failed to start: %s", pod, error)
        return CollectorHandle(pod, {name: (False, f"failed to start: {error}")})
    write(
        f"info\tservice@v{COLLECTOR_VERSION}/service.go\tEverything is ready. "
        "Begin running and processing data."
    )
    return handle


def _start_listeners(
    handle: CollectorHandle,
    container: Mapping[str, Any],
    ip: str,
    receiver_host: str,
    pipeline: Pipeline,
    telemetry: CollectorTelemetry,
    store: SpanStore,
    write: Callable[[str], None],
) -> None:
    # Under collector-localhost-only the receivers take a free port on 127.0.0.1: what matters
    # is that nothing listens on the pod IP, and 127.0.0.1:4317 may be taken on this machine.
    grpc_port = _port(container, ("otlp-grpc", "otlp"), OTLP_GRPC_PORT)
    http_port = _port(container, ("otlp-http",), OTLP_HTTP_PORT)
    localhost_only = receiver_host != ip
    handle._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="collector-grpc")
    server = grpc.server(handle._executor, options=[("grpc.so_reuseport", 0)])
    service = _TraceService(pipeline)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)  # type: ignore[no-untyped-call]
    bound = server.add_insecure_port(f"{receiver_host}:{0 if localhost_only else grpc_port}")
    if not bound:
        raise OSError(f"cannot bind the OTLP gRPC receiver to {receiver_host}:{grpc_port}")
    server.start()
    handle._grpc = server
    handle.addresses["otlp-grpc"] = (receiver_host, bound)
    write(f'info\totlpreceiver\tStarting GRPC server\t{{"endpoint": "{receiver_host}:{bound}"}}')
    http_address = (receiver_host, 0 if localhost_only else http_port)
    otlp_http = _serve_http(http_address, _OtlpHttpHandler, {"pipeline": pipeline}, "otlp-http")
    handle._servers.append(otlp_http)
    handle.addresses["otlp-http"] = otlp_http.server_address[:2]  # type: ignore[assignment]
    write(
        f'info\totlpreceiver\tStarting HTTP server\t{{"endpoint": '
        f'"{receiver_host}:{otlp_http.server_address[1]}"}}'
    )
    listeners: list[tuple[str, int, type[_Handler], dict[str, Any]]] = [
        (
            "metrics",
            _port(container, ("monitoring", "metrics"), METRICS_PORT),
            _MetricsHandler,
            {"telemetry": telemetry},
        ),
        ("tempo", _port(container, ("tempo",), TEMPO_PORT), _TempoHandler, {"store": store}),
        (
            "jaeger",
            _port(container, ("jaeger-query",), JAEGER_PORT),
            _JaegerHandler,
            {"store": store},
        ),
    ]
    for listener, port, handler, attributes in listeners:
        http_server = _serve_http((ip, port), handler, attributes, listener)
        handle._servers.append(http_server)
        handle.addresses[listener] = (ip, port)
