"""Text renderings of collected objects: tables like kubectl's, pod descriptions, events.

These are rendered from objects already listed, so a pod description costs no request of its
own. The layout follows `kubectl get -o wide` and `kubectl describe` closely enough that people
used to those commands find what they look for, without claiming to be byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lsconform.bundle.helm import HelmRevision

_HREF = re.compile(r'<a href="([^"]+)">')


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """Render rows as left-aligned columns separated by two spaces, like kubectl's tables."""
    if not rows:
        return ""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def render_history(history: Sequence[HelmRevision]) -> str:
    """Render a release's revisions like `helm history`."""
    rows: list[tuple[str, ...]] = [
        ("REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION")
    ]
    rows += [
        (
            str(revision.revision),
            revision.updated,
            revision.status,
            f"{revision.chart}-{revision.chart_version}",
            revision.app_version,
            revision.description,
        )
        for revision in history
    ]
    return render_table(rows)


def render_usage(usage: Mapping[str, Any]) -> str:
    """Render a metrics.k8s.io PodMetricsList like `kubectl top pods --containers`."""
    rows: list[tuple[str, ...]] = [("POD", "NAME", "CPU(cores)", "MEMORY(bytes)")]
    for item in usage.get("items") or []:
        pod = str(item.get("metadata", {}).get("name", ""))
        for container in item.get("containers") or []:
            use = container.get("usage") or {}
            rows.append(
                (
                    pod,
                    str(container.get("name", "")),
                    str(use.get("cpu", "")),
                    str(use.get("memory", "")),
                )
            )
    return render_table(rows)


def parse_listing(html_text: str) -> list[str]:
    """Return the entry names of a kubelet file server directory listing."""
    names = _HREF.findall(html_text)
    if names:
        return names
    return [line.strip() for line in html_text.splitlines() if line.strip()]


def _name(item: Mapping[str, Any]) -> str:
    return str((item.get("metadata") or {}).get("name", ""))


def event_time(event: Mapping[str, Any]) -> str:
    """Return the most recent time an event was seen, as its RFC 3339 string."""
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = event.get(key)
        if value:
            return str(value)
    series = event.get("series") or {}
    if series.get("lastObservedTime"):
        return str(series["lastObservedTime"])
    return str((event.get("metadata") or {}).get("creationTimestamp", ""))


def sort_events(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Sort events by the time they were last seen, oldest first."""
    return sorted(events, key=lambda event: (event_time(event), _name(event)))


def render_events(events: Iterable[Mapping[str, Any]]) -> str:
    """Render events as a table sorted by time, like `kubectl get events --sort-by`."""
    rows: list[tuple[str, ...]] = [("LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE")]
    for event in sort_events(events):
        involved = event.get("involvedObject") or event.get("regarding") or {}
        rows.append(
            (
                event_time(event),
                str(event.get("type", "")),
                str(event.get("reason", "")),
                f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
                str(event.get("count", "") or ""),
                " ".join(str(event.get("message") or event.get("note") or "").split()),
            )
        )
    return render_table(rows)


def _ready(pod: Mapping[str, Any]) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for status in statuses if status.get("ready"))
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{ready}/{total}"


def _restarts(pod: Mapping[str, Any]) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return str(sum(int(status.get("restartCount", 0) or 0) for status in statuses))


def _pod_row(pod: Mapping[str, Any]) -> tuple[str, ...]:
    status = pod.get("status") or {}
    return (
        f"pod/{_name(pod)}",
        _ready(pod),
        str(status.get("phase", "")),
        _restarts(pod),
        str(status.get("podIP", "")),
        str((pod.get("spec") or {}).get("nodeName", "")),
    )


def _ports(service: Mapping[str, Any]) -> str:
    ports = (service.get("spec") or {}).get("ports") or []
    return ",".join(
        f"{port.get('name', '')}:{port.get('port')}/{port.get('protocol', 'TCP')}" for port in ports
    )


def _workload_ready(item: Mapping[str, Any]) -> str:
    status = item.get("status") or {}
    spec = item.get("spec") or {}
    if item.get("kind") == "DaemonSet":
        return f"{status.get('numberReady', 0)}/{status.get('desiredNumberScheduled', 0)}"
    return f"{status.get('readyReplicas', 0) or 0}/{spec.get('replicas', 0) or 0}"


def render_summary(objects: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """Render the namespace's resources like `kubectl get all -o wide`, one table per kind."""
    sections: list[str] = []
    pods = objects.get("pods") or []
    if pods:
        rows: list[tuple[str, ...]] = [("NAME", "READY", "STATUS", "RESTARTS", "IP", "NODE")]
        rows += [_pod_row(pod) for pod in pods]
        sections.append(render_table(rows))
    services = objects.get("services") or []
    if services:
        rows = [("NAME", "TYPE", "CLUSTER-IP", "PORTS")]
        rows += [
            (
                f"service/{_name(service)}",
                str((service.get("spec") or {}).get("type", "")),
                str((service.get("spec") or {}).get("clusterIP", "")),
                _ports(service),
            )
            for service in services
        ]
        sections.append(render_table(rows))
    for kind in ("deployments", "statefulsets", "daemonsets", "replicasets"):
        items = objects.get(kind) or []
        if items:
            singular = kind[:-1]
            rows = [("NAME", "READY", "GENERATION", "CREATED")]
            rows += [
                (
                    f"{singular}.apps/{_name(item)}",
                    _workload_ready(item),
                    str((item.get("metadata") or {}).get("generation", "")),
                    str((item.get("metadata") or {}).get("creationTimestamp", "")),
                )
                for item in items
            ]
            sections.append(render_table(rows))
    for kind in (
        "jobs",
        "cronjobs",
        "horizontalpodautoscalers",
        "ingresses",
        "persistentvolumeclaims",
    ):
        items = objects.get(kind) or []
        if items:
            rows = [("NAME", "CREATED")]
            rows += [
                (
                    f"{kind}/{_name(item)}",
                    str((item.get("metadata") or {}).get("creationTimestamp", "")),
                )
                for item in items
            ]
            sections.append(render_table(rows))
    return "\n".join(sections) if sections else "No resources found.\n"


def _state(status: Mapping[str, Any], key: str = "state") -> list[str]:
    state = status.get(key) or {}
    lines = []
    for name, detail in state.items():
        lines.append(f"{name.capitalize()}")
        for field in ("reason", "message", "exitCode", "startedAt", "finishedAt"):
            if detail and detail.get(field) not in (None, ""):
                lines.append(f"  {field}: {detail[field]}")
    return lines


def _mapping_lines(mapping: Mapping[str, Any] | None) -> list[str]:
    return [f"{key}={value}" for key, value in sorted((mapping or {}).items())] or ["<none>"]


def describe_pod(pod: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> str:
    """Describe a pod like `kubectl describe pod`, from the pod object and its events."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    lines = [
        f"Name:         {metadata.get('name', '')}",
        f"Namespace:    {metadata.get('namespace', '')}",
        f"Node:         {spec.get('nodeName', '<none>')}",
        f"Start Time:   {status.get('startTime', '<none>')}",
        "Labels:       " + "\n              ".join(_mapping_lines(metadata.get("labels"))),
        "Annotations:  " + "\n              ".join(_mapping_lines(metadata.get("annotations"))),
        f"Status:       {status.get('phase', '')}",
        f"IP:           {status.get('podIP', '')}",
        f"Controlled By: {_owner(metadata)}",
    ]
    statuses = {
        item.get("name"): item
        for item in (status.get("initContainerStatuses") or [])
        + (status.get("containerStatuses") or [])
    }
    for heading, key in (("Init Containers", "initContainers"), ("Containers", "containers")):
        containers = spec.get(key) or []
        if not containers:
            continue
        lines.append(f"{heading}:")
        for container in containers:
            lines.extend(_describe_container(container, statuses.get(container.get("name")) or {}))
    lines.append("Conditions:")
    lines.extend(
        f"  {condition.get('type', '')}: {condition.get('status', '')}"
        for condition in status.get("conditions") or []
    )
    lines.append("Volumes:")
    for volume in spec.get("volumes") or []:
        source = ", ".join(f"{key}" for key in volume if key != "name")
        lines.append(f"  {volume.get('name', '')}: {source}")
    lines.append("Events:")
    own = [
        event
        for event in events
        if (event.get("involvedObject") or event.get("regarding") or {}).get("name")
        == metadata.get("name")
    ]
    lines.append(render_events(own).rstrip("\n") if own else "  <none>")
    return "\n".join(lines) + "\n"


def _owner(metadata: Mapping[str, Any]) -> str:
    owners = metadata.get("ownerReferences") or []
    return ", ".join(f"{owner.get('kind')}/{owner.get('name')}" for owner in owners) or "<none>"


def _describe_container(container: Mapping[str, Any], status: Mapping[str, Any]) -> list[str]:
    lines = [
        f"  {container.get('name', '')}:",
        f"    Container ID:  {status.get('containerID', '')}",
        f"    Image:         {container.get('image', '')}",
        f"    Image ID:      {status.get('imageID', '')}",
    ]
    ports = container.get("ports") or []
    lines.append(
        "    Ports:         "
        + (
            ", ".join(
                f"{p.get('containerPort')}/{p.get('protocol', 'TCP')} ({p.get('name', '')})"
                for p in ports
            )
            or "<none>"
        )
    )
    lines.append("    State:         " + "\n      ".join(_state(status) or ["<unknown>"]))
    last = _state(status, "lastState")
    if last:
        lines.append("    Last State:    " + "\n      ".join(last))
    lines.append(f"    Ready:         {status.get('ready', False)}")
    lines.append(f"    Restart Count: {status.get('restartCount', 0)}")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if container.get(probe):
            lines.append(f"    {probe}: {_probe(container[probe])}")
    env_from = container.get("envFrom") or []
    if env_from:
        lines.append("    Environment Variables from:")
        for source in env_from:
            for kind in ("configMapRef", "secretRef"):
                if source.get(kind):
                    lines.append(f"      {source[kind].get('name')}  {kind}")
    env = container.get("env") or []
    lines.append("    Environment:" + ("" if env else "  <none>"))
    for variable in env:
        lines.append(f"      {variable.get('name')}:  {_env_value(variable)}")
    mounts = container.get("volumeMounts") or []
    lines.append("    Mounts:")
    lines.extend(f"      {mount.get('mountPath')} from {mount.get('name')}" for mount in mounts)
    return lines


def _probe(probe: Mapping[str, Any]) -> str:
    if probe.get("httpGet"):
        get = probe["httpGet"]
        return f"http-get {get.get('path', '/')} port {get.get('port')}"
    if probe.get("tcpSocket"):
        return f"tcp-socket port {probe['tcpSocket'].get('port')}"
    if probe.get("exec"):
        return "exec " + " ".join(probe["exec"].get("command") or [])
    return "other"


def _env_value(variable: Mapping[str, Any]) -> str:
    if "value" in variable:
        return str(variable.get("value"))
    source = variable.get("valueFrom") or {}
    for kind in ("secretKeyRef", "configMapKeyRef"):
        if source.get(kind):
            ref = source[kind]
            return f"<set to the key '{ref.get('key')}' in {kind} '{ref.get('name')}'>"
    if source.get("fieldRef"):
        return f"({source['fieldRef'].get('fieldPath')})"
    return "<unknown>"
