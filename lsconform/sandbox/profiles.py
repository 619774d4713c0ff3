"""The sandbox's built-in profiles, and the releases a run lays out.

A profile names a LangSmith release (release name, namespace, user values, revision history).
`release_specs` turns a profile, or a `--manifests` file, plus extra values and the fault set
into the `ReleaseSpec`s the state builder lays out: the LangSmith release itself, a second
release under the two-releases fault, and the `langsmith-observability` namespace
(OpenTelemetry collector gateway, postgres and redis exporters) that every profile has.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lsconform.constants import (
    CHART_NAME,
    OBSERVABILITY_CHART_NAME,
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    OTLP_HTTP_TRACES_PATH,
    SCRAPE_PORT_NAME_REGEX,
)
from lsconform.sandbox import canaries, chart, helm, logcollectors
from lsconform.sandbox import faults as fault_rules
from lsconform.sandbox.chart import Document, deep_merge
from lsconform.sandbox.manifests import Manifests
from lsconform.sandbox.state import ReleaseSpec, rfc3339_nano

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]

OBSERVABILITY_NAMESPACE = "langsmith-observability"
OBSERVABILITY_RELEASE = "langsmith-observability"
GATEWAY = f"{OBSERVABILITY_RELEASE}-collector-gateway"
GATEWAY_SERVICE = f"{GATEWAY}-collector"
GATEWAY_HOST = f"{GATEWAY_SERVICE}.{OBSERVABILITY_NAMESPACE}.svc.cluster.local"
COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib:0.123.0"

_TRACING_HTTP: JsonObject = {
    "config": {
        "observability": {
            "tracing": {
                "enabled": True,
                "endpoint": f"http://{GATEWAY_HOST}:{OTLP_HTTP_PORT}{OTLP_HTTP_TRACES_PATH}",
                # The collector gateway listens in plaintext; the chart's default useTls: true
                # would make the services attempt TLS against it (the tls-mismatch fault).
                "useTls": False,
            }
        }
    }
}

# What every profile starts from: the chart's required values with canary credentials, plus the
# secrets a careless user writes into values (see lsconform.sandbox.canaries).
_BASE = deep_merge(chart.BASE_VALUES, canaries.CARELESS_VALUES)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    release: str
    namespace: str
    values: JsonObject
    revisions: int = 1
    """How many revisions the release history holds; the latest is deployed, older ones
    superseded. Revision 1 of a history longer than one ran without tracing."""
    notes: str = field(default="")


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "default",
            "release langsmith in namespace langsmith, tracing on over OTLP/HTTP to the "
            "in-cluster collector gateway; revision 1 superseded, revision 2 deployed",
            "langsmith",
            "langsmith",
            deep_merge(_BASE, _TRACING_HTTP),
            revisions=2,
        ),
        Profile(
            "tracing-off",
            "release langsmith with the chart's default tracing (off)",
            "langsmith",
            "langsmith",
            copy.deepcopy(_BASE),
        ),
        Profile(
            "fullname-override",
            "release prod-ls in namespace ls-prod with nameOverride smith (fullname "
            "prod-ls-smith), tracing on over OTLP/gRPC without TLS",
            "prod-ls",
            "ls-prod",
            deep_merge(
                _BASE,
                {
                    "nameOverride": "smith",
                    "config": {
                        "observability": {
                            "tracing": {
                                "enabled": True,
                                "endpoint": f"{GATEWAY_HOST}:{OTLP_GRPC_PORT}",
                                "exporter": "grpc",
                                "useTls": False,
                            }
                        }
                    },
                },
            ),
        ),
        Profile(
            "external-datastores",
            "main PostgreSQL, Redis and ClickHouse outside the cluster (no in-cluster "
            "StatefulSets for them); tracing off",
            "langsmith",
            "langsmith",
            deep_merge(
                _BASE,
                {
                    "postgres": {
                        "external": {
                            "enabled": True,
                            "connectionUrl": canaries.EXTERNAL_POSTGRES_URL,
                        }
                    },
                    "redis": {
                        "external": {
                            "enabled": True,
                            "connectionUrl": canaries.EXTERNAL_REDIS_URL,
                        }
                    },
                    "clickhouse": {
                        "enabled": True,
                        "external": {
                            "enabled": True,
                            "host": "clickhouse.example.internal",
                            "port": "8123",
                            "nativePort": "9000",
                            "user": "langsmith",
                            "password": canaries.EXTERNAL_CLICKHOUSE_PASSWORD,
                            "database": "default",
                            "tls": False,
                        },
                    },
                },
            ),
        ),
        Profile(
            "control-plane",
            "the LangGraph control plane on: host-backend, listener and operator; tracing on",
            "langsmith",
            "langsmith",
            deep_merge(
                deep_merge(_BASE, _TRACING_HTTP),
                {
                    "config": {
                        "deployment": {"enabled": True},
                        "hostname": "langsmith.example.com",
                    },
                    "operator": {"enabled": True},
                },
            ),
        ),
        Profile(
            "large",
            "the default profile scaled to about 50 pods (backend 12, platform-backend 12, "
            "ingest-queue 8, queue 4 replicas)",
            "langsmith",
            "langsmith",
            deep_merge(
                deep_merge(_BASE, _TRACING_HTTP),
                {
                    "backend": {"deployment": {"replicas": 12}},
                    "platformBackend": {"deployment": {"replicas": 12}},
                    "ingestQueue": {"deployment": {"replicas": 8}},
                    "queue": {"deployment": {"replicas": 4}},
                },
            ),
            revisions=2,
        ),
    )
}

SECOND_RELEASE = "langsmith-staging"


class ProfileError(ValueError):
    """An unknown profile or values the chart would reject."""


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ProfileError(f"unknown profile {name!r}; known profiles: {known}") from None


def _without_tracing(values: JsonObject) -> JsonObject:
    older = copy.deepcopy(values)
    older.get("config", {}).pop("observability", None)
    return older


def _history(
    release: str,
    config: JsonObject,
    count: int,
    faults: frozenset[str],
    now: datetime,
) -> list[helm.Revision]:
    """Build the revision history: older revisions superseded, the latest deployed, and the
    release-failed and helm-secret-corrupt faults on top."""
    if "stale-pod-env" in faults:
        count = max(count, 2)
    last_deploy = now - timedelta(minutes=55)
    revisions = []
    for number in range(1, count + 1):
        latest = number == count
        revisions.append(
            helm.Revision(
                number=number,
                status="deployed" if latest else "superseded",
                description="Install complete" if number == 1 else "Upgrade complete",
                deployed_at=rfc3339_nano(
                    last_deploy if latest else last_deploy - timedelta(days=count - number + 1)
                ),
                config=config if latest or number > 1 else _without_tracing(config),
            )
        )
    if "release-failed" in faults:
        revisions.append(
            helm.Revision(
                number=count + 1,
                status="failed",
                description=f'Upgrade "{release}" failed: context deadline exceeded',
                deployed_at=rfc3339_nano(now - timedelta(minutes=20)),
                config=config,
            )
        )
    if "helm-secret-corrupt" in faults:
        latest_revision = revisions[-1]
        revisions[-1] = helm.Revision(
            number=latest_revision.number,
            status=latest_revision.status,
            description=latest_revision.description,
            deployed_at=latest_revision.deployed_at,
            config=latest_revision.config,
            corrupt=True,
        )
    return revisions


def _chart_meta() -> helm.ChartMeta:
    return helm.ChartMeta(CHART_NAME, chart.CHART_VERSION, chart.APP_VERSION)


def _notes(fullname: str, namespace: str) -> str:
    return (
        "Thank you for installing LangSmith.\n"
        f"The frontend Service is {fullname}-frontend in namespace {namespace}; reach it with\n"
        f"  kubectl port-forward -n {namespace} svc/{fullname}-frontend 8080:80\n"
    )


def langsmith_release(
    release: str,
    namespace: str,
    values: JsonObject,
    *,
    revisions: int,
    faults: frozenset[str],
    now: datetime,
) -> ReleaseSpec:
    """Render one LangSmith release with the value-side and object-side faults applied."""
    values = fault_rules.adjust_values(faults, values)
    try:
        documents = chart.render(release, namespace, values)
    except chart.ChartError as error:
        raise ProfileError(f"the chart cannot render these values: {error}") from error
    naming = chart.naming_for(release, namespace, chart.effective_values(values))
    fault_rules.adjust_documents(faults, documents, naming.fullname)
    stale = fault_rules.stale_env(values) if "stale-pod-env" in faults else {}
    return ReleaseSpec(
        release=release,
        namespace=naming.namespace,
        chart=_chart_meta(),
        documents=documents,
        chart_values=copy.deepcopy(chart.DEFAULT_VALUES),
        revisions=_history(release, values, revisions, faults, now),
        notes=_notes(naming.fullname, naming.namespace),
        stale_env=stale,
    )


def manifests_release(
    manifests: Manifests, values: JsonObject, faults: frozenset[str], now: datetime
) -> ReleaseSpec:
    """Lay out a release from `--manifests` output; `values` become its user values."""
    ignored = sorted(
        faults
        & {"tls-mismatch", "http-to-grpc-port", "traces-path-missing", "tracing-values-misplaced"}
    )
    if ignored:
        logger.warning(
            "faults %s change chart values and have no effect with --manifests; the rendered "
            "ConfigMap is used as given",
            ", ".join(ignored),
        )
    documents = list(manifests.documents)
    fullname = _fullname_from(documents, manifests.release)
    fault_rules.adjust_documents(faults, documents, fullname)
    return ReleaseSpec(
        release=manifests.release,
        namespace=manifests.namespace,
        chart=helm.ChartMeta(manifests.chart_name, manifests.chart_version, manifests.app_version),
        documents=documents,
        chart_values={},
        revisions=_history(manifests.release, values, 1, faults, now),
        notes=_notes(fullname, manifests.namespace),
        stale_env=fault_rules.stale_env(values) if "stale-pod-env" in faults else {},
    )


def _fullname_from(documents: list[Document], release: str) -> str:
    """Return the fullname of rendered output, from the `<fullname>-config` ConfigMap."""
    for document in documents:
        obj = document.obj
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].endswith("-config"):
            name: str = obj["metadata"]["name"]
            return name[: -len("-config")]
    return release


# ---------------------------------------------------------------------------------------------
# The langsmith-observability namespace.


def _exporter_labels(app: str, chart_version: str) -> JsonObject:
    return {
        "app": app,
        "chart": f"{app}-{chart_version}",
        "release": OBSERVABILITY_RELEASE,
        "heritage": "Helm",
    }


def _exporter_objects(
    app: str,
    chart_version: str,
    image: str,
    port_name: str,
    container_port: int,
    service_port: int,
    env: Mapping[str, str],
) -> list[Document]:
    """Render a prometheus-community exporter chart's Deployment, Service and ServiceAccount."""
    name = f"{OBSERVABILITY_RELEASE}-{app}"
    labels = _exporter_labels(app, chart_version)
    selector = {"app": app, "release": OBSERVABILITY_RELEASE}
    metadata = {"name": name, "namespace": OBSERVABILITY_NAMESPACE, "labels": labels}
    source = f"{OBSERVABILITY_CHART_NAME}/charts/{app}/templates"
    container = {
        "name": app,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "ports": [{"name": port_name, "containerPort": container_port, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"path": "/", "port": port_name}},
        "readinessProbe": {"httpGet": {"path": "/", "port": port_name}},
    }
    return [
        Document(
            f"{source}/serviceaccount.yaml",
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": copy.deepcopy(metadata),
            },
        ),
        Document(
            f"{source}/service.yaml",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": copy.deepcopy(metadata),
                "spec": {
                    "type": "ClusterIP",
                    "ports": [
                        {
                            "name": "http",
                            "port": service_port,
                            "targetPort": container_port,
                            "protocol": "TCP",
                        }
                    ],
                    "selector": selector,
                },
            },
        ),
        Document(
            f"{source}/deployment.yaml",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": copy.deepcopy(metadata),
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": selector},
                    "template": {
                        "metadata": {"labels": dict(labels)},
                        "spec": {"serviceAccountName": name, "containers": [container]},
                    },
                },
            },
        ),
    ]


def _collector_config(langsmith_release: str, langsmith_namespace: str) -> JsonObject:
    """Return the gateway collector's config, with the observability chart's scrape and OTLP
    rules."""
    relabel_common = [
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "k8s_service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "k8s_pod"},
        {"source_labels": ["__address__"], "target_label": "instance"},
    ]
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
                }
            },
            "prometheus": {
                "config": {
                    "scrape_configs": [
                        {
                            "job_name": "langsmith-metrics",
                            "metrics_path": "/metrics",
                            "kubernetes_sd_configs": [
                                {
                                    "role": "endpoints",
                                    "namespaces": {"names": [langsmith_namespace]},
                                }
                            ],
                            "relabel_configs": [
                                {
                                    "source_labels": ["__meta_kubernetes_service_name"],
                                    "action": "keep",
                                    "regex": f"{langsmith_release}-.*",
                                },
                                {
                                    "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                                    "action": "keep",
                                    "regex": f"({SCRAPE_PORT_NAME_REGEX})",
                                },
                                *relabel_common,
                            ],
                        },
                        {
                            "job_name": "database-metrics",
                            "metrics_path": "/metrics",
                            "kubernetes_sd_configs": [
                                {
                                    "role": "endpoints",
                                    "namespaces": {"names": [OBSERVABILITY_NAMESPACE]},
                                }
                            ],
                            "relabel_configs": [
                                {
                                    "source_labels": ["__meta_kubernetes_service_name"],
                                    "action": "keep",
                                    "regex": f"{OBSERVABILITY_RELEASE}-.*",
                                },
                                {
                                    "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                                    "action": "keep",
                                    "regex": "(http)",
                                },
                                *relabel_common,
                            ],
                        },
                    ]
                }
            },
        },
        "processors": {
            "batch": {"send_batch_size": 8192, "timeout": "10s"},
            "memory_limiter": {
                "check_interval": "1m",
                "limit_percentage": 90,
                "spike_limit_percentage": 80,
            },
        },
        "exporters": {
            "otlphttp/traces": {
                "endpoint": f"http://{OBSERVABILITY_RELEASE}-tempo.{OBSERVABILITY_NAMESPACE}"
                ".svc.cluster.local:4318"
            },
        },
        "service": {
            "pipelines": {
                "traces/langsmith": {
                    "receivers": ["otlp"],
                    "processors": ["batch", "memory_limiter"],
                    "exporters": ["otlphttp/traces"],
                }
            }
        },
    }


def _collector_objects(cr_uid_hint: str) -> list[JsonObject]:
    """What the OpenTelemetry Operator creates for a deployment-mode collector named GATEWAY:
    Deployment, Services `-collector`, `-collector-headless`, `-collector-monitoring`, and SA.

    NOTE: the operator puts the monitoring port 8888 only on `-collector-monitoring`. The
    sandbox also lists it on `-collector`, because its pods and checks look for it there.
    """
    del cr_uid_hint
    labels = {
        "app.kubernetes.io/component": "opentelemetry-collector",
        "app.kubernetes.io/instance": f"{OBSERVABILITY_NAMESPACE}.{GATEWAY}",
        "app.kubernetes.io/managed-by": "opentelemetry-operator",
        "app.kubernetes.io/name": GATEWAY_SERVICE,
        "app.kubernetes.io/part-of": "opentelemetry",
        "app.kubernetes.io/version": "0.123.0",
    }
    selector = {
        k: v
        for k, v in labels.items()
        if k != "app.kubernetes.io/name" and k != "app.kubernetes.io/version"
    }
    ports = [("otlp-grpc", OTLP_GRPC_PORT), ("otlp-http", OTLP_HTTP_PORT)]

    def service(
        name: str, service_type: str, port_list: list[tuple[str, int]], headless: bool = False
    ) -> JsonObject:
        spec: JsonObject = {
            "type": "ClusterIP",
            "ports": [
                {
                    "name": n,
                    "port": p,
                    "targetPort": p,
                    "protocol": "TCP",
                    **({"appProtocol": "grpc"} if n == "otlp-grpc" else {}),
                }
                for n, p in port_list
            ],
            "selector": dict(selector),
        }
        if headless:
            spec["clusterIP"] = "None"
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": OBSERVABILITY_NAMESPACE,
                "labels": {
                    **labels,
                    "app.kubernetes.io/name": name,
                    "operator.opentelemetry.io/collector-service-type": service_type,
                },
            },
            "spec": spec,
        }

    container = {
        "name": "otc-container",
        "image": COLLECTOR_IMAGE,
        "args": ["--config=/conf/collector.yaml"],
        "ports": [
            {"name": "otlp-grpc", "containerPort": OTLP_GRPC_PORT, "protocol": "TCP"},
            {"name": "otlp-http", "containerPort": OTLP_HTTP_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 8888, "protocol": "TCP"},
        ],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": GATEWAY_SERVICE,
                "namespace": OBSERVABILITY_NAMESPACE,
                "labels": dict(labels),
            },
        },
        service(GATEWAY_SERVICE, "base", [*ports, ("monitoring", 8888)]),
        service(f"{GATEWAY_SERVICE}-headless", "headless", ports, headless=True),
        service(f"{GATEWAY_SERVICE}-monitoring", "monitoring", [("monitoring", 8888)]),
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": GATEWAY_SERVICE,
                "namespace": OBSERVABILITY_NAMESPACE,
                "labels": dict(labels),
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": dict(selector)},
                "template": {
                    "metadata": {
                        "labels": dict(labels),
                        "annotations": {"opentelemetry-operator-config/sha256": "0" * 64},
                    },
                    "spec": {"serviceAccountName": GATEWAY_SERVICE, "containers": [container]},
                },
            },
        },
    ]


def _gateway_rbac(langsmith_namespace: str) -> list[Document]:
    """Render the chart's gateway Role and RoleBinding in the LangSmith and the observability
    namespaces: read pods, Services and Endpoints, for the scrape jobs' service discovery."""
    source = f"{OBSERVABILITY_CHART_NAME}/templates/otel/rbac-gateway.yaml"
    documents = []
    for namespace in dict.fromkeys((langsmith_namespace, OBSERVABILITY_NAMESPACE)):
        documents.append(
            Document(
                source,
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": f"{GATEWAY}-role", "namespace": namespace},
                    "rules": [
                        {
                            "apiGroups": [""],
                            "resources": ["pods", "services", "endpoints"],
                            "verbs": ["get", "watch", "list"],
                        }
                    ],
                },
            )
        )
        documents.append(
            Document(
                source,
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": f"{GATEWAY}-rolebinding", "namespace": namespace},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": f"{GATEWAY}-role",
                    },
                    "subjects": [
                        {
                            "kind": "ServiceAccount",
                            "name": GATEWAY_SERVICE,
                            "namespace": OBSERVABILITY_NAMESPACE,
                        }
                    ],
                },
            )
        )
    return documents


def observability_release(langsmith: ReleaseSpec, values: JsonObject, now: datetime) -> ReleaseSpec:
    """Lay out the langsmith-observability release: the collector gateway and the database
    exporters that watch the LangSmith release `langsmith`."""
    fullname = _fullname_from(langsmith.documents, langsmith.release)
    services = {
        d.obj["metadata"]["name"] for d in langsmith.documents if d.obj["kind"] == "Service"
    }
    postgres = f"{fullname}-postgres"
    redis = f"{fullname}-redis"
    # NOTE: with external datastores there is no in-cluster PostgreSQL or Redis to watch. The
    # exporters then watch the insights feature's datastores, so that they still report up.
    if postgres not in services:
        postgres = chart.agent_datastore_name(
            chart.naming_for(langsmith.release, langsmith.namespace, values),
            "standalone-insights",
            "postgres",
        )
    if redis not in services:
        redis = chart.agent_datastore_name(
            chart.naming_for(langsmith.release, langsmith.namespace, values),
            "standalone-insights",
            "redis",
        )
    ns = langsmith.namespace
    cr = {
        "apiVersion": "opentelemetry.io/v1beta1",
        "kind": "OpenTelemetryCollector",
        "metadata": {
            "name": GATEWAY,
            "namespace": OBSERVABILITY_NAMESPACE,
            "labels": {
                "app.kubernetes.io/managed-by": "Helm",
                "app.kubernetes.io/instance": OBSERVABILITY_RELEASE,
            },
        },
        "spec": {
            "mode": "deployment",
            "image": COLLECTOR_IMAGE,
            "replicas": 1,
            "config": _collector_config(langsmith.release, ns),
        },
        "status": {
            "image": COLLECTOR_IMAGE,
            "scale": {"replicas": 1, "statusReplicas": "1/1"},
            "version": "0.123.0",
        },
    }
    documents = [
        *_gateway_rbac(ns),
        Document(f"{OBSERVABILITY_CHART_NAME}/templates/otel/gateway-collector.yaml", cr),
        *_exporter_objects(
            "prometheus-postgres-exporter",
            "6.10.2",
            "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
            "http",
            9187,
            80,
            {
                "DATA_SOURCE_URI": (
                    f"{postgres}.{ns}.svc.cluster.local:5432/postgres?sslmode=disable"
                ),
                "DATA_SOURCE_USER": "postgres",
                "DATA_SOURCE_PASS": "postgres",
            },
        ),
        *_exporter_objects(
            "prometheus-redis-exporter",
            "6.11.0",
            "oliver006/redis_exporter:v1.74.0",
            "exporter-port",
            9121,
            9121,
            {"REDIS_ADDR": f"redis://{redis}.{ns}.svc.cluster.local:6379"},
        ),
    ]
    config = {
        "langsmithNamespace": ns,
        "langSmithReleaseName": langsmith.release,
        "postgres-exporter": {"enabled": True},
        "redis-exporter": {"enabled": True},
        "otelCollector": {"metrics": {"enabled": True}, "traces": {"enabled": True}},
    }
    return ReleaseSpec(
        release=OBSERVABILITY_RELEASE,
        namespace=OBSERVABILITY_NAMESPACE,
        chart=helm.ChartMeta(
            OBSERVABILITY_CHART_NAME, "0.2.0", "0.2.0", "LangSmith observability stack (deprecated)"
        ),
        documents=documents,
        chart_values={},
        revisions=_history(OBSERVABILITY_RELEASE, config, 1, frozenset(), now),
        notes="",
        extra_objects=_collector_objects(GATEWAY),
    )


def second_release(namespace: str, faults: frozenset[str], now: datetime) -> ReleaseSpec:
    """Lay out the extra release of the two-releases fault: a small staging copy, tracing off."""
    values = deep_merge(
        chart.BASE_VALUES,
        {
            "insights": {"enabled": False},
            "polly": {"enabled": False},
            "platformBackend": {"deployment": {"replicas": 1}},
            "ingestQueue": {"deployment": {"replicas": 1}},
            "backend": {"deployment": {"replicas": 1}},
        },
    )
    return langsmith_release(
        SECOND_RELEASE,
        namespace,
        values,
        revisions=1,
        faults=faults - fault_rules.STATE_FAULTS,
        now=now,
    )


def release_specs(
    *,
    profile: str,
    manifests: Manifests | None,
    values: JsonObject,
    faults: frozenset[str],
    now: datetime,
) -> list[ReleaseSpec]:
    """Return every release a run lays out; the first is the LangSmith release under test."""
    if manifests is not None:
        main = manifests_release(manifests, values, faults, now)
        main_values = values
    else:
        chosen = get_profile(profile)
        main_values = deep_merge(chosen.values, values)
        main = langsmith_release(
            chosen.release,
            chosen.namespace,
            main_values,
            revisions=chosen.revisions,
            faults=faults,
            now=now,
        )
        # The user-created ConfigMap that the careless values read an SMTP password from.
        main.extra_objects.append(canaries.smtp_config_map(main.namespace))
    specs = [main]
    if "two-releases" in faults:
        specs.append(second_release(main.namespace, faults, now))
    observability = observability_release(main, chart.effective_values(main_values), now)
    # Node log collectors (OpenTelemetry Collector and Fluent Bit DaemonSets with their
    # ConfigMaps) and the collector-* faults: see lsconform/sandbox/logcollectors.py.
    observability.extra_objects += logcollectors.collector_objects(main.namespace, faults)
    specs.append(observability)
    return specs
