"""OTLP messages: the probe request, responses, bodies, and round trips of the SDK's exports."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from lsconform.probes import otlp


def test_probe_request_identifies_itself() -> None:
    probe_id = otlp.new_probe_id()
    request = otlp.build_probe_request(probe_id, service_name="probe-x", environment="test")
    spans = list(otlp.iter_spans(request))
    assert len(spans) == 3
    assert {span.trace_id.hex() for _, span in spans} == {probe_id}
    resource = spans[0][0]
    assert resource["service.name"] == "probe-x"
    assert resource[otlp.PROBE_ATTRIBUTE] == probe_id
    assert resource["deployment.environment"] == "test"
    large = next(s for _, s in spans if s.name == "probe payload")
    assert len(large.attributes[0].value.string_value) == otlp.PROBE_LARGE_ATTRIBUTE_BYTES


def test_request_round_trip_is_byte_identical() -> None:
    request = otlp.build_probe_request(otlp.new_probe_id())
    data = otlp.encode_request(request)
    assert otlp.encode_request(otlp.decode_request(data)) == data


def test_decode_request_rejects_garbage() -> None:
    with pytest.raises(otlp.OtlpDecodeError, match="not an OTLP ExportTraceServiceRequest"):
        otlp.decode_request(b"\xff\xff\xff\xff garbage")


def test_response_partial_success_protobuf() -> None:
    data = otlp.encode_response(37, "attribute value exceeds limit")
    result = otlp.decode_response(data)
    assert result.rejected_spans == 37
    assert result.error_message == "attribute value exceeds limit"
    assert result.is_partial


def test_response_empty_is_full_success() -> None:
    result = otlp.decode_response(b"")
    assert not result.is_partial


def test_response_partial_success_json() -> None:
    body = b'{"partialSuccess":{"rejectedSpans":"37","errorMessage":"too big"}}'
    result = otlp.decode_response(body, "application/json; charset=utf-8")
    assert result.rejected_spans == 37
    assert result.error_message == "too big"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid OTLP/JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"partialSuccess": {"rejectedSpans": "many"}}', "not an integer"),
        (b"\xff\xfe", "invalid OTLP/JSON"),
    ],
)
def test_response_json_malformed(body: bytes, message: str) -> None:
    with pytest.raises(otlp.OtlpDecodeError, match=message):
        otlp.decode_response(body, "application/json")


def test_decode_body_gzip_and_limits() -> None:
    assert otlp.decode_body(gzip.compress(b"abc"), "gzip") == b"abc"
    with pytest.raises(otlp.OtlpDecodeError, match="unsupported Content-Encoding"):
        otlp.decode_body(b"abc", "br")
    with pytest.raises(otlp.OtlpDecodeError, match="invalid compressed body"):
        otlp.decode_body(b"not gzip", "gzip")
    bomb = gzip.compress(b"\0" * (otlp.MAX_OTLP_MESSAGE_BYTES + 10))
    with pytest.raises(otlp.OtlpDecodeError, match="exceeds"):
        otlp.decode_body(bomb, "gzip")


class _CapturingHandler(BaseHTTPRequestHandler):
    captured: list[bytes]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.captured.append(self.rfile.read(length))
        body = otlp.encode_response()
        self.send_response(200)
        self.send_header("Content-Type", otlp.CONTENT_TYPE_PROTOBUF)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, list[bytes]]]:
    captured: list[bytes] = []
    handler = type("Handler", (_CapturingHandler,), {"captured": captured})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", captured
    server.shutdown()
    server.server_close()


def _emit_spans(exporter: object) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-service"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("parent", attributes={"k": "v", "n": 3}),
        tracer.start_as_current_span("child"),
    ):
        pass
    provider.shutdown()


def test_sdk_http_export_round_trips(http_receiver: tuple[str, list[bytes]]) -> None:
    url, captured = http_receiver
    _emit_spans(HttpExporter(endpoint=url, timeout=5))
    assert len(captured) == 2
    for body in captured:
        request = otlp.decode_request(body)
        assert otlp.encode_request(request) == body
        assert otlp.service_names(request) == {"sdk-service"}
    names = {
        span.name for body in captured for _, span in otlp.iter_spans(otlp.decode_request(body))
    }
    assert names == {"parent", "child"}


def test_sdk_grpc_export_round_trips() -> None:
    captured: list[bytes] = []

    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        captured.append(request)
        return otlp.encode_response()

    # A generic handler without deserializers hands over the message bytes as received.
    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )
    executor = ThreadPoolExecutor(max_workers=2)
    server = grpc.server(executor)
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        _emit_spans(GrpcExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=5))
    finally:
        server.stop(grace=None).wait(2)
        executor.shutdown(wait=True)
    assert len(captured) == 2
    for body in captured:
        assert otlp.encode_request(otlp.decode_request(body)) == body
