"""The sandbox's node log collectors: an OpenTelemetry Collector and a Fluent Bit DaemonSet.

Both are laid out as objects only (DaemonSet and ConfigMap), configured as their upstream Helm
charts configure them for Kubernetes logs:

- the OpenTelemetry Collector agent (chart opentelemetry-collector, daemonset mode with the
  logsCollection preset) reads `/var/log/pods/*/*/*.log` with the `container` operator, mounts
  hostPath /var/log/pods and runs as uid 0;
- Fluent Bit (chart fluent-bit) tails `/var/log/containers/*.log` with
  `multiline.parser docker, cri` and mounts all of /var/log, so the links resolve.

The `collector-*` faults change both collectors the same way, so that no collector is left to
read the LangSmith logs and the suite has to name the cause.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import yaml

JsonObject = dict[str, Any]

OTEL_NAMESPACE = "langsmith-observability"
OTEL_NAME = "langsmith-observability-logs-agent"
OTEL_IMAGE = "otel/opentelemetry-collector-contrib:0.123.0"
FLUENT_BIT_NAMESPACE = "logging"
FLUENT_BIT_NAME = "fluent-bit"
FLUENT_BIT_IMAGE = "cr.fluentbit.io/fluent/fluent-bit:3.2.4"
# The sandbox's nodes; a DaemonSet reports one ready pod per node.
NODE_COUNT = 2

LOG_FAULTS = frozenset(
    {
        "collector-excludes-namespace",
        "collector-glob-wrong",
        "collector-no-mount",
        "collector-docker-parser",
        "collector-absent",
    }
)


def collector_objects(langsmith_namespace: str, faults: Iterable[str]) -> list[JsonObject]:
    """Return the collector ConfigMaps and DaemonSets, with the `collector-*` faults applied."""
    active = frozenset(faults) & LOG_FAULTS
    if "collector-absent" in active:
        return []
    return [
        *otel_objects(langsmith_namespace, active),
        *fluent_bit_objects(langsmith_namespace, active),
    ]


# ---------------------------------------------------------------------------------------------
# OpenTelemetry Collector agent.


def otel_config(langsmith_namespace: str, faults: frozenset[str]) -> JsonObject:
    """Build the agent's collector configuration (the chart's `relay` key)."""
    include = ["/var/log/pods/*/*/*.log"]
    if "collector-glob-wrong" in faults:
        # One directory level short: the kubelet's files are <ns>_<pod>_<uid>/<container>/<n>.log.
        include = ["/var/log/pods/*/*.log"]
    exclude = [f"/var/log/pods/{OTEL_NAMESPACE}_{OTEL_NAME}*_*/opentelemetry-collector/*.log"]
    if "collector-excludes-namespace" in faults:
        exclude.append(f"/var/log/pods/{langsmith_namespace}_*/*/*.log")
    operators: list[JsonObject] = [{"type": "container", "id": "container-parser"}]
    if "collector-docker-parser" in faults:
        operators = [
            {
                "type": "json_parser",
                "id": "docker-parser",
                "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%LZ"},
            },
            {"type": "move", "from": "attributes.log", "to": "body"},
        ]
    return {
        "receivers": {
            "filelog": {
                "include": include,
                "exclude": exclude,
                "start_at": "end",
                "include_file_path": True,
                "include_file_name": False,
                "retry_on_failure": {"enabled": True},
                "operators": operators,
            }
        },
        "processors": {
            "batch": {},
            "memory_limiter": {
                "check_interval": "5s",
                "limit_percentage": 80,
                "spike_limit_percentage": 25,
            },
        },
        "exporters": {
            "otlphttp/logs": {
                "endpoint": f"http://langsmith-observability-loki-gateway.{OTEL_NAMESPACE}.svc.cluster.local:80/otlp"
            }
        },
        "service": {
            "pipelines": {
                "logs": {
                    "receivers": ["filelog"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["otlphttp/logs"],
                }
            }
        },
    }


def otel_objects(langsmith_namespace: str, faults: frozenset[str]) -> list[JsonObject]:
    """Build the agent's ConfigMap and DaemonSet."""

    labels = {
        "app.kubernetes.io/name": "opentelemetry-collector",
        "app.kubernetes.io/instance": OTEL_NAME,
        "app.kubernetes.io/managed-by": "Helm",
        "component": "agent-collector",
    }
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{OTEL_NAME}-agent",
            "namespace": OTEL_NAMESPACE,
            "labels": dict(labels),
        },
        "data": {
            "relay": yaml.safe_dump(otel_config(langsmith_namespace, faults), sort_keys=False)
        },
    }
    mounts: list[JsonObject] = [{"name": "opentelemetry-collector-configmap", "mountPath": "/conf"}]
    volumes: list[JsonObject] = [
        {
            "name": "opentelemetry-collector-configmap",
            "configMap": {
                "name": f"{OTEL_NAME}-agent",
                "items": [{"key": "relay", "path": "relay.yaml"}],
            },
        }
    ]
    if "collector-no-mount" not in faults:
        mounts += [
            {"name": "varlogpods", "mountPath": "/var/log/pods", "readOnly": True},
            {
                "name": "varlibdockercontainers",
                "mountPath": "/var/lib/docker/containers",
                "readOnly": True,
            },
        ]
        volumes += [
            {"name": "varlogpods", "hostPath": {"path": "/var/log/pods"}},
            {"name": "varlibdockercontainers", "hostPath": {"path": "/var/lib/docker/containers"}},
        ]
    container = {
        "name": "opentelemetry-collector",
        "image": OTEL_IMAGE,
        "args": ["--config=/conf/relay.yaml"],
        "env": [
            {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "K8S_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        ],
        "ports": [{"name": "metrics", "containerPort": 8888, "protocol": "TCP"}],
        # The chart's logsCollection preset runs the agent as root to read root-owned files.
        "securityContext": {"runAsUser": 0, "runAsGroup": 0},
        "volumeMounts": mounts,
    }
    return [configmap, _daemonset(OTEL_NAME, OTEL_NAMESPACE, labels, container, volumes)]


# ---------------------------------------------------------------------------------------------
# Fluent Bit.

_FLUENT_BIT_SERVICE = """\
[SERVICE]
    Daemon Off
    Flush 1
    Log_Level info
    Parsers_File /fluent-bit/etc/parsers.conf
    Parsers_File /fluent-bit/etc/conf/custom_parsers.conf
    HTTP_Server On
    HTTP_Listen 0.0.0.0
    HTTP_Port 2020
    Health_Check On
"""

_FLUENT_BIT_FILTER_OUTPUT = """\
[FILTER]
    Name kubernetes
    Match kube.*
    Merge_Log On
    Keep_Log Off
    K8S-Logging.Parser On
    K8S-Logging.Exclude On

[OUTPUT]
    Name loki
    Match kube.*
    Host langsmith-observability-loki-gateway.langsmith-observability.svc.cluster.local
    Port 80
    Labels job=fluent-bit
"""


def fluent_bit_config(langsmith_namespace: str, faults: frozenset[str]) -> str:
    """Build the main Fluent Bit configuration (classic format), the chart's `fluent-bit.conf`."""
    path = "/var/log/containers/*.log"
    if "collector-glob-wrong" in faults:
        # glob(3) has no recursive `**`: this needs a subdirectory and matches no file.
        path = "/var/log/containers/**/*.log"
    lines = ["[INPUT]", "    Name tail", f"    Path {path}"]
    if "collector-excludes-namespace" in faults:
        lines.append(f"    Exclude_Path /var/log/containers/*_{langsmith_namespace}_*.log")
    if "collector-docker-parser" in faults:
        lines.append("    Parser docker")
    else:
        lines.append("    multiline.parser docker, cri")
    lines += ["    Tag kube.*", "    Mem_Buf_Limit 5MB", "    Skip_Long_Lines On"]
    return f"{_FLUENT_BIT_SERVICE}\n" + "\n".join(lines) + f"\n\n{_FLUENT_BIT_FILTER_OUTPUT}"


_CUSTOM_PARSERS = """\
[PARSER]
    Name docker_no_time
    Format json
    Time_Keep Off
    Time_Key time
    Time_Format %Y-%m-%dT%H:%M:%S.%L
"""


def fluent_bit_objects(langsmith_namespace: str, faults: frozenset[str]) -> list[JsonObject]:
    """Build Fluent Bit's ConfigMap and DaemonSet."""
    labels = {
        "app.kubernetes.io/name": "fluent-bit",
        "app.kubernetes.io/instance": FLUENT_BIT_NAME,
        "app.kubernetes.io/managed-by": "Helm",
    }
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": FLUENT_BIT_NAME,
            "namespace": FLUENT_BIT_NAMESPACE,
            "labels": dict(labels),
        },
        "data": {
            "fluent-bit.conf": fluent_bit_config(langsmith_namespace, faults),
            "custom_parsers.conf": _CUSTOM_PARSERS,
        },
    }
    # Without the fault, all of /var/log is mounted, so /var/log/containers links resolve.
    # With it, only /var/log/containers is: the links' /var/log/pods targets dangle inside.
    log_root = "/var/log/containers" if "collector-no-mount" in faults else "/var/log"
    mounts: list[JsonObject] = [
        {"name": "config", "mountPath": "/fluent-bit/etc/conf"},
        {"name": "varlog", "mountPath": log_root},
        {
            "name": "varlibdockercontainers",
            "mountPath": "/var/lib/docker/containers",
            "readOnly": True,
        },
    ]
    volumes: list[JsonObject] = [
        {"name": "config", "configMap": {"name": FLUENT_BIT_NAME}},
        {"name": "varlog", "hostPath": {"path": log_root}},
        {"name": "varlibdockercontainers", "hostPath": {"path": "/var/lib/docker/containers"}},
    ]
    container = {
        "name": "fluent-bit",
        "image": FLUENT_BIT_IMAGE,
        "args": ["--workdir=/fluent-bit/etc", "--config=/fluent-bit/etc/conf/fluent-bit.conf"],
        "ports": [{"name": "http", "containerPort": 2020, "protocol": "TCP"}],
        "volumeMounts": mounts,
    }
    return [
        configmap,
        _daemonset(FLUENT_BIT_NAME, FLUENT_BIT_NAMESPACE, labels, container, volumes),
    ]


def _daemonset(
    name: str, namespace: str, labels: JsonObject, container: JsonObject, volumes: list[JsonObject]
) -> JsonObject:
    selector = {k: v for k, v in labels.items() if k != "app.kubernetes.io/managed-by"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": copy.deepcopy(labels),
            "generation": 1,
        },
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": name,
                    "containers": [container],
                    "volumes": volumes,
                    "tolerations": [{"operator": "Exists"}],
                },
            },
        },
        "status": {
            "currentNumberScheduled": NODE_COUNT,
            "desiredNumberScheduled": NODE_COUNT,
            "numberAvailable": NODE_COUNT,
            "numberMisscheduled": 0,
            "numberReady": NODE_COUNT,
            "observedGeneration": 1,
            "updatedNumberScheduled": NODE_COUNT,
        },
    }
