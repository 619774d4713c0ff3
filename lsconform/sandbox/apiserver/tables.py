"""Server-side `Table` output, which kubectl requests with
`Accept: application/json;as=Table;v=v1;g=meta.k8s.io` to print `kubectl get`.

Columns follow the API server's own printers for pods, services, endpoints, nodes and the apps
workloads; any other kind gets NAME and AGE, as a custom resource without printer columns does.
Columns with priority 1 appear only with `kubectl get -o wide`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lsconform.sandbox.apiserver.store import JsonObject, ResourceType

TABLE_ACCEPT_MARK = "as=Table"

Column = tuple[str, str, int, Callable[[JsonObject], Any]]
"""(name, type, priority, cell function)."""


def _meta(obj: JsonObject) -> JsonObject:
    metadata: JsonObject = obj.get("metadata") or {}
    return metadata


def human_age(created: str, now: float | None = None) -> str:
    """Format an age the way kubectl does: 45s, 12m, 5h, 3d, 2y (coarser units as it grows)."""
    if not created:
        return "<unknown>"
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "<invalid>"
    seconds = int((now if now is not None else time.time()) - moment)
    if seconds < 0:
        return "<invalid>"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d" if days < 365 * 2 else f"{days // 365}y"


def _name(obj: JsonObject) -> str:
    return str(_meta(obj).get("name", ""))


def _age(obj: JsonObject) -> str:
    return human_age(str(_meta(obj).get("creationTimestamp", "")))


def _pod_ready(obj: JsonObject) -> str:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    ready = sum(1 for status in statuses if status.get("ready"))
    return f"{ready}/{total}"


def _pod_status(obj: JsonObject) -> str:
    status = obj.get("status") or {}
    if _meta(obj).get("deletionTimestamp"):
        return "Terminating"
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            return str(state["waiting"]["reason"])
        if "terminated" in state:
            terminated = state["terminated"]
            return str(terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
    return reason


def _pod_restarts(obj: JsonObject) -> int:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    return sum(int(status.get("restartCount", 0)) for status in statuses)


def _service_ports(obj: JsonObject) -> str:
    ports = (obj.get("spec") or {}).get("ports") or []
    rendered = []
    for port in ports:
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        rendered.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(rendered) or "<none>"


def _selector(obj: JsonObject) -> str:
    selector: Mapping[str, Any] = (obj.get("spec") or {}).get("selector") or {}
    if "matchLabels" in selector:
        selector = selector["matchLabels"] or {}
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items())) or "<none>"


def _endpoints(obj: JsonObject) -> str:
    addresses = []
    for subset in obj.get("subsets") or []:
        for address in subset.get("addresses") or []:
            for port in subset.get("ports") or [{}]:
                addresses.append(f"{address.get('ip')}:{port.get('port')}")
    if not addresses:
        return "<none>"
    shown = ",".join(addresses[:3])
    return shown + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")


def _node_status(obj: JsonObject) -> str:
    conditions = (obj.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("type") == "Ready":
            return "Ready" if condition.get("status") == "True" else "NotReady"
    return "Unknown"


def _node_info(field: str) -> Callable[[JsonObject], str]:
    return lambda obj: str(((obj.get("status") or {}).get("nodeInfo") or {}).get(field, ""))


def _node_address(kind: str) -> Callable[[JsonObject], str]:
    def cell(obj: JsonObject) -> str:
        for address in (obj.get("status") or {}).get("addresses") or []:
            if address.get("type") == kind:
                return str(address.get("address"))
        return "<none>"

    return cell


def _status_field(field: str, default: Any = 0) -> Callable[[JsonObject], Any]:
    return lambda obj: (obj.get("status") or {}).get(field, default)


def _ready_of(ready_field: str) -> Callable[[JsonObject], str]:
    def cell(obj: JsonObject) -> str:
        ready = (obj.get("status") or {}).get(ready_field, 0)
        return f"{ready}/{(obj.get('spec') or {}).get('replicas', 1)}"

    return cell


def _containers(field: str) -> Callable[[JsonObject], str]:
    def cell(obj: JsonObject) -> str:
        template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        return ",".join(str(c.get(field, "")) for c in template.get("containers") or [])

    return cell


def _event_age(field: str) -> Callable[[JsonObject], str]:
    def cell(obj: JsonObject) -> str:
        return human_age(str(obj.get(field) or obj.get("eventTime") or ""))

    return cell


def _event_object(obj: JsonObject) -> str:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_field(path: str) -> Callable[[JsonObject], str]:
    def cell(obj: JsonObject) -> str:
        value: Any = obj
        for step in path.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        return "" if value is None else str(value)

    return cell


NAME: Column = ("Name", "string", 0, _name)
AGE: Column = ("Age", "string", 0, _age)
WORKLOAD_WIDE: list[Column] = [
    ("Containers", "string", 1, _containers("name")),
    ("Images", "string", 1, _containers("image")),
    ("Selector", "string", 1, _selector),
]

COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [
        NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, lambda obj: str(_pod_restarts(obj))),
        AGE,
        ("IP", "string", 1, lambda obj: (obj.get("status") or {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda obj: (obj.get("spec") or {}).get("nodeName") or "<none>"),
        ("Nominated Node", "string", 1, lambda obj: "<none>"),
        ("Readiness Gates", "string", 1, lambda obj: "<none>"),
    ],
    ("", "services"): [
        NAME,
        ("Type", "string", 0, lambda obj: (obj.get("spec") or {}).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda obj: (obj.get("spec") or {}).get("clusterIP", "")),
        ("External-IP", "string", 0, lambda obj: "<none>"),
        ("Port(s)", "string", 0, _service_ports),
        AGE,
        ("Selector", "string", 1, _selector),
    ],
    ("", "endpoints"): [NAME, ("Endpoints", "string", 0, _endpoints), AGE],
    ("", "events"): [
        ("Last Seen", "string", 0, _event_age("lastTimestamp")),
        ("Type", "string", 0, _event_field("type")),
        ("Reason", "string", 0, _event_field("reason")),
        ("Object", "string", 0, _event_object),
        ("Subobject", "string", 1, _event_field("involvedObject.fieldPath")),
        ("Source", "string", 1, _event_field("source.component")),
        ("Message", "string", 0, _event_field("message")),
        ("First Seen", "string", 1, _event_age("firstTimestamp")),
        ("Count", "integer", 1, lambda obj: obj.get("count", 1)),
        ("Name", "string", 1, _name),
    ],
    ("", "nodes"): [
        NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, lambda obj: "<none>"),
        AGE,
        ("Version", "string", 0, _node_info("kubeletVersion")),
        ("Internal-IP", "string", 1, _node_address("InternalIP")),
        ("External-IP", "string", 1, _node_address("ExternalIP")),
        ("OS-Image", "string", 1, _node_info("osImage")),
        ("Kernel-Version", "string", 1, _node_info("kernelVersion")),
        ("Container-Runtime", "string", 1, _node_info("containerRuntimeVersion")),
    ],
    ("", "namespaces"): [NAME, ("Status", "string", 0, _status_field("phase", "")), AGE],
    ("apps", "deployments"): [
        NAME,
        ("Ready", "string", 0, _ready_of("readyReplicas")),
        ("Up-to-date", "integer", 0, _status_field("updatedReplicas")),
        ("Available", "integer", 0, _status_field("availableReplicas")),
        AGE,
        *WORKLOAD_WIDE,
    ],
    ("apps", "statefulsets"): [NAME, ("Ready", "string", 0, _ready_of("readyReplicas")), AGE],
    ("apps", "replicasets"): [
        NAME,
        ("Desired", "integer", 0, lambda obj: (obj.get("spec") or {}).get("replicas", 1)),
        ("Current", "integer", 0, _status_field("replicas")),
        ("Ready", "integer", 0, _status_field("readyReplicas")),
        AGE,
    ],
    ("apps", "daemonsets"): [
        NAME,
        ("Desired", "integer", 0, _status_field("desiredNumberScheduled")),
        ("Current", "integer", 0, _status_field("currentNumberScheduled")),
        ("Ready", "integer", 0, _status_field("numberReady")),
        ("Up-to-date", "integer", 0, _status_field("updatedNumberScheduled")),
        ("Available", "integer", 0, _status_field("numberAvailable")),
        AGE,
    ],
    ("", "secrets"): [
        NAME,
        ("Type", "string", 0, lambda obj: obj.get("type", "")),
        ("Data", "integer", 0, lambda obj: len(obj.get("data") or {})),
        AGE,
    ],
    ("", "configmaps"): [NAME, ("Data", "integer", 0, lambda obj: len(obj.get("data") or {})), AGE],
}


def _row_object(obj: JsonObject, include: str) -> JsonObject | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": _meta(obj)}


def table_for(
    resource: ResourceType, items: list[JsonObject], query: Mapping[str, str], version: str
) -> JsonObject:
    """Build a meta.k8s.io/v1 Table of `items`; `includeObject` picks what each row carries."""
    columns = COLUMNS.get((resource.group, resource.plural), [NAME, AGE])
    include = query.get("includeObject", "PartialObjectMetadata")
    rows = []
    for item in items:
        row: JsonObject = {"cells": [cell(item) for _, _, _, cell in columns]}
        row_object = _row_object(item, include)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    definitions = [
        {
            "name": name,
            "type": kind,
            "format": "name" if name == "Name" else "",
            "description": "",
            "priority": priority,
        }
        for name, kind, priority, _ in columns
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
