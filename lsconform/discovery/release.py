"""The Release inventory: what discovery found, as plain dataclasses that round-trip JSON.

`Release.to_dict()` gives JSON-safe data and `Release.from_dict()` rebuilds it; the plugin uses
the pair to hand the controller's discovery to pytest-xdist workers. User values are kept as
Helm stored them, with nothing redacted, so they must never be logged; the bundle redacts them
before writing.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

from lsconform.constants import SCRAPE_PORT_NAME_REGEX

T = TypeVar("T")


@dataclass
class Problem:
    """Something discovery found wrong or could not find out.

    `code` is stable (`release-failed`), `severity` is `error`, `warning` or `info`, `summary`
    names the cause, `remedy` the fix, `evidence` the facts behind it.
    """

    code: str
    severity: str
    summary: str
    remedy: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class ContainerPort:
    """A declared container port."""

    name: str
    container_port: int
    protocol: str = "TCP"


@dataclass
class EnvVar:
    """One `env` entry of a container: a literal `value`, or the `source` it is read from
    (`secretKeyRef:<secret>/<key>`, `configMapKeyRef:<configmap>/<key>`, `fieldRef:<path>`)."""

    name: str
    value: str | None = None
    source: str = ""


@dataclass
class EnvFrom:
    """One `envFrom` entry: every key of a ConfigMap or Secret, with an optional prefix."""

    kind: str  # "configMap" or "secret"
    name: str
    prefix: str = ""
    optional: bool = False


@dataclass
class Container:
    """A container of a pod: spec facts and, for live pods, its status.

    `state` is `running`, `waiting:<reason>` or `terminated:<reason>`; `last_termination_reason`
    is the reason of the previous run (`OOMKilled`, `Error`), empty if it never restarted.
    """

    name: str
    image: str = ""
    ports: list[ContainerPort] = field(default_factory=list)
    env: list[EnvVar] = field(default_factory=list)
    env_from: list[EnvFrom] = field(default_factory=list)
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    state: str = ""
    last_termination_reason: str = ""
    last_exit_code: int | None = None
    container_id: str = ""


@dataclass
class Pod:
    """A live pod of a component. `start_time` is RFC 3339 text as the API gives it."""

    name: str
    uid: str = ""
    ip: str = ""
    node: str = ""
    phase: str = ""
    ready: bool = False
    start_time: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    containers: list[Container] = field(default_factory=list)
    init_containers: list[str] = field(default_factory=list)

    @property
    def restarts(self) -> int:
        """Restarts of all containers together."""
        return sum(container.restart_count for container in self.containers)

    def container(self, name: str) -> Container | None:
        """Return the container called `name`, if the pod has one."""
        return next((c for c in self.containers if c.name == name), None)


@dataclass
class ServicePort:
    """A Service port: `target_port` is a container port name or number."""

    name: str
    port: int
    target_port: int | str
    protocol: str = "TCP"

    @property
    def scraped_by_observability_chart(self) -> bool:
        """Whether the observability chart's scrape job keeps this port (by its name)."""
        return re.fullmatch(SCRAPE_PORT_NAME_REGEX, self.name or "") is not None


@dataclass
class EndpointAddress:
    """An address behind a Service, from its Endpoints; `pod` is the targetRef's name."""

    ip: str
    ready: bool
    pod: str = ""
    node: str = ""


@dataclass
class EndpointPort:
    """A resolved endpoint port: the Service port's name with the container port number."""

    name: str
    port: int
    protocol: str = "TCP"


@dataclass
class Service:
    """A Service of a component, with its endpoints (ready and not ready)."""

    name: str
    type: str = "ClusterIP"
    cluster_ip: str = ""
    selector: dict[str, str] = field(default_factory=dict)
    ports: list[ServicePort] = field(default_factory=list)
    addresses: list[EndpointAddress] = field(default_factory=list)
    endpoint_ports: list[EndpointPort] = field(default_factory=list)
    live: bool = True

    @property
    def ready_addresses(self) -> list[EndpointAddress]:
        """Endpoint addresses that receive traffic."""
        return [address for address in self.addresses if address.ready]

    @property
    def not_ready_addresses(self) -> list[EndpointAddress]:
        """Endpoint addresses whose pods are not ready."""
        return [address for address in self.addresses if not address.ready]

    def port_for_target(self, port_name: str, port: int) -> str | int | None:
        """Return the Service port (its name, or its number when unnamed) that forwards to the
        container port `port_name`/`port`, or None when no Service port does."""
        for entry in self.ports:
            if entry.target_port in (port_name, port):
                return entry.name or entry.port
        return None


@dataclass
class MetricsEndpoint:
    """A Prometheus endpoint of one pod, with the Service port in front of it if any.

    `scraped_by_observability_chart` is true when the observability chart's scrape job would
    keep it, because that job selects endpoints by Service port name.
    """

    component: str
    pod: str
    pod_ip: str
    port_name: str
    port: int
    path: str = "/metrics"
    ready: bool = False
    service: str = ""
    service_port: str | int | None = None
    scraped_by_observability_chart: bool = False


@dataclass
class Component:
    """One component of the release (backend, frontend, clickhouse, ...).

    `suffix` is what follows `<fullname>-` in object names; `name` is the value of the
    `app.kubernetes.io/component` label (`<fullname>-<suffix>`). A component absent from the
    release is listed with `enabled=False` so checks can say it is off rather than missing.
    `desired_replicas` and `ready_replicas` come from the live workload.
    """

    suffix: str
    name: str = ""
    enabled: bool = True
    workload_kind: str = ""
    workload_name: str = ""
    desired_replicas: int = 0
    ready_replicas: int = 0
    selector: dict[str, str] = field(default_factory=dict)
    containers: list[Container] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    metrics_endpoints: list[MetricsEndpoint] = field(default_factory=list)

    def container_port(self, name: str) -> int | None:
        """Return the number of the container port called `name` in the pod template."""
        for container in self.containers:
            for port in container.ports:
                if port.name == name:
                    return port.container_port
        return None

    @property
    def ready_pods(self) -> list[Pod]:
        """Pods whose Ready condition is true."""
        return [pod for pod in self.pods if pod.ready]


@dataclass
class Release:
    """The LangSmith release found in a namespace, with everything checks need.

    `source` is where it came from: `secret` or `configmap` (a Helm release record) or
    `labels` (no record; revision, values and chart defaults are then unknown). `values` are
    the user-supplied values (`helm get values`); `tracing` is the effective
    `config.observability.tracing` (chart defaults merged with user values); `misplaced_values`
    holds user values at keys the chart does not read, by dotted path.
    """

    name: str
    namespace: str
    revision: int = 0
    status: str = "unknown"
    source: str = "secret"
    chart_name: str = ""
    chart_version: str = ""
    app_version: str = ""
    first_deployed: str = ""
    last_deployed: str = ""
    fullname: str = ""
    name_label: str = ""
    fullname_rule: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    tracing: dict[str, Any] = field(default_factory=dict)
    misplaced_values: dict[str, Any] = field(default_factory=dict)
    components: list[Component] = field(default_factory=list)
    config_map_name: str = ""
    config_data: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def component(self, suffix: str) -> Component | None:
        """Return the component with this suffix (`backend`), if the release has one."""
        return next((c for c in self.components if c.suffix == suffix), None)

    @property
    def enabled_components(self) -> list[Component]:
        """Components deployed by the release."""
        return [c for c in self.components if c.enabled]

    def to_dict(self) -> dict[str, Any]:
        """Convert to JSON-safe data (see `from_dict`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        """Rebuild a Release from `to_dict` output."""
        return _build(cls, data)


@dataclass
class RevisionInfo:
    """One stored revision of a Helm release in the namespace, whatever its chart."""

    release: str
    revision: int
    status: str
    storage: str
    object_name: str
    chart_name: str = ""
    chart_version: str = ""
    problem: str = ""


@dataclass
class Discovery:
    """The outcome of `discover`: the release (None when none was found), the problems met on
    the way, and every Helm revision seen in the namespace. `requests` counts API requests."""

    release: Release | None
    problems: list[Problem] = field(default_factory=list)
    revisions: list[RevisionInfo] = field(default_factory=list)
    requests: int = 0


def _build(cls: type[T], data: Any) -> T:
    """Build dataclass `cls` from `asdict` output, recursing through its field types."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        if item.name in data:
            kwargs[item.name] = _convert(hints[item.name], data[item.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if value is None:
        return None
    if origin in (Union, types.UnionType):
        for arg in args:
            if isinstance(arg, type) and dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return _build(arg, value)
        return value
    item_type = args[0] if origin is list and args else None
    if isinstance(item_type, type) and dataclasses.is_dataclass(item_type):
        return [_build(item_type, item) for item in value]
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value)
    if origin is dict:
        return dict(value)
    if origin is list:
        return list(value)
    return value
