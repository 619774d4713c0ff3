"""Bundles of the sandbox's default profile, healthy, with pod-vanishes, and without secrets RBAC.

The canaries are the fake secrets the sandbox plants. `lsconform.sandbox.canaries` lists those in
release values, the `<fullname>-secrets` Secret, literal env values, a ConfigMap key and log
lines. The test adds every value of the Secrets and of the secret fields of the Helm release
values, read through the API, because the bundle never collects Secret data itself.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsconform.bundle import BundleSummary, write_bundle
from lsconform.bundle.archive import read_members
from lsconform.bundle.collect import decode_helm_release
from lsconform.bundle.manifest import NO_REDACT_WARNING
from lsconform.bundle.redact import PLAIN_NAME, base64_fragments, is_secret_field
from lsconform.bundle.verify import scan_members
from lsconform.cluster.client import ClusterClient
from lsconform.sandbox import Sandbox, canaries
from lsconform.sandbox.canaries import CANARIES, EXTERNAL_DATASTORE_CANARIES

# The canaries the default profile plants.
DEFAULT_CANARIES = {
    name: value for name, value in CANARIES.items() if name not in EXTERNAL_DATASTORE_CANARIES
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(profile="default", workdir=tmp_path_factory.mktemp("bundle-sandbox")) as running:
        yield running


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> Iterator[ClusterClient]:
    with ClusterClient.from_kubeconfig(sandbox.kubeconfig) as connected:
        yield connected


@pytest.fixture(scope="module")
def bundle(
    sandbox: Sandbox, client: ClusterClient, tmp_path_factory: pytest.TempPathFactory
) -> BundleSummary:
    target = tmp_path_factory.mktemp("bundle") / "bundle.tar.gz"
    return write_bundle(client, sandbox.namespace, target)


def _members(summary: BundleSummary) -> dict[str, bytes]:
    return {name.split("/", 1)[1]: content for name, content in read_members(summary.path)}


def _bundle_of(sandbox: Sandbox, target: Path) -> BundleSummary:
    with ClusterClient.from_kubeconfig(sandbox.kubeconfig) as connected:
        return write_bundle(connected, sandbox.namespace, target)


def _secret_strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if is_secret_field(str(key)) and isinstance(item, str):
                yield item
            else:
                yield from _secret_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secret_strings(item)


def planted_canaries(client: ClusterClient, namespace: str) -> set[str]:
    """Return the sandbox's fake secrets: log canaries, Secret values, secret Helm values."""
    canaries = set(DEFAULT_CANARIES.values())
    for secret in client.list("secrets", namespace=namespace):
        data = secret.get("data") or {}
        if secret.get("type") == "helm.sh/release.v1":
            release = decode_helm_release(data["release"])
            canaries.update(_secret_strings(release.get("config") or {}))
            continue
        for key, encoded in data.items():
            value = base64.b64decode(encoded).decode()
            if is_secret_field(key) and not value.startswith(("redis://", "http")):
                canaries.add(value)
    # Values that read like object names ("postgres") cannot be distinguished from the
    # names in a bundle, so the redactor replaces them only where a field or URL marks them.
    return {value for value in canaries if len(value) >= 8 and not PLAIN_NAME.fullmatch(value)}


def base64_twice_forms(value: str) -> set[bytes]:
    """Return what a value looks like base64-encoded twice, as Secret data inside a Helm
    release is, at any alignment within the encoded text."""
    forms = set()
    for fragment in base64_fragments(value):
        forms.update(piece.encode("ascii") for piece in base64_fragments(fragment))
    return forms


def test_sandbox_has_canaries(client: ClusterClient, sandbox: Sandbox) -> None:
    planted = planted_canaries(client, sandbox.namespace)
    assert len(planted) >= len(DEFAULT_CANARIES), sorted(planted)
    assert set(DEFAULT_CANARIES.values()) <= planted


def test_every_artefact_present(bundle: BundleSummary, client: ClusterClient) -> None:
    members = _members(bundle)
    listed = {entry["path"]: entry for entry in bundle.manifest["files"]}
    assert set(listed) | {"manifest.json"} == set(members)
    for path, entry in listed.items():
        assert entry["size"] == len(members[path]), path
    for path in (
        "versions.json",
        "events.txt",
        "resources/summary.txt",
        "resources/pods.yaml",
        "resources/deployments.yaml",
        "resources/statefulsets.yaml",
        "resources/services.yaml",
        "resources/events.yaml",
        "resources/secrets.yaml",
        "resources/pod-resource-usage.txt",
        "helm/langsmith/history.txt",
        "helm/langsmith/history.json",
        "helm/langsmith/values.yaml",
        "config/langsmith-config.yaml",
    ):
        assert path in members, path
    pods = client.list("pods", namespace=bundle.namespace)
    for pod in pods:
        name = pod["metadata"]["name"]
        assert f"describe/{name}.txt" in members, name
        statuses = {s["name"]: s for s in pod["status"].get("containerStatuses") or []}
        for container in pod["spec"]["containers"]:
            assert f"logs/{name}_{container['name']}_current.log" in members
            if statuses.get(container["name"], {}).get("restartCount", 0) > 0:
                assert f"logs/{name}_{container['name']}_previous.log" in members
    assert any(path.startswith("metrics/langsmith-backend-") for path in members)
    assert any(path.startswith("metrics/langsmith-observability/") for path in members)
    assert any(path.startswith("nginx_status/langsmith-frontend-") for path in members)
    assert any(path.startswith("collectors/langsmith-observability/") for path in members)
    assert "collectors/logging/daemonset-fluent-bit.yaml" in members
    assert "collectors/logging/configmap-fluent-bit.yaml" in members
    assert any(path.startswith("nodes/") for path in members)


def test_versions_recorded(bundle: BundleSummary) -> None:
    versions = json.loads(_members(bundle)["versions.json"])
    assert versions["kubernetes"]["gitVersion"].startswith("v1.")
    assert versions["releases"]["langsmith"]["chart_version"] == "0.17.0-rc.12"
    assert versions["releases"]["langsmith"]["app_version"] == "0.17.12rc1"
    assert versions["lsconform"]


def test_nginx_status_snapshot(bundle: BundleSummary) -> None:
    members = _members(bundle)
    status = next(v for k, v in members.items() if k.startswith("nginx_status/"))
    assert b"Active connections:" in status


def test_no_canary_survives(bundle: BundleSummary, client: ClusterClient) -> None:
    members = _members(bundle)
    planted = planted_canaries(client, bundle.namespace)
    # Plain, JSON-escaped (once and twice), HTML-escaped, URL-encoded, base64 at any alignment.
    result = scan_members(members.items(), planted)
    assert result.clean, result.describe()
    for name, content in members.items():
        assert b"CANARY" not in content.upper(), name
        assert b"PLACEHOLDER" not in content.upper(), name
    twice = {
        form: key for key, value in DEFAULT_CANARIES.items() for form in base64_twice_forms(value)
    }
    for name, content in members.items():
        for form, key in twice.items():
            assert form not in content, f"{name}: canary {key} base64-encoded twice"


def test_every_canary_place_is_bundled(bundle: BundleSummary) -> None:
    """The files that held canaries are in the bundle, redacted rather than left out."""
    members = _members(bundle)
    values = yaml.safe_load(members["helm/langsmith/values.yaml"])
    assert values["config"]["langsmithLicenseKey"].startswith("[REDACTED:")
    assert values["config"]["apiKeySalt"].startswith("[REDACTED:")
    extra_env = {e["name"]: e["value"] for e in values["backend"]["deployment"]["extraEnv"]}
    assert extra_env["ANALYTICS_DATABASE_URL"].startswith("[REDACTED:")

    smtp = yaml.safe_load(members[f"config/{canaries.SMTP_CONFIG_MAP}.yaml"])["data"]
    assert smtp["SMTP_HOST"] == "smtp.example.com"
    assert smtp["SMTP_USER"] == "langsmith-notifications"
    assert smtp["SMTP_PASSWORD"].startswith("[REDACTED:")

    deployments = yaml.safe_load(members["resources/deployments.yaml"])["items"]
    backend = next(d for d in deployments if d["metadata"]["name"] == "langsmith-backend")
    env = {e["name"]: e for e in backend["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ANALYTICS_API_KEY"]["value"].startswith("[REDACTED:")
    assert env["API_KEY_SALT"]["valueFrom"]["secretKeyRef"]["name"] == "langsmith-secrets"


def test_diagnosis_survives(bundle: BundleSummary, client: ClusterClient) -> None:
    members = _members(bundle)
    backend = next(
        pod["metadata"]["name"]
        for pod in client.list("pods", namespace=bundle.namespace)
        if pod["metadata"]["name"].startswith("langsmith-backend-")
    )
    log = members[f"logs/{backend}_backend_current.log"].decode()
    for line in log.splitlines():
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ", line), line
    assert '"msg":"connecting to database"' in log
    assert f'"pod":"{backend}"' in log
    assert "OpenTelemetry tracing enabled" in log
    # The error line that carried a database password keeps its error and loses the password.
    error = next(line for line in log.splitlines() if "OperationalError" in line)
    assert 'password authentication failed for user "langsmith"' in error
    assert "@langsmith-postgres:5432/postgres" in error
    assert "[REDACTED:" in error
    run = next(line for line in log.splitlines() if "posting run" in line)
    assert "[REDACTED:" in run
    describe = members[f"describe/{backend}.txt"].decode()
    assert f"Name:         {backend}" in describe
    assert "secretKeyRef 'langsmith-secrets'" in describe
    assert f"pod/{backend}" in members["resources/summary.txt"].decode()


def test_no_redact_has_canaries(sandbox: Sandbox, client: ClusterClient, tmp_path: Path) -> None:
    summary = write_bundle(client, sandbox.namespace, tmp_path / "raw.tar.gz", redact=False)
    members = _members(summary)
    everything = b"".join(members.values())
    for key, canary in DEFAULT_CANARIES.items():
        assert canary.encode() in everything, key
    assert members["WARNING-NOT-REDACTED.txt"].decode().strip() == NO_REDACT_WARNING
    assert json.loads(members["manifest.json"])["warning"] == NO_REDACT_WARNING


def test_pod_vanishes(tmp_path: Path) -> None:
    with Sandbox(profile="default", faults=["pod-vanishes"], workdir=tmp_path / "sb") as running:
        summary = _bundle_of(running, tmp_path / "b.tar.gz")
    assert summary.path.is_file()
    failed = {error["artefact"]: error for error in summary.manifest["errors"]}
    logs = [path for path in failed if path.startswith("logs/langsmith-backend-")]
    assert logs, failed
    vanished = logs[0].removeprefix("logs/").split("_")[0]
    assert vanished in failed[logs[0]]["message"]
    # A cluster returns 404 NotFound for the logs of a deleted pod, not 400.
    assert failed[logs[0]]["kind"] == "not-found"
    # The metrics request runs concurrently with the log request that deletes the pod, so it
    # may come before the deletion.
    metrics = failed.get(f"metrics/{vanished}_1984.txt")
    assert metrics is None or metrics["kind"] == "not-found"
    members = _members(summary)
    assert f"describe/{vanished}.txt" in members
    assert any(path.startswith("logs/langsmith-frontend-") for path in members)


NO_SECRETS_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: lsconform-bundle-no-secrets
rules:
- apiGroups: ["", "apps", "batch", "autoscaling", "policy", "networking.k8s.io",
              "rbac.authorization.k8s.io", "opentelemetry.io", "metrics.k8s.io",
              "discovery.k8s.io"]
  resources: ["pods", "pods/log", "pods/proxy", "services", "services/proxy", "endpoints",
              "configmaps", "events", "nodes", "nodes/proxy", "namespaces", "deployments",
              "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs",
              "horizontalpodautoscalers", "poddisruptionbudgets", "ingresses", "roles",
              "rolebindings", "serviceaccounts", "persistentvolumeclaims",
              "opentelemetrycollectors"]
  verbs: ["get", "list"]
- apiGroups: [""]
  resources: ["pods/portforward"]
  verbs: ["get", "create"]
"""


def test_without_secrets_access(tmp_path: Path) -> None:
    role = tmp_path / "role.yaml"
    role.write_text(NO_SECRETS_ROLE)
    with Sandbox(profile="default", rbac_role=role, workdir=tmp_path / "sb") as running:
        summary = _bundle_of(running, tmp_path / "b.tar.gz")
    assert summary.path.is_file()
    errors = {error["artefact"]: error for error in summary.manifest["errors"]}
    assert errors["resources/secrets.yaml"]["kind"] == "forbidden"
    assert errors["resources/secrets.yaml"]["missing_rule"] == "list secrets in namespace langsmith"
    assert errors["helm/"]["kind"] == "forbidden"
    members = _members(summary)
    assert "resources/pods.yaml" in members
    assert "helm/langsmith/values.yaml" not in members
    for name, content in members.items():
        assert b"CANARY" not in content.upper(), name
