"""Fidelity of the compact chart renderer and the built-in profiles against real chart output."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsconform.sandbox import chart, profiles
from lsconform.sandbox.chart import Document

# Reference file for each built-in profile, and the OTEL keys the profile sets on purpose.
# The default profile turns useTls off because its collector gateway listens in plaintext. The
# reference keeps the chart's default (useTls true), which is the tls-mismatch fault.
PROFILE_REFERENCES = {
    "default": (
        "default-tracing-on.yaml",
        {"OTEL_USE_TLS": "false", "OTEL_EXPORTER_OTLP_INSECURE": "true"},
    ),
    "tracing-off": ("default-tracing-off.yaml", {}),
    "fullname-override": ("fullname-override.yaml", {}),
    "external-datastores": ("external-datastores.yaml", {}),
}
RELEASE_LINE = re.compile(r"release name '(?P<release>[^']+)', namespace '(?P<namespace>[^']+)'")


def reference_objects(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def reference_inputs(path: Path) -> tuple[str, str, dict[str, Any]]:
    """Release, namespace and values written in a reference file's comment header."""
    header = path.read_text().split("\n---", 1)[0]
    match = RELEASE_LINE.search(header)
    assert match, f"{path.name} names no release and namespace in its header"
    values_lines = [line[3:] for line in header.splitlines() if line.startswith("#   ")]
    values = yaml.safe_load("\n".join(values_lines)) or {}
    return match.group("release"), match.group("namespace"), values


def shape(obj: dict[str, Any]) -> dict[str, Any]:
    """What the sandbox promises to match: labels, selectors, ports, probes, images, OTEL keys."""
    kind = obj["kind"]
    spec = obj.get("spec") or {}
    result: dict[str, Any] = {"labels": obj["metadata"].get("labels")}
    if kind == "Service":
        result["type"] = spec.get("type")
        result["selector"] = spec.get("selector")
        result["ports"] = [(p.get("name"), p["port"], p.get("targetPort")) for p in spec["ports"]]
    if kind in ("Deployment", "StatefulSet", "Job"):
        template = spec["template"]
        result["replicas"] = spec.get("replicas")
        result["selector"] = spec.get("selector")
        result["pod_labels"] = template["metadata"].get("labels")
        result["pod_annotation_keys"] = sorted(template["metadata"].get("annotations") or {})
        result["service_account"] = template["spec"].get("serviceAccountName")
        result["containers"] = [
            {
                "name": c["name"],
                "image": c.get("image"),
                "ports": [(p.get("name"), p["containerPort"]) for p in c.get("ports", [])],
                "envFrom": c.get("envFrom"),
                "probes": [
                    (c.get(kind_) or {}).get("httpGet") or (c.get(kind_) or {}).get("exec")
                    for kind_ in ("startupProbe", "readinessProbe", "livenessProbe")
                ],
            }
            for c in template["spec"]["containers"]
        ]
    if kind == "ConfigMap" and obj["metadata"]["name"].endswith("-config"):
        result["keys"] = sorted(obj["data"])
        result["otel"] = {k: v for k, v in obj["data"].items() if k.startswith(("OTEL", "OTLP"))}
    if kind == "Secret":
        result["keys"] = sorted(obj.get("data") or {})
    if kind == "Job":
        annotations = obj["metadata"].get("annotations") or {}
        result["hook"] = {k: v for k, v in annotations.items() if k.startswith("helm.sh/hook")}
    return result


def assert_same_shapes(
    expected: dict[tuple[str, str], dict[str, Any]],
    rendered: list[Document],
    otel_overrides: dict[str, str] | None = None,
) -> None:
    actual = {(d.obj["kind"], d.obj["metadata"]["name"]): d.obj for d in rendered}
    assert sorted(actual) == sorted(expected)
    for key in sorted(expected):
        want = shape(expected[key])
        if otel_overrides and "otel" in want:
            want["otel"] = {**want["otel"], **otel_overrides}
        got = shape(actual[key])
        for field_name in want:
            assert got[field_name] == want[field_name], f"{key} {field_name}"


CHART_FILES = [
    "default-tracing-on.yaml",
    "default-tracing-off.yaml",
    "fullname-override.yaml",
    "external-datastores.yaml",
]


@pytest.mark.parametrize("file_name", CHART_FILES)
def test_renderer_matches_chart_output(reference_dir: Path, file_name: str) -> None:
    path = reference_dir / file_name
    release, namespace, values = reference_inputs(path)
    assert_same_shapes(reference_objects(path), chart.render(release, namespace, values))


@pytest.mark.parametrize("profile", sorted(PROFILE_REFERENCES))
def test_profile_matches_chart_output(reference_dir: Path, profile: str) -> None:
    file_name, otel_overrides = PROFILE_REFERENCES[profile]
    now = datetime.now(timezone.utc)
    specs = profiles.release_specs(
        profile=profile, manifests=None, values={}, faults=frozenset(), now=now
    )
    assert_same_shapes(
        reference_objects(reference_dir / file_name), specs[0].documents, otel_overrides
    )


@pytest.mark.parametrize(
    ("release", "overrides", "expected_fullname", "expected_name"),
    [
        ("langsmith", {}, "langsmith", "langsmith"),
        ("my-langsmith-prod", {}, "my-langsmith-prod", "langsmith"),
        ("prod-ls", {}, "prod-ls-langsmith", "langsmith"),
        ("prod-ls", {"nameOverride": "smith"}, "prod-ls-smith", "smith"),
        ("prod-ls", {"fullnameOverride": "ls-core"}, "ls-core", "langsmith"),
        ("prod-ls", {"fullnameOverride": "ls-core", "nameOverride": "smith"}, "ls-core", "smith"),
        ("ls", {"nameOverride": "l"}, "ls", "l"),
        ("x" * 70, {}, ("x" * 70 + "-langsmith")[:63], "langsmith"),
    ],
)
def test_fullname_rules(
    release: str, overrides: dict[str, str], expected_fullname: str, expected_name: str
) -> None:
    assert chart.fullname(release, overrides) == expected_fullname
    assert chart.chart_name(overrides) == expected_name


def test_backend_service_name_follows_fullname() -> None:
    documents = chart.render(
        "prod-ls", "ls-prod", {**chart.BASE_VALUES, "fullnameOverride": "ls-core"}
    )
    names = {(d.obj["kind"], d.obj["metadata"]["name"]) for d in documents}
    assert ("Service", "ls-core-backend") in names
    assert ("ConfigMap", "ls-core-config") in names


def test_tracing_off_renders_two_keys_only() -> None:
    documents = chart.render("langsmith", "langsmith", chart.BASE_VALUES)
    config = next(d.obj for d in documents if d.obj["metadata"]["name"] == "langsmith-config")
    otel = {k: v for k, v in config["data"].items() if k.startswith(("OTEL", "OTLP"))}
    assert otel == {"OTEL_TRACING_ENABLED": "false", "OTLP_ENDPOINT": ""}


def test_tracing_without_endpoint_is_rejected() -> None:
    values = chart.deep_merge(
        chart.BASE_VALUES, {"config": {"observability": {"tracing": {"enabled": True}}}}
    )
    with pytest.raises(chart.ChartError, match=r"tracing.endpoint is required"):
        chart.render("langsmith", "langsmith", values)


def test_control_plane_profile_adds_components() -> None:
    now = datetime.now(timezone.utc)
    specs = profiles.release_specs(
        profile="control-plane", manifests=None, values={}, faults=frozenset(), now=now
    )
    names = {(d.obj["kind"], d.obj["metadata"]["name"]) for d in specs[0].documents}
    for component in ("host-backend", "listener", "operator"):
        assert ("Deployment", f"langsmith-{component}") in names
    assert ("Service", "langsmith-host-backend") in names
    assert ("Role", "langsmith-host-backend-role") in names
    operator = next(
        d.obj
        for d in specs[0].documents
        if d.obj["metadata"]["name"] == "langsmith-operator" and d.obj["kind"] == "Deployment"
    )
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in container
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8081}


def test_unknown_profile_lists_known_ones() -> None:
    with pytest.raises(
        profiles.ProfileError, match=r"unknown profile 'nope'; known profiles: .*default"
    ):
        profiles.get_profile("nope")


def test_agent_datastore_names_stay_short() -> None:
    naming = chart.naming_for("a-very-long-release-name-for-langsmith-here", "ns", {})
    name = chart.agent_datastore_name(naming, "standalone-insights", "postgres")
    assert len(name) <= 52
    assert name.endswith("-standalone-insights-postgres")
