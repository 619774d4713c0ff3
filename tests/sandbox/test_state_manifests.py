"""Loading `--manifests` (rendered chart output) and `--values`, good and bad."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsconform.sandbox import helm
from lsconform.sandbox.manifests import ManifestError, load_manifests, load_values, parse_manifests
from lsconform.sandbox.orchestrator import EXIT_START_FAILED, EXIT_USAGE, Options, run
from lsconform.sandbox.state import KNOWN_KINDS

BuildState = Callable[..., Any]

MINIMAL_DEPLOYMENT = """\
# Source: demo/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-worker
  namespace: demo
  labels: {app.kubernetes.io/instance: demo, helm.sh/chart: demo-1.2.3}
spec:
  replicas: 2
  selector: {matchLabels: {app: demo-worker}}
  template:
    metadata: {labels: {app: demo-worker, app.kubernetes.io/instance: demo}}
    spec:
      containers:
        - name: worker
          image: example/worker:1
"""


def write(tmp_path: Path, text: str | bytes, name: str = "manifests.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    "file_name",
    [
        "default-tracing-on.yaml",
        "default-tracing-off.yaml",
        "fullname-override.yaml",
        "external-datastores.yaml",
        "observability-chart.yaml",
    ],
)
def test_reference_manifests_load(
    build_state: BuildState, reference_dir: Path, file_name: str
) -> None:
    path = reference_dir / file_name
    expected = [d for d in yaml.safe_load_all(path.read_text()) if d]
    built = build_state(manifests=path)
    state = built.state
    assert built.skipped == []
    for document in expected:
        kind, name = document["kind"], document["metadata"]["name"]
        resource = state.type_of(document)
        # An object without a namespace goes to the release namespace, which the loader takes
        # to be the namespace most objects name.
        namespace = (
            document["metadata"].get("namespace", state.namespace) if resource.namespaced else None
        )
        stored = state.get(resource.plural, resource.group, namespace, name)
        if document["metadata"].get("annotations", {}).get("helm.sh/hook") and stored is None:
            continue  # a hook Job whose TTL already removed it
        assert stored is not None, f"{kind} {name}"
        assert (
            document["metadata"].get("labels", {}).items() <= stored["metadata"]["labels"].items()
        )
        if kind == "Service":
            want = [(p.get("name"), p["port"]) for p in document["spec"]["ports"]]
            assert [(p.get("name"), p["port"]) for p in stored["spec"]["ports"]] == want


def test_reference_manifest_release_storage(
    build_state: BuildState, reference_dir: Path, tmp_path: Path
) -> None:
    values = write(tmp_path, "config:\n  authType: mixed\n", "values.yaml")
    built = build_state(manifests=reference_dir / "fullname-override.yaml", values=values)
    assert built.state.namespace == "ls-prod"
    secret = built.state.get("secrets", "", "ls-prod", "sh.helm.release.v1.prod-ls.v1")
    assert secret is not None
    release = helm.decode_secret(secret)
    assert release["config"] == {"config": {"authType": "mixed"}}
    assert release["chart"]["metadata"]["name"] == "langsmith"
    assert release["chart"]["metadata"]["version"] == "0.17.0-rc.12"
    assert "# Source: langsmith/templates/backend/service.yaml" in release["manifest"]
    assert "helm.sh/hook" not in release["manifest"]
    assert {h["name"] for h in release["hooks"]} >= {"prod-ls-smith-backend-migrations"}
    backend = [p for p in built.state.plans if p["component"] == "backend"]
    assert len(backend) == 2
    assert backend[0]["containers"][0]["env"]["OTEL_EXPORTER"] == "grpc"


def test_not_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n")
    with pytest.raises(ManifestError, match=r"document 1 is not valid YAML: .* at line \d+"):
        load_manifests(path, KNOWN_KINDS)


def test_unknown_kind_is_skipped(tmp_path: Path) -> None:
    text = (
        MINIMAL_DEPLOYMENT + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    )
    manifests = parse_manifests(text, "test", KNOWN_KINDS)
    assert manifests.skipped == ["Widget w (example.com/v1)"]
    assert [d.obj["kind"] for d in manifests.documents] == ["Deployment"]


def test_missing_name_is_rejected() -> None:
    text = "# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"
    with pytest.raises(
        ManifestError,
        match=r"document 1 \(demo/templates/cm.yaml\) \(ConfigMap\) has no metadata.name",
    ):
        parse_manifests(text, "test", KNOWN_KINDS)


def test_missing_kind_is_rejected() -> None:
    with pytest.raises(ManifestError, match="has no kind"):
        parse_manifests("apiVersion: v1\nmetadata: {name: x}\n", "test", KNOWN_KINDS)


def test_scalar_document_is_rejected() -> None:
    with pytest.raises(ManifestError, match="document 1 is a str, not a Kubernetes object"):
        parse_manifests("just text\n", "test", KNOWN_KINDS)


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="contains no Kubernetes object"):
        load_manifests(write(tmp_path, "---\n# nothing\n"), KNOWN_KINDS)


def test_non_utf8_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="is not UTF-8 text"):
        load_manifests(write(tmp_path, b"kind: \xff\xfe\n"), KNOWN_KINDS)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read manifests file"):
        load_manifests(tmp_path / "absent.yaml", KNOWN_KINDS)


def test_unlabelled_objects_are_rejected() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n"
    with pytest.raises(ManifestError, match="release name is unknown"):
        parse_manifests(text, "test", KNOWN_KINDS)


def test_deployment_without_ports_gets_pods(build_state: BuildState, tmp_path: Path) -> None:
    built = build_state(manifests=write(tmp_path, MINIMAL_DEPLOYMENT))
    plans = [p for p in built.state.plans if p["namespace"] == "demo"]
    assert len(plans) == 2
    assert all(p["containers"][0]["ports"] == [] for p in plans)
    assert all(p["role"] == "generic" for p in plans)
    secret = built.state.get("secrets", "", "demo", "sh.helm.release.v1.demo.v1")
    assert secret is not None
    assert helm.decode_secret(secret)["chart"]["metadata"]["version"] == "1.2.3"


def test_values_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(
        ManifestError, match="must hold a YAML mapping at the top level, found list"
    ):
        load_values(write(tmp_path, "- a\n- b\n", "values.yaml"))
    assert load_values(write(tmp_path, "", "empty.yaml")) == {}


def test_bad_input_exits_with_usage_status(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    bad = write(tmp_path, "kind: [\n")
    status = run(Options(manifests=bad, workdir=tmp_path / "wd"), out=out, err=err)
    assert status == EXIT_USAGE
    assert "is not valid YAML" in err.getvalue()
    assert out.getvalue() == ""


def test_unknown_fault_exits_with_usage_status(tmp_path: Path) -> None:
    err = io.StringIO()
    status = run(
        Options(faults=("no-such-fault",), workdir=tmp_path / "wd"), out=io.StringIO(), err=err
    )
    assert status == EXIT_USAGE
    assert "unknown fault 'no-such-fault'; known faults:" in err.getvalue()


def test_invalid_workload_fields_exit_with_usage_status(tmp_path: Path) -> None:
    broken = MINIMAL_DEPLOYMENT.replace("replicas: 2", "replicas: two")
    err = io.StringIO()
    status = run(
        Options(manifests=write(tmp_path, broken), workdir=tmp_path / "wd"),
        out=io.StringIO(),
        err=err,
    )
    assert status == EXIT_USAGE
    assert "cannot lay out the objects of" in err.getvalue()
    assert "invalid literal for int()" in err.getvalue()
    nameless = MINIMAL_DEPLOYMENT.replace(
        "        - name: worker\n          image", "        - image"
    )
    err = io.StringIO()
    status = run(
        Options(manifests=write(tmp_path, nameless, "nameless.yaml"), workdir=tmp_path / "wd2"),
        out=io.StringIO(),
        err=err,
    )
    assert status == EXIT_USAGE
    assert "KeyError: 'name'" in err.getvalue()


def test_unwritable_workdir_exits_with_start_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    err = io.StringIO()
    status = run(Options(workdir=blocker / "wd"), out=io.StringIO(), err=err)
    assert status == EXIT_START_FAILED
    assert "could not start" in err.getvalue()
