"""RBAC from Role YAML, injected latency and errors, and the audit log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
from conftest_apiserver import NAMESPACE, NODE, Cluster, cluster, start_cluster

from lsconform.sandbox.apiserver.rbac import InvalidRoleError, parse_roles

__all__ = ["cluster"]

ApiException = kubernetes.client.exceptions.ApiException
USER = "system:serviceaccount:langsmith:lsconform"

ROLE_YAML = f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: lsconform-reader
  namespace: {NAMESPACE}
rules:
  - apiGroups: [""]
    resources: [pods, services, endpoints]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [pods/log]
    verbs: [get]
  - apiGroups: [""]
    resources: [services/proxy]
    verbs: [get]
    resourceNames: [frontend]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: lsconform-nodes
rules:
  - apiGroups: [""]
    resources: [nodes]
    verbs: [get, list]
"""


@pytest.fixture(scope="module")
def rbac_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from start_cluster(tmp_path_factory.mktemp("rbac"), rbac_role_yaml=ROLE_YAML)


def status_message(cluster: Cluster, path: str) -> tuple[int, str]:
    response = cluster.request("GET", path)
    body = response.json()
    return response.status_code, body.get("message", "")


def test_rbac_allows_granted_list(rbac_cluster: Cluster) -> None:
    pods = rbac_cluster.core().list_namespaced_pod(NAMESPACE)
    assert len(pods.items) == 3


def test_rbac_forbidden_namespaced_message(rbac_cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        rbac_cluster.core().list_namespaced_secret(NAMESPACE)
    assert caught.value.status == 403
    assert (
        f'secrets is forbidden: User \\"{USER}\\" cannot list resource \\"secrets\\" '
        f'in API group \\"\\" in the namespace \\"{NAMESPACE}\\"'
    ) in caught.value.body


def test_rbac_role_does_not_grant_all_namespaces(rbac_cluster: Cluster) -> None:
    code, message = status_message(rbac_cluster, "/api/v1/pods")
    assert code == 403
    assert message == (
        f'pods is forbidden: User "{USER}" cannot list resource "pods" '
        'in API group "" at the cluster scope'
    )


def test_rbac_subresource_needs_its_own_rule(rbac_cluster: Cluster) -> None:
    code, message = status_message(rbac_cluster, f"/api/v1/nodes/{NODE}/proxy/logs/")
    assert code == 403
    assert message == (
        f'nodes "{NODE}" is forbidden: User "{USER}" cannot get resource "nodes/proxy" '
        'in API group "" at the cluster scope'
    )


def test_rbac_cluster_role_grants_nodes(rbac_cluster: Cluster) -> None:
    assert rbac_cluster.core().read_node(NODE).metadata.name == NODE


def test_rbac_resource_names_limit_proxy(rbac_cluster: Cluster) -> None:
    allowed = rbac_cluster.request(
        "GET", f"/api/v1/namespaces/{NAMESPACE}/services/frontend:http/proxy/x"
    )
    assert allowed.status_code == 200
    code, message = status_message(
        rbac_cluster, f"/api/v1/namespaces/{NAMESPACE}/services/backend:1984/proxy/x"
    )
    assert code == 403
    assert 'cannot get resource "services/proxy"' in message
    assert message.startswith('services "backend" is forbidden')


def test_rbac_portforward_needs_create(rbac_cluster: Cluster) -> None:
    code, message = status_message(
        rbac_cluster, f"/api/v1/namespaces/{NAMESPACE}/pods/frontend-0/portforward?ports=80"
    )
    assert code == 403
    assert 'cannot create resource "pods/portforward"' in message


def test_rbac_group_named_in_message(rbac_cluster: Cluster) -> None:
    code, message = status_message(
        rbac_cluster, f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
    )
    assert code == 403
    assert message.startswith("deployments.apps is forbidden")
    assert 'in API group "apps"' in message


def test_rbac_discovery_stays_open(rbac_cluster: Cluster) -> None:
    assert rbac_cluster.request("GET", "/api/v1").status_code == 200
    assert rbac_cluster.request("GET", "/apis").status_code == 200


def test_invalid_role_yaml_is_rejected() -> None:
    with pytest.raises(InvalidRoleError, match="expected kind Role or ClusterRole, got 'Pod'"):
        parse_roles("kind: Pod\n")
    with pytest.raises(InvalidRoleError, match="must be a list of strings"):
        parse_roles("kind: Role\nrules:\n  - verbs: get\n")


def test_error_rate_injects_429_and_500(tmp_path: Path) -> None:
    for cluster_ in start_cluster(tmp_path, error_rate=1.0, error_seed=7):
        statuses = set()
        for _ in range(12):
            response = cluster_.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods")
            statuses.add(response.status_code)
            if response.status_code == 429:
                assert response.headers["Retry-After"] == "1"
                assert response.json()["reason"] == "TooManyRequests"
            else:
                assert response.json()["reason"] == "InternalError"
        assert statuses == {429, 500}
        assert cluster_.request("GET", "/healthz").status_code == 200


def test_latency_delays_requests(tmp_path: Path) -> None:
    for cluster_ in start_cluster(tmp_path, latency_ms=150):
        started = time.monotonic()
        response = cluster_.request("GET", "/api/v1/nodes")
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed >= 0.15


def test_audit_records_every_request(cluster: Cluster) -> None:
    core = cluster.core()
    core.list_namespaced_pod(NAMESPACE)
    core.read_namespaced_pod("frontend-0", NAMESPACE)
    cluster.request("GET", "/api/v1/pods", params={"watch": "1", "timeoutSeconds": "0"})
    cluster.request("GET", "/api/v1/pods", token=False)
    log = core.read_namespaced_pod_log(
        "backend-0", NAMESPACE, container="api", _preload_content=False
    )
    log.release_conn()
    records = cluster.audit()
    assert [(r["verb"], r["status"]) for r in records] == [
        ("list", 200),
        ("get", 200),
        ("watch", 200),
        ("list", 401),
        ("get", 200),
    ]
    first = records[0]
    assert first["method"] == "GET"
    assert first["path"] == f"/api/v1/namespaces/{NAMESPACE}/pods"
    assert first["user"] == USER
    assert first["userAgent"].startswith("OpenAPI-Generator/")
    assert first["time"].endswith("+00:00")
    assert records[2]["query"] == "watch=1&timeoutSeconds=0"
    assert records[3]["user"] == ""
    assert records[4]["subresource"] == "log"
    assert cluster.server.settings.token not in (cluster.workdir / "audit.jsonl").read_text()
