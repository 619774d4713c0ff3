"""Facts about the LangSmith Helm chart that both the suite and the sandbox rely on.

The values come from chart `langsmith` 0.17.0-rc.12 (appVersion 0.17.12rc1): its templates name
every object `<fullname>-<component>`, label it with the five common labels below, and give each
component the container ports listed in `COMPONENTS`. The suite uses these facts to recognise what
it finds in a cluster (never to build object names by joining strings); the sandbox uses them to
lay out a release that looks like the chart's output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHART_NAME = "langsmith"
OBSERVABILITY_CHART_NAME = "langsmith-observability"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_VERSION = "app.kubernetes.io/version"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_HELM_CHART = "helm.sh/chart"

# Helm 3 stores one Secret per revision, named sh.helm.release.v1.<release>.v<revision>, with
# these labels and this type (Helm's `secret` storage driver, the default).
HELM_SECRET_TYPE = "helm.sh/release.v1"  # noqa: S105 (a Secret type, not a secret)
HELM_SECRET_PREFIX = "sh.helm.release.v1."  # noqa: S105 (a name prefix)
HELM_OWNER_SELECTOR = "owner=helm"

# The observability chart's scrape job keeps only endpoints whose Service port name matches this
# regular expression (Prometheus anchors it at both ends).
SCRAPE_PORT_NAME_REGEX = "backend|platform|playground|host-backend|metrics"

# Since chart 0.13.25 the frontend's nginx answers /nginx_status only to these client addresses.
NGINX_STATUS_PATH = "/nginx_status"
NGINX_STATUS_ALLOWED_CLIENTS = ("127.0.0.1", "::1")

# Well-known OTLP ports (OpenTelemetry specification, "OTLP/gRPC" and "OTLP/HTTP").
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
OTLP_HTTP_TRACES_PATH = "/v1/traces"

# Keys of the `<fullname>-config` ConfigMap that carry the tracing settings.
TRACING_KEYS = (
    "OTEL_TRACING_ENABLED",
    "OTLP_ENDPOINT",
    "OTEL_EXPORTER",
    "OTEL_USE_TLS",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_ENVIRONMENT",
)


@dataclass(frozen=True)
class MetricsEndpoint:
    """A Prometheus endpoint a component serves: container port name and number, and path."""

    port_name: str
    port: int
    path: str = "/metrics"


@dataclass(frozen=True)
class Component:
    """One component of the chart, with the defaults its templates render.

    `key` is the component's values key (`platformBackend`), `suffix` the default `<comp>.name`
    that follows `<fullname>-` in object names, `container` the main container's name.
    """

    key: str
    suffix: str
    kind: str
    container: str
    ports: tuple[tuple[str, int], ...]
    health_path: str | None
    health_port: int | None
    replicas: int = 1
    metrics: MetricsEndpoint | None = None
    service_ports: tuple[tuple[str, int, str | int], ...] = ()
    reads_config: bool = True
    enabled_by_default: bool = True
    traced: bool = False
    families: tuple[str, ...] = field(default=())


# Families a healthy LangSmith HTTP service exposes, from the names the official Grafana
# dashboards query (chart langsmith-observability 0.2.0).
LANGSMITH_HTTP_FAMILIES = (
    "langsmith_http_requests_total",
    "langsmith_http_requests_latency_seconds",
    "langsmith_http_requests_in_progress",
    "langsmith_http_requests_size_bytes",
)
BACKEND_EXTRA_FAMILIES = ("langsmith_pg_pool_used", "langsmith_pg_pool_idle")
CLICKHOUSE_FAMILIES = (
    "ClickHouseAsyncMetrics_Uptime",
    "ClickHouseMetrics_TCPConnection",
    "ClickHouseProfileEvents_Query",
)

COMPONENTS: tuple[Component, ...] = (
    Component(
        key="backend",
        suffix="backend",
        kind="Deployment",
        container="backend",
        ports=(("backend", 1984),),
        health_path="/health",
        health_port=1984,
        replicas=2,
        metrics=MetricsEndpoint("backend", 1984),
        service_ports=(("backend", 1984, "backend"),),
        traced=True,
        families=LANGSMITH_HTTP_FAMILIES + BACKEND_EXTRA_FAMILIES,
    ),
    Component(
        key="platformBackend",
        suffix="platform-backend",
        kind="Deployment",
        container="platform-backend",
        ports=(("platform", 1986),),
        health_path="/ok",
        health_port=1986,
        replicas=3,
        metrics=MetricsEndpoint("platform", 1986),
        service_ports=(("platform", 1986, "platform"),),
        traced=True,
        families=LANGSMITH_HTTP_FAMILIES,
    ),
    Component(
        key="playground",
        suffix="playground",
        kind="Deployment",
        container="playground",
        ports=(("playground", 1988),),
        health_path="/ok",
        health_port=1988,
        metrics=MetricsEndpoint("playground", 1988),
        service_ports=(("playground", 1988, "playground"),),
        traced=True,
    ),
    Component(
        key="aceBackend",
        suffix="ace-backend",
        kind="Deployment",
        container="ace-backend",
        ports=(("ace", 1987),),
        health_path="/ok",
        health_port=1987,
        service_ports=(("ace", 1987, "ace"),),
    ),
    Component(
        key="queue",
        suffix="queue",
        kind="Deployment",
        container="queue",
        ports=(("queue", 8080),),
        health_path="/health",
        health_port=8080,
        traced=True,
    ),
    Component(
        key="ingestQueue",
        suffix="ingest-queue",
        kind="Deployment",
        container="ingest-queue",
        ports=(("ingest-queue", 1989),),
        health_path="/health",
        health_port=1989,
        replicas=3,
        traced=True,
    ),
    Component(
        key="frontend",
        suffix="frontend",
        kind="Deployment",
        container="frontend",
        ports=(("frontend", 8080),),
        health_path="/health",
        health_port=8080,
        service_ports=(("http", 80, "frontend"), ("https", 443, "frontend")),
    ),
    Component(
        key="hostBackend",
        suffix="host-backend",
        kind="Deployment",
        container="host-backend",
        ports=(("host-backend", 1985),),
        health_path="/ok",
        health_port=1985,
        metrics=MetricsEndpoint("host-backend", 1985),
        service_ports=(("host-backend", 1985, "host-backend"),),
        enabled_by_default=False,
        traced=True,
    ),
    Component(
        key="listener",
        suffix="listener",
        kind="Deployment",
        container="listener",
        ports=(("listener", 8080),),
        health_path="/health",
        health_port=8080,
        enabled_by_default=False,
        traced=True,
    ),
    Component(
        key="operator",
        suffix="operator",
        kind="Deployment",
        container="operator",
        ports=(),
        health_path="/readyz",
        health_port=8081,
        reads_config=False,
        enabled_by_default=False,
    ),
    Component(
        key="clickhouse",
        suffix="clickhouse",
        kind="StatefulSet",
        container="clickhouse",
        ports=(("ch", 8123), ("ch-native", 9000), ("ch-metrics", 9363)),
        health_path="/ping",
        health_port=8123,
        metrics=MetricsEndpoint("ch-metrics", 9363),
        service_ports=(
            ("ch", 8123, "ch"),
            ("ch-native", 9000, "ch-native"),
            ("metrics", 9363, 9363),
        ),
        reads_config=False,
        families=CLICKHOUSE_FAMILIES,
    ),
    Component(
        key="postgres",
        suffix="postgres",
        kind="StatefulSet",
        container="postgres",
        ports=(("postgres", 5432),),
        health_path=None,
        health_port=None,
        service_ports=(("postgres", 5432, "postgres"),),
        reads_config=False,
    ),
    Component(
        key="redis",
        suffix="redis",
        kind="StatefulSet",
        container="redis",
        ports=(("redis", 6379),),
        health_path=None,
        health_port=None,
        service_ports=(("redis", 6379, "redis"),),
        reads_config=False,
    ),
)

COMPONENTS_BY_SUFFIX = {component.suffix: component for component in COMPONENTS}

# Components whose pods expose no Prometheus endpoint of their own.
COMPONENTS_WITHOUT_METRICS = tuple(c.suffix for c in COMPONENTS if c.metrics is None)
