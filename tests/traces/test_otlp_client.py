"""OTLP exports against real loopback servers: outcomes and their one-line explanations."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lsconform.probes import otlp, otlp_wire
from lsconform.probes.otlp_client import ACCEPTED, HTTP_STATUS, PARTIAL, export
from lsconform.probes.otlp_endpoint import parse_endpoint
from tests.traces.conftest import StartCollector
from tests.traces.servers import raw_server, tls_grpc_server, tls_http_server


def _send(
    endpoint: str, protocol: str, *, tls: bool = False, timeout: float = 3.0, **kwargs: object
):
    request = otlp.build_probe_request(otlp.new_probe_id())
    return export(
        parse_endpoint(endpoint), request, protocol=protocol, tls=tls, timeout=timeout, **kwargs
    )  # type: ignore[arg-type]


def test_http_accepted(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["otlp-http"][0]
    outcome = _send(f"http://{ip}:4318/v1/traces", "http")
    assert outcome.kind == ACCEPTED
    assert outcome.accepted
    assert "accepted 3 spans over OTLP/HTTP" in outcome.explanation


def test_grpc_accepted(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["otlp-grpc"][0]
    outcome = _send(f"{ip}:4317", "grpc")
    assert outcome.kind == ACCEPTED
    assert "OTLP/gRPC" in outcome.explanation


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_partial_success_reports_rejected(start_collector: StartCollector, protocol: str) -> None:
    ip = start_collector("collector-partial-success").addresses["metrics"][0]
    endpoint = f"http://{ip}:4318/v1/traces" if protocol == "http" else f"{ip}:4317"
    outcome = _send(endpoint, protocol)
    assert outcome.kind == PARTIAL
    assert not outcome.accepted
    assert outcome.result is not None
    assert outcome.result.rejected_spans == 1
    assert "rejected 1 of 3 spans" in outcome.explanation


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_refused_explained(start_collector: StartCollector, protocol: str) -> None:
    ip = start_collector("collector-localhost-only").addresses["metrics"][0]
    endpoint = f"http://{ip}:4318/v1/traces" if protocol == "http" else f"{ip}:4317"
    outcome = _send(endpoint, protocol)
    assert outcome.kind == otlp_wire.REFUSED
    assert outcome.explanation.startswith(f"connection refused at {ip}:")
    assert "\n" not in outcome.explanation


def test_http_to_grpc_port(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["metrics"][0]
    outcome = _send(f"http://{ip}:4317/v1/traces", "http")
    assert outcome.kind == otlp_wire.HTTP2_SERVER
    assert "speaks HTTP/2 (gRPC)" in outcome.explanation
    assert "4318" in outcome.explanation


def test_grpc_to_http_port(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["metrics"][0]
    outcome = _send(f"{ip}:4318", "grpc")
    assert outcome.kind == "http1-server"
    assert "speaks HTTP/1.1, not gRPC" in outcome.explanation


def test_wrong_path_explained(start_collector: StartCollector) -> None:
    ip = start_collector().addresses["metrics"][0]
    outcome = _send(f"http://{ip}:4318", "http")
    assert outcome.kind == HTTP_STATUS
    assert outcome.status == "404"
    assert outcome.explanation.startswith(f"404 at http://{ip}:4318/")
    assert "/v1/traces" in outcome.explanation


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_tls_client_plaintext_server(start_collector: StartCollector, protocol: str) -> None:
    ip = start_collector().addresses["metrics"][0]
    endpoint = f"https://{ip}:4318/v1/traces" if protocol == "http" else f"{ip}:4317"
    outcome = _send(endpoint, protocol, tls=True, verify=False)
    assert outcome.kind == otlp_wire.TLS_TO_PLAINTEXT
    assert outcome.explanation.startswith(f"TLS mismatch at {ip}:")
    assert "collector speaks plaintext" in outcome.explanation


def test_plaintext_client_tls_http_server(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    with tls_http_server(cert, key) as (host, port):
        outcome = _send(f"http://{host}:{port}/v1/traces", "http")
        assert outcome.kind == otlp_wire.PLAINTEXT_TO_TLS
        assert "collector expects TLS" in outcome.explanation
        verified = _send(
            f"https://localhost:{port}/v1/traces",
            "http",
            tls=True,
            cafile=str(cert),
            connect_to=(host, port),
        )
        assert verified.kind == ACCEPTED
        untrusted = _send(f"https://{host}:{port}/v1/traces", "http", tls=True)
        assert untrusted.kind == otlp_wire.TLS_UNTRUSTED


def test_plaintext_client_tls_grpc_server(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    with tls_grpc_server(cert, key) as (host, port):
        outcome = _send(f"{host}:{port}", "grpc")
        assert outcome.kind == otlp_wire.PLAINTEXT_TO_TLS
        assert "collector expects TLS" in outcome.explanation
        verified = _send(
            f"localhost:{port}", "grpc", tls=True, cafile=str(cert), connect_to=(host, port)
        )
        assert verified.kind == ACCEPTED


def test_tls_probe_both_directions(
    tls_files: tuple[Path, Path], start_collector: StartCollector
) -> None:
    cert, key = tls_files
    with tls_http_server(cert, key) as address:
        probe = otlp_wire.probe_tls(address, "localhost", 2)
        assert probe.speaks_tls is True
    with tls_grpc_server(cert, key) as address:
        assert otlp_wire.probe_tls(address, "localhost", 2).speaks_tls is True
    ip = start_collector().addresses["metrics"][0]
    plain = otlp_wire.probe_tls((ip, 4318), ip, 2)
    assert plain.speaks_tls is False
    assert plain.plaintext == "http1"


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("silent", {otlp_wire.TIMEOUT}),
        ("drip", {otlp_wire.TIMEOUT}),
        ("garbage", {otlp_wire.GARBAGE}),
        ("flood", {otlp_wire.TOO_LARGE}),
        # Closing with the request unread sends a reset on Linux; either is a clear result.
        ("close", {otlp_wire.CLOSED, otlp_wire.RESET}),
    ],
)
def test_misbehaving_http_server_bounded(mode: str, kind: set[str]) -> None:
    with raw_server(mode) as (host, port):
        started = time.monotonic()
        outcome = _send(f"http://{host}:{port}/v1/traces", "http", timeout=1.0)
        elapsed = time.monotonic() - started
    assert outcome.kind in kind
    assert outcome.explanation
    assert "\n" not in outcome.explanation
    # The export's own deadline plus the bounded second look, with slack for a loaded machine.
    assert elapsed < 1.0 + 3.0 + 2.0


@pytest.mark.parametrize("mode", ["silent", "drip", "garbage", "close"])
def test_misbehaving_grpc_server_bounded(mode: str) -> None:
    with raw_server(mode) as (host, port):
        started = time.monotonic()
        outcome = _send(f"{host}:{port}", "grpc", timeout=1.0)
        elapsed = time.monotonic() - started
    assert not outcome.accepted
    assert outcome.explanation
    assert elapsed < 1.0 + 3.0 + 2.0
