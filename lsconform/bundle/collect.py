"""Collection of support bundle artefacts from the Kubernetes API, concurrently and bounded.

Collection runs in two waves on one thread pool of `concurrency` workers. The first wave lists
every resource kind of the namespace, the Helm release Secrets, nodes, the metrics API and the
server version. The second wave fans out per pod and container (logs, previous logs, metrics
snapshots, `/nginx_status`) and per node (log directory listings). Pod descriptions and the
resource summary are rendered from the listed objects, so they cost no request of their own,
unlike `kubectl describe`.

Every failure is recorded as a `CollectionError` with its kind and, for HTTP 403, the missing
RBAC rule; collection goes on. Content stays raw here: `lsconform.bundle.writer` redacts it.
Secret values are read only to learn what to remove from every other file; they are never
returned as bundle content.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from lsconform.bundle.helm import (
    HelmRevision,
    decode_helm_release,
    latest_deployed,
    revision_summary,
)
from lsconform.bundle.manifest import CollectionError
from lsconform.bundle.objects import (
    as_list,
    is_helm_storage,
    looks_like_collector_config,
    node_summary,
    object_key,
    secret_summary,
)
from lsconform.bundle.render import parse_listing, render_history, render_usage
from lsconform.cluster.client import ClusterClient, api_path
from lsconform.cluster.errors import ClusterError, Forbidden, NotFound
from lsconform.cluster.response import HttpResponse
from lsconform.cluster.transport import HttpTarget, PortForwardTransport
from lsconform.constants import (
    COMPONENTS,
    HELM_OWNER_SELECTOR,
    HELM_SECRET_TYPE,
    LABEL_INSTANCE,
    NGINX_STATUS_PATH,
)

logger = logging.getLogger(__name__)

# Logs of the last 24 hours, as LangSmith's own debugging script collects them.
LOG_SINCE_SECONDS = 24 * 3600
# Requests in flight at once against the API server.
DEFAULT_CONCURRENCY = 16
# One file of the bundle is cut at this size (bytes); logs keep their most recent lines.
DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024
# Seconds allowed for one request of the collection.
REQUEST_TIMEOUT = 20.0
# Seconds allowed for one metrics snapshot: Prometheus' default scrape_timeout.
SNAPSHOT_TIMEOUT = 10.0
# A metrics exposition or node listing larger than this (bytes) is cut.
SNAPSHOT_MAX_BYTES = 4 * 1024 * 1024

# Kinds listed in the namespace: what `kubectl get all` covers, plus the objects it leaves out
# that matter for LangSmith (ConfigMaps with the tracing settings, Ingresses, PVCs, RBAC).
NAMESPACE_KINDS: tuple[tuple[str, str], ...] = (
    ("pods", "pods"),
    ("services", "services"),
    ("endpoints", "endpoints"),
    ("deployments", "deployments.apps"),
    ("replicasets", "replicasets.apps"),
    ("statefulsets", "statefulsets.apps"),
    ("daemonsets", "daemonsets.apps"),
    ("jobs", "jobs.batch"),
    ("cronjobs", "cronjobs.batch"),
    ("horizontalpodautoscalers", "horizontalpodautoscalers.autoscaling"),
    ("poddisruptionbudgets", "poddisruptionbudgets.policy"),
    ("ingresses", "ingresses.networking.k8s.io"),
    ("persistentvolumeclaims", "persistentvolumeclaims"),
    ("serviceaccounts", "serviceaccounts"),
    ("roles", "roles.rbac.authorization.k8s.io"),
    ("rolebindings", "rolebindings.rbac.authorization.k8s.io"),
    ("configmaps", "configmaps"),
    ("events", "events"),
    ("opentelemetrycollectors", "opentelemetrycollectors.opentelemetry.io"),
)
# Kinds that are optional extensions: a 404 means the API is not installed, not an error.
OPTIONAL_KINDS = frozenset({"opentelemetrycollectors"})

# The observability chart installs the collector gateway and exporters in this namespace.
DEFAULT_OBSERVABILITY_NAMESPACE = "langsmith-observability"

# Container port names that serve Prometheus metrics: those of the chart's components, and the
# names the exporter and OpenTelemetry Collector charts give their metrics ports.
METRICS_PORT_NAMES = frozenset(
    {component.metrics.port_name for component in COMPONENTS if component.metrics}
    | {"metrics", "http-metrics", "monitoring", "prometheus", "ch-metrics"}
)
# Exporter ports that the prometheus-community charts name `http`.
EXPORTER_PORTS = frozenset({9187, 9121, 9113})
FRONTEND_STATUS_PORT = 8080
# Images of node log collectors: OpenTelemetry Collector, Fluent Bit, Fluentd, Vector, Promtail,
# Grafana Alloy, Filebeat and the Datadog agent.
COLLECTOR_IMAGE = re.compile(
    r"opentelemetry-collector|otelcol|otel/|fluent-bit|fluent/|fluentd|vector|promtail"
    r"|grafana/alloy|filebeat|datadog/agent"
)

_DNS_NAMESPACE = re.compile(r"^[^.]+\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.svc(\..*)?)?$")


class Progress(Protocol):
    """Receives progress: `add` when tasks are planned, `advance` when one finishes."""

    def add(self, count: int) -> None: ...

    def advance(self, description: str) -> None: ...


class NoProgress:
    """A progress sink that shows nothing."""

    def add(self, count: int) -> None:
        """Ignore planned tasks."""

    def advance(self, description: str) -> None:
        """Ignore finished tasks."""


@dataclass
class Artefact:
    """One file to write: a parsed object (`data`) or text, with where it came from.

    `original_size` is set when the content was cut to the per-file cap (bytes before the cut).
    `priority` orders files for the total size cap: lower numbers are kept first.
    """

    path: str
    source: str
    data: Any = None
    text: str | None = None
    original_size: int | None = None
    priority: int = 5


@dataclass
class Collection:
    """Everything a collection produced."""

    artefacts: list[Artefact] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)
    secret_values: list[tuple[str, str]] = field(default_factory=list)
    release: str | None = None


def error_record(artefact: str, source: str, error: BaseException) -> CollectionError:
    """Describe a failed request for the manifest: kind, message and any missing RBAC rule."""
    kind = _ERROR_KINDS.get(type(error).__name__, "error")
    if isinstance(error, ClusterError):
        message = error.render()
    else:
        message = f"{type(error).__name__}: {error}"
    rule = None
    if isinstance(error, Forbidden):
        rule = f"{'/'.join(error.rule.verbs)} {error.rule.resource_name}"
        if error.rule.group:
            rule += f".{error.rule.group}"
        rule += f" in namespace {error.rule.namespace}" if error.rule.namespace else " (cluster)"
    return CollectionError(artefact, source, kind, message, rule)


_ERROR_KINDS = {
    "Forbidden": "forbidden",
    "Unauthorized": "unauthorized",
    "NotFound": "not-found",
    "RequestTimeout": "timeout",
    "TooManyRequests": "throttled",
    "ServerError": "server-error",
    "Unreachable": "unreachable",
    "ConnectionRefused": "unreachable",
    "ResponseTooLarge": "too-large",
    "InvalidResponse": "invalid-response",
}


class Collector:
    """Collect the artefacts of one namespace (and its observability namespace)."""

    def __init__(
        self,
        client: ClusterClient,
        namespace: str,
        *,
        release: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        since_seconds: int = LOG_SINCE_SECONDS,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.release = release
        self.concurrency = max(1, concurrency)
        self.max_file_bytes = max_file_bytes
        self.since_seconds = since_seconds
        self.progress = progress or NoProgress()
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self.result = Collection(release=release)
        self.helm_releases: dict[str, HelmRevision] = {}
        self.server_version: dict[str, Any] = {}
        self.observability_pods: dict[str, list[dict[str, Any]]] = {}
        self._forward: PortForwardTransport | None = None
        self._paths: set[str] = set()
        self._lock = threading.Lock()

    # -- bookkeeping ------------------------------------------------------------------

    def _add(self, artefact: Artefact) -> None:
        with self._lock:
            # A collector ConfigMap can be found twice: in an observability namespace and as
            # the volume of a collector DaemonSet. The first copy wins.
            if artefact.path in self._paths:
                return
            self._paths.add(artefact.path)
            self.result.artefacts.append(artefact)

    def _fail(self, artefact: str, source: str, error: BaseException) -> None:
        record = error_record(artefact, source, error)
        logger.info("could not collect %s: %s", artefact, record.message)
        with self._lock:
            self.result.errors.append(record)

    def _run_wave(
        self, pool: ThreadPoolExecutor, tasks: list[tuple[str, Callable[[], None]]]
    ) -> None:
        self.progress.add(len(tasks))
        futures: list[tuple[str, Future[None]]] = [
            (name, pool.submit(task)) for name, task in tasks
        ]
        for name, future in futures:
            try:
                future.result()
            except Exception as error:  # a bug in one task must not lose the whole bundle
                logger.exception("collecting %s failed", name)
                self._fail(name, "lsconform", error)
            self.progress.advance(name)

    # -- the collection ---------------------------------------------------------------

    def collect(self) -> Collection:
        """Run both waves and return what was collected and what failed."""
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="bundle") as pool:
            first: list[tuple[str, Callable[[], None]]] = [
                (f"list {kind}", _bind(self._list_kind, kind, resource))
                for kind, resource in NAMESPACE_KINDS
            ]
            first += [
                ("secrets", self._collect_secrets),
                ("nodes", self._collect_nodes),
                ("versions", self._collect_server_version),
                ("pod resource usage", self._collect_pod_metrics),
            ]
            self._run_wave(pool, first)
            self._select_release()
            observability = self._observability_namespaces()
            second = self._pod_tasks(self.objects.get("pods", []), self.namespace)
            second += [
                (f"observability {ns}", _bind(self._collect_observability, ns))
                for ns in observability
            ]
            second += [
                (f"node logs {node}", _bind(self._collect_node_listing, node))
                for node in self._pod_nodes()
            ]
            second.append(("log collectors", self._collect_log_collectors))
            self._run_wave(pool, second)
            third = [
                task
                for ns, pods in sorted(self.observability_pods.items())
                for task in self._pod_tasks(pods, ns)
            ]
            self._run_wave(pool, third)
        self._close_port_forward()
        return self.result

    def _close_port_forward(self) -> None:
        # NOTE: PortForwardTransport offers no close(), and its ApiClient keeps pooled TLS
        # connections that would otherwise be left for the garbage collector.
        if self._forward is not None:
            self._forward._api.close()  # type: ignore[no-untyped-call]
            self._forward = None

    def _list_kind(self, kind: str, resource: str) -> None:
        path = api_path(resource, namespace=self.namespace)
        try:
            items = self.client.list(resource, namespace=self.namespace)
        except NotFound as error:
            # A namespaced list returns 404 only when the cluster does not serve the resource
            # type (an API group not installed); an empty namespace gives an empty list.
            record = error_record(f"resources/{kind}.yaml", f"GET {path}", error)
            record.kind = "not-served"
            if kind not in OPTIONAL_KINDS:
                with self._lock:
                    self.result.errors.append(record)
            return
        except ClusterError as error:
            self._fail(f"resources/{kind}.yaml", f"GET {path}", error)
            return
        items.sort(key=object_key)
        with self._lock:
            self.objects[kind] = items
        if kind == "configmaps":
            self._add_configmaps(items, path)
            return
        self._add(
            Artefact(f"resources/{kind}.yaml", f"GET {path}", data=as_list(items), priority=1)
        )

    def _add_configmaps(self, items: list[dict[str, Any]], path: str) -> None:
        for item in items:
            name = item.get("metadata", {}).get("name", "unnamed")
            if is_helm_storage(item):
                # Helm's configmap driver keeps the whole release, user values included,
                # gzipped in data.release; the decoded values are collected under helm/.
                item = {
                    **item,
                    "data": {
                        key: "[omitted: Helm release payload]" for key in item.get("data", {})
                    },
                }
            self._add(Artefact(f"config/{name}.yaml", f"GET {path}", data=item, priority=1))

    def _collect_secrets(self) -> None:
        path = api_path("secrets", namespace=self.namespace)
        try:
            secrets = self.client.list("secrets", namespace=self.namespace)
        except ClusterError as error:
            self._fail("resources/secrets.yaml", f"GET {path}", error)
            self._fail("helm/", f"GET {path}?labelSelector={HELM_OWNER_SELECTOR}", error)
            return
        listing = []
        revisions: list[HelmRevision] = []
        for secret in sorted(secrets, key=object_key):
            self._learn_secret_values(secret)
            listing.append(secret_summary(secret))
            if secret.get("type") == HELM_SECRET_TYPE:
                revision = self._decode_helm(secret)
                if revision is not None:
                    revisions.append(revision)
        self._add(
            Artefact("resources/secrets.yaml", f"GET {path}", data=as_list(listing), priority=1)
        )
        self._add_helm(revisions, f"GET {path}?labelSelector={HELM_OWNER_SELECTOR}")

    def _learn_secret_values(self, secret: Mapping[str, Any]) -> None:
        """Keep a Secret's values (decoded, and as sent) as `(key, value)` pairs to remove."""
        if secret.get("type") == HELM_SECRET_TYPE:
            return  # the Helm payload is decoded and redacted field by field instead
        pairs: list[tuple[str, str]] = []
        for key, encoded in (secret.get("data") or {}).items():
            if not isinstance(encoded, str):
                continue
            pairs.append((str(key), encoded))
            try:
                text = base64.b64decode(encoded, validate=True).decode("utf-8", errors="ignore")
            except (binascii.Error, ValueError):
                continue
            pairs.append((str(key), text))
            pairs.extend((str(key), line.strip()) for line in text.splitlines() if line.strip())
        for key, value in (secret.get("stringData") or {}).items():
            if isinstance(value, str):
                pairs.append((str(key), value))
        with self._lock:
            self.result.secret_values.extend(pairs)

    def _decode_helm(self, secret: Mapping[str, Any]) -> HelmRevision | None:
        name = secret.get("metadata", {}).get("name", "")
        try:
            release = decode_helm_release(str((secret.get("data") or {}).get("release", "")))
        except ValueError as error:
            self._fail(f"helm/{name}", f"Secret {name}", error)
            return None
        info = release.get("info") or {}
        metadata = (release.get("chart") or {}).get("metadata") or {}
        config = release.get("config")
        return HelmRevision(
            name=str(release.get("name", "")),
            revision=int(release.get("version", 0) or 0),
            status=str(info.get("status", "unknown")),
            chart=str(metadata.get("name", "")),
            chart_version=str(metadata.get("version", "")),
            app_version=str(metadata.get("appVersion", "")),
            updated=str(info.get("last_deployed", "")),
            description=str(info.get("description", "")),
            values=config if isinstance(config, dict) else {},
        )

    def _add_helm(self, revisions: list[HelmRevision], source: str) -> None:
        by_release: dict[str, list[HelmRevision]] = {}
        for revision in revisions:
            by_release.setdefault(revision.name, []).append(revision)
        for name, history in sorted(by_release.items()):
            history.sort(key=lambda revision: revision.revision)
            latest = latest_deployed(history)
            self._add(
                Artefact(
                    f"helm/{name}/history.txt", source, text=render_history(history), priority=1
                )
            )
            self._add(
                Artefact(
                    f"helm/{name}/history.json",
                    source,
                    data=[revision_summary(revision) for revision in history],
                    priority=1,
                )
            )
            self._add(
                Artefact(
                    f"helm/{name}/values.yaml",
                    f"{source} (revision {latest.revision}, user-supplied values)",
                    data=latest.values,
                    priority=1,
                )
            )
        with self._lock:
            self.helm_releases.update({name: latest_deployed(h) for name, h in by_release.items()})

    def _collect_nodes(self) -> None:
        try:
            nodes = self.client.list("nodes")
        except ClusterError as error:
            self._fail("resources/nodes.yaml", "GET /api/v1/nodes", error)
            return
        summary = [node_summary(node) for node in sorted(nodes, key=object_key)]
        self._add(
            Artefact("resources/nodes.yaml", "GET /api/v1/nodes", data=as_list(summary), priority=2)
        )

    def _collect_server_version(self) -> None:
        try:
            self.server_version = self.client.server_version()
        except ClusterError as error:
            self._fail("versions.json", "GET /version", error)

    def _collect_pod_metrics(self) -> None:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{quote(self.namespace)}/pods"
        try:
            usage = self.client.get_json(path, timeout=REQUEST_TIMEOUT)
        except NotFound:
            self._add(
                Artefact(
                    "resources/pod-resource-usage.txt",
                    f"GET {path}",
                    text="The metrics API (metrics.k8s.io) is not served by this cluster; "
                    "install metrics-server to record CPU and memory usage.\n",
                )
            )
            return
        except ClusterError as error:
            self._fail("resources/pod-resource-usage.txt", f"GET {path}", error)
            return
        self._add(
            Artefact("resources/pod-resource-usage.txt", f"GET {path}", text=render_usage(usage))
        )

    # -- release and observability ----------------------------------------------------

    def _select_release(self) -> None:
        if self.release:
            return
        releases = self.helm_releases
        langsmith = sorted(name for name, rev in releases.items() if rev.chart == "langsmith")
        if langsmith:
            self.release = langsmith[0]
        else:
            instances = {
                pod.get("metadata", {}).get("labels", {}).get(LABEL_INSTANCE)
                for pod in self.objects.get("pods", [])
            }
            named = sorted(name for name in instances if name)
            self.release = named[0] if named else None
        self.result.release = self.release

    def _observability_namespaces(self) -> list[str]:
        """Find namespaces holding the telemetry pipeline: the OTLP endpoint's, and the default."""
        found = {DEFAULT_OBSERVABILITY_NAMESPACE}
        for configmap in self.objects.get("configmaps", []):
            endpoint = (configmap.get("data") or {}).get("OTLP_ENDPOINT")
            if isinstance(endpoint, str) and endpoint:
                host = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}").hostname or ""
                match = _DNS_NAMESPACE.match(host)
                if match:
                    found.add(match.group(1))
        found.discard(self.namespace)
        return sorted(found)

    def _collect_observability(self, namespace: str) -> None:
        """Collect collector configurations, pods and metrics of an observability namespace."""
        base = f"observability/{namespace}"
        pods: list[dict[str, Any]] = []
        for kind, resource in (
            ("pods", "pods"),
            ("services", "services"),
            ("configmaps", "configmaps"),
            ("opentelemetrycollectors", "opentelemetrycollectors.opentelemetry.io"),
        ):
            path = api_path(resource, namespace=namespace)
            try:
                items = sorted(self.client.list(resource, namespace=namespace), key=object_key)
            except NotFound as error:
                if kind != "opentelemetrycollectors" and "namespaces" in error.render():
                    self._fail(f"{base}/", f"GET {path}", error)
                    return
                continue
            except ClusterError as error:
                self._fail(f"{base}/{kind}.yaml", f"GET {path}", error)
                continue
            if kind == "pods":
                pods = items
            if kind in ("configmaps", "opentelemetrycollectors"):
                for item in items:
                    if kind == "opentelemetrycollectors" or looks_like_collector_config(item):
                        name = item.get("metadata", {}).get("name", "unnamed")
                        singular = kind.removesuffix("s")
                        self._add(
                            Artefact(
                                f"collectors/{namespace}/{singular}-{name}.yaml",
                                f"GET {path}",
                                data=item,
                                priority=2,
                            )
                        )
                if kind == "configmaps":
                    continue
            self._add(
                Artefact(f"{base}/{kind}.yaml", f"GET {path}", data=as_list(items), priority=3)
            )
        with self._lock:
            self.observability_pods[namespace] = pods

    def _collect_log_collectors(self) -> None:
        """Collect node log collector DaemonSets of any namespace and their ConfigMaps."""
        path = "/apis/apps/v1/daemonsets"
        try:
            daemonsets = self.client.list("daemonsets.apps")
        except ClusterError as error:
            self._fail("collectors/ (DaemonSets of all namespaces)", f"GET {path}", error)
            return
        for daemonset in sorted(daemonsets, key=object_key):
            template = (daemonset.get("spec") or {}).get("template") or {}
            pod_spec = template.get("spec") or {}
            images = [str(c.get("image", "")) for c in pod_spec.get("containers") or []]
            if not any(COLLECTOR_IMAGE.search(image) for image in images):
                continue
            namespace, name = object_key(daemonset)
            self._add(
                Artefact(
                    f"collectors/{namespace}/daemonset-{name}.yaml",
                    f"GET {path}",
                    data=daemonset,
                    priority=2,
                )
            )
            for volume in pod_spec.get("volumes") or []:
                configmap = (volume.get("configMap") or {}).get("name")
                if configmap:
                    self._collect_configmap(namespace, str(configmap))

    def _collect_configmap(self, namespace: str, name: str) -> None:
        target = f"collectors/{namespace}/configmap-{name}.yaml"
        path = api_path("configmaps", namespace=namespace, name=name)
        try:
            configmap = self.client.get("configmaps", name, namespace=namespace)
        except ClusterError as error:
            self._fail(target, f"GET {path}", error)
            return
        self._add(Artefact(target, f"GET {path}", data=configmap, priority=2))

    def _pod_nodes(self) -> list[str]:
        nodes = {pod.get("spec", {}).get("nodeName") for pod in self.objects.get("pods", [])}
        return sorted(node for node in nodes if node)

    # -- per pod ----------------------------------------------------------------------

    def _pod_tasks(
        self, pods: Iterable[dict[str, Any]], namespace: str, *, logs: bool = True
    ) -> list[tuple[str, Callable[[], None]]]:
        tasks: list[tuple[str, Callable[[], None]]] = []
        for pod in pods:
            name = pod.get("metadata", {}).get("name", "")
            spec = pod.get("spec", {})
            statuses = {
                status.get("name"): status
                for status in (pod.get("status", {}).get("containerStatuses") or [])
                + (pod.get("status", {}).get("initContainerStatuses") or [])
            }
            containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
            for container in containers:
                cname = container.get("name", "")
                restarts = int((statuses.get(cname) or {}).get("restartCount", 0) or 0)
                if logs:
                    tasks.append(
                        (
                            f"logs {name}/{cname}",
                            _bind(self._collect_log, namespace, name, cname, False),
                        )
                    )
                    if restarts > 0:
                        tasks.append(
                            (
                                f"previous logs {name}/{cname}",
                                _bind(self._collect_log, namespace, name, cname, True),
                            )
                        )
                for port in container.get("ports") or []:
                    number = port.get("containerPort")
                    port_name = port.get("name", "")
                    if port_name in METRICS_PORT_NAMES or number in EXPORTER_PORTS:
                        tasks.append(
                            (
                                f"metrics {name}:{number}",
                                _bind(
                                    self._collect_snapshot, namespace, name, int(number), "/metrics"
                                ),
                            )
                        )
                if _is_frontend(pod, container):
                    tasks.append(
                        (
                            f"nginx_status {name}",
                            _bind(
                                self._collect_snapshot,
                                namespace,
                                name,
                                FRONTEND_STATUS_PORT,
                                NGINX_STATUS_PATH,
                            ),
                        )
                    )
        return tasks

    def _collect_log(self, namespace: str, pod: str, container: str, previous: bool) -> None:
        which = "previous" if previous else "current"
        target = f"logs/{_prefix(namespace, self.namespace)}{pod}_{container}_{which}.log"
        path = api_path("pods", namespace=namespace, name=pod, subresource="log")
        params = {
            "container": container,
            "timestamps": "true",
            "sinceSeconds": str(self.since_seconds),
        }
        if previous:
            params["previous"] = "true"
        source = f"GET {path}?container={container}{'&previous=true' if previous else ''}"
        try:
            response = self.client.request(
                "GET",
                path,
                params=params,
                max_bytes=self.max_file_bytes,
                allow_truncated=True,
                timeout=REQUEST_TIMEOUT,
            )
        except ClusterError as error:
            self._fail(target, source, error)
            return
        text = response.text()
        original = None
        if response.truncated:
            text, original = self._log_tail(path, params, text)
        self._add(Artefact(target, source, text=text, original_size=original, priority=6))

    def _log_tail(self, path: str, params: dict[str, str], head: str) -> tuple[str, int | None]:
        """Fetch the most recent lines of a log longer than the file cap.

        The API returns the oldest bytes first, so after a cut read the tail is requested
        with `tailLines`, estimated from the average line length of the head. The original
        size is not known; the manifest records the cap as a lower bound.
        """
        lines = max(head.count("\n"), 1)
        average = max(len(head.encode()) // lines, 1)
        params = {**params, "tailLines": str(max(self.max_file_bytes // average * 9 // 10, 1))}
        try:
            response = self.client.request(
                "GET",
                path,
                params=params,
                max_bytes=self.max_file_bytes,
                allow_truncated=True,
                timeout=REQUEST_TIMEOUT,
            )
        except ClusterError:
            return head, self.max_file_bytes + 1
        note = "[lsconform: older lines omitted; this log exceeded the bundle's per-file cap]\n"
        return note + response.text(), self.max_file_bytes + 1

    def _collect_snapshot(self, namespace: str, pod: str, port: int, http_path: str) -> None:
        kind = "nginx_status" if http_path == NGINX_STATUS_PATH else "metrics"
        target = f"{kind}/{_prefix(namespace, self.namespace)}{pod}_{port}.txt"
        if kind == "nginx_status" and self._collect_forwarded(
            target, namespace, pod, port, http_path
        ):
            return
        proxy = api_path("pods", namespace=namespace, name=f"{pod}:{port}", subresource="proxy")
        path = f"{proxy}{http_path}"
        try:
            response = self.client.raw_get(
                path, max_bytes=SNAPSHOT_MAX_BYTES, timeout=SNAPSHOT_TIMEOUT
            )
        except ClusterError as error:
            self._fail(target, f"GET {path}", error)
            return
        self._add_snapshot(target, f"GET {path}", response, kind)

    def _collect_forwarded(
        self, target: str, namespace: str, pod: str, port: int, http_path: str
    ) -> bool:
        """Fetch through a port-forward stream, which reaches servers that accept only local
        clients. Return False when the stream cannot be opened, so the proxy is tried."""
        source = f"port-forward {namespace}/{pod}:{port} GET {http_path}"
        try:
            response = self._port_forward().request(
                HttpTarget(namespace, "pod", pod, port),
                http_path,
                timeout=SNAPSHOT_TIMEOUT,
                max_bytes=SNAPSHOT_MAX_BYTES,
            )
        except ClusterError as error:
            logger.info(
                "port-forward to %s/%s:%d failed, trying the API proxy: %s",
                namespace,
                pod,
                port,
                error,
            )
            return False
        self._add_snapshot(target, source, response, "nginx_status")
        return True

    def _port_forward(self) -> PortForwardTransport:
        with self._lock:
            if self._forward is None:
                self._forward = PortForwardTransport(self.client)
            return self._forward

    def _add_snapshot(self, target: str, source: str, response: HttpResponse, kind: str) -> None:
        if response.status != 200:
            message = response.text()[:300].strip()
            hint = ""
            if kind == "nginx_status" and response.status == 403:
                hint = (
                    "; the chart allows /nginx_status only from 127.0.0.1 and ::1, so it answers "
                    "403 through the API server proxy; grant `create` on pods/portforward so "
                    "lsconform can reach it over a port-forward"
                )
            record = CollectionError(
                target,
                source,
                {403: "forbidden", 404: "not-found"}.get(response.status, "http-error"),
                f"HTTP {response.status}: {message}{hint}",
            )
            with self._lock:
                self.result.errors.append(record)
            return
        original = SNAPSHOT_MAX_BYTES + 1 if response.truncated else None
        self._add(
            Artefact(target, source, text=response.text(), original_size=original, priority=4)
        )

    # -- per node ---------------------------------------------------------------------

    def _collect_node_listing(self, node: str) -> None:
        for directory in ("pods", "containers"):
            target = f"nodes/{node}/var-log-{directory}.txt"
            path = f"/api/v1/nodes/{quote(node, safe='')}/proxy/logs/{directory}/"
            try:
                response = self.client.request(
                    "GET",
                    path,
                    max_bytes=SNAPSHOT_MAX_BYTES,
                    allow_truncated=True,
                    timeout=REQUEST_TIMEOUT,
                )
            except ClusterError as error:
                self._fail(target, f"GET {path}", error)
                continue
            entries = [
                entry
                for entry in parse_listing(response.text())
                if self.namespace in entry or DEFAULT_OBSERVABILITY_NAMESPACE in entry
            ]
            text = "".join(f"{entry}\n" for entry in entries)
            self._add(
                Artefact(target, f"GET {path} (entries of this namespace)", text=text, priority=3)
            )


def _bind(function: Callable[..., None], *args: Any) -> Callable[[], None]:
    def task() -> None:
        function(*args)

    return task


def _prefix(namespace: str, main: str) -> str:
    return "" if namespace == main else f"{namespace}/"


def _is_frontend(pod: Mapping[str, Any], container: Mapping[str, Any]) -> bool:
    component = str(
        pod.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component", "")
    )
    return component.endswith("-frontend") and container.get("name") == "frontend"
