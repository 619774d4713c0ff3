"""The cluster state the sandbox builds: what a cluster adds to the release objects."""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from lsconform.sandbox import canaries, helm
from lsconform.sandbox.state import AddressPool, ClusterState

BuildState = Callable[..., Any]

POD_HASH_NAME = re.compile(
    r"^(?P<deploy>.+)-(?P<hash>[bcdfghjklmnpqrstvwxz2456789]{10})-[bcdfghjklmnpqrstvwxz2456789]{5}$"
)


def objects(
    state: ClusterState, plural: str, group: str = "", namespace: str | None = None
) -> list[dict[str, Any]]:
    items, _ = state.list(plural, group, namespace)
    return items


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["metadata"]["name"]: item for item in items}


def test_namespaces_and_nodes(build_state: BuildState) -> None:
    state = build_state().state
    namespaces = set(by_name(objects(state, "namespaces")))
    assert {"default", "kube-system", "langsmith", "langsmith-observability"} <= namespaces
    nodes = objects(state, "nodes")
    assert len(nodes) == 2
    for node in nodes:
        info = node["status"]["nodeInfo"]
        assert info["containerRuntimeVersion"].startswith("containerd://1.7.")
        assert info["kubeletVersion"].startswith("v1.")
        assert {a["type"] for a in node["status"]["addresses"]} == {"InternalIP", "Hostname"}
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True"


def test_deployment_pods_named_by_replicaset(build_state: BuildState) -> None:
    state = build_state().state
    pods = objects(state, "pods", namespace="langsmith")
    replica_sets = by_name(objects(state, "replicasets", "apps", "langsmith"))
    deployments = by_name(objects(state, "deployments", "apps", "langsmith"))
    backend = [p for p in pods if p["metadata"]["name"].startswith("langsmith-backend-")]
    assert len(backend) == 2
    for pod in backend:
        match = POD_HASH_NAME.match(pod["metadata"]["name"])
        assert match, pod["metadata"]["name"]
        assert pod["metadata"]["labels"]["pod-template-hash"] == match.group("hash")
        owner = pod["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "ReplicaSet"
        replica_set = replica_sets[owner["name"]]
        assert owner["uid"] == replica_set["metadata"]["uid"]
        rs_owner = replica_set["metadata"]["ownerReferences"][0]
        assert rs_owner["kind"] == "Deployment"
        assert rs_owner["uid"] == deployments["langsmith-backend"]["metadata"]["uid"]


def test_statefulset_pods_have_ordinals(build_state: BuildState) -> None:
    state = build_state().state
    pods = by_name(objects(state, "pods", namespace="langsmith"))
    for name in ("langsmith-postgres-0", "langsmith-redis-0", "langsmith-clickhouse-0"):
        assert name in pods
        assert pods[name]["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == name
        assert pods[name]["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"


def test_pod_status_fields(build_state: BuildState) -> None:
    state = build_state().state
    pods = objects(state, "pods", namespace="langsmith")
    addresses = set()
    for pod in pods:
        status = pod["status"]
        address = ipaddress.ip_address(status["podIP"])
        assert address in ipaddress.ip_network("127.10.0.0/16")
        addresses.add(address)
        assert pod["spec"]["nodeName"] in ("sandbox-node-1", "sandbox-node-2")
        assert {c["type"] for c in status["conditions"]} >= {
            "Ready",
            "ContainersReady",
            "PodScheduled",
            "Initialized",
        }
        assert status["startTime"].endswith("Z")
        for container in status["containerStatuses"]:
            assert re.fullmatch(r"containerd://[0-9a-f]{64}", container["containerID"])
            assert "@sha256:" in container["imageID"]
            assert container["restartCount"] == 0
            assert "startedAt" in container["state"]["running"]
    assert len(addresses) == len(pods), "every pod needs its own loopback address"


def test_services_get_cluster_ips(build_state: BuildState) -> None:
    state = build_state().state
    for service in objects(state, "services"):
        cluster_ip = service["spec"]["clusterIP"]
        if cluster_ip == "None":
            continue
        assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network("127.11.0.0/16")


def test_endpoints_list_ready_pods(build_state: BuildState) -> None:
    state = build_state().state
    endpoints = state.get("endpoints", "", "langsmith", "langsmith-backend")
    assert endpoints is not None
    subset = endpoints["subsets"][0]
    assert subset["ports"] == [{"port": 1984, "protocol": "TCP", "name": "backend"}]
    pods = [
        p
        for p in objects(state, "pods", namespace="langsmith")
        if p["metadata"]["labels"].get("app.kubernetes.io/component") == "langsmith-backend"
    ]
    assert sorted(a["ip"] for a in subset["addresses"]) == sorted(
        p["status"]["podIP"] for p in pods
    )
    assert "notReadyAddresses" not in subset


def test_endpoint_slices_match_endpoints(build_state: BuildState) -> None:
    state = build_state().state
    slices = [
        s
        for s in objects(state, "endpointslices", "discovery.k8s.io", "langsmith")
        if s["metadata"]["labels"]["kubernetes.io/service-name"] == "langsmith-frontend"
    ]
    assert len(slices) == 1
    assert slices[0]["addressType"] == "IPv4"
    assert {p["name"] for p in slices[0]["ports"]} == {"http", "https"}
    assert {p["port"] for p in slices[0]["ports"]} == {8080}
    assert all(e["conditions"]["ready"] for e in slices[0]["endpoints"])


def test_events_per_pod(build_state: BuildState) -> None:
    state = build_state().state
    events = objects(state, "events", namespace="langsmith")
    pod = objects(state, "pods", namespace="langsmith")[0]
    reasons = sorted(
        e["reason"] for e in events if e["involvedObject"]["name"] == pod["metadata"]["name"]
    )
    assert reasons == ["Created", "Pulled", "Scheduled", "Started"]


def test_service_accounts_exist(build_state: BuildState) -> None:
    state = build_state().state
    accounts = set(by_name(objects(state, "serviceaccounts", namespace="langsmith")))
    assert {"default", "langsmith-backend", "langsmith-frontend"} <= accounts


def test_helm_revisions_of_default(build_state: BuildState) -> None:
    state = build_state().state
    secrets = by_name(objects(state, "secrets", namespace="langsmith"))
    first = secrets["sh.helm.release.v1.langsmith.v1"]
    second = secrets["sh.helm.release.v1.langsmith.v2"]
    assert first["type"] == "helm.sh/release.v1"
    assert first["metadata"]["labels"]["status"] == "superseded"
    assert (
        second["metadata"]["labels"].items()
        >= {"owner": "helm", "name": "langsmith", "status": "deployed", "version": "2"}.items()
    )
    release = helm.decode_secret(second)
    assert release["name"] == "langsmith"
    assert release["version"] == 2
    assert release["info"]["status"] == "deployed"
    assert release["chart"]["metadata"] == release["chart"]["metadata"] | {
        "name": "langsmith",
        "version": "0.17.0-rc.12",
        "appVersion": "0.17.12rc1",
    }
    assert release["config"]["config"]["observability"]["tracing"]["enabled"] is True
    assert "observability" not in helm.decode_secret(first)["config"].get("config", {})


def test_helm_manifest_and_hooks(build_state: BuildState) -> None:
    state = build_state().state
    secret = state.get("secrets", "", "langsmith", "sh.helm.release.v1.langsmith.v2")
    assert secret is not None
    release = helm.decode_secret(secret)
    manifest = release["manifest"]
    assert manifest.startswith("---\n# Source: langsmith/templates/")
    assert "# Source: langsmith/templates/backend/deployment.yaml" in manifest
    assert "kind: Job" not in manifest
    hook_names = {h["name"] for h in release["hooks"]}
    assert "langsmith-backend-migrations" in hook_names
    migrations = next(h for h in release["hooks"] if h["name"] == "langsmith-backend-migrations")
    assert migrations["events"] == ["post-install", "pre-upgrade"]
    assert migrations["weight"] == -1
    assert migrations["path"] == "langsmith/templates/backend/postgres-migrations.yaml"


def test_helm_payload_is_double_base64_gzip(build_state: BuildState) -> None:
    import base64

    state = build_state().state
    secret = state.get("secrets", "", "langsmith", "sh.helm.release.v1.langsmith.v2")
    assert secret is not None
    helm_encoded = base64.b64decode(secret["data"]["release"])
    assert base64.b64decode(helm_encoded)[:2] == b"\x1f\x8b"


def test_hook_jobs_appear_completed(build_state: BuildState) -> None:
    state = build_state().state
    jobs = by_name(objects(state, "jobs", "batch", "langsmith"))
    assert jobs["langsmith-backend-migrations"]["status"]["succeeded"] == 1
    assert "langsmith-e2e-test" not in jobs, "a 10 s TTL Job is long gone"


def test_plan_env_resolves_config_and_secrets(build_state: BuildState) -> None:
    built = build_state()
    plan = next(p for p in built.state.plans if p["component"] == "backend")
    assert plan["role"] == "langsmith-service"
    env = plan["containers"][0]["env"]
    assert env["OTEL_TRACING_ENABLED"] == "true"
    assert env["LANGSMITH_LICENSE_KEY"] == canaries.LICENSE_KEY
    assert env["PORT"] == "1984"
    assert plan["containers"][0]["ports"] == [
        {"name": "backend", "containerPort": 1984, "protocol": "TCP"}
    ]
    assert plan["containers"][0]["log_dir"].endswith(
        f"var/log/pods/langsmith_{plan['name']}_{plan['uid']}/backend"
    )


def test_env_entry_wins_over_config_map(build_state: BuildState, tmp_path: Any) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("commonEnv:\n  - name: OTEL_TRACING_ENABLED\n    value: 'false'\n")
    built = build_state(values=values)
    plan = next(p for p in built.state.plans if p["component"] == "backend")
    assert plan["containers"][0]["env"]["OTEL_TRACING_ENABLED"] == "false"
    config = built.state.get("configmaps", "", "langsmith", "langsmith-config")
    assert config is not None
    assert config["data"]["OTEL_TRACING_ENABLED"] == "true"


def test_plan_roles_cover_datastores_and_exporters(build_state: BuildState) -> None:
    roles = {p["role"] for p in build_state().state.plans}
    assert {
        "langsmith-service",
        "frontend",
        "clickhouse",
        "postgres",
        "redis",
        "postgres-exporter",
        "redis-exporter",
        "otel-collector",
    } <= roles


def test_dns_records_point_at_ready_pods(build_state: BuildState) -> None:
    built = build_state()
    records = built.builder.dns_records()
    gateway = "langsmith-observability-collector-gateway-collector"
    record = records[f"{gateway}.langsmith-observability.svc.cluster.local"]
    assert record["ports"]["4317"] == 4317
    assert record["ports"]["4318"] == 4318
    pod_ips = {p["ip"] for p in built.state.plans if p["role"] == "otel-collector"}
    assert record["ip"] in pod_ips
    assert records["langsmith-backend"]["ports"] == {"1984": 1984}
    assert records["langsmith-frontend.langsmith"]["ports"] == {"80": 8080, "443": 8080}


def test_observability_namespace(build_state: BuildState) -> None:
    state = build_state().state
    ns = "langsmith-observability"
    services = by_name(objects(state, "services", namespace=ns))
    gateway = services["langsmith-observability-collector-gateway-collector"]
    ports = {p["name"]: p["port"] for p in gateway["spec"]["ports"]}
    assert ports == {"otlp-grpc": 4317, "otlp-http": 4318, "monitoring": 8888}
    postgres = services["langsmith-observability-prometheus-postgres-exporter"]
    expected = {"name": "http", "port": 80, "targetPort": 9187}
    assert postgres["spec"]["ports"][0].items() >= expected.items()
    redis = services["langsmith-observability-prometheus-redis-exporter"]
    assert redis["spec"]["ports"][0]["name"] == "http"
    assert redis["spec"]["ports"][0]["port"] == 9121
    collectors = objects(state, "opentelemetrycollectors", "opentelemetry.io", ns)
    assert [c["metadata"]["name"] for c in collectors] == [
        "langsmith-observability-collector-gateway"
    ]
    assert collectors[0]["spec"]["mode"] == "deployment"
    for namespace in ("langsmith", ns):
        binding = state.get(
            "rolebindings",
            "rbac.authorization.k8s.io",
            namespace,
            "langsmith-observability-collector-gateway-rolebinding",
        )
        assert binding is not None
        assert (
            binding["subjects"][0]["name"] == "langsmith-observability-collector-gateway-collector"
        )


def test_address_pools_never_share_a_block() -> None:
    first, second = AddressPool(random.Random(1)), AddressPool(random.Random(1))
    try:
        first_ip, second_ip = first.pod_ip(), second.pod_ip()
        assert first.blocks != second.blocks
        assert first_ip != second_ip
    finally:
        first.close()
        second.close()


def test_scaled_replicas(build_state: BuildState, tmp_path: Any) -> None:
    for replicas in (1, 20):
        values = tmp_path / f"values-{replicas}.yaml"
        values.write_text(f"backend:\n  deployment:\n    replicas: {replicas}\n")
        built = build_state(values=values)
        backend = [p for p in built.state.plans if p["component"] == "backend"]
        assert len(backend) == replicas


def test_large_profile_has_about_fifty_pods(build_state: BuildState) -> None:
    plans = build_state("large").state.plans
    assert 45 <= len(plans) <= 60


@pytest.mark.parametrize(
    "profile", ["tracing-off", "fullname-override", "external-datastores", "control-plane"]
)
def test_every_profile_builds(build_state: BuildState, profile: str) -> None:
    built = build_state(profile)
    assert built.state.plans
    assert all(p["containers"] for p in built.state.plans)


def test_daemon_sets_run_one_pod_per_node(build_state: BuildState) -> None:
    state = build_state().state
    daemon_sets, _ = state.list("daemonsets", "apps", None)
    assert daemon_sets, "the profile lays out node log collectors"
    pods = objects(state, "pods")
    for daemon_set in daemon_sets:
        uid = daemon_set["metadata"]["uid"]
        owned = [p for p in pods if p["metadata"]["ownerReferences"][0]["uid"] == uid]
        assert sorted(p["spec"]["nodeName"] for p in owned) == ["sandbox-node-1", "sandbox-node-2"]
        assert daemon_set["status"]["numberReady"] == 2
        assert daemon_set["status"]["desiredNumberScheduled"] == 2
    roles = {p["role"] for p in build_state().state.plans if p["namespace"] == "logging"}
    assert roles == {"log-collector"}


def test_state_implements_the_store_protocol(build_state: BuildState) -> None:
    from lsconform.sandbox.apiserver.store import Store

    assert isinstance(build_state().state, Store)
