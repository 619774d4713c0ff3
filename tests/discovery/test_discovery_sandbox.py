"""discover() end to end against the bundled sandbox, healthy and with discovery faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lsconform.cluster.client import ClusterClient
from lsconform.discovery import AmbiguousRelease, discover
from lsconform.sandbox import Sandbox


@pytest.fixture(scope="module")
def healthy() -> Iterator[Sandbox]:
    with Sandbox(profile="default") as sandbox:
        yield sandbox


def client_for(sandbox: Sandbox) -> ClusterClient:
    return ClusterClient.from_kubeconfig(sandbox.kubeconfig)


def test_healthy_sandbox_release(healthy: Sandbox) -> None:
    with client_for(healthy) as client:
        discovery = discover(client, healthy.namespace)
    release = discovery.release
    assert release is not None
    assert release.name == healthy.release
    assert release.status == "deployed"
    assert release.chart_name == "langsmith"
    assert discovery.problems == []
    backend = release.component("backend")
    assert backend is not None
    assert backend.ready_replicas == backend.desired_replicas == len(backend.pods)
    assert all(pod.ip.startswith("127.10.") for pod in backend.pods)
    assert backend.services[0].ready_addresses


def test_healthy_sandbox_request_count(healthy: Sandbox) -> None:
    with client_for(healthy) as client:
        discovery = discover(client, healthy.namespace)
    assert discovery.requests == 8
    paths = [record["path"] for record in healthy.audit()]
    # Discovery lists; it never reads objects one by one.
    assert not any(
        path.startswith(f"/api/v1/namespaces/{healthy.namespace}/pods/") for path in paths
    )


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("helm-secret-corrupt", "helm-record-corrupt"),
        ("release-failed", "release-failed"),
        ("replica-not-ready", "replicas-not-ready"),
    ],
)
def test_fault_is_reported(fault: str, code: str) -> None:
    with Sandbox(profile="default", faults=[fault]) as sandbox, client_for(sandbox) as client:
        discovery = discover(client, sandbox.namespace)
    assert discovery.release is not None
    assert code in [problem.code for problem in discovery.problems]


def test_two_releases_need_a_name() -> None:
    with (
        Sandbox(profile="default", faults=["two-releases"]) as sandbox,
        client_for(sandbox) as client,
    ):
        with pytest.raises(AmbiguousRelease, match="choose one with --release NAME") as info:
            discover(client, sandbox.namespace)
        assert sandbox.release in info.value.releases
        discovery = discover(client, sandbox.namespace, release_name=sandbox.release)
    assert discovery.release is not None
    assert discovery.release.name == sandbox.release


ROLE_WITHOUT_SECRETS = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: lsconform-reader-without-secrets
  namespace: langsmith
rules:
  - apiGroups: [""]
    resources: [pods, services, endpoints, configmaps]
    verbs: [get, list]
  - apiGroups: [apps]
    resources: ["*"]
    verbs: [get, list]
"""


def test_rbac_without_secrets_falls_back_to_labels(tmp_path: Path) -> None:
    role = tmp_path / "role.yaml"
    role.write_text(ROLE_WITHOUT_SECRETS)
    with Sandbox(profile="default", rbac_role=role) as sandbox, client_for(sandbox) as client:
        discovery = discover(client, sandbox.namespace)
    release = discovery.release
    assert release is not None
    assert release.source == "labels"
    rbac = next(p for p in discovery.problems if p.code == "rbac-missing")
    assert rbac.summary.startswith("cannot list secrets in namespace langsmith")
    assert 'resources: ["secrets"]' in rbac.remedy
    assert 'verbs: ["list"]' in rbac.remedy
    backend = release.component("backend")
    assert backend is not None
    assert backend.pods
