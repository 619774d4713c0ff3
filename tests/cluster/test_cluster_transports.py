"""Transports: the API proxy path against the fake API server, direct HTTP to a loopback pod."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fakeapi import FakeApi, FakeHandler, Request, status_body

from lsconform.cluster.client import ClusterClient
from lsconform.cluster.errors import (
    ConnectionRefused,
    Forbidden,
    NotFound,
    RequestTimeout,
    Unreachable,
)
from lsconform.cluster.transport import (
    TRANSPORTS,
    ApiProxyTransport,
    DirectTransport,
    HttpTarget,
    make_transport,
    proxy_path,
)

BIG = 200 * 1024 * 1024  # bytes the "huge" endpoints announce
CAP = 2 * 1024 * 1024
SERVICE = HttpTarget("ls", "service", "ls-backend", "backend")
PROXY = "/api/v1/namespaces/ls/services/ls-backend:backend/proxy"


def send_huge(write: Any) -> None:
    chunk = b"# HELP x y\n" * 100_000
    try:
        for _ in range(BIG // len(chunk)):
            write(chunk)
    except OSError:
        return


def send_trickle(write: Any, flush: Any) -> None:
    try:
        for _ in range(60):
            write(b"a")
            flush()
            time.sleep(1)
    except OSError:
        return


# --- registry ---------------------------------------------------------------------------


def test_registry_builds_every_transport(client: ClusterClient) -> None:
    assert sorted(TRANSPORTS) == ["direct", "port-forward", "proxy"]
    for name in TRANSPORTS:
        transport = make_transport(name, client)
        assert transport.name == name


def test_registry_auto_is_proxy_outside_cluster(client: ClusterClient) -> None:
    assert isinstance(make_transport("auto", client), ApiProxyTransport)


def test_registry_rejects_unknown_name(client: ClusterClient) -> None:
    with pytest.raises(ValueError, match="unknown transport 'ssh'; known: auto, direct, "):
        make_transport("ssh", client)


# --- API proxy --------------------------------------------------------------------------


def test_proxy_path_forms() -> None:
    assert proxy_path(SERVICE, "/metrics?format=json") == (f"{PROXY}/metrics", [("format", "json")])
    pod = HttpTarget("ls", "pod", "ls-frontend-0", 8080, scheme="https")
    assert proxy_path(pod, "nginx_status")[0] == (
        "/api/v1/namespaces/ls/pods/https:ls-frontend-0:8080/proxy/nginx_status"
    )


def test_proxy_returns_backend_response(api: FakeApi, client: ClusterClient) -> None:
    api.route(
        f"{PROXY}/metrics", lambda h, r: h.send_bytes(200, b"up 1\n", "text/plain; version=0.0.4")
    )
    response = ApiProxyTransport(client).request(
        SERVICE, "/metrics", timeout=5, max_bytes=CAP, headers={"Accept": "text/plain"}
    )
    assert response.status == 200
    assert response.body == b"up 1\n"
    assert response.content_type == "text/plain; version=0.0.4"
    assert not response.truncated
    assert api.requests[-1].headers["accept"] == "text/plain"


def test_proxy_passes_backend_errors_through(api: FakeApi, client: ClusterClient) -> None:
    api.route(f"{PROXY}/metrics", lambda h, r: h.send_bytes(403, b"<html>403</html>", "text/html"))
    response = ApiProxyTransport(client).request(SERVICE, "/metrics", timeout=5, max_bytes=CAP)
    assert response.status == 403
    assert response.body == b"<html>403</html>"


def test_proxy_refused_port_is_connection_refused(api: FakeApi, client: ClusterClient) -> None:
    message = "error trying to reach service: dial tcp 10.0.1.12:1984: connect: connection refused"
    api.route(
        f"{PROXY}/metrics",
        lambda h, r: h.send_bytes(503, status_body(503, "ServiceUnavailable", message)),
    )
    with pytest.raises(
        ConnectionRefused, match="port backend of service ls-backend refuses connections"
    ) as info:
        ApiProxyTransport(client).request(SERVICE, "/metrics", timeout=5, max_bytes=CAP)
    assert "connect: connection refused" in str(info.value)


def test_proxy_application_503_is_a_response(api: FakeApi, client: ClusterClient) -> None:
    api.route(
        f"{PROXY}/metrics",
        lambda h, r: h.send_bytes(503, b"upstream connection refused", "text/plain"),
    )
    response = ApiProxyTransport(client).request(SERVICE, "/metrics", timeout=5, max_bytes=CAP)
    assert response.status == 503


def test_proxy_no_endpoints_is_unreachable(api: FakeApi, client: ClusterClient) -> None:
    message = 'no endpoints available for service "ls-backend"'
    api.route(
        f"{PROXY}/metrics",
        lambda h, r: h.send_bytes(503, status_body(503, "ServiceUnavailable", message)),
    )
    with pytest.raises(Unreachable, match="Service ls-backend has no ready endpoints"):
        ApiProxyTransport(client).request(SERVICE, "/metrics", timeout=5, max_bytes=CAP)


def test_proxy_rbac_denial_is_forbidden(api: FakeApi, client: ClusterClient) -> None:
    message = (
        'services "ls-backend:backend" is forbidden: User "dev" cannot get resource '
        '"services/proxy" in API group "" in the namespace "ls"'
    )
    api.route(
        f"{PROXY}/metrics", lambda h, r: h.send_bytes(403, status_body(403, "Forbidden", message))
    )
    with pytest.raises(Forbidden) as info:
        ApiProxyTransport(client).request(SERVICE, "/metrics", timeout=5, max_bytes=CAP)
    assert info.value.rule.resource_name == "services/proxy"
    assert info.value.rule.namespace == "ls"
    assert 'resources: ["services/proxy"]' in info.value.rule_yaml()


def test_proxy_missing_service_is_not_found(api: FakeApi, client: ClusterClient) -> None:
    api.route(
        f"{PROXY}/metrics",
        lambda h, r: h.send_bytes(
            404,
            status_body(
                404,
                "NotFound",
                'services "ls-backend" not found',
                {"name": "ls-backend", "kind": "services"},
            ),
        ),
    )
    with pytest.raises(NotFound, match="service ls-backend does not exist in namespace ls"):
        ApiProxyTransport(client).request(SERVICE, "/metrics", timeout=5, max_bytes=CAP)


def test_proxy_huge_body_stops_at_cap(api: FakeApi, client: ClusterClient) -> None:
    def huge(handler: FakeHandler, request: Request) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(BIG))
        handler.end_headers()
        send_huge(handler.wfile.write)

    api.route(f"{PROXY}/metrics", huge)
    response = ApiProxyTransport(client).request(SERVICE, "/metrics", timeout=10, max_bytes=CAP)
    assert response.truncated
    assert len(response.body) == CAP


def test_proxy_trickle_ends_at_timeout(api: FakeApi, client: ClusterClient) -> None:
    def slow(handler: FakeHandler, request: Request) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "60")
        handler.end_headers()
        send_trickle(handler.wfile.write, handler.wfile.flush)

    api.route(f"{PROXY}/metrics", slow)
    started = time.monotonic()
    with pytest.raises(
        RequestTimeout,
        match=r"no complete response to GET /metrics from "
        r"service/ls/ls-backend:backend within 1\.5 s",
    ):
        ApiProxyTransport(client).request(SERVICE, "/metrics", timeout=1.5, max_bytes=CAP)
    # Generous bound: the request must end near its timeout, not after the 60 s trickle.
    assert time.monotonic() - started < 6


# --- direct -----------------------------------------------------------------------------


class PodHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/metrics":
            body = b"up 1\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            send_huge(self.wfile.write)
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "60")
            self.end_headers()
            send_trickle(self.wfile.write, self.wfile.flush)
        elif self.path == "/trickle-headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self.wfile.flush()
            try:
                for _ in range(60):
                    self.wfile.write(b"X-Slow: a\r\n")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                return


class PodServer(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture
def pod_server() -> Iterator[PodServer]:
    server = PodServer(("127.0.0.1", 0), PodHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def pod_target(server: PodServer) -> HttpTarget:
    return HttpTarget("ls", "pod", "ls-backend-0", int(server.server_address[1]), ip="127.0.0.1")


def test_direct_reads_response(pod_server: PodServer, client: ClusterClient) -> None:
    response = DirectTransport(client).request(
        pod_target(pod_server), "/metrics", timeout=5, max_bytes=CAP
    )
    assert response.status == 200
    assert response.body == b"up 1\n"
    assert response.headers["content-type"] == "text/plain"


def test_direct_reads_chunked_body(pod_server: PodServer, client: ClusterClient) -> None:
    response = DirectTransport(client).request(
        pod_target(pod_server), "/chunked", timeout=5, max_bytes=CAP
    )
    assert response.body == b"hello world"


def test_direct_huge_body_stops_at_cap(pod_server: PodServer, client: ClusterClient) -> None:
    response = DirectTransport(client).request(
        pod_target(pod_server), "/huge", timeout=10, max_bytes=CAP
    )
    assert response.truncated
    assert len(response.body) == CAP


@pytest.mark.parametrize("path", ["/trickle", "/trickle-headers"])
def test_direct_trickle_ends_at_timeout(
    pod_server: PodServer, client: ClusterClient, path: str
) -> None:
    started = time.monotonic()
    with pytest.raises(RequestTimeout, match=f"no complete response to GET {path}"):
        DirectTransport(client).request(pod_target(pod_server), path, timeout=1.5, max_bytes=CAP)
    # Generous bound: the request must end near its timeout, not after the 60 s trickle.
    assert time.monotonic() - started < 6


def test_direct_closed_port_is_refused(client: ClusterClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    target = HttpTarget("ls", "pod", "ls-backend-0", port, ip="127.0.0.1")
    with pytest.raises(ConnectionRefused, match=f"port {port} of pod ls-backend-0 refuses"):
        DirectTransport(client).request(target, "/metrics", timeout=2, max_bytes=CAP)


def test_direct_service_name(client: ClusterClient) -> None:
    transport = DirectTransport(client, cluster_domain="cluster.example")
    target = HttpTarget("ls", "service", "ls-backend", 1984)
    assert transport.address(target) == ("ls-backend.ls.svc.cluster.example", 1984)
