"""Shaping listed Kubernetes objects for the bundle: sort keys, lists, summaries.

Secrets and nodes are summarised rather than copied: a Secret keeps its name, type, labels and
key names but never its data, and a node keeps what explains its pods (versions, conditions,
capacity) without its images and addresses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def object_key(item: Mapping[str, Any]) -> tuple[str, str]:
    """Return the sort key of an object: namespace, then name."""
    metadata = item.get("metadata") or {}
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap objects in a `v1` List, as `kubectl get -o yaml` prints several."""
    return {"apiVersion": "v1", "kind": "List", "items": items}


def is_helm_storage(item: Mapping[str, Any]) -> bool:
    """Tell whether a ConfigMap is a release stored by Helm's `configmap` driver."""
    labels = item.get("metadata", {}).get("labels") or {}
    return labels.get("owner") == "helm" and "release" in (item.get("data") or {})


def looks_like_collector_config(configmap: Mapping[str, Any]) -> bool:
    """Tell whether a ConfigMap contains a log or telemetry collector configuration."""
    for value in (configmap.get("data") or {}).values():
        if isinstance(value, str) and (
            ("receivers:" in value and "exporters:" in value)  # OpenTelemetry Collector
            or "[INPUT]" in value  # Fluent Bit
            or (("[sources" in value or "sources:" in value) and "sinks" in value)  # Vector
            or "scrape_configs:" in value  # Promtail, Prometheus
        ):
            return True
    return False


def secret_summary(secret: Mapping[str, Any]) -> dict[str, Any]:
    """Keep a Secret's name, type, labels and key names; never its data."""
    metadata = secret.get("metadata") or {}
    annotations = {
        key: value
        for key, value in (metadata.get("annotations") or {}).items()
        if key != "kubectl.kubernetes.io/last-applied-configuration"
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "labels": metadata.get("labels") or {},
            "annotations": annotations,
            "creationTimestamp": metadata.get("creationTimestamp"),
        },
        "type": secret.get("type"),
        "keys": sorted((secret.get("data") or {}).keys() | (secret.get("stringData") or {}).keys()),
    }


def node_summary(node: Mapping[str, Any]) -> dict[str, Any]:
    status = node.get("status") or {}
    return {
        "name": node.get("metadata", {}).get("name"),
        "labels": node.get("metadata", {}).get("labels") or {},
        "nodeInfo": status.get("nodeInfo") or {},
        "conditions": status.get("conditions") or [],
        "capacity": status.get("capacity") or {},
        "allocatable": status.get("allocatable") or {},
    }
