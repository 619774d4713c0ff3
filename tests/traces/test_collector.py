"""The sandbox collector: receivers, self-metrics, Tempo and Jaeger queries, and its faults."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from lsconform.probes import otlp
from lsconform.probes.otlp_client import export
from lsconform.probes.otlp_endpoint import parse_endpoint
from lsconform.sandbox.pods import collector
from tests.traces.conftest import StartCollector, next_loopback_ip


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (loopback test URL)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _post(url: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(  # noqa: S310 (loopback test URL)
        url, data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def _export_from_sdk(ip: str, service: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://{ip}:4318/v1/traces", timeout=3))
    )
    with provider.get_tracer("t").start_as_current_span("GET /health"):
        pass
    provider.shutdown()


def test_metrics_use_collector_names(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["metrics"][0]
    _export_from_sdk(ip, "backend")
    status, body = _get(f"http://{ip}:8888/metrics")
    text = body.decode()
    assert status == 200
    assert 'otelcol_receiver_accepted_spans_total{receiver="otlp",' in text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("otelcol_receiver_accepted_spans_total") and 'transport="http"' in line
    )
    assert line.endswith(" 1.0")
    assert "otelcol_receiver_refused_spans_total" in text
    assert 'otelcol_exporter_sent_spans_total{exporter="otlphttp/traces"' in text
    assert "otelcol_exporter_send_failed_spans_total" in text


def test_tempo_search_and_trace(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["metrics"][0]
    _export_from_sdk(ip, "backend")
    _export_from_sdk(ip, "queue")
    status, body = _get(f"http://{ip}:3200/api/search?tags=service.name%3Dbackend&limit=5")
    assert status == 200
    traces = json.loads(body)["traces"]
    assert len(traces) == 1
    assert traces[0]["rootServiceName"] == "backend"
    status, body = _get(f"http://{ip}:3200/api/traces/{traces[0]['traceID']}")
    assert status == 200
    assert json.loads(body)["batches"][0]["scopeSpans"][0]["spans"][0]["name"] == "GET /health"
    assert _get(f"http://{ip}:3200/api/traces/{'0' * 32}")[0] == 404
    assert _get(f"http://{ip}:3200/api/echo") == (200, b"echo")
    status, body = _get(f"http://{ip}:3200/api/search/tag/service.name/values")
    assert json.loads(body)["tagValues"] == ["backend", "queue"]


def test_jaeger_traces_by_service(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["metrics"][0]
    _export_from_sdk(ip, "platform-backend")
    status, body = _get(f"http://{ip}:16686/api/traces?service=platform-backend&lookback=1h")
    data = json.loads(body)["data"]
    assert status == 200
    assert len(data) == 1
    assert data[0]["processes"]["p1"]["serviceName"] == "platform-backend"
    assert json.loads(_get(f"http://{ip}:16686/api/services")[1])["data"] == ["platform-backend"]
    assert _get(f"http://{ip}:16686/api/traces")[0] == 400


def test_otlp_http_error_statuses(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["metrics"][0]
    body = otlp.encode_request(otlp.build_probe_request(otlp.new_probe_id()))
    assert _post(f"http://{ip}:4318/", body, "application/x-protobuf") == 404
    assert _post(f"http://{ip}:4318/v1/traces", body, "application/json") == 415
    assert _post(f"http://{ip}:4318/v1/traces", b"\xff\xff\xff", "application/x-protobuf") == 400
    assert _get(f"http://{ip}:4318/v1/traces")[0] == 405


def test_localhost_only_binds_receivers_to_loopback(start_collector: StartCollector) -> None:
    handle = start_collector("collector-localhost-only")
    assert handle.addresses["otlp-http"][0] == "127.0.0.1"
    assert handle.addresses["otlp-grpc"][0] == "127.0.0.1"
    ip = handle.addresses["metrics"][0]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, 4318), timeout=2).close()
    request = otlp.build_probe_request(otlp.new_probe_id())
    host, port = handle.addresses["otlp-http"]
    outcome = export(
        parse_endpoint(f"http://{host}:{port}/v1/traces"),
        request,
        protocol="http",
        tls=False,
        timeout=3,
    )
    assert outcome.accepted


def test_down_starts_nothing(start_collector: StartCollector) -> None:
    handle = start_collector("collector-down")
    assert not handle.started
    assert "collector-down" in handle.status["otc-container"][1]
    assert handle.addresses == {}


def test_partial_success_counts_refused(start_collector: StartCollector) -> None:
    handle = start_collector("collector-partial-success")
    ip = handle.addresses["metrics"][0]
    request = otlp.build_probe_request(otlp.new_probe_id())
    outcome = export(parse_endpoint(f"{ip}:4317"), request, protocol="grpc", tls=False, timeout=3)
    assert outcome.result is not None
    assert outcome.result.rejected_spans == 1
    text = _get(f"http://{ip}:8888/metrics")[1].decode()
    refused = [
        line
        for line in text.splitlines()
        if line.startswith("otelcol_receiver_refused_spans_total") and "grpc" in line
    ]
    assert refused[0].endswith(" 1.0")


def test_port_in_use_reports_not_started(tmp_path: Path) -> None:
    ip = next_loopback_ip()
    blocker = socket.socket()
    blocker.bind((ip, 4318))
    blocker.listen(1)
    plan = {"name": "c-0", "uid": "u", "ip": ip, "containers": [{"name": "otc-container"}]}
    try:
        handle = collector.start(plan, tmp_path, frozenset(), {})
        assert not handle.started
        assert "failed to start" in handle.status["otc-container"][1]
    finally:
        blocker.close()


def test_store_is_bounded() -> None:
    store = collector.SpanStore(max_spans=5)
    for _ in range(4):
        request = otlp.build_probe_request(otlp.new_probe_id())
        for resource_spans in request.resource_spans:
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    store.add(resource_spans, scope, span)
    assert sum(len(t) for t in store.traces()) <= 5
