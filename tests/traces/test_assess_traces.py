"""The traces checks' decisions on hand-built releases, without a cluster."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from lsconform.assess.traces import (
    EnvTarget,
    TracesRun,
    env_targets,
    make_backend_fetch,
    traced_targets,
)
from lsconform.cluster.errors import ConnectionRefused
from lsconform.cluster.response import HttpResponse
from lsconform.discovery.release import Component, Container, EnvFrom, EnvVar, Pod, Release
from lsconform.probes.otlp_evidence import BackendError
from lsconform.results import Status
from lsconform.settings import Settings

ENDPOINT = "http://gw.obs.svc.cluster.local:4318/v1/traces"


def _config(**overrides: str) -> dict[str, str]:
    data = {
        "OTEL_TRACING_ENABLED": "true",
        "OTLP_ENDPOINT": ENDPOINT,
        "OTEL_ENVIRONMENT": "ls",
        "OTEL_EXPORTER": "http",
        "OTEL_USE_TLS": "false",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }
    data.update(overrides)
    return data


def _pod(name: str, started: str, env: list[EnvVar] | None = None) -> Pod:
    container = Container("api", env=env or [], env_from=[EnvFrom("configMap", "ls-config")])
    return Pod(name, ready=True, start_time=started, containers=[container])


def _release(
    config: dict[str, str],
    values: dict[str, Any] | None = None,
    components: list[Component] | None = None,
) -> Release:
    return Release(
        name="ls",
        namespace="ls",
        fullname="ls",
        config_map_name="ls-config",
        config_data=config,
        values=values or {},
        components=components or [],
    )


class _Client:
    """Returns one ConfigMap, created at a fixed time; any other read is not expected."""

    def get(self, resource: str, name: str, *, namespace: str) -> dict[str, Any]:
        assert (resource, name, namespace) == ("configmaps", "ls-config", "ls")
        return {"metadata": {"creationTimestamp": "2026-12-04T10:00:00Z"}}


def _run(release: Release, **settings: Any) -> TracesRun:
    return TracesRun(release, _Client(), None, None, Settings(**settings))


def test_values_misplaced_fails() -> None:
    run = _run(
        _release(
            {"OTEL_TRACING_ENABLED": "false", "OTLP_ENDPOINT": ""},
            values={"observability": {"tracing": {"enabled": True}}},
        )
    )
    result = run.check_values()
    assert result.status is Status.FAIL
    assert "observability" in result.summary
    assert "config.observability.tracing" in result.remedy


def test_off_skips_chain_with_hint() -> None:
    run = _run(_release({"OTEL_TRACING_ENABLED": "false", "OTLP_ENDPOINT": ""}))
    assert run.check_enabled().status is Status.SKIP
    for result in (run.check_endpoint(), run.check_collector(), run.check_accepts()):
        assert result.status is Status.SKIP
        assert "config.observability.tracing.enabled: true" in result.summary


def test_off_fails_when_required() -> None:
    run = _run(
        _release({"OTEL_TRACING_ENABLED": "false", "OTLP_ENDPOINT": ""}), require_tracing=True
    )
    result = run.check_enabled()
    assert result.status is Status.FAIL
    assert "config.observability.tracing.enabled" in result.remedy


def test_missing_configmap_is_error() -> None:
    assert _run(_release({})).check_enabled().status is Status.ERROR


def test_endpoint_problem_blocks_collector() -> None:
    run = _run(_release(_config(OTLP_ENDPOINT="http://gw.obs.svc.cluster.local:4317/v1/traces")))
    assert run.check_endpoint().status is Status.FAIL
    blocked = run.check_collector()
    assert blocked.status is Status.SKIP
    assert blocked.summary.startswith("traces.endpoint did not pass")


def test_grpc_only_components_named() -> None:
    components = [Component("smithdb-query", workload_name="ls-smithdb-query")]
    result = _run(_release(_config(), components=components)).check_endpoint()
    assert result.status is Status.WARN
    assert "smithdb-query" in result.summary
    assert "exporter: grpc" in result.remedy


def test_grpc_scheme_breaks_smithdb() -> None:
    components = [Component("smithdb-ingestion", workload_name="ls-smithdb-ingestion")]
    config = _config(OTEL_EXPORTER="grpc", OTLP_ENDPOINT="http://gw.obs.svc.cluster.local:4317")
    result = _run(_release(config, components=components)).check_endpoint()
    assert result.status is Status.WARN
    assert "prepend http://" in result.summary
    assert "without a scheme" in result.remedy


def test_external_endpoint_skips_collector() -> None:
    run = _run(_release(_config(OTLP_ENDPOINT="https://otel.example.com:4318/v1/traces")))
    result = run.check_collector()
    assert result.status is Status.SKIP
    assert "not a cluster Service name" in result.summary


def test_pod_env_stale_and_override() -> None:
    stale = EnvTarget(
        "agent", "agent", "Deployment", "ls-agent", (_pod("ls-agent-1", "2026-12-03T10:00:00Z"),)
    )
    run = _run(_release(_config()))
    result = run.check_pod_env(stale)
    assert result.status is Status.FAIL
    assert "ls-agent-1" in result.summary
    assert "rollout restart deployment/ls-agent" in result.remedy
    override = EnvTarget(
        "api",
        "api",
        "Deployment",
        "ls-api",
        (
            _pod(
                "ls-api-1",
                "2026-12-05T10:00:00Z",
                [EnvVar("OTLP_ENDPOINT", value="http://elsewhere:4318/v1/traces")],
            ),
        ),
    )
    result = run.check_pod_env(override)
    assert result.status is Status.FAIL
    assert "OTLP_ENDPOINT=http://elsewhere:4318/v1/traces" in result.summary
    fresh = EnvTarget("ok", "ok", "Deployment", "ls-ok", (_pod("ls-ok-1", "2026-12-05T10:00:00Z"),))
    assert run.check_pod_env(fresh).status is Status.PASS


def test_targets_from_release() -> None:
    backend = Component(
        "backend",
        workload_name="ls-backend",
        containers=[Container("backend", env_from=[EnvFrom("configMap", "ls-config")])],
        pods=[_pod("ls-backend-1", "2026-12-05T10:00:00Z")],
    )
    disabled = Component("listener", enabled=False)
    release = _release(_config(), components=[backend, disabled])
    traced = traced_targets(release, Settings())
    assert [t.id for t in traced] == ["backend"]
    assert traced[0].service_names == ("ls-backend", "backend")
    assert traced[0].pods == ("ls-backend-1",)
    assert [t.id for t in env_targets(release, Settings())] == ["backend"]


class _ClusterWithCollector(_Client):
    """Also returns the collector's Service and Endpoints."""

    def get(self, resource: str, name: str, *, namespace: str) -> dict[str, Any]:
        if resource == "services":
            return {"spec": {"ports": [{"name": "otlp-http", "port": 4318, "targetPort": 4318}]}}
        if resource == "endpoints":
            return {
                "subsets": [
                    {
                        "addresses": [
                            {"ip": "127.0.0.1", "targetRef": {"kind": "Pod", "name": "gw-0"}}
                        ],
                        "ports": [{"name": "otlp-http", "port": 4318}],
                    }
                ]
            }
        return super().get(resource, name, namespace=namespace)


class _PortForward:
    """Connects to a local listener, as a kubelet's port-forward reaches a localhost receiver."""

    name = "port-forward"

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address

    def connect(self, target: Any, timeout: float) -> socket.socket:
        return socket.create_connection(self.address, timeout=timeout)


class _RefusingProxy:
    name = "proxy"

    def request(self, target: Any, path: str, **options: Any) -> Any:
        raise ConnectionRefused(f"port {target.port} of pod {target.name} refuses connections")


def test_localhost_receiver_found_through_proxy() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        release = _release(_config())
        run = TracesRun(
            release,
            _ClusterWithCollector(),
            _RefusingProxy(),
            _PortForward(listener.getsockname()),
            Settings(probe_timeout=2),
        )
        result = run.check_collector()
    finally:
        listener.close()
    assert result.status is Status.FAIL
    assert "listens on localhost only" in result.summary
    assert "refuses connections" in result.evidence["pod_proxy"]
    assert "0.0.0.0:4318" in result.remedy


class _RecordingTransport:
    name = "proxy"

    def __init__(self) -> None:
        self.requests: list[tuple[Any, str]] = []

    def request(self, target: Any, path: str, **options: Any) -> Any:
        self.requests.append((target, path))
        return HttpResponse(200, {}, b"echo")


def test_backend_service_url_goes_through_transport() -> None:
    transport = _RecordingTransport()
    fetch = make_backend_fetch(
        "http://tempo.observability.svc.cluster.local:3200/prefix", transport, "ls", 2.0
    )
    assert fetch("/api/echo") == (200, b"echo")
    target, path = transport.requests[0]
    assert (target.kind, target.namespace, target.name, target.port) == (
        "service",
        "observability",
        "tempo",
        3200,
    )
    assert path == "/prefix/api/echo"


def test_backend_url_invalid() -> None:
    with pytest.raises(BackendError, match="http:// or https://"):
        make_backend_fetch("tempo:3200", _RecordingTransport(), "ls", 2.0)
