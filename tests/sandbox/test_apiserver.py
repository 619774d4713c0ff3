"""The sandbox API server's REST surface, through the official client and raw HTTP."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from conftest_apiserver import NAMESPACE, NODE, Cluster, cluster, shared_cluster

from lsconform.sandbox.apiserver import MemoryStore
from lsconform.sandbox.apiserver.server import ApiServer, ServerSettings

__all__ = ["cluster", "shared_cluster"]

ApiException = kubernetes.client.exceptions.ApiException


def pod_names(pods: Any) -> list[str]:
    return sorted(pod.metadata.name for pod in pods.items)


# Authentication and discovery.


def test_request_without_token_is_401(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", "/api/v1/pods", token=False)
    assert response.status_code == 401
    body = response.json()
    assert body["kind"] == "Status"
    assert body["reason"] == "Unauthorized"
    assert body["code"] == 401


def test_wrong_token_is_401(shared_cluster: Cluster) -> None:
    response = shared_cluster.request(
        "GET", "/api/v1/pods", token=False, headers={"Authorization": "Bearer wrong"}
    )
    assert response.status_code == 401


def test_version_is_public(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", "/version", token=False)
    assert response.status_code == 200
    assert response.json()["gitVersion"].startswith("v1.")


def test_core_discovery_lists_resources(shared_cluster: Cluster) -> None:
    resources = shared_cluster.request("GET", "/api/v1").json()
    assert resources["kind"] == "APIResourceList"
    by_name = {entry["name"]: entry for entry in resources["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"]
    assert by_name["pods"]["namespaced"] is True
    assert by_name["nodes"]["namespaced"] is False
    assert "watch" in by_name["services"]["verbs"]
    assert by_name["pods/log"]["verbs"] == ["get"]
    assert "create" in by_name["pods/portforward"]["verbs"]
    for name in ("endpoints", "configmaps", "secrets", "events", "serviceaccounts"):
        assert name in by_name


def test_group_discovery_includes_custom_resources(shared_cluster: Cluster) -> None:
    groups = shared_cluster.request("GET", "/apis").json()
    names = [group["name"] for group in groups["groups"]]
    assert {"apps", "batch", "discovery.k8s.io", "opentelemetry.io"} <= set(names)
    apps = shared_cluster.request("GET", "/apis/apps/v1").json()
    assert {entry["name"] for entry in apps["resources"]} >= {
        "deployments",
        "statefulsets",
        "replicasets",
        "daemonsets",
    }
    group = shared_cluster.request("GET", "/apis/opentelemetry.io").json()
    assert group["preferredVersion"]["groupVersion"] == "opentelemetry.io/v1beta1"


def test_openapi_is_plain_404(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", "/openapi/v2")
    assert response.status_code == 404


# list and get.


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["frontend-0"]),
        ("tier==api", ["backend-0"]),
        ("tier!=web", ["backend-0", "pending-0"]),
        ("tier in (web,api)", ["backend-0", "frontend-0"]),
        ("tier notin (web)", ["backend-0", "pending-0"]),
        ("tier", ["backend-0", "frontend-0"]),
        ("!tier", ["pending-0"]),
        ("app.kubernetes.io/component=backend,tier=api", ["backend-0"]),
    ],
)
def test_list_pods_label_selector(
    shared_cluster: Cluster, selector: str, expected: list[str]
) -> None:
    pods = shared_cluster.core().list_namespaced_pod(NAMESPACE, label_selector=selector)
    assert pod_names(pods) == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("status.phase=Running", ["backend-0", "frontend-0"]),
        ("status.phase!=Running", ["pending-0"]),
        (f"spec.nodeName={NODE}", ["backend-0", "frontend-0", "pending-0"]),
        ("metadata.name=frontend-0", ["frontend-0"]),
        (f"metadata.namespace={NAMESPACE},metadata.name!=frontend-0", ["backend-0", "pending-0"]),
    ],
)
def test_list_pods_field_selector(
    shared_cluster: Cluster, selector: str, expected: list[str]
) -> None:
    pods = shared_cluster.core().list_pod_for_all_namespaces(field_selector=selector)
    assert pod_names(pods) == expected


def test_list_secrets_by_type(shared_cluster: Cluster) -> None:
    secrets = shared_cluster.core().list_namespaced_secret(
        NAMESPACE, field_selector="type=helm.sh/release.v1", label_selector="owner=helm"
    )
    assert [secret.metadata.name for secret in secrets.items] == ["sh.helm.release.v1.langsmith.v1"]


def test_unsupported_field_selector_is_400(shared_cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        shared_cluster.core().list_namespaced_pod(NAMESPACE, field_selector="spec.bogus=1")
    assert caught.value.status == 400
    assert "field label not supported: spec.bogus" in caught.value.body


def test_malformed_label_selector_is_400(shared_cluster: Cluster) -> None:
    response = shared_cluster.request(
        "GET", f"/api/v1/namespaces/{NAMESPACE}/pods", params={"labelSelector": "a in (b"}
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"


def test_list_shape_is_kubernetes(shared_cluster: Cluster) -> None:
    body = shared_cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods").json()
    assert body["kind"] == "PodList"
    assert body["apiVersion"] == "v1"
    assert body["metadata"]["resourceVersion"].isdigit()
    assert "kind" not in body["items"][0]
    assert body["items"][0]["metadata"]["resourceVersion"].isdigit()


def test_list_custom_resource(shared_cluster: Cluster) -> None:
    custom = kubernetes.client.CustomObjectsApi(shared_cluster.client())
    body = custom.list_namespaced_custom_object(
        "opentelemetry.io", "v1beta1", NAMESPACE, "opentelemetrycollectors"
    )
    assert body["kind"] == "OpenTelemetryCollectorList"
    assert [item["metadata"]["name"] for item in body["items"]] == ["gateway"]


def test_list_paging_with_continue(shared_cluster: Cluster) -> None:
    core = shared_cluster.core()
    first = core.list_namespaced_pod(NAMESPACE, limit=2)
    assert pod_names(first) == ["backend-0", "frontend-0"]
    assert first.metadata.remaining_item_count == 1
    second = core.list_namespaced_pod(NAMESPACE, limit=2, _continue=first.metadata._continue)
    assert pod_names(second) == ["pending-0"]
    assert second.metadata._continue is None


def test_get_missing_pod_is_404_status(shared_cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        shared_cluster.core().read_namespaced_pod("nope", NAMESPACE)
    assert caught.value.status == 404
    body = caught.value.body
    assert '"reason":"NotFound"' in body
    assert 'pods \\"nope\\" not found' in body


def test_get_cluster_scoped_node(shared_cluster: Cluster) -> None:
    node = shared_cluster.core().read_node(NODE)
    assert node.status.node_info.container_runtime_version.startswith("containerd://")


def test_unknown_resource_is_404(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", "/api/v1/widgets")
    assert response.status_code == 404
    assert response.json()["message"] == "the server could not find the requested resource"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_mutation_is_405(shared_cluster: Cluster, method: str) -> None:
    response = shared_cluster.request(
        method, f"/api/v1/namespaces/{NAMESPACE}/pods/frontend-0", json={}
    )
    assert response.status_code == 405
    assert response.json()["reason"] == "MethodNotAllowed"


def test_table_output_for_kubectl(shared_cluster: Cluster) -> None:
    response = shared_cluster.request(
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    table = response.json()
    assert table["kind"] == "Table"
    columns = [column["name"] for column in table["columnDefinitions"]]
    assert columns[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    rows = {row["cells"][0]: row["cells"] for row in table["rows"]}
    assert rows["backend-0"][1] == "2/2"
    assert rows["pending-0"][2] == "ContainerCreating"
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


# watch.


def _pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def test_watch_streams_changes(cluster: Cluster) -> None:
    core = cluster.core()
    listed = core.list_namespaced_pod(NAMESPACE, label_selector="watched=yes")
    assert listed.items == []

    def change() -> None:
        time.sleep(0.1)
        cluster.store.put(_pod("w-1", {"watched": "yes"}))
        cluster.store.put(_pod("w-1", {"watched": "yes", "v": "2"}))
        cluster.store.put(_pod("w-2", {"watched": "no"}))
        cluster.store.delete("pods", "", NAMESPACE, "w-1")

    changer = threading.Thread(target=change)
    changer.start()
    events = []
    watch = kubernetes.watch.Watch()
    for event in watch.stream(
        core.list_namespaced_pod,
        NAMESPACE,
        label_selector="watched=yes",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=2,
    ):
        events.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            watch.stop()
    changer.join()
    assert events == [("ADDED", "w-1"), ("MODIFIED", "w-1"), ("DELETED", "w-1")]


def test_watch_without_version_starts_with_added(shared_cluster: Cluster) -> None:
    response = shared_cluster.request(
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        params={"watch": "1", "timeoutSeconds": "1", "labelSelector": "tier"},
    )
    lines = [line for line in response.text.splitlines() if line]
    assert response.status_code == 200
    assert [line.count('"type":"ADDED"') for line in lines] == [1, 1]


def test_watch_relabel_reads_as_deleted(cluster: Cluster) -> None:
    version = cluster.store.resource_version()
    cluster.store.put(_pod("r-1", {"watched": "yes"}))
    cluster.store.put(_pod("r-1", {"watched": "no"}))
    response = cluster.request(
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        params={"watch": "true", "resourceVersion": version, "labelSelector": "watched=yes"},
        stream=True,
    )
    lines = response.iter_lines()
    first, second = next(lines), next(lines)
    response.close()
    assert b'"type":"ADDED"' in first
    assert b'"type":"DELETED"' in second
    assert b'"name":"r-1"' in second


def test_watch_too_old_version_is_expired(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)
    store._history = type(store._history)(maxlen=2)
    for index in range(5):
        store.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"n{index}"}})
    with ApiServer(store, ServerSettings(workdir=tmp_path, tls=False, token="t")) as server:
        import requests

        response = requests.get(
            f"{server.url}/api/v1/namespaces",
            params={"watch": "1", "resourceVersion": "1"},
            headers={"Authorization": "Bearer t"},
            timeout=5,
            stream=True,
        )
        first = next(response.iter_lines()).decode()
        response.close()
    assert '"type":"ERROR"' in first
    assert "too old resource version: 1 (5)" in first
    assert '"code":410' in first


def test_plain_http_mode_and_kubeconfig(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)
    store.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain"}})
    with ApiServer(store, ServerSettings(workdir=tmp_path, tls=False)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        path = server.write_kubeconfig(tmp_path / "kubeconfig", "plain")
        assert path.stat().st_mode & 0o777 == 0o600
        client = kubernetes.config.new_client_from_config(config_file=str(path))
        namespaces = kubernetes.client.CoreV1Api(client).list_namespace()
    assert [ns.metadata.name for ns in namespaces.items] == ["plain"]


def test_token_not_in_repr(shared_cluster: Cluster) -> None:
    token = shared_cluster.server.settings.token
    assert token not in repr(shared_cluster.server.settings)
    assert token not in repr(shared_cluster.server)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "many"},
        {"continue": "not-a-token"},
        {"watch": "1", "timeoutSeconds": "soon"},
        {"watch": "1", "resourceVersion": "latest"},
    ],
)
def test_invalid_list_parameters_are_400(shared_cluster: Cluster, params: dict[str, str]) -> None:
    response = shared_cluster.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods", params=params)
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"


def test_watch_ends_when_client_leaves(cluster: Cluster) -> None:
    before = len(cluster.store._subscribers)
    response = cluster.request(
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/pods",
        params={"watch": "1", "labelSelector": "tier=web"},
        stream=True,
    )
    first = next(response.iter_lines())
    assert b'"type":"ADDED"' in first
    assert len(cluster.store._subscribers) == before + 1
    response.close()
    deadline = time.monotonic() + 5
    while len(cluster.store._subscribers) > before and time.monotonic() < deadline:
        time.sleep(0.02)
    # A watch an earlier test left may end meanwhile too, so the count can drop below `before`.
    assert len(cluster.store._subscribers) <= before
