"""The pod plans the state builder hands over, and which pod-side fault applies to which pod.

A plan describes one pod: its namespace, name, uid, loopback address, node, role and containers
(ports, resolved env, node log directory). `pods.json` in the workdir is a list of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from lsconform.constants import COMPONENTS_BY_SUFFIX


class PortPlan(TypedDict):
    """A container port as the pod spec declares it."""

    name: str
    containerPort: int
    protocol: str


class ContainerPlan(TypedDict):
    """One container of a pod: identity, ports, resolved env and its node log directory."""

    name: str
    container_id: str
    image: str
    restart_count: int
    ports: list[PortPlan]
    env: dict[str, str]
    log_dir: str


class PodPlan(TypedDict):
    """One pod to play, as written to `workdir/pods.json`."""

    namespace: str
    name: str
    uid: str
    ip: str
    node: str
    release: str
    component: str
    role: str
    labels: dict[str, str]
    containers: list[ContainerPlan]
    faults: list[str]


ROLES = (
    "langsmith-service",
    "frontend",
    "clickhouse",
    "postgres",
    "redis",
    "postgres-exporter",
    "redis-exporter",
    "otel-collector",
    "log-collector",
    "generic",
)

# Faults this package applies, and the pods each one concerns when the state builder did not
# name the pods itself (a fault listed in no plan's `faults`). "first" means the first pod of the
# component by name, so that exactly one container shows the fault.
POD_FAULT_TARGETS: dict[str, tuple[str, str]] = {
    "backend-metrics-down": ("backend", "all"),
    "metrics-timeout": ("backend", "all"),
    "metrics-malformed": ("backend", "all"),
    "metrics-html": ("backend", "all"),
    "histogram-broken": ("backend", "all"),
    "metrics-families-missing": ("backend", "all"),
    "clickhouse-metrics-off": ("clickhouse", "all"),
    "nginx-status-missing": ("frontend", "all"),
    "exporter-down": ("postgres-exporter", "all"),
    "logs-missing-on-node": ("backend", "first"),
    "logs-link-dangling": ("backend", "first"),
    "container-silent": ("backend", "first"),
    "crashloop": ("queue", "first"),
}
POD_FAULTS = frozenset(POD_FAULT_TARGETS)


def pod_key(plan: Mapping[str, Any]) -> str:
    """Return the `namespace/name` key used in `PodGroup.status`."""
    return f"{plan['namespace']}/{plan['name']}"


def container_id_hex(container: Mapping[str, Any]) -> str:
    """Return the 64-hex id of a container, without the `containerd://` runtime prefix."""
    raw = str(container.get("container_id", ""))
    return raw.split("://", 1)[-1]


def main_env(plan: Mapping[str, Any]) -> dict[str, str]:
    """Return the env of the pod's first container (the one the chart names after the component)."""
    containers = plan.get("containers") or []
    if not containers:
        return {}
    return dict(containers[0].get("env") or {})


def _matches_target(plan: Mapping[str, Any], target: str) -> bool:
    if target in {"frontend", "clickhouse", "postgres-exporter"}:
        return bool(plan.get("role") == target)
    return bool(plan.get("role") == "langsmith-service" and plan.get("component") == target)


def assign_faults(plans: Iterable[Mapping[str, Any]], faults: Iterable[str]) -> dict[str, set[str]]:
    """Map each pod key to the pod-side faults it shows.

    A fault named in a plan's own `faults` applies to exactly those pods. A fault in the run's
    fault set that no plan names falls back to `POD_FAULT_TARGETS`.
    """
    plan_list = sorted(plans, key=lambda p: (p["namespace"], p["name"]))
    assigned: dict[str, set[str]] = {pod_key(p): set() for p in plan_list}
    named_by_plans: set[str] = set()
    for plan in plan_list:
        own = set(plan.get("faults") or ()) & POD_FAULTS
        assigned[pod_key(plan)] |= own
        named_by_plans |= own

    for fault in sorted(set(faults) & POD_FAULTS - named_by_plans):
        target, scope = POD_FAULT_TARGETS[fault]
        matching = [p for p in plan_list if _matches_target(p, target)]
        if scope == "first":
            matching = matching[:1]
        for plan in matching:
            assigned[pod_key(plan)].add(fault)
    return assigned


def component_metrics(component: str) -> bool:
    """Tell whether the chart's component serves a Prometheus `/metrics` endpoint."""
    known = COMPONENTS_BY_SUFFIX.get(component)
    return known is not None and known.metrics is not None


def health_port(component: str) -> int | None:
    """Return the probe port of a component that declares no container port for it (operator)."""
    known = COMPONENTS_BY_SUFFIX.get(component)
    return None if known is None else known.health_port
