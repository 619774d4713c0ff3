"""Converting Kubernetes objects (plain dicts from the API or a manifest) into inventory records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lsconform.discovery.release import (
    Container,
    ContainerPort,
    EndpointAddress,
    EndpointPort,
    EnvFrom,
    EnvVar,
    Pod,
    Service,
    ServicePort,
)

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Rollout")


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object's metadata mapping (empty when absent)."""
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    """The object's name."""
    return str(metadata(obj).get("name", ""))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The object's labels as strings."""
    labels = metadata(obj).get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def selector_of(workload: Mapping[str, Any]) -> dict[str, str]:
    """A workload's `spec.selector.matchLabels`."""
    selector = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {str(k): str(v) for k, v in selector.items()}


def pod_template(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    """A workload's pod template spec."""
    return ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Tell whether every selector pair is among the labels (an empty selector matches none)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def containers_from_spec(spec: Mapping[str, Any]) -> list[Container]:
    """Build containers from a pod spec (ports, env, envFrom), without status."""
    return [_container(entry) for entry in spec.get("containers") or [] if isinstance(entry, dict)]


def _container(entry: Mapping[str, Any]) -> Container:
    ports = [
        ContainerPort(
            str(p.get("name", "")), int(p["containerPort"]), str(p.get("protocol", "TCP"))
        )
        for p in entry.get("ports") or []
        if isinstance(p, dict) and isinstance(p.get("containerPort"), int)
    ]
    return Container(
        name=str(entry.get("name", "")),
        image=str(entry.get("image", "")),
        ports=ports,
        env=[_env_var(e) for e in entry.get("env") or [] if isinstance(e, dict)],
        env_from=[f for f in (_env_from(e) for e in entry.get("envFrom") or []) if f],
    )


def _env_var(entry: Mapping[str, Any]) -> EnvVar:
    name = str(entry.get("name", ""))
    if "value" in entry:
        return EnvVar(name, value=str(entry.get("value") or ""))
    source = entry.get("valueFrom") or {}
    for key in ("secretKeyRef", "configMapKeyRef"):
        ref = source.get(key)
        if isinstance(ref, Mapping):
            return EnvVar(name, source=f"{key}:{ref.get('name', '')}/{ref.get('key', '')}")
    if isinstance(source.get("fieldRef"), Mapping):
        return EnvVar(name, source=f"fieldRef:{source['fieldRef'].get('fieldPath', '')}")
    if isinstance(source.get("resourceFieldRef"), Mapping):
        return EnvVar(name, source=f"resourceFieldRef:{source['resourceFieldRef'].get('resource')}")
    return EnvVar(name, value="")


def _env_from(entry: Any) -> EnvFrom | None:
    if not isinstance(entry, Mapping):
        return None
    for key, kind in (("configMapRef", "configMap"), ("secretRef", "secret")):
        ref = entry.get(key)
        if isinstance(ref, Mapping):
            return EnvFrom(
                kind,
                str(ref.get("name", "")),
                str(entry.get("prefix") or ""),
                bool(ref.get("optional", False)),
            )
    return None


def pod_from_object(obj: Mapping[str, Any]) -> Pod:
    """Build a Pod record from a live pod object, joining spec and status per container."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = {
        s.get("name"): s for s in status.get("containerStatuses") or [] if isinstance(s, dict)
    }
    containers = containers_from_spec(spec)
    for container in containers:
        _apply_status(container, statuses.get(container.name) or {})
    conditions = {
        c.get("type"): c.get("status")
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    }
    return Pod(
        name=name_of(obj),
        uid=str(metadata(obj).get("uid", "")),
        ip=str(status.get("podIP") or ""),
        node=str(spec.get("nodeName") or ""),
        phase=str(status.get("phase") or ""),
        ready=conditions.get("Ready") == "True",
        start_time=str(status.get("startTime") or ""),
        labels=labels_of(obj),
        containers=containers,
        init_containers=[
            str(c.get("name", "")) for c in spec.get("initContainers") or [] if isinstance(c, dict)
        ],
    )


def _apply_status(container: Container, status: Mapping[str, Any]) -> None:
    container.ready = bool(status.get("ready", False))
    container.started = bool(status.get("started", False))
    container.restart_count = int(status.get("restartCount") or 0)
    container.container_id = str(status.get("containerID") or "")
    state = status.get("state") or {}
    if "running" in state:
        container.state = "running"
    elif isinstance(state.get("waiting"), Mapping):
        container.state = f"waiting:{state['waiting'].get('reason', '')}"
    elif isinstance(state.get("terminated"), Mapping):
        container.state = f"terminated:{state['terminated'].get('reason', '')}"
    last = (status.get("lastState") or {}).get("terminated")
    if isinstance(last, Mapping):
        container.last_termination_reason = str(last.get("reason") or "")
        code = last.get("exitCode")
        container.last_exit_code = int(code) if isinstance(code, int) else None


def service_from_object(obj: Mapping[str, Any], *, live: bool) -> Service:
    """Build a Service record (without endpoints) from a Service object."""
    spec = obj.get("spec") or {}
    ports = []
    for entry in spec.get("ports") or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("port"), int):
            continue
        target = entry.get("targetPort", entry["port"])
        ports.append(
            ServicePort(
                str(entry.get("name") or ""),
                int(entry["port"]),
                target if isinstance(target, (int, str)) else entry["port"],
                str(entry.get("protocol", "TCP")),
            )
        )
    return Service(
        name=name_of(obj),
        type=str(spec.get("type") or "ClusterIP"),
        cluster_ip=str(spec.get("clusterIP") or ""),
        selector={str(k): str(v) for k, v in (spec.get("selector") or {}).items()},
        ports=ports,
        live=live,
    )


def apply_endpoints(service: Service, endpoints: Mapping[str, Any]) -> None:
    """Fill a Service's addresses and ports from its Endpoints object."""
    for subset in endpoints.get("subsets") or []:
        if not isinstance(subset, Mapping):
            continue
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(key) or []:
                ref = address.get("targetRef") or {}
                service.addresses.append(
                    EndpointAddress(
                        ip=str(address.get("ip", "")),
                        ready=ready,
                        pod=str(ref.get("name", "")) if ref.get("kind") == "Pod" else "",
                        node=str(address.get("nodeName") or ""),
                    )
                )
        for port in subset.get("ports") or []:
            if isinstance(port.get("port"), int):
                endpoint_port = EndpointPort(
                    str(port.get("name") or ""), int(port["port"]), str(port.get("protocol", "TCP"))
                )
                if endpoint_port not in service.endpoint_ports:
                    service.endpoint_ports.append(endpoint_port)


def apply_endpoint_slices(service: Service, slices: Iterable[Mapping[str, Any]]) -> None:
    """Fill a Service's addresses and ports from its EndpointSlices."""
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            ready = (endpoint.get("conditions") or {}).get("ready") is not False
            ref = endpoint.get("targetRef") or {}
            for ip in endpoint.get("addresses") or []:
                service.addresses.append(
                    EndpointAddress(
                        ip=str(ip),
                        ready=ready,
                        pod=str(ref.get("name", "")) if ref.get("kind") == "Pod" else "",
                        node=str(endpoint.get("nodeName") or ""),
                    )
                )
        for port in item.get("ports") or []:
            if isinstance(port.get("port"), int):
                endpoint_port = EndpointPort(
                    str(port.get("name") or ""), int(port["port"]), str(port.get("protocol", "TCP"))
                )
                if endpoint_port not in service.endpoint_ports:
                    service.endpoint_ports.append(endpoint_port)
