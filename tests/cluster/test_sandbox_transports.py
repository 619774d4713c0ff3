"""Transports against the bundled sandbox: API proxy and port-forward to real processes."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest

from lsconform.cluster.client import ClusterClient
from lsconform.cluster.errors import ConnectionRefused, NotFound
from lsconform.cluster.transport import (
    ApiProxyTransport,
    HttpTarget,
    PortForwardTransport,
    wrap_tls,
)
from lsconform.discovery import discover
from lsconform.discovery.release import Release
from lsconform.sandbox import Sandbox

CAP = 1024 * 1024


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(profile="default", faults=["backend-metrics-down"]) as running:
        yield running


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> Iterator[ClusterClient]:
    with ClusterClient.from_kubeconfig(sandbox.kubeconfig) as client:
        yield client


@pytest.fixture(scope="module")
def release(client: ClusterClient, sandbox: Sandbox) -> Release:
    discovered = discover(client, sandbox.namespace).release
    assert discovered is not None
    return discovered


def pod_target(release: Release, suffix: str, port: int | str) -> HttpTarget:
    component = release.component(suffix)
    assert component is not None
    return HttpTarget(release.namespace, "pod", component.pods[0].name, port)


def test_proxy_reaches_metrics(client: ClusterClient, release: Release) -> None:
    response = ApiProxyTransport(client).request(
        pod_target(release, "platform-backend", "platform"), "/metrics", timeout=5, max_bytes=CAP
    )
    assert response.status == 200
    assert b"# TYPE" in response.body


def test_port_forward_reaches_metrics(client: ClusterClient, release: Release) -> None:
    response = PortForwardTransport(client).request(
        pod_target(release, "platform-backend", "platform"), "/metrics", timeout=5, max_bytes=CAP
    )
    assert response.status == 200
    assert b"# TYPE" in response.body


def test_nginx_status_only_over_port_forward(client: ClusterClient, release: Release) -> None:
    target = pod_target(release, "frontend", "frontend")
    proxied = ApiProxyTransport(client).request(target, "/nginx_status", timeout=5, max_bytes=CAP)
    assert proxied.status == 403
    forwarded = PortForwardTransport(client).request(
        target, "/nginx_status", timeout=5, max_bytes=CAP
    )
    assert forwarded.status == 200
    assert forwarded.body.startswith(b"Active connections:")


def test_refused_port_through_each_transport(client: ClusterClient, release: Release) -> None:
    target = pod_target(release, "backend", 1984)
    with pytest.raises(ConnectionRefused, match="refuses connections"):
        ApiProxyTransport(client).request(target, "/metrics", timeout=5, max_bytes=CAP)
    with pytest.raises(ConnectionRefused, match="refuses connections") as info:
        PortForwardTransport(client).request(target, "/metrics", timeout=5, max_bytes=CAP)
    assert "connection refused" in str(info.value)


def test_port_forward_to_service_picks_ready_pod(client: ClusterClient, release: Release) -> None:
    service = HttpTarget(
        release.namespace, "service", f"{release.fullname}-platform-backend", "platform"
    )
    response = PortForwardTransport(client).request(service, "/metrics", timeout=5, max_bytes=CAP)
    assert response.status == 200


def test_port_forward_to_missing_pod(client: ClusterClient, release: Release) -> None:
    target = HttpTarget(release.namespace, "pod", "no-such-pod", "backend")
    with pytest.raises(NotFound, match='pods "no-such-pod" not found'):
        PortForwardTransport(client).request(target, "/metrics", timeout=5, max_bytes=CAP)


# A plain-HTTP server resets the connection after the TLS ClientHello it cannot parse, and the
# official client's port-forward thread raises on that reset in its own thread.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_raw_connect_for_handshake_probes(client: ClusterClient, release: Release) -> None:
    sock = PortForwardTransport(client).connect(
        pod_target(release, "platform-backend", 1986), timeout=5
    )
    try:
        sock.settimeout(5)
        sock.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        assert sock.recv(12).startswith(b"HTTP/1.")
    finally:
        sock.close()
    # A plain-HTTP port answers a TLS ClientHello with something that is not TLS.
    sock = PortForwardTransport(client).connect(
        pod_target(release, "platform-backend", 1986), timeout=5
    )
    try:
        sock.settimeout(5)
        with pytest.raises(ssl.SSLError):
            wrap_tls(sock, "localhost")
    finally:
        sock.close()
