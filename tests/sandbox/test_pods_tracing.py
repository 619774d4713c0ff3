"""Span export of the simulated services: real OpenTelemetry SDK to tiny OTLP receivers."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from lsconform.sandbox.pods import start_pods
from lsconform.sandbox.pods.tracing import resolve_target

try:
    from .test_pods_support import get, log_files, make_plan, next_ip
except ImportError:
    from test_pods_support import get, log_files, make_plan, next_ip  # type: ignore[no-redef]

COLLECTOR_HOST = "gateway-collector.langsmith-observability.svc.cluster.local"
# How long a test waits for spans to arrive (seconds); the pods export every 200 ms.
SPAN_WAIT_S = 15.0


class Received:
    """Export requests a receiver got: (path, ExportTraceServiceRequest)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, trace_service_pb2.ExportTraceServiceRequest]] = []
        self.lock = threading.Lock()

    def add(self, path: str, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self.lock:
            self.requests.append((path, request))

    def spans(self) -> list[tuple[str, str]]:
        """Return (service.name, span name) of every span received."""
        out = []
        with self.lock:
            for _path, request in self.requests:
                for resource_spans in request.resource_spans:
                    attributes = {
                        a.key: a.value.string_value for a in resource_spans.resource.attributes
                    }
                    for scope in resource_spans.scope_spans:
                        out.extend(
                            (attributes.get("service.name", ""), s.name) for s in scope.spans
                        )
        return out

    def wait_for(self, predicate: Any) -> bool:
        deadline = time.monotonic() + SPAN_WAIT_S
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.1)
        return False


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, int, Received]]:
    """An OTLP/HTTP receiver that records protobuf posts on any path.

    It returns 404 for any path but /v1/traces, as the collector does.
    """
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.add(self.path, request)
            reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200 if self.path == "/v1/traces" else 404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = ThreadingHTTPServer((next_ip(), 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield str(server.server_address[0]), int(server.server_address[1]), received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[str, int, Received]]:
    """An OTLP/gRPC receiver (plaintext)."""
    received = Received()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            received.add("grpc", request)
            return trace_service_pb2.ExportTraceServiceResponse()

    executor = futures.ThreadPoolExecutor(max_workers=2)
    server = grpc.server(executor)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    ip = next_ip()
    port = server.add_insecure_port(f"{ip}:0")
    server.start()
    try:
        yield ip, port, received
    finally:
        server.stop(grace=0.2).wait(10)
        executor.shutdown(wait=True)


def _write_dns(workdir: Path, ip: str, ports: dict[str, int]) -> None:
    entry = {"ip": ip, "ports": {k: v for k, v in ports.items()}}
    (workdir / "dns.json").write_text(json.dumps({COLLECTOR_HOST: entry}))


def _backend(workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    return make_plan(
        workdir,
        "langsmith-backend-6c9d4-tr4ce",
        "langsmith-service",
        "backend",
        [("backend", 1984)],
        env=env,
    )


def test_http_export_through_dns(tmp_path: Path, http_receiver: tuple[str, int, Received]) -> None:
    ip, port, received = http_receiver
    _write_dns(tmp_path, ip, {"4318": port})
    env = {
        "OTEL_TRACING_ENABLED": "true",
        "OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}:4318/v1/traces",
        "OTEL_EXPORTER": "http",
        "OTEL_USE_TLS": "false",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_ENVIRONMENT": "ls_self_hosted",
    }
    plan = _backend(tmp_path, env)
    with start_pods([plan], tmp_path, frozenset()):
        get(plan["ip"], 1984, "/info")
        assert received.wait_for(lambda r: ("langsmith-backend", "GET /info") in r.spans())
    assert {path for path, _request in received.requests} == {"/v1/traces"}


def test_http_export_keeps_configured_path(
    tmp_path: Path, http_receiver: tuple[str, int, Received]
) -> None:
    ip, port, received = http_receiver
    _write_dns(tmp_path, ip, {"4318": port})
    env = {
        "OTEL_TRACING_ENABLED": "true",
        "OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}:4318",
        "OTEL_EXPORTER": "http",
    }
    plan = _backend(tmp_path, env)
    current = log_files(plan) / "0.log"
    with start_pods([plan], tmp_path, frozenset()):
        get(plan["ip"], 1984, "/health")
        assert received.wait_for(lambda r: bool(r.requests))
        deadline = time.monotonic() + SPAN_WAIT_S
        while time.monotonic() < deadline and "failed to export" not in current.read_text():
            time.sleep(0.1)
    # Without /v1/traces in the endpoint the exporter posts to "/", as the real one does.
    assert {path for path, _request in received.requests} == {"/"}
    # The pod's log line carries the exporter's own reason.
    failures = [line for line in current.read_text().splitlines() if "failed to export" in line]
    assert failures
    assert "404" in failures[0]


def test_grpc_export_through_dns(tmp_path: Path, grpc_receiver: tuple[str, int, Received]) -> None:
    ip, port, received = grpc_receiver
    _write_dns(tmp_path, ip, {"4317": port})
    env = {
        "OTEL_TRACING_ENABLED": "true",
        "OTLP_ENDPOINT": f"{COLLECTOR_HOST}:4317",
        "OTEL_EXPORTER": "grpc",
        "OTEL_USE_TLS": "false",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }
    plan = _backend(tmp_path, env)
    with start_pods([plan], tmp_path, frozenset()):
        get(plan["ip"], 1984, "/health")
        assert received.wait_for(lambda r: ("langsmith-backend", "GET /health") in r.spans())


def test_tracing_off_sends_nothing(
    tmp_path: Path, http_receiver: tuple[str, int, Received]
) -> None:
    ip, port, received = http_receiver
    _write_dns(tmp_path, ip, {"4318": port})
    env = {"OTEL_TRACING_ENABLED": "false", "OTLP_ENDPOINT": ""}
    plan = _backend(tmp_path, env)
    with start_pods([plan], tmp_path, frozenset()):
        get(plan["ip"], 1984, "/health")
        time.sleep(1.0)
    assert received.requests == []


def test_unknown_host_is_logged_not_resolved(tmp_path: Path) -> None:
    (tmp_path / "dns.json").write_text("{}")
    env = {
        "OTEL_TRACING_ENABLED": "true",
        "OTLP_ENDPOINT": "http://nowhere.observability.svc.cluster.local:4318/v1/traces",
        "OTEL_EXPORTER": "http",
    }
    plan = _backend(tmp_path, env)
    current = log_files(plan) / "0.log"
    with start_pods([plan], tmp_path, frozenset()):
        deadline = time.monotonic() + SPAN_WAIT_S
        while time.monotonic() < deadline and "no such host" not in current.read_text():
            time.sleep(0.1)
    assert " stderr F " in current.read_text()
    assert (
        "name resolution failed for nowhere.observability.svc.cluster.local" in current.read_text()
    )


# Endpoint translation (no processes) ------------------------------------------------------

DNS = {COLLECTOR_HOST: {"ip": "127.10.0.40", "ports": {"4317": 4317, "4318": 4318, "80": 4318}}}


@pytest.mark.parametrize(
    ("env", "exporter", "endpoint", "insecure"),
    [
        (
            {"OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}:4318/v1/traces", "OTEL_EXPORTER": "http"},
            "http",
            "http://127.10.0.40:4318/v1/traces",
            True,
        ),
        (
            {"OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}/v1/traces", "OTEL_EXPORTER": "http"},
            "http",
            "http://127.10.0.40:4318/v1/traces",
            True,
        ),
        (
            {"OTLP_ENDPOINT": f"https://{COLLECTOR_HOST}:4318/v1/traces", "OTEL_EXPORTER": "http"},
            "http",
            "https://127.10.0.40:4318/v1/traces",
            False,
        ),
        (
            {"OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}:4318/v1/traces", "OTEL_EXPORTER": "http",
             "OTEL_USE_TLS": "true", "OTEL_EXPORTER_OTLP_INSECURE": "false"},
            "http",
            "https://127.10.0.40:4318/v1/traces",
            False,
        ),
        (
            {"OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}:4318/v1/traces", "OTEL_EXPORTER": "http",
             "OTEL_USE_TLS": "false", "OTEL_EXPORTER_OTLP_INSECURE": "true"},
            "http",
            "http://127.10.0.40:4318/v1/traces",
            True,
        ),
        (
            {"OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}:4317/v1/traces", "OTEL_EXPORTER": "http"},
            "http",
            "http://127.10.0.40:4317/v1/traces",
            True,
        ),
        (
            {"OTLP_ENDPOINT": f"{COLLECTOR_HOST}:4317", "OTEL_EXPORTER": "grpc",
             "OTEL_EXPORTER_OTLP_INSECURE": "true"},
            "grpc",
            "127.10.0.40:4317",
            True,
        ),
        (
            {"OTLP_ENDPOINT": f"{COLLECTOR_HOST}:4317", "OTEL_EXPORTER": "grpc",
             "OTEL_USE_TLS": "true", "OTEL_EXPORTER_OTLP_INSECURE": "false"},
            "grpc",
            "127.10.0.40:4317",
            False,
        ),
        (
            {"OTLP_ENDPOINT": f"{COLLECTOR_HOST}:4318/v1/traces", "OTEL_EXPORTER": "grpc",
             "OTEL_EXPORTER_OTLP_INSECURE": "true"},
            "grpc",
            "127.10.0.40:4318/v1/traces",
            True,
        ),
        (
            {"OTLP_ENDPOINT": "127.0.0.1:4317", "OTEL_EXPORTER": "grpc"},
            "grpc",
            "127.0.0.1:4317",
            False,
        ),
    ],
)  # fmt: skip
def test_resolve_target(env: dict[str, str], exporter: str, endpoint: str, insecure: bool) -> None:
    target = resolve_target(env, DNS)
    assert target.error is None
    assert target.exporter == exporter
    assert target.endpoint == endpoint
    assert target.insecure is insecure


def test_resolve_target_rejects_outside_hosts() -> None:
    target = resolve_target({"OTLP_ENDPOINT": "http://collector.example.com:4318/v1/traces"}, DNS)
    assert target.endpoint == ""
    assert target.error == "name resolution failed for collector.example.com: no such host"


def test_resolve_target_without_endpoint() -> None:
    assert resolve_target({"OTEL_TRACING_ENABLED": "true"}, DNS).error == "OTLP_ENDPOINT is empty"


def test_spans_reach_the_sandbox_collector(tmp_path: Path) -> None:
    collector = make_plan(
        tmp_path,
        "langsmith-observability-collector-gateway-collector-5-k2j3h",
        "otel-collector",
        "",
        [("otlp-grpc", 4317), ("otlp-http", 4318), ("monitoring", 8888)],
        namespace="langsmith-observability",
        container="otc-container",
    )
    _write_dns(tmp_path, collector["ip"], {"4317": 4317, "4318": 4318})
    env = {
        "OTEL_TRACING_ENABLED": "true",
        "OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}:4318/v1/traces",
        "OTEL_EXPORTER": "http",
    }
    plan = _backend(tmp_path, env)
    with start_pods([plan, collector], tmp_path, frozenset()) as group:
        key = f"langsmith-observability/{collector['name']}"
        assert group.status[key]["otc-container"]["started"] is True
        assert len(group.collectors) == 1
        store = group.collectors[0].store
        get(plan["ip"], 1984, "/health")
        deadline = time.monotonic() + SPAN_WAIT_S
        while time.monotonic() < deadline and "langsmith-backend" not in store.services():
            time.sleep(0.1)
        assert "langsmith-backend" in store.services()


def test_tls_against_plaintext_fails_and_is_logged(
    tmp_path: Path, http_receiver: tuple[str, int, Received]
) -> None:
    ip, port, received = http_receiver
    _write_dns(tmp_path, ip, {"4318": port})
    env = {
        "OTEL_TRACING_ENABLED": "true",
        "OTLP_ENDPOINT": f"http://{COLLECTOR_HOST}:4318/v1/traces",
        "OTEL_EXPORTER": "http",
        "OTEL_USE_TLS": "true",
        "OTEL_EXPORTER_OTLP_INSECURE": "false",
    }
    plan = _backend(tmp_path, env)
    current = log_files(plan) / "0.log"
    with start_pods([plan], tmp_path, frozenset()):
        get(plan["ip"], 1984, "/health")
        deadline = time.monotonic() + SPAN_WAIT_S
        while time.monotonic() < deadline and "failed to export" not in current.read_text():
            time.sleep(0.1)
    assert received.requests == []
    pattern = rf"failed to export \d+ spans to https://{re.escape(ip)}:{port}/v1/traces"
    assert re.search(pattern, current.read_text())


def test_collector_log_ignores_other_pods_faults(tmp_path: Path) -> None:
    collector = make_plan(
        tmp_path,
        "langsmith-observability-collector-gateway-collector-5-q8w7e",
        "otel-collector",
        "",
        [("otlp-grpc", 4317), ("otlp-http", 4318)],
        namespace="langsmith-observability",
        container="otc-container",
    )
    backend = _backend(tmp_path, {})
    with start_pods([backend, collector], tmp_path, frozenset({"container-silent"})):
        assert (log_files(backend) / "0.log").read_text() == ""
        assert (log_files(collector) / "0.log").read_text() != ""
