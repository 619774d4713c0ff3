"""services/proxy and pods/proxy (from 127.0.0.2) against pods/portforward (from 127.0.0.1)."""

from __future__ import annotations

import http.client

import kubernetes
import pytest
from conftest_apiserver import (
    NAMESPACE,
    Cluster,
    close_portforward,
    cluster,
    free_loopback_ip,
    shared_cluster,
    start_pod_server,
)
from kubernetes.stream import portforward

__all__ = ["cluster", "shared_cluster"]

ApiException = kubernetes.client.exceptions.ApiException


def service_path(name: str, rest: str) -> str:
    return f"/api/v1/namespaces/{NAMESPACE}/services/{name}/proxy/{rest}"


def test_service_proxy_to_localhost_only_status_is_403(shared_cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        shared_cluster.core().connect_get_namespaced_service_proxy_with_path(
            "frontend:http", NAMESPACE, "nginx_status"
        )
    assert caught.value.status == 403


def test_service_proxy_source_is_127_0_0_2(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", service_path("frontend:http", "a/b?x=1&y=2"))
    assert response.status_code == 200
    assert response.text == "GET /a/b?x=1&y=2 from 127.0.0.2\n"


@pytest.mark.parametrize("name", ["frontend", "frontend:80", "http:frontend:http"])
def test_service_proxy_port_forms(shared_cluster: Cluster, name: str) -> None:
    response = shared_cluster.request("GET", service_path(name, "x"))
    assert response.status_code == 200
    assert response.text.startswith("GET /x ")


def test_service_proxy_forwards_post_body(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("POST", service_path("frontend:http", "p"), data=b"hello")
    assert response.status_code == 201
    assert response.content == b"posted:hello"


def test_pod_proxy_by_port_name(shared_cluster: Cluster) -> None:
    text = shared_cluster.core().connect_get_namespaced_pod_proxy_with_path(
        "frontend-0:http", NAMESPACE, "metrics"
    )
    assert text == "GET /metrics from 127.0.0.2\n"


def test_service_proxy_round_robin(cluster: Cluster) -> None:
    second = start_pod_server(free_loopback_ip())
    try:
        cluster.store.put(
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": "frontend", "namespace": NAMESPACE},
                "subsets": [
                    {
                        "addresses": [{"ip": cluster.frontend.ip}],
                        "ports": [{"name": "http", "port": cluster.frontend.port}],
                    },
                    {
                        "addresses": [{"ip": second.ip}],
                        "ports": [{"name": "http", "port": second.port}],
                    },
                ],
            }
        )
        served_by = [
            cluster.request("GET", service_path("frontend:http", "x")).headers["X-Pod-IP"]
            for _ in range(4)
        ]
    finally:
        second.stop()
    assert served_by == [cluster.frontend.ip, second.ip, cluster.frontend.ip, second.ip]


def test_proxy_to_refusing_pod_is_503(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", service_path("backend:backend", "metrics"))
    assert response.status_code == 503
    body = response.json()
    assert body["reason"] == "ServiceUnavailable"
    assert body["message"] == (
        f"error trying to reach service: dial tcp {shared_cluster.backend_ip}:1984: "
        "connect: connection refused"
    )


def test_proxy_to_service_without_endpoints_is_503(cluster: Cluster) -> None:
    cluster.store.delete("endpoints", "", NAMESPACE, "frontend")
    response = cluster.request("GET", service_path("frontend:http", "x"))
    assert response.status_code == 503
    assert response.json()["message"] == 'no endpoints available for service "frontend"'


def test_proxy_to_missing_service_is_404(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", service_path("nope:80", "x"))
    assert response.status_code == 404
    assert response.json()["message"] == 'services "nope" not found'


def test_portforward_reaches_localhost_only_status(shared_cluster: Cluster) -> None:
    core = shared_cluster.core()
    port = shared_cluster.frontend.port
    forward = portforward(
        core.connect_get_namespaced_pod_portforward, "frontend-0", NAMESPACE, ports=str(port)
    )
    connection = http.client.HTTPConnection("frontend-0", port, timeout=5)
    connection.sock = forward.socket(port)
    connection.request("GET", "/nginx_status", headers={"Connection": "close"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    close_portforward(forward)
    assert response.status == 200
    assert body.startswith(b"Active connections:")
    assert forward.error(port) is None


def test_portforward_refused_port_reports_error(shared_cluster: Cluster) -> None:
    core = shared_cluster.core()
    forward = portforward(
        core.connect_get_namespaced_pod_portforward, "backend-0", NAMESPACE, ports="1984"
    )
    sock = forward.socket(1984)
    sock.settimeout(5)
    try:
        data = sock.recv(1024)
    except (TimeoutError, ConnectionError):
        data = b""
    close_portforward(forward)
    assert data == b""
    error = forward.error(1984)
    assert error is not None
    assert "error forwarding port 1984 to pod backend-0" in error
    assert "connect: connection refused" in error


def test_portforward_requires_ports(shared_cluster: Cluster) -> None:
    response = shared_cluster.request(
        "GET", f"/api/v1/namespaces/{NAMESPACE}/pods/frontend-0/portforward"
    )
    assert response.status_code == 400
    assert "ports query parameter" in response.json()["message"]


def test_spdy_portforward_explains_itself(shared_cluster: Cluster) -> None:
    response = shared_cluster.request(
        "POST",
        f"/api/v1/namespaces/{NAMESPACE}/pods/frontend-0/portforward",
        headers={"Upgrade": "SPDY/3.1", "Connection": "Upgrade"},
    )
    assert response.status_code == 400
    assert "SPDY" in response.json()["message"]
