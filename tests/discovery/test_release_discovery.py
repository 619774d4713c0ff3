"""discover() against a release laid out in the fake API server."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fakecluster import RevisionSpec, fakeapi, helm_record, install, live_objects

from lsconform.cluster.client import ClusterClient
from lsconform.discovery import AmbiguousRelease, Discovery, Release, discover
from lsconform.discovery.helm import encode_payload

TRACING = {
    "config": {
        "observability": {
            "tracing": {
                "enabled": True,
                "endpoint": "otel.example.svc:4317",
                "exporter": "grpc",
                "useTls": False,
            }
        }
    }
}


def codes(discovery: Discovery) -> list[str]:
    return [problem.code for problem in discovery.problems]


def test_default_release(api: Any, client: ClusterClient) -> None:
    install(api)
    discovery = discover(client, "langsmith")
    release = discovery.release
    assert release is not None
    assert (release.name, release.namespace, release.revision) == ("langsmith", "langsmith", 1)
    assert release.status == "deployed"
    assert release.source == "secret"
    assert release.chart_name == "langsmith"
    assert release.chart_version == "0.17.0-rc.12"
    assert release.fullname == "langsmith"
    assert release.name_label == "langsmith"
    assert release.config_map_name == "langsmith-config"
    assert release.config_data["OTEL_TRACING_ENABLED"] == "false"
    assert discovery.problems == []


def test_components_pods_and_services(api: Any, client: ClusterClient) -> None:
    install(api)
    release = discover(client, "langsmith").release
    assert release is not None
    backend = release.component("backend")
    assert backend is not None
    assert backend.enabled
    assert backend.name == "langsmith-backend"
    assert (backend.workload_kind, backend.workload_name) == ("Deployment", "langsmith-backend")
    assert (backend.desired_replicas, backend.ready_replicas) == (2, 2)
    assert len(backend.pods) == 2
    pod = backend.pods[0]
    assert pod.ready
    assert pod.ip.startswith("10.0.")
    assert pod.node == "node-a"
    assert pod.container("backend") is not None
    assert any(ref.name == "langsmith-config" for ref in pod.containers[0].env_from)
    assert backend.container_port("backend") == 1984
    [service] = backend.services
    assert service.name == "langsmith-backend"
    assert service.port_for_target("backend", 1984) == "backend"
    assert len(service.ready_addresses) == 2
    assert service.not_ready_addresses == []
    assert {m.pod for m in backend.metrics_endpoints} == {p.name for p in backend.pods}
    assert all(m.scraped_by_observability_chart for m in backend.metrics_endpoints)


def test_disabled_components_are_listed(api: Any, client: ClusterClient) -> None:
    install(api)
    release = discover(client, "langsmith").release
    assert release is not None
    host_backend = release.component("host-backend")
    assert host_backend is not None
    assert not host_backend.enabled
    assert host_backend not in release.enabled_components


def test_clickhouse_metrics_service_port(api: Any, client: ClusterClient) -> None:
    install(api)
    release = discover(client, "langsmith").release
    assert release is not None
    clickhouse = release.component("clickhouse")
    assert clickhouse is not None
    assert clickhouse.workload_kind == "StatefulSet"
    [endpoint] = clickhouse.metrics_endpoints
    assert (endpoint.port_name, endpoint.port) == ("ch-metrics", 9363)
    assert endpoint.service_port == "metrics"


def test_fullname_from_manifest_not_release_name(api: Any, client: ClusterClient) -> None:
    install(
        api,
        "prod-ls",
        "ls-prod",
        revisions=[RevisionSpec(values={"nameOverride": "smith", **TRACING})],
    )
    release = discover(client, "ls-prod").release
    assert release is not None
    assert release.fullname == "prod-ls-smith"
    assert release.name_label == "smith"
    backend = release.component("backend")
    assert backend is not None
    assert backend.workload_name == "prod-ls-smith-backend"
    assert release.tracing["exporter"] == "grpc"
    assert release.tracing["useTls"] is False
    assert "does not contain nameOverride 'smith'" in release.fullname_rule


def test_fullname_override(api: Any, client: ClusterClient) -> None:
    install(api, "prod", "ls", revisions=[RevisionSpec(values={"fullnameOverride": "core"})])
    release = discover(client, "ls").release
    assert release is not None
    assert release.fullname == "core"
    assert {c.workload_name for c in release.enabled_components} >= {
        "core-backend",
        "core-frontend",
    }


def test_latest_deployed_revision_wins(api: Any, client: ClusterClient) -> None:
    install(
        api,
        revisions=[
            RevisionSpec("superseded"),
            RevisionSpec("superseded"),
            RevisionSpec("deployed", TRACING),
        ],
    )
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.revision == 3
    assert discovery.release.tracing["enabled"] is True
    assert [r.revision for r in discovery.revisions] == [3, 2, 1]


def test_failed_latest_revision_uses_last_deployed(api: Any, client: ClusterClient) -> None:
    install(
        api,
        revisions=[
            RevisionSpec("superseded"),
            RevisionSpec("deployed"),
            RevisionSpec("failed", TRACING),
        ],
    )
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.revision == 2
    [problem] = [p for p in discovery.problems if p.code == "release-failed"]
    assert problem.severity == "error"
    assert problem.summary == (
        "newest revision 3 of release langsmith failed; last deployed is revision 2"
    )
    assert "helm history langsmith" in problem.remedy


def test_pending_upgrade_is_reported(api: Any, client: ClusterClient) -> None:
    install(
        api,
        revisions=[
            RevisionSpec("superseded"),
            RevisionSpec("failed"),
            RevisionSpec("pending-upgrade"),
        ],
    )
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.revision == 1
    assert "release-pending" in codes(discovery)
    assert "release-not-deployed" in codes(discovery)
    pending = next(p for p in discovery.problems if p.code == "release-pending")
    assert "is pending-upgrade; last deployed is revision 1" in pending.summary


def test_corrupt_latest_revision_falls_back(api: Any, client: ClusterClient) -> None:
    install(api, revisions=[RevisionSpec("superseded"), RevisionSpec("deployed", corrupt=True)])
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.revision == 1
    problem = next(p for p in discovery.problems if p.code == "helm-record-corrupt")
    assert "newest revision 2 of release langsmith cannot be decoded" in problem.summary
    assert "using revision 1 (superseded)" in problem.summary
    assert "helm rollback langsmith 1" in problem.remedy
    assert discovery.revisions[0].problem
    # The corrupt record is labelled deployed, so "no deployed revision" would mislead.
    assert "release-not-deployed" not in codes(discovery)


def test_every_revision_corrupt_falls_back_to_labels(api: Any, client: ClusterClient) -> None:
    install(api, revisions=[RevisionSpec("deployed", corrupt=True)])
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.source == "labels"
    assert "helm-record-corrupt" in codes(discovery)
    assert "helm-record-missing" in codes(discovery)
    backend = discovery.release.component("backend")
    assert backend is not None
    assert len(backend.pods) == 2


def test_configmap_storage_driver(api: Any, client: ClusterClient) -> None:
    install(api, revisions=[RevisionSpec(storage="configmap")])
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.source == "configmap"


def test_observability_release_is_ignored(api: Any, client: ClusterClient) -> None:
    install(api)
    api.add(
        helm_record(
            "langsmith-observability",
            "langsmith",
            1,
            RevisionSpec(chart_name="langsmith-observability"),
        )
    )
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.name == "langsmith"
    assert {r.chart_name for r in discovery.revisions} == {"langsmith", "langsmith-observability"}


def test_selection_by_chart_not_release_name(api: Any, client: ClusterClient) -> None:
    install(api, "prod", "ns", revisions=[RevisionSpec()])
    api.add(helm_record("langsmith", "ns", 1, RevisionSpec(chart_name="something-else")))
    discovery = discover(client, "ns")
    assert discovery.release is not None
    assert discovery.release.name == "prod"


def test_two_releases_need_a_name(api: Any, client: ClusterClient) -> None:
    install(api, "one", "ns")
    install(api, "two", "ns", live=False)
    with pytest.raises(AmbiguousRelease) as info:
        discover(client, "ns")
    assert info.value.releases == ["one", "two"]
    assert str(info.value) == (
        "namespace ns holds 2 LangSmith releases (one, two); choose one with --release NAME"
    )
    discovery = discover(client, "ns", release_name="one")
    assert discovery.release is not None
    assert discovery.release.name == "one"


def test_named_release_of_other_chart(api: Any, client: ClusterClient) -> None:
    install(api)
    api.add(helm_record("obs", "langsmith", 1, RevisionSpec(chart_name="grafana")))
    discovery = discover(client, "langsmith", release_name="obs")
    assert discovery.release is None
    [problem] = discovery.problems
    assert problem.code == "not-langsmith"
    assert problem.summary == "release obs uses chart grafana, not langsmith"
    assert "LangSmith releases here: langsmith" in problem.remedy


def test_no_release_at_all(api: Any, client: ClusterClient) -> None:
    discovery = discover(client, "empty")
    assert discovery.release is None
    [problem] = discovery.problems
    assert problem.code == "release-not-found"
    assert problem.summary.startswith("no LangSmith release found in namespace empty: ")
    assert "--namespace" in problem.remedy


def test_labels_fallback_without_helm_record(api: Any, client: ClusterClient) -> None:
    install(api, revisions=[], live=False)
    api.add(*live_objects("langsmith", "langsmith", {}))
    discovery = discover(client, "langsmith")
    release = discovery.release
    assert release is not None
    assert release.source == "labels"
    assert release.chart_version == "0.17.0-rc.12"
    assert release.fullname == "langsmith"
    assert release.config_map_name == "langsmith-config"
    backend = release.component("backend")
    assert backend is not None
    assert backend.services[0].name == "langsmith-backend"
    warning = next(p for p in discovery.problems if p.code == "helm-record-missing")
    assert warning.severity == "warning"


def test_forbidden_secrets_give_rbac_problem(api: Any, client: ClusterClient) -> None:
    install(api)
    message = 'secrets is forbidden: User "dev" cannot list resource "secrets"'
    api.route(
        "/api/v1/namespaces/langsmith/secrets",
        lambda h, r: h.send_bytes(403, fakeapi.status_body(403, "Forbidden", message)),
    )
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.source == "labels"
    rbac = next(p for p in discovery.problems if p.code == "rbac-missing")
    assert 'resources: ["secrets"]' in rbac.remedy
    assert 'verbs: ["list"]' in rbac.remedy


def test_not_ready_replica_is_reported(api: Any, client: ClusterClient) -> None:
    install(api, not_ready={"langsmith-backend": 1})
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    backend = discovery.release.component("backend")
    assert backend is not None
    assert (backend.desired_replicas, backend.ready_replicas) == (2, 1)
    assert len(backend.ready_pods) == 1
    broken = next(p for p in backend.pods if not p.ready)
    assert broken.containers[0].state == "waiting:CrashLoopBackOff"
    assert broken.containers[0].last_termination_reason == "OOMKilled"
    assert broken.restarts == 4
    assert len(backend.services[0].not_ready_addresses) == 1
    problem = next(p for p in discovery.problems if p.code == "replicas-not-ready")
    assert problem.summary == "Deployment langsmith-backend has 1 of 2 replicas ready"


def test_deleted_workload_and_configmap(api: Any, client: ClusterClient) -> None:
    install(api)
    for path in (
        "/apis/apps/v1/namespaces/langsmith/deployments",
        "/api/v1/namespaces/langsmith/configmaps",
    ):
        api.collections[path] = [
            o
            for o in api.collections[path]
            if o["metadata"]["name"] not in ("langsmith-queue", "langsmith-config")
        ]
    discovery = discover(client, "langsmith")
    assert "workload-missing" in codes(discovery)
    assert "config-missing" in codes(discovery)
    assert discovery.release is not None
    assert discovery.release.config_data["OTEL_TRACING_ENABLED"] == "false"


def test_edited_configmap_is_drift(api: Any, client: ClusterClient) -> None:
    install(api)
    path = "/api/v1/namespaces/langsmith/configmaps"
    config = next(o for o in api.collections[path] if o["metadata"]["name"] == "langsmith-config")
    config["data"]["OTEL_TRACING_ENABLED"] = "true"
    discovery = discover(client, "langsmith")
    drift = next(p for p in discovery.problems if p.code == "config-drift")
    assert "OTEL_TRACING_ENABLED" in drift.summary
    assert discovery.release is not None
    assert discovery.release.config_data["OTEL_TRACING_ENABLED"] == "true"


def test_misplaced_tracing_values(api: Any, client: ClusterClient) -> None:
    misplaced = {"observability": {"tracing": {"enabled": True}}}
    install(api, revisions=[RevisionSpec(values=misplaced)])
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    assert discovery.release.misplaced_values == {"observability": {"tracing": {"enabled": True}}}
    assert discovery.release.tracing["enabled"] is False
    problem = next(p for p in discovery.problems if p.code == "values-unknown-keys")
    assert problem.summary == "user values set keys the chart does not read: observability"


def test_renamed_metrics_port(api: Any, client: ClusterClient) -> None:
    install(api)
    path = "/apis/apps/v1/namespaces/langsmith/deployments"
    backend = next(o for o in api.collections[path] if o["metadata"]["name"] == "langsmith-backend")
    backend["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] = "http"
    discovery = discover(client, "langsmith")
    problem = next(p for p in discovery.problems if p.code == "metrics-port-name-missing")
    assert "declares no container port named backend; assuming port 1984" in problem.summary
    assert problem.evidence["declared_ports"] == ["http:1984"]


def test_release_round_trips_json(api: Any, client: ClusterClient) -> None:
    install(api, not_ready={"langsmith-backend": 1})
    release = discover(client, "langsmith").release
    assert release is not None
    data = json.loads(json.dumps(release.to_dict()))
    assert Release.from_dict(data) == release


def test_values_are_never_logged(
    api: Any, client: ClusterClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret_values = {"config": {"langsmithLicenseKey": "LICENSE-VALUE-123"}}
    install(api, revisions=[RevisionSpec(values=secret_values)])
    with caplog.at_level(logging.DEBUG):
        release = discover(client, "langsmith").release
    assert release is not None
    assert release.values["config"]["langsmithLicenseKey"] == "LICENSE-VALUE-123"
    assert "LICENSE-VALUE-123" not in caplog.text


@pytest.mark.parametrize("replicas", [1, 20])
def test_requests_do_not_grow_with_pods(api: Any, client: ClusterClient, replicas: int) -> None:
    install(api, replicas={"langsmith-backend": replicas})
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    backend = discovery.release.component("backend")
    assert backend is not None
    assert len(backend.pods) == replicas
    assert discovery.requests == 8


def test_malformed_pod_costs_one_component(api: Any, client: ClusterClient) -> None:
    install(api)
    path = "/api/v1/namespaces/langsmith/pods"
    queue_pod = next(
        o for o in api.collections[path] if o["metadata"]["name"].startswith("langsmith-queue-")
    )
    queue_pod["status"] = "not an object"
    discovery = discover(client, "langsmith")
    assert discovery.release is not None
    problem = next(p for p in discovery.problems if p.code == "object-malformed")
    assert problem.summary.startswith("Deployment langsmith-queue or one of its pods")
    backend = discovery.release.component("backend")
    assert backend is not None
    assert len(backend.pods) == 2


def test_record_of_unexpected_shape_falls_back(api: Any, client: ClusterClient) -> None:
    install(api, revisions=[], live=False)
    record = helm_record("langsmith", "langsmith", 1, RevisionSpec())
    payload = {
        "name": "langsmith",
        "version": 1,
        "info": ["not", "an", "object"],
        "chart": {"metadata": {"name": "langsmith"}},
        "manifest": 42,
    }
    record["data"]["release"] = encode_payload(payload, layers=2)
    api.add(record, *live_objects("langsmith", "langsmith", {}))
    discovery = discover(client, "langsmith")
    problem = next(p for p in discovery.problems if p.code == "helm-record-corrupt")
    assert "decodes to JSON of an unexpected shape" in problem.summary
    assert discovery.release is not None
    assert discovery.release.source == "labels"
    assert discovery.release.component("backend") is not None
