"""The things checks are parametrised over, built from a Release.

Each target has an `id` that is the pytest test id: readable, stable, and the same on every
xdist worker (for example `backend/langsmith-backend-5f7c9-abcde:1984/metrics`). The plugin
parametrises a check's fixture argument with the targets of the builder registered under that
argument's name in `PARAMETRISERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lsconform.constants import COMPONENTS_BY_SUFFIX, NGINX_STATUS_PATH
from lsconform.settings import Settings


@dataclass(frozen=True)
class ComponentTarget:
    """An enabled component of the release, for the release checks."""

    id: str
    component: Any


@dataclass(frozen=True)
class MetricsTarget:
    """One metrics endpoint: a ready pod's container port, or a Service port in front of it.

    `port` is the container port number for a pod and the Service port (name or number) for a
    Service; `expected_families` are the families a healthy endpoint of this component exposes.
    """

    id: str
    component: str
    kind: str  # "pod" or "service"
    namespace: str
    name: str
    port: int | str
    path: str = "/metrics"
    expected_families: tuple[str, ...] = ()
    replicas: int = 1
    ip: str | None = None


@dataclass(frozen=True)
class CollectTarget:
    """A component whose metrics a scraper should be able to collect, with its Services."""

    id: str
    component: Any
    metrics_port_name: str
    metrics_port: int


@dataclass(frozen=True)
class FrontendTarget:
    """A frontend pod whose nginx stub_status page is checked."""

    id: str
    namespace: str
    pod: str
    port: int
    path: str = NGINX_STATUS_PATH


@dataclass(frozen=True)
class ExporterTarget:
    """An in-cluster datastore whose Prometheus exporter is looked for and checked."""

    id: str
    datastore: str  # "postgres" or "redis"
    component: Any = None
    external: bool = False


def component_targets(release: Any, settings: Settings) -> list[ComponentTarget]:
    return [ComponentTarget(c.suffix, c) for c in release.components if c.enabled]


def metrics_targets(release: Any, settings: Settings) -> list[MetricsTarget]:
    """Every metrics endpoint: each ready pod's metrics port, and each Service port to it."""
    found: list[MetricsTarget] = []
    for component in release.components:
        spec = COMPONENTS_BY_SUFFIX.get(component.suffix)
        if not component.enabled or spec is None or spec.metrics is None:
            continue
        port = component.container_port(spec.metrics.port_name) or spec.metrics.port
        ready = [pod for pod in component.pods if pod.ready]
        for pod in ready:
            found.append(
                MetricsTarget(
                    id=f"{component.suffix}/{pod.name}:{port}{spec.metrics.path}",
                    component=component.suffix,
                    kind="pod",
                    namespace=release.namespace,
                    name=pod.name,
                    port=port,
                    path=spec.metrics.path,
                    expected_families=spec.families,
                    replicas=len(component.pods),
                    ip=pod.ip or None,
                )
            )
        for service in component.services:
            service_port = service.port_for_target(spec.metrics.port_name, port)
            if service_port is None:
                continue
            found.append(
                MetricsTarget(
                    id=f"{component.suffix}/svc/{service.name}:{service_port}{spec.metrics.path}",
                    component=component.suffix,
                    kind="service",
                    namespace=release.namespace,
                    name=service.name,
                    port=service_port,
                    path=spec.metrics.path,
                    expected_families=spec.families,
                    replicas=len(component.pods),
                )
            )
    return found


def collect_targets(release: Any, settings: Settings) -> list[CollectTarget]:
    found: list[CollectTarget] = []
    for component in release.components:
        spec = COMPONENTS_BY_SUFFIX.get(component.suffix)
        if not component.enabled or spec is None or spec.metrics is None:
            continue
        port = component.container_port(spec.metrics.port_name) or spec.metrics.port
        found.append(CollectTarget(component.suffix, component, spec.metrics.port_name, port))
    return found


def no_metrics_targets(release: Any, settings: Settings) -> list[ComponentTarget]:
    """Enabled components that serve no Prometheus endpoint of their own."""
    return [
        ComponentTarget(c.suffix, c)
        for c in release.components
        if c.enabled
        and c.suffix in COMPONENTS_BY_SUFFIX
        and COMPONENTS_BY_SUFFIX[c.suffix].metrics is None
        and c.suffix not in ("postgres", "redis")
    ]


def frontend_targets(release: Any, settings: Settings) -> list[FrontendTarget]:
    found: list[FrontendTarget] = []
    for component in release.components:
        if component.suffix != "frontend" or not component.enabled:
            continue
        port = component.container_port("frontend") or 8080
        for pod in component.pods:
            if pod.ready:
                found.append(
                    FrontendTarget(
                        f"frontend/{pod.name}:{port}{NGINX_STATUS_PATH}",
                        release.namespace,
                        pod.name,
                        port,
                    )
                )
    return found


def exporter_targets(release: Any, settings: Settings) -> list[ExporterTarget]:
    found: list[ExporterTarget] = []
    by_suffix = {c.suffix: c for c in release.components}
    for datastore in ("postgres", "redis"):
        component = by_suffix.get(datastore)
        external = component is None or not component.enabled
        found.append(ExporterTarget(f"{datastore}-exporter", datastore, component, external))
    return found


def _log_targets(release: Any, settings: Settings) -> Iterable[Any]:
    from lsconform.assess.logs import log_targets

    return log_targets(release, settings)


def _env_targets(release: Any, settings: Settings) -> Iterable[Any]:
    from lsconform.assess.traces import env_targets

    return env_targets(release, settings)


def _traced_targets(release: Any, settings: Settings) -> Iterable[Any]:
    from lsconform.assess.traces import traced_targets

    return traced_targets(release, settings)


PARAMETRISERS: dict[str, Callable[[Any, Settings], Iterable[Any]]] = {
    "component_target": component_targets,
    "metrics_target": metrics_targets,
    "collect_target": collect_targets,
    "no_metrics_target": no_metrics_targets,
    "frontend_target": frontend_targets,
    "exporter_target": exporter_targets,
    # Log checks (checks/test_logs.py): one target per container of every pod of the release.
    "log_target": _log_targets,
    # Traces checks (checks/test_traces.py): components reading the config ConfigMap, and
    # components whose services export spans.
    "env_target": _env_targets,
    "traced_target": _traced_targets,
}
