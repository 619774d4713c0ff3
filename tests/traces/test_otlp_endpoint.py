"""Endpoint rules for OTLP_ENDPOINT with OTEL_EXPORTER http and grpc."""

from __future__ import annotations

import pytest

from lsconform.probes.otlp_endpoint import (
    EndpointSyntaxError,
    ServiceReference,
    check_endpoint,
    check_tls_agreement,
    parse_endpoint,
    service_reference,
    tls_from_config,
)

GATEWAY = (
    "langsmith-observability-collector-gateway-collector.langsmith-observability.svc.cluster.local"
)


@pytest.mark.parametrize(
    ("endpoint", "exporter"),
    [
        (f"http://{GATEWAY}:4318/v1/traces", "http"),
        (f"https://{GATEWAY}:4318/v1/traces", "http"),
        (f"http://{GATEWAY}:4318/v1/traces/", "http"),
        (f"{GATEWAY}:4317", "grpc"),
        ("otel-gw:4317", "grpc"),
    ],
)
def test_endpoint_suits_exporter(endpoint: str, exporter: str) -> None:
    assert check_endpoint(endpoint, exporter) == []


@pytest.mark.parametrize(
    ("endpoint", "exporter", "code", "words"),
    [
        (f"http://{GATEWAY}:4317/v1/traces", "http", "grpc-port-for-http", "use port 4318"),
        (f"http://{GATEWAY}:4318", "http", "traces-path-missing", "/v1/traces"),
        (f"http://{GATEWAY}:4318/", "http", "traces-path-missing", "404"),
        (f"http://{GATEWAY}:4318/v1/traces/v1/traces", "http", "traces-path-doubled", "repeats"),
        (f"http://{GATEWAY}:4318/v1/v1/traces", "http", "traces-path-doubled", "repeats"),
        (f"http://{GATEWAY}:4318/otlp", "http", "traces-path-wrong", "/otlp"),
        (f"{GATEWAY}:4318/v1/traces", "http", "scheme-missing", "http://"),
        (f"http://{GATEWAY}/v1/traces", "http", "port-missing", "port 80"),
        (f"{GATEWAY}:4318", "grpc", "http-port-for-grpc", "use port 4317"),
        (f"{GATEWAY}:4317/v1/traces", "grpc", "grpc-path", "host:port only"),
        (GATEWAY, "grpc", "port-missing", "needs one"),
        (f"{GATEWAY}:4317", "zipkin", "exporter-unknown", "'http' or 'grpc'"),
        ("", "http", "endpoint-invalid", "empty"),
        ("http://:4318/v1/traces", "http", "endpoint-invalid", "no host"),
        ("http://host:99999/v1/traces", "http", "endpoint-invalid", "invalid endpoint"),
    ],
)
def test_endpoint_problems(endpoint: str, exporter: str, code: str, words: str) -> None:
    problems = check_endpoint(endpoint, exporter)
    assert code in [p.code for p in problems]
    problem = next(p for p in problems if p.code == code)
    assert words in problem.summary + problem.fix
    assert problem.fix


def test_parse_endpoint_parts() -> None:
    endpoint = parse_endpoint("https://Collector.obs:4318/v1/traces")
    assert endpoint.scheme == "https"
    assert endpoint.host == "collector.obs"
    assert endpoint.port == 4318
    assert endpoint.path == "/v1/traces"
    bare = parse_endpoint("collector:4317")
    assert (bare.scheme, bare.host, bare.port, bare.path) == ("", "collector", 4317, "")


def test_parse_endpoint_rejects_empty() -> None:
    with pytest.raises(EndpointSyntaxError, match="empty"):
        parse_endpoint("  ")


def test_tls_agreement() -> None:
    http_endpoint = parse_endpoint(f"http://{GATEWAY}:4318/v1/traces")
    problems = check_tls_agreement(http_endpoint, True)
    assert [p.code for p in problems] == ["tls-scheme-mismatch"]
    assert "useTls: false" in problems[0].fix
    assert check_tls_agreement(http_endpoint, False) == []
    https_endpoint = parse_endpoint(f"https://{GATEWAY}:4318/v1/traces")
    assert "useTls: true" in check_tls_agreement(https_endpoint, False)[0].fix
    assert check_tls_agreement(parse_endpoint("gw:4317"), True) == []


def test_tls_from_config() -> None:
    assert tls_from_config(parse_endpoint("http://gw:4318/v1/traces"), "http", True) is False
    assert tls_from_config(parse_endpoint("https://gw:4318/v1/traces"), "http", False) is True
    assert tls_from_config(parse_endpoint("gw:4317"), "grpc", True) is True
    assert tls_from_config(parse_endpoint("gw:4317"), "grpc", False) is False


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (
            GATEWAY,
            ServiceReference(
                "langsmith-observability-collector-gateway-collector", "langsmith-observability"
            ),
        ),
        ("gw.obs.svc", ServiceReference("gw", "obs")),
        ("gw.obs", ServiceReference("gw", "obs")),
        ("gw", ServiceReference("gw", "langsmith")),
        ("10.0.0.4", None),
        ("collector.example.com", None),
        ("a.b.c.svc.cluster.local", None),
    ],
)
def test_service_reference(host: str, expected: ServiceReference | None) -> None:
    assert service_reference(host, "langsmith") == expected
