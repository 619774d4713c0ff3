"""Find log collectors among Kubernetes objects and in configuration files.

Collectors are recognised by what they run: an OpenTelemetry Collector image with a configuration
that has a `filelog` receiver, a Fluent Bit image with a configuration that has a `tail` input, or
a Datadog agent container. An OpenTelemetryCollector resource is evaluated from its own spec, and
the workload the operator makes from it (owned by the resource) is skipped, so it counts once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lsconform.probes.collectors import datadog, fluentbit, otel
from lsconform.probes.collectors.model import Collector, Reader, reader_from_container

logger = logging.getLogger(__name__)

OTEL_IMAGE = re.compile(r"opentelemetry-collector|otelcol|otel/")
FLUENT_BIT_IMAGE = re.compile(r"fluent-bit|fluent/fluent")
DATADOG_IMAGE = re.compile(r"datadog/agent|datadoghq\.com/agent|/agent:|^agent:")
WORKLOAD_KINDS = ("DaemonSet", "Deployment", "StatefulSet")
# A configuration file larger than this is not a collector configuration anyone wrote by hand.
MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024


@dataclass
class Found:
    """The collectors found, and what could not be read (with the object or file it was)."""

    collectors: list[Collector] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def from_objects(objects: Iterable[Mapping[str, Any]]) -> Found:
    """Find collectors among Kubernetes objects (workloads, ConfigMaps, custom resources)."""
    items = [obj for obj in objects if isinstance(obj, Mapping)]
    configmaps = {
        (_namespace(obj), _name(obj)): {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
        for obj in items
        if obj.get("kind") == "ConfigMap"
    }
    found = Found()
    for obj in items:
        kind = obj.get("kind")
        if kind == "OpenTelemetryCollector":
            _add(found, _from_otel_resource(obj), obj)
        elif kind == "DatadogAgent":
            _add(found, _from_datadog_agent(obj), obj)
        elif kind in WORKLOAD_KINDS and not _owned_by_collector_resource(obj):
            for collector in _from_workload(obj, configmaps, found.problems):
                found.collectors.append(collector)
    found.collectors.sort(key=lambda collector: collector.name)
    return found


def _add(found: Found, collector: Collector | None, obj: Mapping[str, Any]) -> None:
    if collector is not None:
        found.collectors.append(collector)


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace", ""))


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _ref(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')} {_namespace(obj)}/{_name(obj)}"


def _owned_by_collector_resource(obj: Mapping[str, Any]) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(owner.get("kind") == "OpenTelemetryCollector" for owner in owners)


def _from_workload(
    obj: Mapping[str, Any],
    configmaps: Mapping[tuple[str, str], Mapping[str, str]],
    problems: list[str],
) -> list[Collector]:
    template = ((obj.get("spec") or {}).get("template")) or {}
    pod_spec = template.get("spec") or {}
    namespace = _namespace(obj)
    volumes = {str(v.get("name")): v for v in pod_spec.get("volumes") or [] if isinstance(v, dict)}
    found: list[Collector] = []
    for container in pod_spec.get("containers") or []:
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        reader = reader_from_container(
            container,
            volumes=volumes,
            pod_security=pod_spec.get("securityContext") or {},
            origin=_ref(obj),
            namespace=namespace,
        )
        reader.not_running = _not_running(obj)
        name = f"{_ref(obj)} container {container.get('name')}"
        if DATADOG_IMAGE.search(image) or "DD_LOGS_ENABLED" in reader.env:
            found.append(
                datadog.DatadogCollector(name, reader, datadog.DatadogSettings.from_env(reader.env))
            )
            continue
        if not (FLUENT_BIT_IMAGE.search(image) or OTEL_IMAGE.search(image)):
            # Only collector containers' ConfigMaps are read, so other workloads' mounts
            # (the frontend's nginx.conf) must not be reported as unreadable.
            continue
        files = _mounted_configmap_files(container, volumes, namespace, configmaps, problems)
        if FLUENT_BIT_IMAGE.search(image):
            collector = fluentbit.load_collector(name, files, reader)
            if collector is None:
                problems.append(f"{name}: no Fluent Bit configuration with an input found")
            else:
                found.append(collector)
        elif OTEL_IMAGE.search(image):
            found.extend(_otel_from_files(name, files, reader, obj.get("kind", ""), problems))
    return found


def _not_running(obj: Mapping[str, Any]) -> str:
    """Say why a workload runs no ready pod, from its status; empty when some pod is ready.

    A workload without a status (a manifest file) is taken to run.
    """
    status = obj.get("status")
    if not isinstance(status, Mapping):
        return ""
    if obj.get("kind") == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready = int(status.get("numberReady") or 0)
        if desired == 0:
            return "the DaemonSet is scheduled on no node"
    else:
        replicas = (obj.get("spec") or {}).get("replicas")
        desired = 1 if replicas is None else int(replicas)
        ready = int(status.get("readyReplicas") or 0)
        if desired == 0:
            return f"the {obj.get('kind')} is scaled to 0 replicas"
    return "" if ready > 0 else f"none of its {desired} pods is ready"


def _mounted_configmap_files(
    container: Mapping[str, Any],
    volumes: Mapping[str, Mapping[str, Any]],
    namespace: str,
    configmaps: Mapping[tuple[str, str], Mapping[str, str]],
    problems: list[str],
) -> dict[str, str]:
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(str(mount.get("name"))) or {}
        source = volume.get("configMap") or {}
        if not source:
            continue
        data = configmaps.get((namespace, str(source.get("name"))))
        if data is None:
            problems.append(
                f"ConfigMap {namespace}/{source.get('name')} mounted by the collector was not "
                f"readable or does not exist"
            )
            continue
        files.update(data)
    return files


def _otel_from_files(
    name: str, files: Mapping[str, str], reader: Reader, kind: str, problems: list[str]
) -> list[Collector]:
    found: list[Collector] = []
    for key, text in sorted(files.items()):
        try:
            config = otel.parse_config(text)
        except ValueError:
            continue
        if not otel.looks_like_config(config):
            continue
        receivers, config_problems = otel.filelog_receivers(config)
        if not receivers and not any("filelog" in str(r) for r in config.get("receivers", {})):
            continue
        found.append(
            otel.OtelCollector(
                f"{name} ({key})",
                reader,
                receivers,
                mode=kind.lower(),
                problems=config_problems,
                fatal=otel.startup_problems(config),
            )
        )
    return found


def _from_otel_resource(obj: Mapping[str, Any]) -> otel.OtelCollector | None:
    spec = obj.get("spec") or {}
    try:
        config = otel.collector_config_from_cr(obj)
    except ValueError as error:
        logger.info("skipping %s: %s", _ref(obj), error)
        return None
    receivers, problems = otel.filelog_receivers(config)
    if not receivers and not any("filelog" in str(r) for r in config.get("receivers") or {}):
        return None
    container = {
        "name": "otc-container",
        "image": spec.get("image", "otel/opentelemetry-collector"),
        "volumeMounts": spec.get("volumeMounts") or [],
        "env": spec.get("env") or [],
        "securityContext": spec.get("securityContext") or {},
    }
    volumes = {str(v.get("name")): v for v in spec.get("volumes") or [] if isinstance(v, dict)}
    reader = reader_from_container(
        container,
        volumes=volumes,
        pod_security=spec.get("podSecurityContext") or {},
        origin=_ref(obj),
        namespace=_namespace(obj),
    )
    mode = str(spec.get("mode", "deployment")).lower()
    return otel.OtelCollector(
        f"OpenTelemetryCollector {_namespace(obj)}/{_name(obj)} (mode {mode})",
        reader,
        receivers,
        mode=mode,
        problems=problems,
        fatal=otel.startup_problems(config),
    )


def _from_datadog_agent(obj: Mapping[str, Any]) -> datadog.DatadogCollector:
    """Read a DatadogAgent resource (v2alpha1): features.logCollection and nodeAgent env."""
    spec = obj.get("spec") or {}
    logs = ((spec.get("features") or {}).get("logCollection")) or {}
    node_agent = ((spec.get("override") or {}).get("nodeAgent")) or {}
    env = {
        str(item["name"]): str(item.get("value", ""))
        for item in node_agent.get("env") or []
        if isinstance(item, dict) and "name" in item
    }
    settings = datadog.DatadogSettings.from_env(env)
    settings.logs_enabled = bool(logs.get("enabled"))
    settings.collect_all = bool(logs.get("containerCollectAll"))
    # The operator mounts /var/log/pods and /var/log/containers and runs the agent as root.
    reader = Reader(origin=_ref(obj), namespace=_namespace(obj), known_mounts=False, run_as_user=0)
    return datadog.DatadogCollector(
        f"DatadogAgent {_namespace(obj)}/{_name(obj)}", reader, settings
    )


# ---------------------------------------------------------------------------------------------
# Configuration files given on the command line.


def from_files(paths: Sequence[Path]) -> Found:
    """Find collectors in local files: Kubernetes manifests, collector configurations, Fluent
    Bit files (a directory is read as one configuration) or Datadog Helm values.

    A bare configuration file has no pod spec, so its mounts and user are not checked. A
    manifest that includes the workload is checked in full.
    """
    found = Found()
    for path in paths:
        if not path.exists():
            found.problems.append(f"{path}: no such file or directory")
            continue
        try:
            files = _read_config_files(path)
        except OSError as error:
            found.problems.append(f"{path}: cannot be read ({error.strerror or error})")
            continue
        _from_file_set(path, files, found)
    return found


def _read_config_files(path: Path) -> dict[str, str]:
    entries = sorted(path.iterdir()) if path.is_dir() else [path]
    files = {}
    for entry in entries:
        if entry.is_file():
            data = entry.read_bytes()[:MAX_CONFIG_FILE_BYTES]
            files[entry.name] = data.decode("utf-8", "replace")
    return files


def _from_file_set(path: Path, files: Mapping[str, str], found: Found) -> None:
    blind = Reader(origin=f"file {path}", known_mounts=False)
    fluent = fluentbit.load_collector(f"Fluent Bit file {path}", files, blind)
    if fluent is not None and fluent.inputs:
        found.collectors.append(fluent)
        return
    for name, text in files.items():
        try:
            documents = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
        except yaml.YAMLError as error:
            found.problems.append(f"{path}/{name}: not valid YAML ({error})")
            continue
        objects = [d for d in documents if "kind" in d and "metadata" in d]
        if objects:
            more = from_objects(objects)
            found.collectors += more.collectors
            found.problems += more.problems
            continue
        for document in documents:
            if otel.looks_like_config(document):
                found.collectors += _otel_from_files(
                    f"OpenTelemetry Collector file {path}",
                    {name: yaml.safe_dump(document)},
                    blind,
                    "file",
                    found.problems,
                )
            elif isinstance(document.get("datadog"), dict):
                settings = datadog.DatadogSettings.from_helm_values(document)
                reader = Reader(origin=f"file {path}", known_mounts=False, run_as_user=0)
                found.collectors.append(
                    datadog.DatadogCollector(f"Datadog values file {path}", reader, settings)
                )
