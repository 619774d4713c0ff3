"""The files in ci/: valid Kubernetes objects, RBAC equal to `lsconform rbac`, sane pipelines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from lsconform.cli import main
from lsconform.commands.rbac import PERMISSIONS, RbacOptions, Scope, render

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "ci"
MANIFESTS = sorted([*CI.glob("kubernetes/*.yaml"), *CI.glob("rbac/*.yaml")])

# apiVersion/kind -> the official client's model name.
MODELS = {
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("batch/v1", "Job"): "V1Job",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def without_empty(value: Any) -> Any:
    """Drop None values and empty containers, which the client's serialisation leaves out."""
    if isinstance(value, dict):
        cleaned = {k: without_empty(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in cleaned.items() if v != {} and v != []}
    if isinstance(value, list):
        return [without_empty(item) for item in value]
    return value


def round_trip(document: dict[str, Any]) -> Any:
    """Deserialise into the official client's model and serialise it back.

    The models validate required fields and types; a misspelt or misplaced field is dropped
    by the model, so the round trip then differs from the input.
    """
    api = client.ApiClient()
    model = MODELS[(document["apiVersion"], document["kind"])]
    obj = api.deserialize(json.dumps(document), model, "application/json")
    return without_empty(api.sanitize_for_serialization(obj))


def test_ci_has_manifests() -> None:
    names = {path.relative_to(CI).as_posix() for path in MANIFESTS}
    assert names == {
        "kubernetes/argocd-presync-hook.yaml",
        "kubernetes/helm-pre-upgrade-hook.yaml",
        "kubernetes/job.yaml",
        "rbac/cluster-role.yaml",
        "rbac/role.yaml",
    }


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.relative_to(CI).as_posix())
def test_manifest_loads_as_client_models(path: Path) -> None:
    found = documents(path)
    assert found
    for document in found:
        assert round_trip(document) == without_empty(document)


def jobs() -> list[dict[str, Any]]:
    return [
        document for path in MANIFESTS for document in documents(path) if document["kind"] == "Job"
    ]


def test_jobs_run_as_service_account_non_root() -> None:
    role = documents(CI / "rbac" / "role.yaml")
    account = next(d for d in role if d["kind"] == "ServiceAccount")
    assert len(jobs()) == 3
    for job in jobs():
        pod = job["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == account["metadata"]["name"]
        assert job["metadata"]["namespace"] == account["metadata"]["namespace"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["restartPolicy"] == "Never"
        container = pod["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert "--report-dir=/reports" in container["args"]
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert mounts == {"/reports", "/tmp"}
        assert job["spec"]["backoffLimit"] == 0


def test_hooks_carry_their_annotations() -> None:
    by_name = {
        job["metadata"].get("name") or job["metadata"]["generateName"]: job for job in jobs()
    }
    helm = by_name["lsconform-pre-upgrade"]["metadata"]["annotations"]
    assert helm["helm.sh/hook"] == "pre-upgrade"
    argo = by_name["lsconform-presync-"]["metadata"]["annotations"]
    assert argo["argocd.argoproj.io/hook"] == "PreSync"


def test_ci_rbac_matches_command_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rbac", "--namespace=langsmith"]) == 0
    role = capsys.readouterr().out
    assert main(["rbac", "--namespace=langsmith", "--cluster-role-only"]) == 0
    cluster_role = capsys.readouterr().out
    assert (CI / "rbac" / "role.yaml").read_text(encoding="utf-8") == role
    assert (CI / "rbac" / "cluster-role.yaml").read_text(encoding="utf-8") == cluster_role


def test_rbac_grants_only_reads() -> None:
    text = render(RbacOptions(cluster_role=True))
    verbs = {
        verb
        for document in yaml.safe_load_all(text)
        if document and "rules" in document
        for rule in document["rules"]
        for verb in rule["verbs"]
    }
    # `create` appears only for port-forward streams, which Kubernetes authorises as create.
    assert verbs == {"get", "list", "create"}
    for permission in PERMISSIONS:
        if "create" in permission.verbs:
            assert permission.resources == ("pods/portforward",)


@pytest.mark.parametrize(
    ("access", "absent"),
    [
        ("direct", {"pods/proxy", "services/proxy", "pods/portforward"}),
        ("port-forward", {"pods/proxy", "services/proxy"}),
        ("proxy", set()),
    ],
)
def test_rbac_follows_access_mode(access: str, absent: set[str]) -> None:
    text = render(RbacOptions(access=access, cluster_role=True))
    granted = {
        resource
        for document in yaml.safe_load_all(text)
        if document and "rules" in document
        for rule in document["rules"]
        for resource in rule["resources"]
    }
    assert not granted & absent
    assert {"pods/log", "secrets", "nodes/proxy"} <= granted


def test_rbac_exporter_namespace_gets_role() -> None:
    text = render(RbacOptions(exporter_namespaces=("monitoring",)))
    found = [d for d in yaml.safe_load_all(text) if d]
    roles = {(d["kind"], d["metadata"].get("namespace")) for d in found}
    assert ("Role", "monitoring") in roles
    assert ("RoleBinding", "monitoring") in roles
    assert not any(d["kind"] == "ClusterRole" for d in found)
    monitoring = next(
        d for d in found if d["kind"] == "Role" and d["metadata"]["namespace"] == "monitoring"
    )
    resources = {r for rule in monitoring["rules"] for r in rule["resources"]}
    observability = {r for p in PERMISSIONS if p.scope is Scope.OBSERVABILITY for r in p.resources}
    assert resources == observability


def test_github_workflow_gates_upgrade() -> None:
    workflow = yaml.safe_load((CI / "github" / "lsconform-upgrade-gate.yml").read_text())
    steps = workflow["jobs"]["gate-and-upgrade"]["steps"]
    names = [step.get("name", step.get("uses", "")) for step in steps]
    suite = names.index("Run the conformance suite")
    assert names.index("helm upgrade") > suite
    assert "if" not in steps[names.index("helm upgrade")]
    summary = steps[names.index("Write the job summary")]
    assert summary["if"] == "always()"
    assert "reports/report.md" in summary["run"]
    assert "$GITHUB_STEP_SUMMARY" in summary["run"]
    run = steps[suite]["run"]
    assert "--baseline=baseline/report.json --fail-on=regression" in run
    upload = steps[names.index("Upload the reports")]
    assert upload["if"] == "always()"
    assert upload["with"]["name"] == "lsconform-reports"
    assert (
        "--name lsconform-reports"
        in steps[names.index("Fetch the baseline (reports of the last successful run)")]["run"]
    )


def test_gitlab_job_gates_upgrade() -> None:
    pipeline = yaml.safe_load((CI / "gitlab" / "lsconform.gitlab-ci.yml").read_text())
    gate = pipeline["lsconform-gate"]
    assert pipeline["stages"].index(gate["stage"]) < pipeline["stages"].index("deploy")
    assert pipeline["helm-upgrade"]["needs"] == ["lsconform-gate"]
    script = "\n".join(gate["script"])
    assert "--baseline=baseline.json --fail-on=regression" in script
    assert gate["artifacts"]["when"] == "always"
    assert gate["artifacts"]["reports"]["junit"] == "reports/junit.xml"


def test_dockerfile_runs_non_root_with_reports_volume() -> None:
    text = (CI / "Dockerfile").read_text(encoding="utf-8")
    instructions = [
        line.split(None, 1)
        for line in re.sub(r"\\\n\s*", " ", text).splitlines()
        if line and not line.startswith("#") and not line.startswith(" ")
    ]
    keywords = [parts[0] for parts in instructions]
    assert keywords[0] == "FROM"
    user = [parts[1] for parts in instructions if parts[0] == "USER"]
    assert user == ["10001:10001"]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")
    assert ["VOLUME", '["/reports"]'] in instructions
    cmd = json.loads(next(parts[1] for parts in instructions if parts[0] == "CMD"))
    assert "--report-dir=/reports" in cmd
    for parts in instructions:
        if parts[0] in ("COPY", "ADD"):
            assert parts[0] == "COPY"
            assert ".." not in parts[1]


def test_rbac_exporter_namespace_once() -> None:
    options = RbacOptions(exporter_namespaces=("monitoring", "langsmith", "monitoring"))
    found = [d for d in yaml.safe_load_all(render(options)) if d]
    roles = sorted(d["metadata"]["namespace"] for d in found if d["kind"] == "Role")
    assert roles == ["langsmith", "monitoring"]


def test_rbac_doc_lists_every_permission() -> None:
    text = (ROOT / "docs" / "rbac.md").read_text(encoding="utf-8")
    for permission in PERMISSIONS:
        group = permission.api_group or '""'
        row = (
            f"| {permission.scope.value} | `{group}` | `{', '.join(permission.resources)}` "
            f"| {', '.join(permission.verbs)} | {', '.join(permission.areas)} "
            f"| {permission.reason} |"
        )
        assert row in text, row
