"""A compact renderer of the objects the LangSmith Helm chart produces.

`render(release, namespace, values)` returns the documents `helm template` would print for chart
`langsmith` 0.17.0-rc.12 with the same values, limited to what the sandbox plays. That covers the
naming rules (`fullnameOverride`, `nameOverride`, a release name containing the chart name), the
five common labels, selector labels, container and Service ports and their names, probes,
`envFrom` on the `<fullname>-config` ConfigMap, checksum annotations and replica counts. Each
document carries the chart template path that `helm template` prints as its `# Source:` comment.

This is our own description of the chart's shapes, not the chart. Environment variables are a
representative subset: every variable the suite or the simulated services read, plus those that
carry credentials. Only the values listed in `DEFAULT_VALUES` have an effect.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lsconform.constants import (
    CHART_NAME,
    COMPONENTS,
    LABEL_COMPONENT,
    LABEL_HELM_CHART,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_VERSION,
    NGINX_STATUS_PATH,
    Component,
)
from lsconform.sandbox import canaries

JsonObject = dict[str, Any]

CHART_VERSION = "0.17.0-rc.12"
APP_VERSION = "0.17.12rc1"
REGISTRY = "docker.io"
MAX_NAME = 63
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
HOOK_ANNOTATION = "helm.sh/hook"

# The chart's defaults for the values this renderer reads (a subset of its values.yaml).
DEFAULT_VALUES: JsonObject = {
    "nameOverride": "",
    "fullnameOverride": "",
    "namespace": "",
    "commonLabels": {},
    "commonAnnotations": {},
    "commonPodAnnotations": {},
    "commonEnv": [],
    "config": {
        "langsmithLicenseKey": "",
        "apiKeySalt": "",
        "authType": "",
        "initialOrgAdminEmail": "",
        "basicAuth": {"enabled": False, "initialOrgAdminPassword": "", "jwtSecret": ""},
        "logLevel": "info",
        "hostname": "",
        "deployment": {"enabled": False},
        "observability": {
            "tracing": {
                "enabled": False,
                "endpoint": "",
                "env": "ls_self_hosted",
                "exporter": "http",
                "useTls": True,
            }
        },
        "telemetry": {"logs": True, "metrics": True, "traces": True},
    },
    "ingestQueue": {"enabled": True},
    "frontend": {"enabled": True},
    "hostBackend": {"enabled": False},
    "operator": {"enabled": True},
    "clickhouse": {"enabled": True, "external": {"enabled": False}},
    "postgres": {"external": {"enabled": False}},
    "redis": {"external": {"enabled": False}},
    "insights": {"enabled": True, "encryptionKey": ""},
    "polly": {"enabled": True, "encryptionKey": ""},
}
# Like the chart's values.yaml, the defaults hold a block per component, so that user values
# such as `backend.deployment.extraEnv` are keys the chart reads (discovery reports unknown ones).
for _component in COMPONENTS:
    _block = DEFAULT_VALUES.setdefault(_component.key, {})
    if _component.kind == "StatefulSet":
        _block.setdefault("statefulSet", {"replicas": _component.replicas})
    else:
        _block.setdefault("deployment", {"replicas": _component.replicas, "extraEnv": []})


class ChartError(ValueError):
    """Values the chart would refuse to render (its `validate.yaml` rules)."""


@dataclass(frozen=True)
class Document:
    """One rendered manifest: the object, the template it came from, and whether it is a hook."""

    source: str
    obj: JsonObject

    @property
    def is_hook(self) -> bool:
        annotations = self.obj.get("metadata", {}).get("annotations") or {}
        return HOOK_ANNOTATION in annotations


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> JsonObject:
    """Merge `override` into a copy of `base` the way Helm merges user values into defaults."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# Values the sandbox profiles start from: the chart's required values, with a canary (a
# distinctive fake secret from lsconform.sandbox.canaries) for every credential.
BASE_VALUES: JsonObject = deep_merge(
    {
        "config": {
            "authType": "mixed",
            "initialOrgAdminEmail": "admin@example.com",
            "basicAuth": {"enabled": True},
        },
    },
    canaries.CREDENTIAL_VALUES,
)


def lookup(values: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """Return `values[a][b][c]` for "a.b.c", or `default` when any step is missing."""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def chart_name(values: Mapping[str, Any]) -> str:
    """`langsmith.name`: nameOverride or the chart name, cut to 63 characters."""
    return (values.get("nameOverride") or CHART_NAME)[:MAX_NAME].rstrip("-")


def fullname(release: str, values: Mapping[str, Any]) -> str:
    """`langsmith.fullname`: the prefix of every object name.

    fullnameOverride wins. Otherwise the release name alone when it contains the chart name (or
    nameOverride) as a substring, else `<release>-<name>`; always cut to 63 characters.
    """
    override = values.get("fullnameOverride")
    if override:
        return str(override)[:MAX_NAME].rstrip("-")
    name = values.get("nameOverride") or CHART_NAME
    if name in release:
        return release[:MAX_NAME].rstrip("-")
    return f"{release}-{name}"[:MAX_NAME].rstrip("-")


@dataclass(frozen=True)
class Naming:
    """The names and labels one release's objects share."""

    release: str
    namespace: str
    fullname: str
    name: str
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]

    def labels(self, component: str | None = None) -> JsonObject:
        labels: JsonObject = dict(self.common_labels)
        labels.update(
            {
                LABEL_HELM_CHART: f"{CHART_NAME}-{CHART_VERSION}".replace("+", "_")[:MAX_NAME],
                LABEL_NAME: self.name,
                LABEL_INSTANCE: self.release,
                LABEL_VERSION: APP_VERSION,
                LABEL_MANAGED_BY: "Helm",
            }
        )
        if component:
            labels[LABEL_COMPONENT] = component
        return labels

    def annotations(self, *, sync_wave: bool = False) -> JsonObject:
        annotations: JsonObject = {SYNC_WAVE: "-2"} if sync_wave else {}
        annotations.update(self.common_annotations)
        annotations.update(self.labels())
        return annotations

    def selector(self, component: str) -> JsonObject:
        return {LABEL_NAME: self.name, LABEL_INSTANCE: self.release, LABEL_COMPONENT: component}

    def metadata(
        self, name: str, *, component_label: str | None = None, sync_wave: bool = False
    ) -> JsonObject:
        return {
            "name": name,
            "namespace": self.namespace,
            "labels": self.labels(component_label),
            "annotations": self.annotations(sync_wave=sync_wave),
        }

    def service_host(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.cluster.local"


def naming_for(release: str, namespace: str, values: Mapping[str, Any]) -> Naming:
    """Return the naming rules for a release, with `values.namespace` overriding the namespace."""
    return Naming(
        release=release,
        namespace=values.get("namespace") or namespace,
        fullname=fullname(release, values),
        name=chart_name(values),
        common_labels=dict(values.get("commonLabels") or {}),
        common_annotations=dict(values.get("commonAnnotations") or {}),
    )


# ---------------------------------------------------------------------------------------------
# Which components a set of values enables.

# Template folder of each core component in the chart, used for `# Source:` paths.
_TEMPLATE_DIRS = {
    "backend": "backend",
    "platformBackend": "platform-backend",
    "playground": "playground",
    "aceBackend": "ace-backend",
    "queue": "queue",
    "ingestQueue": "ingest-queue",
    "frontend": "frontend",
    "hostBackend": "host-backend",
    "listener": "listener",
    "operator": "operator",
    "clickhouse": "clickhouse",
    "postgres": "postgres",
    "redis": "redis",
}

# Images of the core components (section "Images" of the chart's values).
_IMAGES = {
    "frontend": f"{REGISTRY}/langchain/langsmith-frontend:{APP_VERSION}",
    "aceBackend": f"{REGISTRY}/langchain/langsmith-ace-backend:{APP_VERSION}",
    "operator": f"{REGISTRY}/langchain/langgraph-operator:0.1.47",
    "clickhouse": f"{REGISTRY}/clickhouse/clickhouse-server:25.12",
    "postgres": f"{REGISTRY}/postgres:14.7",
    "redis": f"{REGISTRY}/redis:7",
}
_BACKEND_IMAGE = f"{REGISTRY}/langchain/langsmith-backend:{APP_VERSION}"

# Components whose pods run the Python/Go LangSmith services (they read LOG_LEVEL and the
# datastore URIs).
_SERVICE_KEYS = frozenset(
    {"backend", "platformBackend", "queue", "ingestQueue", "hostBackend", "listener"}
)


def is_enabled(component: Component, values: Mapping[str, Any]) -> bool:
    """Return whether the chart renders `component` with these values."""
    deployment_enabled = bool(lookup(values, "config.deployment.enabled", False))
    key = component.key
    if key == "ingestQueue":
        return bool(lookup(values, "ingestQueue.enabled", True))
    if key == "frontend":
        return bool(lookup(values, "frontend.enabled", True))
    if key == "hostBackend":
        return deployment_enabled or bool(lookup(values, "hostBackend.enabled", False))
    if key == "listener":
        return deployment_enabled
    if key == "operator":
        return deployment_enabled and bool(lookup(values, "operator.enabled", True))
    if key == "clickhouse":
        return bool(lookup(values, "clickhouse.enabled", True)) and not clickhouse_external(values)
    if key in ("postgres", "redis"):
        return not bool(lookup(values, f"{key}.external.enabled", False))
    return True


def clickhouse_external(values: Mapping[str, Any]) -> bool:
    return bool(lookup(values, "clickhouse.external.enabled", False))


def component_suffix(component: Component, values: Mapping[str, Any]) -> str:
    """Return the `<comp>.name` value, which users may change (default: the component's
    suffix)."""
    return str(lookup(values, f"{component.key}.name", component.suffix) or component.suffix)


def replicas_of(component: Component, values: Mapping[str, Any]) -> int:
    if component.key == "clickhouse":
        return 1
    if component.kind == "StatefulSet":
        path = f"{component.key}.statefulSet.replicas"
    else:
        path = f"{component.key}.deployment.replicas"
    return int(lookup(values, path, component.replicas))


# ---------------------------------------------------------------------------------------------
# Agent features (insights, polly): Deployments and datastores with their own naming rule.


@dataclass(frozen=True)
class AgentFeature:
    key: str
    name_prefix: str
    image: str


AGENT_FEATURES = (
    AgentFeature("insights", "standalone-insights", "langsmith-insights-engine"),
    AgentFeature("polly", "standalone-polly", "langsmith-polly"),
)


def agent_datastore_name(naming: Naming, prefix: str, store: str) -> str:
    """Name of an agent feature's Postgres or Redis: the fullname is cut so the whole name is at
    most 52 characters (51 minus the length of `<namePrefix>-<store>`)."""
    tail = f"{prefix}-{store}"
    return f"{naming.fullname[: max(51 - len(tail), 0)].rstrip('-')}-{tail}"


# ---------------------------------------------------------------------------------------------
# Rendering.


def render(release: str, namespace: str, values: Mapping[str, Any]) -> list[Document]:
    """Render the chart for one release; `values` are the user values (merged over defaults).

    Raises `ChartError` for values the chart itself would reject at render time.
    """
    effective = deep_merge(DEFAULT_VALUES, values)
    _validate(effective)
    renderer = _Renderer(naming_for(release, namespace, effective), effective)
    return renderer.documents()


def effective_values(values: Mapping[str, Any]) -> JsonObject:
    """Return the chart defaults with the user values merged in."""
    return deep_merge(DEFAULT_VALUES, values)


def _validate(values: Mapping[str, Any]) -> None:
    tracing = lookup(values, "config.observability.tracing", {}) or {}
    if tracing.get("enabled") and not tracing.get("endpoint"):
        raise ChartError(
            "config.observability.tracing.endpoint is required when tracing is enabled "
            "(the chart fails to render without it)"
        )
    if lookup(values, "config.deployment.enabled", False) and not lookup(
        values, "config.hostname", ""
    ):
        raise ChartError("config.deployment.enabled needs config.hostname")
    if not isinstance(values.get("commonEnv", []), list):
        raise ChartError("commonEnv must be a list of {name, value} entries")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _sha256(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _http_probe(path: str, port: int, failure_threshold: int = 6, timeout: int = 1) -> JsonObject:
    return {
        "failureThreshold": failure_threshold,
        "httpGet": {"path": path, "port": port},
        "periodSeconds": 10,
        "timeoutSeconds": timeout,
    }


def _exec_probe(command: str) -> JsonObject:
    return {
        "exec": {"command": ["/bin/sh", "-c", command]},
        "failureThreshold": 6,
        "periodSeconds": 10,
        "timeoutSeconds": 1,
    }


def _secret_ref(name: str, secret: str, key: str, optional: bool = False) -> JsonObject:
    return {
        "name": name,
        "valueFrom": {"secretKeyRef": {"key": key, "name": secret, "optional": optional}},
    }


class _Renderer:
    """Renders one release; methods return documents in the order `helm template` prints kinds."""

    def __init__(self, naming: Naming, values: JsonObject) -> None:
        self.naming = naming
        self.values = values
        self.fullname = naming.fullname
        self.enabled = [c for c in COMPONENTS if is_enabled(c, values)]

    def documents(self) -> list[Document]:
        config_map = self.config_map()
        docs: list[Document] = []
        docs += list(self.service_accounts())
        secrets = list(self.secrets())
        docs += secrets
        config_maps = [*self.clickhouse_config_map(), config_map, *self.frontend_config_map()]
        docs += config_maps
        docs += list(self.rbac())
        docs += list(self.services())
        checksums = self._checksums(config_maps, secrets)
        docs += list(self.agent_deployments())
        docs += [self.deployment(c, checksums) for c in self._core_of_kind("Deployment")]
        docs += list(self.agent_statefulsets())
        docs += [self.statefulset(c, checksums) for c in self._core_of_kind("StatefulSet")]
        docs += list(self.hooks())
        return docs

    # Names.

    def object_name(self, component: Component) -> str:
        return f"{self.fullname}-{component_suffix(component, self.values)}"

    def _core_of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.enabled if c.kind == kind]

    def _dir(self, component: Component) -> str:
        return f"{CHART_NAME}/templates/{_TEMPLATE_DIRS[component.key]}"

    # ServiceAccounts, Secrets, ConfigMaps, RBAC.

    def service_accounts(self) -> Iterator[Document]:
        for feature in self._agent_features():
            base = f"{CHART_NAME}/templates/agent-features/{feature.key}"
            for part in ("api-server", "postgres", "queue", "redis"):
                if part in ("postgres", "redis"):
                    name = agent_datastore_name(self.naming, feature.name_prefix, part)
                else:
                    name = f"{self.fullname}-{feature.name_prefix}-{part}"
                yield Document(f"{base}/{part}/serviceaccount.yaml", self._service_account(name))
        for component in sorted(self.enabled, key=lambda c: _TEMPLATE_DIRS[c.key]):
            sync_wave = component.key in ("backend", "clickhouse", "postgres", "redis")
            yield Document(
                f"{self._dir(component)}/service-account.yaml",
                self._service_account(self.object_name(component), sync_wave=sync_wave),
            )

    def _service_account(self, name: str, *, sync_wave: bool = False) -> JsonObject:
        return {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": self.naming.metadata(name, sync_wave=sync_wave),
            "automountServiceAccountToken": True,
        }

    def _secret(self, name: str, data: Mapping[str, str], *, sync_wave: bool = True) -> JsonObject:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": self.naming.metadata(name, sync_wave=sync_wave),
            "data": {key: _b64(value) for key, value in data.items()},
        }

    def secrets(self) -> Iterator[Document]:
        for feature in self._agent_features():
            base = f"{CHART_NAME}/templates/agent-features/{feature.key}"
            pg = agent_datastore_name(self.naming, feature.name_prefix, "postgres")
            redis = agent_datastore_name(self.naming, feature.name_prefix, "redis")
            pg_url = f"postgres:postgres@{self.naming.service_host(pg)}:5432/postgres"
            yield Document(
                f"{base}/postgres/secrets.yaml",
                self._secret(
                    pg,
                    {
                        "postgres_user": "postgres",
                        "postgres_password": "postgres",
                        "postgres_db": "postgres",
                        "postgres_connection_url": pg_url,
                    },
                    sync_wave=False,
                ),
            )
            redis_url = f"redis://{self.naming.service_host(redis)}:6379"
            yield Document(
                f"{base}/redis/secrets.yaml",
                self._secret(redis, {"redis_connection_url": redis_url}, sync_wave=False),
            )
        yield Document(
            f"{CHART_NAME}/templates/clickhouse/secrets.yaml",
            self._secret(f"{self.fullname}-clickhouse", self._clickhouse_secret_data()),
        )
        yield Document(
            f"{CHART_NAME}/templates/postgres/secrets.yaml",
            self._secret(f"{self.fullname}-postgres", self._postgres_secret_data()),
        )
        redis_url = str(
            lookup(self.values, "redis.external.connectionUrl", "")
            or f"redis://{self.naming.service_host(self.fullname + '-redis')}:6379"
        )
        yield Document(
            f"{CHART_NAME}/templates/redis/secrets.yaml",
            self._secret(f"{self.fullname}-redis", {"connection_url": redis_url}),
        )
        yield Document(
            f"{CHART_NAME}/templates/secrets.yaml",
            self._secret(f"{self.fullname}-secrets", self._app_secret_data()),
        )

    def _postgres_secret_data(self) -> dict[str, str]:
        external = lookup(self.values, "postgres.external", {}) or {}
        if external.get("enabled"):
            return {"connection_url": str(external.get("connectionUrl", ""))}
        host = self.naming.service_host(f"{self.fullname}-postgres")
        return {
            "postgres_user": "postgres",
            "postgres_password": "postgres",
            "postgres_db": "postgres",
            "connection_url": f"postgres:postgres@{host}:5432/postgres",
        }

    def _clickhouse_secret_data(self) -> dict[str, str]:
        external = lookup(self.values, "clickhouse.external", {}) or {}
        if external.get("enabled"):
            return {
                "clickhouse_host": str(external.get("host", "")),
                "clickhouse_port": str(external.get("port", "8123")),
                "clickhouse_native_port": str(external.get("nativePort", "9000")),
                "clickhouse_user": str(external.get("user", "default")),
                "clickhouse_password": str(external.get("password", "")),
                "clickhouse_db": str(external.get("database", "default")),
                "clickhouse_tls": str(external.get("tls", False)).lower(),
            }
        return {
            "clickhouse_host": self.naming.service_host(f"{self.fullname}-clickhouse"),
            "clickhouse_port": "8123",
            "clickhouse_native_port": "9000",
            "clickhouse_user": "default",
            "clickhouse_password": "password",
            "clickhouse_db": "default",
            "clickhouse_tls": "false",
        }

    def _app_secret_data(self) -> dict[str, str]:
        config = self.values.get("config", {})
        basic = config.get("basicAuth", {})
        data = {key: "" for key in _APP_SECRET_KEYS}
        data.update(
            {
                "langsmith_license_key": str(config.get("langsmithLicenseKey", "")),
                "api_key_salt": str(config.get("apiKeySalt", "")),
                "jwt_secret": str(basic.get("jwtSecret", "")),
                "initial_org_admin_password": str(basic.get("initialOrgAdminPassword", "")),
                "insights_encryption_key": str(lookup(self.values, "insights.encryptionKey", "")),
                "polly_encryption_key": str(lookup(self.values, "polly.encryptionKey", "")),
            }
        )
        return data

    def tracing_data(self) -> dict[str, str]:
        """Return the OTEL keys of `<fullname>-config`, exactly as the chart renders them.

        With tracing off the chart writes only OTEL_TRACING_ENABLED="false" and OTLP_ENDPOINT="";
        the other keys are absent, not empty.
        """
        tracing = lookup(self.values, "config.observability.tracing", {}) or {}
        if not tracing.get("enabled"):
            return {"OTEL_TRACING_ENABLED": "false", "OTLP_ENDPOINT": ""}
        use_tls = bool(tracing.get("useTls", True))
        return {
            "OTEL_TRACING_ENABLED": "true",
            "OTLP_ENDPOINT": str(tracing.get("endpoint", "")),
            "OTEL_ENVIRONMENT": str(tracing.get("env", "ls_self_hosted")),
            "OTEL_EXPORTER": str(tracing.get("exporter", "http")),
            "OTEL_USE_TLS": "true" if use_tls else "false",
            "OTEL_EXPORTER_OTLP_INSECURE": "false" if use_tls else "true",
        }

    def config_data(self) -> dict[str, str]:
        config = self.values.get("config", {})
        auth_type = str(config.get("authType", ""))
        basic = "true" if lookup(config, "basicAuth.enabled", False) else "false"
        host = self.naming.service_host
        fn = self.fullname
        telemetry = config.get("telemetry", {})
        metrics = "true" if telemetry.get("metrics", True) else "false"
        data = {
            "VITE_BACKEND_AUTH_TYPE": auth_type,
            "AUTH_TYPE": auth_type,
            "BASIC_AUTH_ENABLED": basic,
            "VITE_BASIC_AUTH_ENABLED": basic,
            "INITIAL_ORG_NAME": "Default",
            "DEFAULT_WORKSPACE_NAME": "Workspace 1",
            "LANGCHAIN_ENV": "local_kubernetes",
            "LANGCHAIN_ENDPOINT": "/api/v1",
            "GO_ENDPOINT": f"http://{host(fn + '-platform-backend')}:1986",
            "LANGSMITH_PUBLIC_API_ENDPOINT": "/api",
            "DEFAULT_ORG_FEATURE_ENGINE_DEFAULT_ENABLED": "false",
            "GO_ACE_ENDPOINT": f"http://{host(fn + '-ace-backend')}:1987",
            "PLAYGROUND_ENDPOINT": f"http://{host(fn + '-playground')}:1988",
            "SMITH_BACKEND_ENDPOINT": f"http://{host(fn + '-backend')}:1984",
            "HOST_BACKEND_ENDPOINT": f"http://{host(fn + '-host-backend')}:1985",
            "LANGSMITH_AUTH_ENDPOINT": f"http://{host(fn + '-platform-backend')}:1986",
            "AUTH_ENDPOINT": f"http://{host(fn + '-platform-backend')}:1986",
            "CLICKHOUSE_INGESTION_ENABLED": "true",
            "CLICKHOUSE_QUERY_ENABLED": "true",
            "SMITHDB_INGESTION_ENABLED": "false",
            "SMITHDB_QUERY_ENABLED": "false",
            "FF_RUN_STATS_GROUP_BY_ENABLED_ALL": "true",
            "SEPARATE_QUEUES_WITH_SINGLE_WORKER": '["host"]',
            "RUN_RULES_REDIS_DEDUP_TENANTS": '["*"]',
            "RUN_RULES_LIMIT_RRA_RECORDS_PER_BATCH_TENANTS": '["*"]',
        }
        data.update(self.tracing_data())
        data.update(
            {
                "ENABLE_POSTGRES_METRICS_CRON": metrics,
                "ENABLE_REDIS_METRICS_CRON": metrics,
                "ENABLE_CLICKHOUSE_METRICS_CRON": metrics,
                "BEACON_LOGGING_ENABLED": "true" if telemetry.get("logs", True) else "false",
                "BEACON_METRICS_ENABLED": metrics,
                "BEACON_TRACING_ENABLED": "true" if telemetry.get("traces", True) else "false",
                "FEEDBACK_CONFIG_SKIP_INGEST_CH_WRITE": "true",
                "FF_USE_PG_FOR_FEEDBACK_CONFIGS_FETCH_ENABLED_ALL": "true",
                "FF_USE_PG_FOR_FEEDBACK_FETCH_ENABLED_ALL": "true",
                "IS_SELF_HOSTED": "true",
                "SELF_HOSTED_POLLY_ENABLED": "true" if self._feature_on("polly") else "false",
                "ORG_ADMINS_INSTALLATION_USAGE_EXPORT_ENABLED": "false",
                "CORS_ALLOWED_ORIGINS": "*",
            }
        )
        return data

    def config_map(self) -> Document:
        return Document(
            f"{CHART_NAME}/templates/config-map.yaml",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": self.naming.metadata(f"{self.fullname}-config", sync_wave=True),
                "data": self.config_data(),
            },
        )

    def clickhouse_config_map(self) -> Iterator[Document]:
        if not any(c.key == "clickhouse" for c in self.enabled):
            return
        yield Document(
            f"{CHART_NAME}/templates/clickhouse/config-map.yaml",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": self.naming.metadata(f"{self.fullname}-clickhouse", sync_wave=True),
                "data": {
                    "logging_config.xml": _CLICKHOUSE_LOGGING,
                    "metrics_config.xml": _CLICKHOUSE_METRICS,
                    "telemetry_config.xml": "<clickhouse></clickhouse>\n",
                    "users.xml": "<clickhouse></clickhouse>\n",
                },
            },
        )

    def frontend_config_map(self) -> Iterator[Document]:
        if not any(c.key == "frontend" for c in self.enabled):
            return
        yield Document(
            f"{CHART_NAME}/templates/frontend/config-map.yaml",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": self.naming.metadata(f"{self.fullname}-frontend"),
                "data": {"nginx.conf": frontend_nginx_conf(self.fullname, self.naming.namespace)},
            },
        )

    def rbac(self) -> Iterator[Document]:
        keys = {c.key for c in self.enabled}
        namespace = self.naming.namespace
        for key, role_name, binding_name in (
            ("hostBackend", "host-backend-role", "host-backend-rolebinding"),
            ("listener", "listener", "listener"),
        ):
            if key not in keys:
                continue
            sa = f"{self.fullname}-{_TEMPLATE_DIRS[key]}"
            role = f"{self.fullname}-{role_name}"
            yield Document(
                f"{CHART_NAME}/templates/{_TEMPLATE_DIRS[key]}/role.yaml",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": self.naming.metadata(role),
                    "rules": [
                        {
                            "apiGroups": ["", "apps"],
                            "resources": ["pods", "services", "deployments", "secrets"],
                            "verbs": ["get", "list", "watch", "create", "update", "delete"],
                        }
                    ],
                },
            )
            yield Document(
                f"{CHART_NAME}/templates/{_TEMPLATE_DIRS[key]}/role-binding.yaml",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": self.naming.metadata(f"{self.fullname}-{binding_name}"),
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": role,
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
                },
            )

    # Services.

    def services(self) -> Iterator[Document]:
        for feature in self._agent_features():
            base = f"{CHART_NAME}/templates/agent-features/{feature.key}"
            api = f"{self.fullname}-{feature.name_prefix}-api-server"
            yield Document(
                f"{base}/api-server/service.yaml",
                self._service(api, [("http", 80, "api-server")], component_label=False),
            )
            for store, port in (("postgres", 5432), ("redis", 6379)):
                name = agent_datastore_name(self.naming, feature.name_prefix, store)
                yield Document(
                    f"{base}/{store}/service.yaml",
                    self._service(name, [(store, port, store)], component_label=False),
                )
        for component in sorted(self.enabled, key=lambda c: _TEMPLATE_DIRS[c.key]):
            if not component.service_ports:
                continue
            service_type = "LoadBalancer" if component.key == "frontend" else "ClusterIP"
            yield Document(
                f"{self._dir(component)}/service.yaml",
                self._service(
                    self.object_name(component),
                    list(component.service_ports),
                    service_type=service_type,
                    sync_wave=component.kind == "StatefulSet",
                ),
            )

    def _service(
        self,
        name: str,
        ports: list[tuple[str, int, str | int]],
        *,
        service_type: str = "ClusterIP",
        component_label: bool = True,
        sync_wave: bool = False,
    ) -> JsonObject:
        metadata = self.naming.metadata(
            name, component_label=name if component_label else None, sync_wave=sync_wave
        )
        spec: JsonObject = {
            "type": service_type,
            "ports": [
                {"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}
                for port_name, port, target in ports
            ],
            "selector": self.naming.selector(name),
        }
        return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}

    # Workloads.

    def _checksums(self, config_maps: list[Document], secrets: list[Document]) -> JsonObject:
        by_name = {d.obj["metadata"]["name"]: d.obj for d in config_maps + secrets}
        fn = self.fullname
        return {
            "checksum/config": _sha256(by_name.get(f"{fn}-config")),
            "checksum/frontend-config": _sha256(by_name.get(f"{fn}-frontend")),
            "checksum/secrets": _sha256(by_name.get(f"{fn}-secrets")),
            "checksum/redis": _sha256(by_name.get(f"{fn}-redis")),
            "checksum/postgres": _sha256(by_name.get(f"{fn}-postgres")),
            "checksum/clickhouse": _sha256(by_name.get(f"{fn}-clickhouse")),
        }

    def _pod_annotations(self, component: Component, checksums: JsonObject) -> JsonObject:
        annotations: JsonObject = dict(self.values.get("commonPodAnnotations") or {})
        if component.key in ("postgres", "redis"):
            return annotations
        if component.key in ("clickhouse", "operator"):
            annotations["checksum/config"] = checksums["checksum/config"]
            return annotations
        annotations.update(checksums)
        return annotations

    def container(self, component: Component) -> JsonObject:
        container: JsonObject = {
            "name": component.container,
            "image": _IMAGES.get(component.key, _BACKEND_IMAGE),
            "imagePullPolicy": "IfNotPresent",
        }
        env = self._env(component)
        if env:
            container["env"] = env
        if component.reads_config:
            container["envFrom"] = [{"configMapRef": {"name": f"{self.fullname}-config"}}]
        if component.ports:
            container["ports"] = [
                {"name": name, "containerPort": port, "protocol": "TCP"}
                for name, port in component.ports
            ]
        container.update(self._probes(component))
        return container

    def _probes(self, component: Component) -> JsonObject:
        if component.key == "operator":
            return {
                "readinessProbe": _http_probe("/readyz", 8081),
                "livenessProbe": _http_probe("/healthz", 8081),
            }
        if component.key == "postgres":
            probe = _exec_probe("exec pg_isready -d postgres -U postgres")
            return {"startupProbe": probe, "livenessProbe": probe, "readinessProbe": probe}
        if component.key == "redis":
            probe = _exec_probe("exec redis-cli ping")
            return {"startupProbe": probe, "livenessProbe": probe, "readinessProbe": probe}
        assert component.health_path is not None
        assert component.health_port is not None
        threshold = 10 if component.key == "frontend" else 6
        timeout = 10 if component.key == "backend" else 1
        probe = _http_probe(component.health_path, component.health_port, threshold, timeout)
        probes: JsonObject = {
            "startupProbe": probe,
            "livenessProbe": probe,
            "readinessProbe": probe,
        }
        if component.key == "queue":
            probes["livenessProbe"] = {
                "exec": {
                    "command": ["saq", "app.workers.queues.single_queue_worker.settings", "--check"]
                },
                "failureThreshold": 6,
                "periodSeconds": 60,
                "timeoutSeconds": 60,
            }
        return probes

    def _env(self, component: Component) -> list[JsonObject]:
        fn = self.fullname
        key = component.key
        env: list[JsonObject] = []
        if key in _SERVICE_KEYS:
            env += [
                _secret_ref("POSTGRES_DATABASE_URI", f"{fn}-postgres", "connection_url"),
                _secret_ref("REDIS_DATABASE_URI", f"{fn}-redis", "connection_url"),
                _secret_ref("CLICKHOUSE_HOST", f"{fn}-clickhouse", "clickhouse_host"),
                _secret_ref("CLICKHOUSE_PASSWORD", f"{fn}-clickhouse", "clickhouse_password"),
                {"name": "LOG_LEVEL", "value": str(lookup(self.values, "config.logLevel", "info"))},
                _secret_ref("LANGSMITH_LICENSE_KEY", f"{fn}-secrets", "langsmith_license_key"),
                _secret_ref("API_KEY_SALT", f"{fn}-secrets", "api_key_salt"),
            ]
            if component.ports:
                env.append({"name": "PORT", "value": str(component.ports[0][1])})
        elif key == "playground":
            env += [
                {"name": "PORT", "value": "1988"},
                {"name": "LOG_LEVEL", "value": str(lookup(self.values, "config.logLevel", "info"))},
            ]
        elif key == "aceBackend":
            env.append({"name": "PORT", "value": "1987"})
        elif key == "frontend":
            env += [
                {"name": "VITE_SELF_HOSTED_CLIO_ENABLED", "value": "true"},
                {"name": "VITE_SELF_HOSTED_POLLY_ENABLED", "value": "true"},
            ]
        elif key == "clickhouse":
            env += [
                _secret_ref("CLICKHOUSE_DB", f"{fn}-clickhouse", "clickhouse_db"),
                _secret_ref("CLICKHOUSE_USER", f"{fn}-clickhouse", "clickhouse_user"),
                _secret_ref("CLICKHOUSE_PASSWORD", f"{fn}-clickhouse", "clickhouse_password"),
            ]
        elif key == "postgres":
            env += _postgres_env(f"{fn}-postgres", "postgres_")
        # ace-backend and playground skip commonEnv in the chart (they count as sandboxed).
        if key not in ("aceBackend", "playground", "postgres", "redis", "clickhouse", "operator"):
            env += [dict(item) for item in self.values.get("commonEnv") or []]
        env += [dict(item) for item in lookup(self.values, f"{key}.deployment.extraEnv", []) or []]
        return env

    def _pod_spec(self, service_account: str, containers: list[JsonObject]) -> JsonObject:
        return {
            "terminationGracePeriodSeconds": 30,
            "securityContext": {},
            "serviceAccountName": service_account,
            "dnsConfig": {"options": [{"name": "ndots", "value": "4"}]},
            "containers": containers,
        }

    def deployment(self, component: Component, checksums: JsonObject) -> Document:
        name = self.object_name(component)
        container = self.container(component)
        spec = self._pod_spec(name, [container])
        if component.key == "frontend":
            container["volumeMounts"] = [
                {
                    "mountPath": "/etc/nginx/conf.d/default.conf",
                    "name": "nginx-conf",
                    "subPath": "nginx.conf",
                    "readOnly": True,
                }
            ]
            spec["volumes"] = [
                {
                    "name": "nginx-conf",
                    "configMap": {
                        "name": f"{self.fullname}-frontend",
                        "items": [{"key": "nginx.conf", "path": "nginx.conf"}],
                    },
                }
            ]
        obj = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self.naming.metadata(name),
            "spec": {
                "replicas": replicas_of(component, self.values),
                "selector": {"matchLabels": self.naming.selector(name)},
                "template": {
                    "metadata": {
                        "annotations": self._pod_annotations(component, checksums),
                        "labels": self.naming.labels(name),
                    },
                    "spec": spec,
                },
            },
        }
        return Document(f"{self._dir(component)}/deployment.yaml", obj)

    def statefulset(self, component: Component, checksums: JsonObject) -> Document:
        name = self.object_name(component)
        storage = "50Gi" if component.key == "clickhouse" else "8Gi"
        mount = {"clickhouse": "/var/lib/clickhouse", "postgres": "/var/lib/postgresql/data"}
        container = self.container(component)
        container["volumeMounts"] = [
            {"mountPath": mount.get(component.key, "/data"), "name": "data"}
        ]
        obj = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": self.naming.metadata(name, sync_wave=True),
            "spec": {
                "serviceName": name,
                "replicas": replicas_of(component, self.values),
                "selector": {"matchLabels": self.naming.selector(name)},
                "template": {
                    "metadata": {
                        "annotations": self._pod_annotations(component, checksums),
                        "labels": self.naming.labels(name),
                    },
                    "spec": self._pod_spec(name, [container]),
                },
                "volumeClaimTemplates": [_volume_claim(self.naming.selector(name), storage)],
            },
        }
        return Document(f"{self._dir(component)}/stateful-set.yaml", obj)

    def _agent_features(self) -> list[AgentFeature]:
        return [f for f in AGENT_FEATURES if self._feature_on(f.key)]

    def _feature_on(self, key: str) -> bool:
        return bool(lookup(self.values, f"{key}.enabled", True))

    def agent_deployments(self) -> Iterator[Document]:
        """Render the insights and polly api-server and queue Deployments.

        They read `<fullname>-config` through envFrom but carry no checksum annotation, so they
        keep the environment they started with until someone restarts them.
        """
        for feature in self._agent_features():
            image = f"{REGISTRY}/langchain/{feature.image}:{APP_VERSION}"
            pg = agent_datastore_name(self.naming, feature.name_prefix, "postgres")
            redis = agent_datastore_name(self.naming, feature.name_prefix, "redis")
            for part in ("api-server", "queue"):
                name = f"{self.fullname}-{feature.name_prefix}-{part}"
                ok_start = "/ok?check_db=1" if part == "api-server" else "/ok"
                ok = "/ok?check_db=0" if part == "api-server" else "/ok"
                env = [
                    _secret_ref(
                        "POSTGRES_DATABASE_URI", f"{self.fullname}-postgres", "connection_url"
                    ),
                    _secret_ref("REDIS_DATABASE_URI", f"{self.fullname}-redis", "connection_url"),
                    _secret_ref("POSTGRES_URI", pg, "postgres_connection_url"),
                    _secret_ref("REDIS_URI", redis, "redis_connection_url"),
                    {
                        "name": "LOG_LEVEL",
                        "value": str(lookup(self.values, "config.logLevel", "info")),
                    },
                    {"name": "PORT", "value": "8000"},
                    *[dict(item) for item in self.values.get("commonEnv") or []],
                ]
                container = {
                    "name": part,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "env": env,
                    "envFrom": [{"configMapRef": {"name": f"{self.fullname}-config"}}],
                    "ports": [{"name": part, "containerPort": 8000, "protocol": "TCP"}],
                    "startupProbe": _http_probe(ok_start, 8000),
                    "readinessProbe": _http_probe(ok, 8000),
                    "livenessProbe": _http_probe(ok, 8000),
                }
                obj = {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": self.naming.metadata(name),
                    "spec": {
                        "replicas": int(
                            lookup(self.values, f"{feature.key}.{_camel(part)}.replicas", 1)
                        ),
                        "selector": {"matchLabels": self.naming.selector(name)},
                        "template": {
                            "metadata": {
                                "annotations": dict(self.values.get("commonPodAnnotations") or {}),
                                "labels": self.naming.labels(name),
                            },
                            "spec": self._pod_spec(name, [container]),
                        },
                    },
                }
                yield Document(
                    f"{CHART_NAME}/templates/agent-features/{feature.key}/{part}/deployment.yaml",
                    obj,
                )

    def agent_statefulsets(self) -> Iterator[Document]:
        for feature in self._agent_features():
            for store, port in (("postgres", 5432), ("redis", 6379)):
                name = agent_datastore_name(self.naming, feature.name_prefix, store)
                container: JsonObject = {
                    "name": store,
                    "image": _IMAGES[store],
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"name": store, "containerPort": port, "protocol": "TCP"}],
                }
                if store == "postgres":
                    container["env"] = _postgres_env(name, "postgres_")
                    probe = _exec_probe("exec pg_isready -d postgres -U postgres")
                else:
                    probe = _exec_probe("exec redis-cli ping")
                container.update(
                    {"startupProbe": probe, "readinessProbe": probe, "livenessProbe": probe}
                )
                mount = "/var/lib/postgresql/data" if store == "postgres" else "/data"
                container["volumeMounts"] = [{"mountPath": mount, "name": "data"}]
                obj = {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "metadata": self.naming.metadata(name),
                    "spec": {
                        "serviceName": name,
                        "replicas": 1,
                        "selector": {"matchLabels": self.naming.selector(name)},
                        "template": {
                            "metadata": {"annotations": {}, "labels": self.naming.labels(name)},
                            "spec": self._pod_spec(name, [container]),
                        },
                        "volumeClaimTemplates": [_volume_claim(self.naming.selector(name), "8Gi")],
                    },
                }
                yield Document(
                    f"{CHART_NAME}/templates/agent-features/{feature.key}/{store}/statefulset.yaml",
                    obj,
                )

    # Hooks.

    def hooks(self) -> Iterator[Document]:
        """The backend hook Jobs; Helm keeps them in the release's `hooks`, not its manifest."""
        clickhouse = bool(lookup(self.values, "clickhouse.enabled", True))
        auth_type = str(lookup(self.values, "config.authType", ""))
        basic_auth = bool(lookup(self.values, "config.basicAuth.enabled", False))
        specs: list[tuple[str, str, str, str, str, str, int]] = [
            (
                "backfill-check",
                "backend-backfill-check",
                "backfill-check",
                "pre-upgrade",
                "-2",
                "before-hook-creation",
                600,
            ),
        ]
        if clickhouse:
            specs.append(
                (
                    "clickhouse-migrations",
                    "backend-ch-migrations",
                    "ch-migrations",
                    "post-install, pre-upgrade",
                    "-1",
                    "before-hook-creation",
                    600,
                )
            )
        specs.append(
            (
                "postgres-migrations",
                "backend-migrations",
                "pg-migrations",
                "post-install, pre-upgrade",
                "-1",
                "before-hook-creation",
                600,
            )
        )
        if basic_auth:
            specs.append(
                (
                    "auth-bootstrap",
                    "backend-auth-bootstrap",
                    "auth-bootstrap",
                    "post-install, post-upgrade",
                    "0",
                    "",
                    600,
                )
            )
        if basic_auth or auth_type == "mixed":
            specs.append(
                ("e2e-test", "e2e-test", "e2e-test", "post-install, post-upgrade", "1", "", 10)
            )
        for template, suffix, container_name, events, weight, policy, ttl in specs:
            yield self._hook_job(template, suffix, container_name, events, weight, policy, ttl)

    def _hook_job(
        self,
        template: str,
        suffix: str,
        container_name: str,
        events: str,
        weight: str,
        policy: str,
        ttl: int,
    ) -> Document:
        name = f"{self.fullname}-{suffix}"
        metadata = self.naming.metadata(name)
        hook_annotations: JsonObject = {HOOK_ANNOTATION: events, "helm.sh/hook-weight": weight}
        if policy:
            hook_annotations["helm.sh/hook-delete-policy"] = policy
        metadata["annotations"] = {**hook_annotations, **metadata["annotations"]}
        backend = next(c for c in COMPONENTS if c.key == "backend")
        env = [e for e in self._env(backend) if e["name"] != "PORT"]
        container = {
            "name": container_name,
            "image": _BACKEND_IMAGE,
            "imagePullPolicy": "IfNotPresent",
            "env": env,
            "envFrom": [{"configMapRef": {"name": f"{self.fullname}-config"}}],
        }
        obj = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": {
                "backoffLimit": 3,
                "ttlSecondsAfterFinished": ttl,
                "template": {
                    "metadata": {"labels": self.naming.labels(name)},
                    "spec": {
                        "restartPolicy": "Never",
                        "serviceAccountName": f"{self.fullname}-backend",
                        "containers": [container],
                    },
                },
            },
        }
        return Document(f"{CHART_NAME}/templates/backend/{template}.yaml", obj)


def _camel(part: str) -> str:
    head, *rest = part.split("-")
    return head + "".join(word.title() for word in rest)


def _postgres_env(secret: str, prefix: str) -> list[JsonObject]:
    return [
        _secret_ref("POSTGRES_DB", secret, f"{prefix}db"),
        _secret_ref("POSTGRES_USER", secret, f"{prefix}user"),
        _secret_ref("POSTGRES_PASSWORD", secret, f"{prefix}password"),
        {"name": "PGDATA", "value": "/var/lib/postgresql/data/postgres"},
    ]


def _volume_claim(labels: JsonObject, storage: str) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "labels": dict(labels)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": storage}},
        },
    }


_APP_SECRET_KEYS = (
    "agent_builder_encryption_key",
    "api_key_salt",
    "azure_storage_account_key",
    "azure_storage_connection_string",
    "blob_storage_access_key",
    "blob_storage_access_key_secret",
    "engine_encryption_key",
    "engine_encryption_key_previous",
    "initial_org_admin_password",
    "insights_encryption_key",
    "insights_encryption_key_previous",
    "jwt_secret",
    "langsmith_license_key",
    "langsmith_signing_jwks",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_issuer_url",
    "polly_encryption_key",
)

_CLICKHOUSE_METRICS = """<clickhouse>
  <prometheus>
    <endpoint>/metrics</endpoint>
    <port>9363</port>
    <metrics>true</metrics>
    <events>true</events>
    <asynchronous_metrics>true</asynchronous_metrics>
    <errors>true</errors>
  </prometheus>
</clickhouse>
"""

_CLICKHOUSE_LOGGING = """<clickhouse>
  <logger>
    <level>warning</level>
    <log>/var/log/clickhouse-server/clickhouse.log</log>
    <errorlog>/var/log/clickhouse-server/clickhouse.err.log</errorlog>
    <size>1000M</size>
    <count>10</count>
    <console>true</console>
  </logger>
</clickhouse>
"""


def frontend_nginx_conf(fullname: str, namespace: str) -> str:
    """Return a compact nginx.conf with the chart's rules that matter to telemetry: the JSON
    access log to stdout, /health unlogged, and /nginx_status allowed only from 127.0.0.1 and
    ::1."""
    backend = f"{fullname}-backend.{namespace}.svc.cluster.local"
    return f"""log_format cache_log_json escape=json
'{{'
    '"remote_addr":"$remote_addr",'
    '"remote_user":"$remote_user",'
    '"time_local":"$time_local",'
    '"request":"$request",'
    '"status":$status,'
    '"body_bytes_sent":$body_bytes_sent,'
    '"http_referer":"$http_referer",'
    '"http_user_agent":"$http_user_agent",'
    '"cache_status":"$upstream_cache_status"'
'}}';

server {{
    listen       8080;
    listen  [::]:8080;
    server_name  localhost;
    access_log /dev/stdout cache_log_json;

    location / {{
        root   /tmp/build;
        index  index.html index.htm;
        try_files $uri $uri/ /index.html;
    }}

    location = /health {{
        access_log off;
        return 200;
    }}

    location = {NGINX_STATUS_PATH} {{
        stub_status on;
        access_log off;
        allow 127.0.0.1;
        allow ::1;
        deny all;
    }}

    location /api/v1 {{
        proxy_pass http://{backend}:1984;
    }}
}}
"""
