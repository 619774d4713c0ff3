"""State-side faults: each one changes the objects, values or plans the way its real case does."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsconform.sandbox import canaries, faults, helm
from lsconform.sandbox.apiserver.rbac import Authorizer
from lsconform.sandbox.apiserver.requestinfo import parse_request
from lsconform.sandbox.state import ClusterState

BuildState = Callable[..., Any]

# The fault names the sandbox promises, by area.
CONTRACT_FAULTS = {
    "backend-metrics-down",
    "metrics-timeout",
    "metrics-malformed",
    "metrics-html",
    "histogram-broken",
    "metrics-families-missing",
    "port-name-renamed",
    "replica-not-ready",
    "clickhouse-metrics-off",
    "nginx-status-missing",
    "exporter-down",
    "two-releases",
    "helm-secret-corrupt",
    "release-failed",
    "logs-missing-on-node",
    "logs-link-dangling",
    "container-silent",
    "crashloop",
    "collector-excludes-namespace",
    "collector-glob-wrong",
    "collector-no-mount",
    "collector-docker-parser",
    "collector-absent",
    "rbac-no-node-proxy",
    "tracing-values-misplaced",
    "tls-mismatch",
    "http-to-grpc-port",
    "traces-path-missing",
    "collector-localhost-only",
    "collector-partial-success",
    "collector-down",
    "stale-pod-env",
    "pod-vanishes",
}


def config_data(state: ClusterState, name: str = "langsmith-config") -> dict[str, str]:
    config_map = state.get("configmaps", "", "langsmith", name)
    assert config_map is not None
    data: dict[str, str] = config_map["data"]
    return data


def helm_revisions(state: ClusterState, release: str = "langsmith") -> dict[int, dict[str, Any]]:
    items, _ = state.list("secrets", "", "langsmith")
    return {
        int(s["metadata"]["labels"]["version"]): s
        for s in items
        if s.get("type") == "helm.sh/release.v1" and s["metadata"]["labels"]["name"] == release
    }


def test_registry_lists_every_fault() -> None:
    assert set(faults.FAULTS_BY_NAME) == CONTRACT_FAULTS
    for fault in faults.FAULTS:
        assert fault.area in {"discovery", "metrics", "logs", "traces", "bundle"}, fault.name
        assert fault.description, fault.name
        assert fault.case, fault.name
        assert fault.applier in {"state", "pods", "both"}, fault.name


def test_unknown_fault_lists_known_ones() -> None:
    with pytest.raises(
        faults.UnknownFaultError, match=r"unknown fault 'no-such'.*known faults: .*crashloop"
    ):
        faults.validate_faults(["crashloop", "no-such"])


def test_port_name_renamed(build_state: BuildState) -> None:
    state = build_state(faults=("port-name-renamed",)).state
    service = state.get("services", "", "langsmith", "langsmith-backend")
    assert service is not None
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    endpoints = state.get("endpoints", "", "langsmith", "langsmith-backend")
    assert endpoints is not None
    assert endpoints["subsets"][0]["ports"][0]["name"] == "http"
    release = helm.decode_secret(helm_revisions(state)[2])
    rendered = [d for d in yaml.safe_load_all(release["manifest"]) if d]
    stored = next(
        d
        for d in rendered
        if d["kind"] == "Service" and d["metadata"]["name"] == "langsmith-backend"
    )
    assert [p["name"] for p in stored["spec"]["ports"]] == ["http"]


def test_replica_not_ready(build_state: BuildState) -> None:
    built = build_state(faults=("replica-not-ready",))
    state = built.state
    endpoints = state.get("endpoints", "", "langsmith", "langsmith-backend")
    assert endpoints is not None
    subset = endpoints["subsets"][0]
    assert len(subset["addresses"]) == 1
    assert len(subset["notReadyAddresses"]) == 1
    not_ready_pod = subset["notReadyAddresses"][0]["targetRef"]["name"]
    pod = state.get("pods", "", "langsmith", not_ready_pod)
    assert pod is not None
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    deployment = state.get("deployments", "apps", "langsmith", "langsmith-backend")
    assert deployment is not None
    assert deployment["status"]["readyReplicas"] == 1
    assert any(
        p["name"] == not_ready_pod and "replica-not-ready" in p["faults"] for p in built.state.plans
    )


def test_two_releases(build_state: BuildState) -> None:
    state = build_state(faults=("two-releases",)).state
    assert set(helm_revisions(state, "langsmith-staging")) == {1}
    assert state.get("services", "", "langsmith", "langsmith-staging-backend") is not None
    assert state.get("configmaps", "", "langsmith", "langsmith-staging-config") is not None
    assert state.get("services", "", "langsmith", "langsmith-backend") is not None
    staging = [p for p in state.plans if p["release"] == "langsmith-staging"]
    assert staging
    assert all(p["namespace"] == "langsmith" for p in staging)


def test_helm_secret_corrupt(build_state: BuildState) -> None:
    state = build_state(faults=("helm-secret-corrupt",)).state
    revisions = helm_revisions(state)
    helm.decode_secret(revisions[1])
    with pytest.raises((OSError, ValueError, binascii.Error, zlib.error, json.JSONDecodeError)):
        helm.decode_secret(revisions[2])
    assert revisions[2]["metadata"]["labels"]["status"] == "deployed"


def test_release_failed(build_state: BuildState) -> None:
    state = build_state(faults=("release-failed",)).state
    revisions = helm_revisions(state)
    assert {n: r["metadata"]["labels"]["status"] for n, r in revisions.items()} == {
        1: "superseded",
        2: "deployed",
        3: "failed",
    }
    failed = helm.decode_secret(revisions[3])
    assert failed["info"]["status"] == "failed"
    assert "failed" in failed["info"]["description"]


def test_tracing_values_misplaced(build_state: BuildState) -> None:
    state = build_state(faults=("tracing-values-misplaced",)).state
    assert config_data(state)["OTEL_TRACING_ENABLED"] == "false"
    assert "OTEL_EXPORTER" not in config_data(state)
    release = helm.decode_secret(helm_revisions(state)[2])
    assert release["config"]["observability"]["tracing"]["enabled"] is True
    assert "observability" not in release["config"]["config"]


def test_tls_mismatch(build_state: BuildState) -> None:
    data = config_data(build_state(faults=("tls-mismatch",)).state)
    assert data["OTLP_ENDPOINT"].startswith("http://")
    assert data["OTEL_USE_TLS"] == "true"
    assert data["OTEL_EXPORTER_OTLP_INSECURE"] == "false"


def test_http_to_grpc_port(build_state: BuildState) -> None:
    data = config_data(build_state(faults=("http-to-grpc-port",)).state)
    assert data["OTEL_EXPORTER"] == "http"
    assert ":4317/v1/traces" in data["OTLP_ENDPOINT"]


def test_traces_path_missing(build_state: BuildState) -> None:
    data = config_data(build_state(faults=("traces-path-missing",)).state)
    assert data["OTLP_ENDPOINT"].endswith(":4318")


def test_stale_pod_env(build_state: BuildState) -> None:
    built = build_state(faults=("stale-pod-env",))
    assert config_data(built.state)["OTEL_TRACING_ENABLED"] == "true"
    agent = next(p for p in built.state.plans if p["component"] == "standalone-insights-api-server")
    assert agent["containers"][0]["env"]["OTEL_TRACING_ENABLED"] == "false"
    assert "stale-pod-env" in agent["faults"]
    backend = next(p for p in built.state.plans if p["component"] == "backend")
    assert backend["containers"][0]["env"]["OTEL_TRACING_ENABLED"] == "true"
    agent_pod = built.state.get("pods", "", "langsmith", agent["name"])
    backend_pod = built.state.get("pods", "", "langsmith", backend["name"])
    assert agent_pod is not None
    assert backend_pod is not None
    deployed = helm.decode_secret(helm_revisions(built.state)[2])["info"]["last_deployed"]
    assert agent_pod["status"]["startTime"] < deployed < backend_pod["status"]["startTime"]


def test_crashloop(build_state: BuildState) -> None:
    built = build_state(faults=("crashloop",))
    plan = next(p for p in built.state.plans if "crashloop" in p["faults"])
    assert plan["component"] == "queue"
    assert plan["containers"][0]["restart_count"] == 3
    pod = built.state.get("pods", "", "langsmith", plan["name"])
    assert pod is not None
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] == 3
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["lastState"]["terminated"]["reason"] == "Error"
    events, _ = built.state.list("events", "", "langsmith")
    assert any(
        e["reason"] == "BackOff" and e["involvedObject"]["name"] == plan["name"] for e in events
    )


def test_rbac_no_node_proxy(build_state: BuildState) -> None:
    built = build_state(faults=("rbac-no-node-proxy",))
    assert built.rbac_role_yaml is not None
    authorizer = Authorizer.from_yaml(built.rbac_role_yaml)
    assert not authorizer.allows(
        parse_request("GET", "/api/v1/nodes/sandbox-node-1/proxy/logs/", False)
    )
    assert authorizer.allows(parse_request("GET", "/api/v1/namespaces/langsmith/pods", False))
    roles, _ = built.state.list("clusterroles", "rbac.authorization.k8s.io", None)
    assert any(r["metadata"]["name"] == "lsconform-reader-without-node-proxy" for r in roles)


def test_rbac_role_file(build_state: BuildState, tmp_path: Path) -> None:
    role = tmp_path / "role.yaml"
    role.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "reader", "namespace": "langsmith"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
            }
        )
    )
    built = build_state(rbac_role=role)
    assert built.rbac_role_yaml == role.read_text()
    assert built.state.get("roles", "rbac.authorization.k8s.io", "langsmith", "reader") is not None


def test_pod_vanishes_on_first_log_request(build_state: BuildState) -> None:
    built = build_state(faults=("pod-vanishes",))
    plan = next(p for p in built.state.plans if "pod-vanishes" in p["faults"])
    assert plan["component"] == "backend"
    assert built.state.get("pods", "", "langsmith", plan["name"]) is not None
    assert built.state.container_log_files("langsmith", plan["name"], "backend") is None
    assert built.state.get("pods", "", "langsmith", plan["name"]) is None
    endpoints = built.state.get("endpoints", "", "langsmith", "langsmith-backend")
    assert endpoints is not None
    listed = [a["targetRef"]["name"] for a in endpoints["subsets"][0]["addresses"]]
    assert plan["name"] not in listed
    assert len(listed) == 1
    deployment = built.state.get("deployments", "apps", "langsmith", "langsmith-backend")
    assert deployment is not None
    assert deployment["status"]["replicas"] == 1
    other = next(p for p in built.state.plans if p["component"] == "backend" and p is not plan)
    assert built.state.container_log_files("langsmith", other["name"], "backend") == []


def test_pod_faults_are_not_applied_by_the_state(build_state: BuildState) -> None:
    built = build_state(faults=("metrics-html", "collector-down"))
    assert all(not p["faults"] for p in built.state.plans)
    assert built.faults == frozenset({"metrics-html", "collector-down"})


def test_secret_data_encoding_is_base64(build_state: BuildState) -> None:
    state = build_state().state
    secret = state.get("secrets", "", "langsmith", "langsmith-secrets")
    assert secret is not None
    assert base64.b64decode(secret["data"]["api_key_salt"]) == canaries.API_KEY_SALT.encode()


def test_docs_describe_every_fault() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "sandbox.md").read_text()
    missing = [f.name for f in faults.FAULTS if f"| `{f.name}` |" not in docs]
    assert missing == []
