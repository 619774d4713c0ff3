"""Whole bundles against the sandbox's API server serving a namespace with planted canaries."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lsconform.bundle import BundleLeakError, BundleSummary, parse_pattern, write_bundle
from lsconform.bundle.archive import read_members
from lsconform.bundle.manifest import NO_REDACT_WARNING
from lsconform.bundle.progress import RichProgress
from lsconform.bundle.verify import scan_members
from lsconform.cluster.client import ClusterClient

from . import apicluster
from .apicluster import CANARIES, ERROR_LINE, LICENSE_KEY, NAMESPACE, SECRET_ONLY_VALUE

BACKEND = "langsmith-backend-5f7c9-abcde"
FRONTEND = "langsmith-frontend-7d9f8-fghij"

# Every artefact the default namespace must yield; logs/previous only for the restarted pod.
EXPECTED_FILES = (
    "manifest.json",
    "versions.json",
    "events.txt",
    "resources/summary.txt",
    "resources/pods.yaml",
    "resources/services.yaml",
    "resources/events.yaml",
    "resources/secrets.yaml",
    "resources/nodes.yaml",
    "resources/pod-resource-usage.txt",
    f"describe/{BACKEND}.txt",
    f"describe/{FRONTEND}.txt",
    f"logs/{BACKEND}_backend_current.log",
    f"logs/{BACKEND}_backend_previous.log",
    f"logs/{FRONTEND}_frontend_current.log",
    "helm/langsmith/history.txt",
    "helm/langsmith/history.json",
    "helm/langsmith/values.yaml",
    "config/langsmith-config.yaml",
    f"nodes/{apicluster.NODE}/var-log-pods.txt",
)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[apicluster.ApiCluster]:
    with apicluster.api_cluster(tmp_path / "work") as running:
        yield running


def _members(summary: BundleSummary) -> dict[str, bytes]:
    root = summary.path.name.removesuffix(".tar.gz").removesuffix(".zip")
    return {name.removeprefix(f"{root}/"): content for name, content in read_members(summary.path)}


def _errors(summary: BundleSummary) -> dict[str, dict[str, Any]]:
    return {error["artefact"]: error for error in summary.manifest["errors"]}


def test_bundle_has_every_artefact(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "bundle.tar.gz")
    members = _members(summary)
    for path in EXPECTED_FILES:
        assert path in members, path
    listed = {entry["path"]: entry for entry in summary.manifest["files"]}
    assert set(listed) | {"manifest.json"} == set(members)
    for path, entry in listed.items():
        assert entry["size"] == len(members[path]), path
    assert summary.release == "langsmith"


def test_bundle_has_no_canaries(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "bundle.tar.gz")
    members = _members(summary)
    for name, content in members.items():
        assert b"CANARY" not in content, name
        assert b"canary" not in content.lower(), name
    result = scan_members(members.items(), CANARIES)
    assert result.clean, result.describe()
    assert summary.secrets_checked >= len(CANARIES) - 1


def test_bundle_keeps_diagnosis(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "bundle.tar.gz")
    members = _members(summary)
    previous = members[f"logs/{BACKEND}_backend_previous.log"].decode()
    assert f"2026-12-04T19:59:01.123456789Z {ERROR_LINE}" in previous
    events = members["events.txt"].decode()
    assert "Back-off restarting failed container backend" in events
    assert events.index("Started container frontend") < events.index("Back-off restarting")
    summary_text = members["resources/summary.txt"].decode()
    assert f"pod/{BACKEND}" in summary_text
    describe = members[f"describe/{BACKEND}.txt"].decode()
    assert "Restart Count: 1" in describe
    assert "LOG_LEVEL:  info" in describe
    values = members["helm/langsmith/values.yaml"].decode()
    assert "enabled: true" in values
    history = members["helm/langsmith/history.txt"].decode()
    assert "superseded" in history
    assert "langsmith-0.17.0-rc.12" in history


def test_manifest_counts_redactions(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "bundle.tar.gz")
    files = {entry["path"]: entry for entry in summary.manifest["files"]}
    current = files[f"logs/{BACKEND}_backend_current.log"]["redactions"]
    assert current["email"] == 1
    assert current["trace-payload"] == 1
    assert current["bearer-token"] >= 1
    assert files["helm/langsmith/values.yaml"]["redactions"] == {"secret-field": 4}
    totals = summary.manifest["redactions"]["by_category"]
    assert totals == summary.redactions
    assert summary.manifest["redacted"] is True
    assert "warning" not in summary.manifest


def test_secret_data_never_collected(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "b.tar.gz", redact=False)
    members = _members(summary)
    secrets = members["resources/secrets.yaml"].decode()
    assert "langsmith_license_key" in secrets
    for content in members.values():
        assert SECRET_ONLY_VALUE.encode() not in content
        assert base64.b64encode(SECRET_ONLY_VALUE.encode()) not in content


def test_no_redact_keeps_canaries(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "b.tar.gz", redact=False)
    members = _members(summary)
    assert LICENSE_KEY in members["helm/langsmith/values.yaml"].decode()
    assert apicluster.EMAIL in members[f"logs/{BACKEND}_backend_current.log"].decode()
    assert members["WARNING-NOT-REDACTED.txt"].decode().strip() == NO_REDACT_WARNING
    manifest = json.loads(members["manifest.json"])
    assert manifest["redacted"] is False
    assert manifest["warning"] == NO_REDACT_WARNING
    assert summary.warnings == (NO_REDACT_WARNING,)


def test_zip_bundle(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path, fmt="zip")
    assert summary.path.parent == tmp_path
    assert summary.path.name.startswith(f"lsconform-bundle-{NAMESPACE}-")
    assert zipfile.is_zipfile(summary.path)
    if shutil.which("unzip"):
        listing = subprocess.run(
            ["unzip", "-l", str(summary.path)], capture_output=True, text=True, check=True
        ).stdout
        assert "manifest.json" in listing
    assert "events.txt" in _members(summary)


def test_tar_opens_with_tar(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "bundle.tar.gz")
    assert tarfile.is_tarfile(summary.path)
    if shutil.which("tar"):
        listing = subprocess.run(
            ["tar", "-tzf", str(summary.path)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert "bundle/manifest.json" in listing


NO_SECRETS_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: lsconform-no-secrets}
rules:
- apiGroups: ["", "apps", "batch", "autoscaling", "policy", "networking.k8s.io",
              "rbac.authorization.k8s.io", "opentelemetry.io", "metrics.k8s.io"]
  resources: ["pods", "pods/log", "pods/proxy", "services", "endpoints", "configmaps",
              "events", "nodes", "nodes/proxy", "deployments", "replicasets", "statefulsets",
              "daemonsets", "jobs", "cronjobs", "serviceaccounts", "persistentvolumeclaims",
              "opentelemetrycollectors"]
  verbs: ["get", "list"]
"""


def test_bundle_without_secrets_access(tmp_path: Path) -> None:
    with apicluster.api_cluster(tmp_path / "work", rbac_role_yaml=NO_SECRETS_ROLE) as running:
        summary = write_bundle(running.client, NAMESPACE, tmp_path / "bundle.tar.gz")
    assert summary.path.is_file()
    errors = _errors(summary)
    assert errors["resources/secrets.yaml"]["kind"] == "forbidden"
    assert errors["resources/secrets.yaml"]["missing_rule"] == "list secrets in namespace langsmith"
    assert errors["helm/"]["kind"] == "forbidden"
    members = _members(summary)
    assert "resources/pods.yaml" in members
    assert f"logs/{BACKEND}_backend_current.log" in members
    for name, content in members.items():
        assert b"CANARY" not in content, name


class _DeleteAfterListing:
    """Progress sink that deletes a pod once pods were listed, as the pod-vanishes fault does."""

    def __init__(self, cluster: apicluster.ApiCluster) -> None:
        self.cluster = cluster

    def add(self, count: int) -> None:
        pass

    def advance(self, description: str) -> None:
        if description == "list pods":
            self.cluster.store.delete("pods", "", NAMESPACE, BACKEND)


def test_bundle_when_pod_vanishes(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(
        cluster.client, NAMESPACE, tmp_path / "b.tar.gz", progress=_DeleteAfterListing(cluster)
    )
    errors = _errors(summary)
    current = errors[f"logs/{BACKEND}_backend_current.log"]
    assert current["kind"] == "not-found"
    assert BACKEND in current["message"]
    members = _members(summary)
    assert f"describe/{BACKEND}.txt" in members
    assert f"logs/{FRONTEND}_frontend_current.log" in members


def test_user_pattern_redacts(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    pattern = parse_pattern(r"redis::langsmith-redis:(?P<secret>\d+)")
    summary = write_bundle(
        cluster.client,
        NAMESPACE,
        tmp_path / "b.tar.gz",
        extra_patterns=[pattern, r"node::sandbox-node-(?P<secret>\d)"],
    )
    previous = _members(summary)[f"logs/{BACKEND}_backend_previous.log"].decode()
    assert "langsmith-redis:[REDACTED:custom:redis#" in previous
    assert summary.redactions["custom:redis"] == 1
    assert summary.redactions["custom:node"] >= 1


def test_leak_fails_loudly(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    # A secret base64-encoded at an odd offset escapes the in-memory scrub, which removes
    # only whole encodings, but not the verification scan.
    log = next((tmp_path / "work" / "nodes").rglob("frontend/0.log"))
    hidden = base64.b64encode(b"xy" + SECRET_ONLY_VALUE.encode()).decode()
    log.write_text(log.read_text() + f"2026-12-04T19:59:30Z stdout F blob {hidden}\n")
    target = tmp_path / "b.tar.gz"
    with pytest.raises(BundleLeakError, match=r"logs/langsmith-frontend-7d9f8-fghij_frontend"):
        write_bundle(cluster.client, NAMESPACE, target)
    assert not target.exists()
    assert list(tmp_path.glob("*.tar.gz")) == []


class _InFlightClient(ClusterClient):
    """Records the largest number of API requests in flight at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = 0
        self.max_in_flight = 0
        self._gauge = threading.Lock()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        with self._gauge:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return super().request(*args, **kwargs)
        finally:
            with self._gauge:
                self.in_flight -= 1


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    with apicluster.api_cluster(tmp_path / "work", latency_ms=50) as running:
        client = _InFlightClient.from_kubeconfig(running.kubeconfig)
        with client:
            summary = write_bundle(client, NAMESPACE, tmp_path / "b.tar.gz", concurrency=3)
    assert summary.files > 10
    assert client.max_in_flight <= 3
    assert client.max_in_flight >= 2


def test_per_file_cap(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "b.tar.gz", max_file_bytes=400)
    members = _members(summary)
    files = {entry["path"]: entry for entry in summary.manifest["files"]}
    pods = files["resources/pods.yaml"]
    assert pods["truncated"] is True
    assert pods["original_size"] > 400
    assert pods["size"] <= 400
    assert members["resources/pods.yaml"].endswith(
        b"[lsconform: cut at the bundle's per-file cap of 400 bytes]\n"
    )
    log = files[f"logs/{BACKEND}_backend_current.log"]
    assert log["truncated"] is True
    text = members[f"logs/{BACKEND}_backend_current.log"].decode()
    assert text.startswith("[lsconform: older lines omitted")
    assert "status=200" in text  # the most recent line is kept
    for content in members.values():
        assert b"CANARY" not in content


def test_total_cap(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "b.tar.gz", max_total_bytes=3000)
    skipped = summary.manifest["skipped_for_total_size"]
    assert f"logs/{BACKEND}_backend_current.log" in skipped
    members = _members(summary)
    assert "resources/summary.txt" in members
    assert "events.txt" in members
    assert sum(len(content) for name, content in members.items() if name != "manifest.json") <= 3000


def test_progress_counts_tasks(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=120)
    with RichProgress(console) as progress:
        write_bundle(cluster.client, NAMESPACE, tmp_path / "b.tar.gz", progress=progress)
        task = progress._progress.tasks[0]
        assert task.total is not None
        assert task.completed == task.total
        assert task.total >= 25
    assert "tasks" in output.getvalue()


def test_health_report_included(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    report = {
        "results": [
            {
                "check_id": "traces.endpoint",
                "status": "fail",
                "evidence": {"OTLP_HEADERS": f"authorization=Bearer {apicluster.BEARER}"},
            }
        ]
    }
    html = f"<html><body><pre>api_key: {apicluster.PAYLOAD_KEY}</pre>traces.endpoint</body></html>"
    summary = write_bundle(
        cluster.client,
        NAMESPACE,
        tmp_path / "b.tar.gz",
        report_json=json.dumps(report),
        report_html=html.encode(),
    )
    members = _members(summary)
    assert json.loads(members["report/report.json"])["results"][0]["status"] == "fail"
    assert b"traces.endpoint" in members["report/report.html"]
    for name in ("report/report.json", "report/report.html"):
        assert b"CANARY" not in members[name], name
    assert summary.manifest["redactions"] == json.loads(members["manifest.json"])["redactions"]


def test_corrupt_helm_revision(cluster: apicluster.ApiCluster, tmp_path: Path) -> None:
    corrupt = base64.b64encode(base64.b64encode(b"\x1f\x8b\x08\x00broken")).decode()
    cluster.store.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "helm.sh/release.v1",
            "metadata": {
                "name": "sh.helm.release.v1.langsmith.v3",
                "namespace": NAMESPACE,
                "labels": {"owner": "helm", "name": "langsmith", "status": "deployed"},
            },
            "data": {"release": corrupt},
        }
    )
    summary = write_bundle(cluster.client, NAMESPACE, tmp_path / "b.tar.gz")
    errors = _errors(summary)
    error = errors["helm/sh.helm.release.v1.langsmith.v3"]
    assert "the Helm release payload is not valid gzip" in error["message"]
    members = _members(summary)
    assert "helm/langsmith/values.yaml" in members
    assert "resources/secrets.yaml" in members
