"""Collector configurations evaluated against one container: selection, mounts, links, users,
parsers, and finding collectors among Kubernetes objects and files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lsconform.probes.collectors import datadog, discover, fluentbit, otel
from lsconform.probes.collectors.model import (
    ContainerLogTarget,
    HostMount,
    Outcome,
    Reader,
    reader_from_pod_spec,
)
from lsconform.probes.logfiles import RuntimeKind

UID = "1b2c3d4e-0000-4000-8000-000000000001"
CID = "ab" * 32
CRI_REGEX = r"^(?P<time>[^ Z]+Z) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$"


def target(runtime: RuntimeKind = RuntimeKind.CONTAINERD, **annotations: str) -> ContainerLogTarget:
    return ContainerLogTarget(
        namespace="langsmith",
        pod="langsmith-backend-5f7c9-abcde",
        uid=UID,
        container="backend",
        container_id=f"containerd://{CID}",
        restart_count=0,
        node="node-a",
        runtime=runtime,
        image="docker.io/langchain/langsmith-backend:0.10.0",
        pod_annotations={k.replace("__", "/").replace("_", "."): v for k, v in annotations.items()},
    )


def reader(*mounts: tuple[str, str], uid: int | None = 0, **extra: Any) -> Reader:
    return Reader(
        origin="test",
        namespace="obs",
        container="collector",
        mounts=[HostMount(host, inside) for host, inside in mounts],
        run_as_user=uid,
        **extra,
    )


PODS = ("/var/log/pods", "/var/log/pods")
CONTAINERS = ("/var/log/containers", "/var/log/containers")
VARLOG = ("/var/log", "/var/log")


def filelog(
    include: list[str],
    exclude: list[str] | None = None,
    operators: list[dict[str, Any]] | None = None,
) -> otel.FilelogReceiver:
    return otel.FilelogReceiver(
        name="filelog",
        include=include,
        exclude=exclude or [],
        operators=operators if operators is not None else [{"type": "container"}],
        pipelines=["logs"],
    )


def otel_collector(receiver: otel.FilelogReceiver, rdr: Reader, mode: str = "daemonset"):
    return otel.OtelCollector("otel", rdr, [receiver], mode=mode)


# --- OpenTelemetry Collector ------------------------------------------------------------------


def test_otel_reads_pod_file():
    verdict = otel_collector(filelog(["/var/log/pods/*/*/*.log"]), reader(PODS)).evaluate(target())
    assert verdict.outcome is Outcome.READS
    assert verdict.path == target().pod_path


def test_otel_without_mount_is_broken():
    verdict = otel_collector(filelog(["/var/log/pods/*/*/*.log"]), reader()).evaluate(target())
    assert verdict.outcome is Outcome.BROKEN
    assert "mounts no hostPath" in verdict.reason
    assert "/var/log/pods" in verdict.remedy


def test_otel_mount_at_other_path_is_broken():
    rdr = reader(("/var/log/pods", "/hostfs/var/log/pods"))
    verdict = otel_collector(filelog(["/var/log/pods/*/*/*.log"]), rdr).evaluate(target())
    assert verdict.outcome is Outcome.BROKEN
    assert "/hostfs/var/log/pods" in verdict.reason


def test_otel_glob_under_mount_path_reads():
    rdr = reader(("/var/log/pods", "/hostfs/var/log/pods"))
    verdict = otel_collector(filelog(["/hostfs/var/log/pods/*/*/*.log"]), rdr).evaluate(target())
    assert verdict.outcome is Outcome.READS


def test_otel_link_needs_target_mounted_at_same_path():
    receiver = filelog(["/var/log/containers/*.log"])
    broken = otel_collector(receiver, reader(CONTAINERS)).evaluate(target())
    reads = otel_collector(receiver, reader(CONTAINERS, PODS)).evaluate(target())
    assert broken.outcome is Outcome.BROKEN
    assert "dangles" in broken.reason
    assert reads.outcome is Outcome.READS
    assert reads.path == target().link_path


def test_otel_exclusion_names_pattern():
    receiver = filelog(["/var/log/pods/*/*/*.log"], ["/var/log/pods/langsmith_*/*/*.log"])
    verdict = otel_collector(receiver, reader(PODS)).evaluate(target())
    assert verdict.outcome is Outcome.NOT_SELECTED
    assert "/var/log/pods/langsmith_*/*/*.log" in verdict.reason


def test_otel_invalid_pattern_is_broken():
    verdict = otel_collector(filelog(["/var/log/pods/[/*.log"]), reader(PODS)).evaluate(target())
    assert verdict.outcome is Outcome.BROKEN
    assert "invalid pattern" in verdict.reason


@pytest.mark.parametrize(
    ("operators", "outcome"),
    [
        ([{"type": "container"}], Outcome.READS),
        ([{"type": "container", "format": "containerd"}], Outcome.READS),
        ([{"type": "container", "format": "docker"}], Outcome.BROKEN),
        ([{"type": "json_parser"}], Outcome.BROKEN),
        ([{"type": "regex_parser", "regex": CRI_REGEX}], Outcome.READS),
        ([{"type": "router", "routes": []}], Outcome.READS),
        ([], Outcome.DOUBTFUL),
    ],
)
def test_otel_parser_against_cri(operators, outcome):
    receiver = filelog(["/var/log/pods/*/*/*.log"], operators=operators)
    assert otel_collector(receiver, reader(PODS)).evaluate(target()).outcome is outcome


def test_otel_json_parser_fits_docker_runtime():
    receiver = filelog(["/var/log/pods/*/*/*.log"], operators=[{"type": "json_parser"}])
    verdict = otel_collector(receiver, reader(PODS)).evaluate(target(RuntimeKind.DOCKER))
    assert verdict.outcome is Outcome.READS


@pytest.mark.parametrize(
    ("uid", "runtime", "outcome"),
    [
        (0, RuntimeKind.CRIO, Outcome.READS),
        (10001, RuntimeKind.CRIO, Outcome.BROKEN),
        (10001, RuntimeKind.CONTAINERD, Outcome.DOUBTFUL),
        (None, RuntimeKind.CONTAINERD, Outcome.DOUBTFUL),
    ],
)
def test_reader_user_against_runtime(uid, runtime, outcome):
    receiver = filelog(["/var/log/pods/*/*/*.log"])
    verdict = otel_collector(receiver, reader(PODS, uid=uid)).evaluate(target(runtime))
    assert verdict.outcome is outcome


def test_privileged_reader_reads_crio_files():
    receiver = filelog(["/var/log/pods/*/*/*.log"])
    rdr = reader(PODS, uid=10001, privileged=True)
    assert otel_collector(receiver, rdr).evaluate(target(RuntimeKind.CRIO)).outcome is Outcome.READS


def test_image_default_user_comes_from_image():
    spec = {
        "containers": [{"name": "otc", "image": "otel/opentelemetry-collector-contrib:0.123.0"}]
    }
    assert reader_from_pod_spec(spec, origin="x", namespace="obs").run_as_user == 10001


SIDECAR_CR = """
apiVersion: opentelemetry.io/v1beta1
kind: OpenTelemetryCollector
metadata: {name: langsmith-observability-collector-sidecar, namespace: langsmith}
spec:
  mode: sidecar
  image: otel/opentelemetry-collector-contrib:0.123.0
  config:
    receivers:
      filelog:
        include: ['/var/log/pods/${POD_NAMESPACE}_${POD_NAME}_${POD_UID}/*/*.log']
        exclude: ['**/otc-container/*.log']
        start_at: end
        operators: [{id: container-parser, type: container}]
    exporters: {otlphttp/logs: {endpoint: http://loki:80/otlp}}
    service: {pipelines: {logs/langsmith: {receivers: [filelog], exporters: [otlphttp/logs]}}}
  env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: POD_UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
  securityContext: {runAsUser: 0}
  volumes: [{name: varlogpods, hostPath: {path: /var/log/pods}}]
  volumeMounts: [{name: varlogpods, mountPath: /var/log/pods, readOnly: true}]
"""


def test_sidecar_needs_injection_annotation():
    found = discover.from_objects([yaml.safe_load(SIDECAR_CR)])
    assert len(found.collectors) == 1
    collector = found.collectors[0]
    skipped = collector.evaluate(target())
    injected = collector.evaluate(target(**{"sidecar.opentelemetry.io__inject": "true"}))
    assert skipped.outcome is Outcome.NOT_SELECTED
    assert "sidecar.opentelemetry.io/inject" in skipped.reason
    assert injected.outcome is Outcome.READS, injected.reason
    assert any("start_at: end" in note for note in injected.notes)


def test_pipeline_problems_are_reported():
    config = {
        "receivers": {"otlp/logs": {}, "filelog": {"include": ["/var/log/pods/*/*/*.log"]}},
        "service": {"pipelines": {"logs": {"receivers": ["otlp"]}}},
    }
    receivers, problems = otel.filelog_receivers(config)
    assert receivers == []
    assert any("references receiver 'otlp'" in p for p in problems)
    assert any("no logs pipeline uses it" in p for p in problems)


def test_env_reference_with_default_and_unset():
    rdr = reader(PODS, env={"ROOT": "/var/log/pods"})
    value, unresolved = otel.expand_env(
        "${env:ROOT}/${MISSING}/${env:OTHER:-x}", rdr, target(), sidecar=False
    )
    assert value == "/var/log/pods//x"
    assert unresolved == ["MISSING"]


def test_daemonset_node_name_resolves_to_target_node():
    rdr = reader(PODS, field_env={"NODE": "spec.nodeName", "POD": "metadata.name"})
    value, unresolved = otel.expand_env("${NODE}-${POD}", rdr, target(), sidecar=False)
    assert value == "node-a-"
    assert unresolved == ["POD"]


# --- Fluent Bit -------------------------------------------------------------------------------

CLASSIC = """
@SET LOG_ROOT=/var/log/containers
[SERVICE]
    Parsers_File custom_parsers.conf
@INCLUDE input-*.conf
[OUTPUT]
    Name stdout
"""
INPUT = """
[INPUT]
    Name              tail
    Path              ${LOG_ROOT}/*.log
    Exclude_Path      *_kube-system_*
    multiline.parser  docker, cri
    Skip_Long_Lines   On
"""


def test_classic_config_with_include_and_set():
    files = {"fluent-bit.conf": CLASSIC, "input-kube.conf": INPUT, "custom_parsers.conf": ""}
    collector = fluentbit.load_collector("fb", files, reader(VARLOG))
    assert collector is not None
    assert collector.problems == []
    [tail] = collector.inputs
    assert tail.path == "/var/log/containers/*.log"
    assert tail.multiline_parsers == ["docker", "cri"]
    verdict = collector.evaluate(target())
    assert verdict.outcome is Outcome.READS
    assert verdict.path == target().link_path
    assert any("Skip_Long_Lines" in note for note in verdict.notes)


YAML_CONFIG = """
env: {ROOT: /var/log/pods}
parsers:
  - {name: my-json, format: json}
pipeline:
  inputs:
    - name: tail
      path: ${ROOT}/*/*/*.log
      parser: my-json
  outputs:
    - {name: stdout, match: '*'}
"""


def test_yaml_json_parser_broken_on_cri():
    collector = fluentbit.load_collector("fb", {"fluent-bit.yaml": YAML_CONFIG}, reader(PODS))
    assert collector is not None
    verdict = collector.evaluate(target())
    assert verdict.outcome is Outcome.BROKEN
    assert "docker-json" in verdict.reason


@pytest.mark.parametrize(
    ("parser_lines", "outcome"),
    [
        ("    Parser cri", Outcome.READS),
        ("    Parser docker", Outcome.BROKEN),
        ("    Docker_Mode On", Outcome.BROKEN),
        ("    multiline.parser python", Outcome.DOUBTFUL),
        ("    multiline.parser cri", Outcome.READS),
        ("", Outcome.DOUBTFUL),
    ],
)
def test_fluentbit_parser_against_cri(parser_lines, outcome):
    text = f"[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n{parser_lines}\n"
    collector = fluentbit.load_collector("fb", {"fluent-bit.conf": text}, reader(VARLOG))
    assert collector is not None
    assert collector.evaluate(target()).outcome is outcome


def test_fluentbit_link_dangles_without_pods_mount():
    text = "[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    Parser cri\n"
    collector = fluentbit.load_collector("fb", {"fluent-bit.conf": text}, reader(CONTAINERS))
    assert collector is not None
    verdict = collector.evaluate(target())
    assert verdict.outcome is Outcome.BROKEN
    assert "dangles" in verdict.reason


def test_fluentbit_missing_include_is_a_problem():
    collector = fluentbit.load_collector(
        "fb", {"fluent-bit.conf": "@INCLUDE nothing.conf\n[INPUT]\n    Name tail\n"}, reader()
    )
    assert collector is not None
    assert any("names no file" in problem for problem in collector.problems)


# --- Datadog ----------------------------------------------------------------------------------


def datadog_daemonset(env: dict[str, str], mounts: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "datadog", "namespace": "datadog"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "agent",
                            "image": "gcr.io/datadoghq/agent:7.60.0",
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                            "volumeMounts": [
                                {"name": m.strip("/").replace("/", "-"), "mountPath": m}
                                for m in mounts
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": m.strip("/").replace("/", "-"), "hostPath": {"path": m}}
                        for m in mounts
                    ],
                }
            }
        },
    }


def test_datadog_daemonset_reads_with_both_mounts():
    env = {"DD_LOGS_ENABLED": "true", "DD_LOGS_CONFIG_CONTAINER_COLLECT_ALL": "true"}
    found = discover.from_objects(
        [datadog_daemonset(env, ["/var/log/pods", "/var/log/containers"])]
    )
    [collector] = found.collectors
    assert isinstance(collector, datadog.DatadogCollector)
    assert collector.evaluate(target()).outcome is Outcome.READS


def test_datadog_needs_containers_mount():
    env = {"DD_LOGS_ENABLED": "true", "DD_LOGS_CONFIG_CONTAINER_COLLECT_ALL": "true"}
    found = discover.from_objects([datadog_daemonset(env, ["/var/log/pods"])])
    verdict = found.collectors[0].evaluate(target())
    assert verdict.outcome is Outcome.BROKEN
    assert "/var/log/containers" in verdict.reason


def test_datadog_only_annotated_containers():
    found = discover.from_objects(
        [datadog_daemonset({"DD_LOGS_ENABLED": "true"}, ["/var/log/pods", "/var/log/containers"])]
    )
    verdict = found.collectors[0].evaluate(target())
    assert verdict.outcome is Outcome.NOT_SELECTED
    assert "containerCollectAll" in verdict.reason
    assert "commonPodAnnotations" in verdict.remedy


def test_datadog_agent_resource():
    resource = {
        "apiVersion": "datadoghq.com/v2alpha1",
        "kind": "DatadogAgent",
        "metadata": {"name": "datadog", "namespace": "datadog"},
        "spec": {
            "features": {"logCollection": {"enabled": True, "containerCollectAll": True}},
            "override": {
                "nodeAgent": {
                    "env": [
                        {"name": "DD_CONTAINER_EXCLUDE_LOGS", "value": "kube_namespace:^langsmith$"}
                    ]
                }
            },
        },
    }
    verdict = discover.from_objects([resource]).collectors[0].evaluate(target())
    assert verdict.outcome is Outcome.NOT_SELECTED
    assert "kube_namespace:^langsmith$" in verdict.reason


# --- Finding collectors -----------------------------------------------------------------------


def otel_daemonset(owner: str | None = None) -> list[dict[str, Any]]:
    config = {
        "receivers": {
            "filelog": {
                "include": ["/var/log/pods/*/*/*.log"],
                "operators": [{"type": "container"}],
            }
        },
        "exporters": {"debug": {}},
        "service": {"pipelines": {"logs": {"receivers": ["filelog"], "exporters": ["debug"]}}},
    }
    metadata: dict[str, Any] = {"name": "agent", "namespace": "obs"}
    if owner:
        metadata["ownerReferences"] = [{"kind": "OpenTelemetryCollector", "name": owner}]
    return [
        {
            "kind": "ConfigMap",
            "metadata": {"name": "agent", "namespace": "obs"},
            "data": {"relay": yaml.safe_dump(config)},
        },
        {
            "kind": "DaemonSet",
            "metadata": metadata,
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "otel",
                                "image": "otel/opentelemetry-collector-contrib:0.123.0",
                                "securityContext": {"runAsUser": 0},
                                "volumeMounts": [
                                    {"name": "cfg", "mountPath": "/conf"},
                                    {"name": "pods", "mountPath": "/var/log/pods"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "cfg", "configMap": {"name": "agent"}},
                            {"name": "pods", "hostPath": {"path": "/var/log/pods"}},
                        ],
                    }
                }
            },
        },
    ]


def test_otel_daemonset_found_with_its_configmap():
    found = discover.from_objects(otel_daemonset())
    [collector] = found.collectors
    assert "DaemonSet obs/agent" in collector.name
    assert collector.evaluate(target()).outcome is Outcome.READS


def test_workload_owned_by_resource_counts_once():
    assert discover.from_objects(otel_daemonset(owner="agent")).collectors == []


def test_missing_configmap_is_a_problem():
    found = discover.from_objects(otel_daemonset()[1:])
    assert found.collectors == []
    assert any("ConfigMap obs/agent" in problem for problem in found.problems)


def test_files_manifest_and_fluentbit_dir(tmp_path: Path):
    manifest = tmp_path / "agent.yaml"
    manifest.write_text(yaml.safe_dump_all(otel_daemonset()))
    fluent_dir = tmp_path / "fluent"
    fluent_dir.mkdir()
    (fluent_dir / "fluent-bit.conf").write_text(CLASSIC)
    (fluent_dir / "input-kube.conf").write_text(INPUT)
    values = tmp_path / "datadog-values.yaml"
    values.write_text(yaml.safe_dump({"datadog": {"logs": {"enabled": True}}}))
    found = discover.from_files([manifest, fluent_dir, values, tmp_path / "missing.yaml"])
    families = sorted(collector.family.value for collector in found.collectors)
    assert families == ["datadog", "fluent-bit", "otel"]
    assert any("missing.yaml" in problem for problem in found.problems)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (None, ""),
        ({"desiredNumberScheduled": 2, "numberReady": 2}, ""),
        ({"desiredNumberScheduled": 2, "numberReady": 0}, "none of its 2 pods is ready"),
        ({"desiredNumberScheduled": 0, "numberReady": 0}, "the DaemonSet is scheduled on no node"),
    ],
)
def test_daemonset_readiness_is_recorded(status, reason):
    objects = otel_daemonset()
    if status is not None:
        objects[1]["status"] = status
    [collector] = discover.from_objects(objects).collectors
    assert collector.reader.not_running == reason


def test_undeclared_exporter_stops_the_collector():
    objects = otel_daemonset()
    config = yaml.safe_load(objects[0]["data"]["relay"])
    config["service"]["pipelines"]["logs"]["exporters"] = ["otlphttp/logs"]
    config["service"]["pipelines"]["metrics"] = {}
    objects[0]["data"]["relay"] = yaml.safe_dump(config)
    [collector] = discover.from_objects(objects).collectors
    verdict = collector.evaluate(target())
    assert verdict.outcome is Outcome.BROKEN
    assert "exporter 'otlphttp/logs', which is not declared" in verdict.reason
    assert "pipeline metrics is empty" in collector.fatal


def test_startup_problems_of_valid_config():
    config = {
        "receivers": {"filelog": {}},
        "processors": {"batch": {}},
        "exporters": {"debug": {}},
        "service": {
            "pipelines": {
                "logs": {"receivers": ["filelog"], "processors": ["batch"], "exporters": ["debug"]}
            }
        },
    }
    assert otel.startup_problems(config) == []
