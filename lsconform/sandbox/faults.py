"""The sandbox's named faults: what each breaks, the real case it reproduces, and who applies it.

Every part of the sandbox receives the whole set of fault names and applies its own. The state
builder (`state`) changes objects, values and pod plans. The pod processes (`pods`) change what a
pod serves or writes. `both` means each side does its part. This module also holds the
state-side appliers, called by the state builder at fixed stages (values, documents, pods,
Helm revisions).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from lsconform.constants import OTLP_GRPC_PORT, OTLP_HTTP_PORT, OTLP_HTTP_TRACES_PATH
from lsconform.sandbox.chart import Document, deep_merge

Applier = Literal["state", "pods", "both"]
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Fault:
    name: str
    area: str
    description: str
    case: str
    """The real failure this reproduces, in a sentence."""
    applier: Applier


FAULTS: tuple[Fault, ...] = (
    # discovery and metrics
    Fault(
        "backend-metrics-down",
        "metrics",
        "backend pods do not listen on their metrics port 1984: connections are refused",
        "a service whose metrics listener is down while the pod still reports ready",
        "pods",
    ),
    Fault(
        "metrics-timeout",
        "metrics",
        "backend /metrics answers slower than any scrape timeout",
        "a scrape that exceeds scrape_timeout and marks the target down",
        "pods",
    ),
    Fault(
        "metrics-malformed",
        "metrics",
        "backend /metrics declares a family twice and breaks label escaping",
        "one bad line poisons the whole scrape (duplicate TYPE, unescaped label value)",
        "pods",
    ),
    Fault(
        "metrics-html",
        "metrics",
        "backend /metrics answers 200 with an HTML page",
        "an SPA fallback or proxy error page served where exposition text is expected",
        "pods",
    ),
    Fault(
        "histogram-broken",
        "metrics",
        "a latency histogram with non-cumulative buckets and no +Inf bucket",
        "histograms Prometheus rejects or quantiles that come out wrong",
        "pods",
    ),
    Fault(
        "metrics-families-missing",
        "metrics",
        "backend /metrics lacks the families the official dashboards query",
        "dashboards stay empty although the scrape succeeds",
        "pods",
    ),
    Fault(
        "port-name-renamed",
        "discovery",
        "the backend Service port is named http instead of backend",
        "the observability chart's scrape job keeps only ports named "
        "backend|platform|playground|host-backend|metrics, so it drops the backend",
        "state",
    ),
    Fault(
        "replica-not-ready",
        "discovery",
        "one backend pod is not ready and absent from the Endpoints",
        "a replica that fails readiness is silently missing from every scrape",
        "state",
    ),
    Fault(
        "clickhouse-metrics-off",
        "metrics",
        "nothing listens on ClickHouse's metrics port 9363",
        "the Prometheus block of the ClickHouse config is disabled",
        "pods",
    ),
    Fault(
        "nginx-status-missing",
        "metrics",
        "the frontend nginx has no /nginx_status location (the SPA answers with HTML)",
        "a custom nginx.conf without stub_status; the status path returns index.html",
        "pods",
    ),
    Fault(
        "exporter-down",
        "metrics",
        "the postgres exporter cannot reach PostgreSQL (pg_up 0)",
        "an exporter aimed at the wrong host scrapes fine but reports the database down",
        "pods",
    ),
    Fault(
        "two-releases",
        "discovery",
        "a second LangSmith release (langsmith-staging) in the same namespace",
        "discovery picks the wrong release unless the user names one",
        "state",
    ),
    Fault(
        "helm-secret-corrupt",
        "discovery",
        "the latest Helm release Secret cannot be decoded",
        "a truncated or hand-edited release Secret",
        "state",
    ),
    Fault(
        "release-failed",
        "discovery",
        "the latest revision is failed and the previous one is still deployed",
        "an upgrade that failed: the cluster runs the older revision",
        "state",
    ),
    # logs
    Fault(
        "logs-missing-on-node",
        "logs",
        "a backend container's log file is absent from /var/log/pods on its node",
        "log rotation or a kubelet log path change leaves collectors nothing to read",
        "pods",
    ),
    Fault(
        "logs-link-dangling",
        "logs",
        "a /var/log/containers link points to a file that does not exist",
        "symlinks that dangle inside a collector that mounts only /var/log/containers",
        "pods",
    ),
    Fault(
        "container-silent",
        "logs",
        "a backend container writes no log lines at all",
        "a service logging to a file inside the container instead of stdout",
        "pods",
    ),
    Fault(
        "crashloop",
        "logs",
        "the queue container restarted after exiting with code 1; its previous log holds the crash",
        "a container in CrashLoopBackOff whose cause is only in `kubectl logs --previous`",
        "both",
    ),
    Fault(
        "collector-excludes-namespace",
        "logs",
        "the log collector's filter drops the LangSmith namespace",
        "a filter written for another namespace drops every LangSmith record",
        "pods",
    ),
    Fault(
        "collector-glob-wrong",
        "logs",
        "the log collector's include glob matches no file",
        "an include pattern that does not match /var/log/pods/<ns>_<pod>_<uid>/<c>/<n>.log",
        "pods",
    ),
    Fault(
        "collector-no-mount",
        "logs",
        "the log collector does not mount /var/log/pods",
        "a collector DaemonSet without the hostPath volume finds no files",
        "pods",
    ),
    Fault(
        "collector-docker-parser",
        "logs",
        "the log collector parses CRI lines with the Docker JSON parser",
        "containerd nodes write CRI lines; a JSON parser rejects every one",
        "pods",
    ),
    Fault(
        "collector-absent",
        "logs",
        "no log collector runs on the nodes",
        "logs enabled in the dashboards but no agent tails the LangSmith pods",
        "pods",
    ),
    Fault(
        "rbac-no-node-proxy",
        "logs",
        "the suite runs with a Role that lacks nodes/proxy",
        "node log listing is forbidden; the check must say which RBAC rule is missing",
        "state",
    ),
    # traces
    Fault(
        "tracing-values-misplaced",
        "traces",
        "user values put observability.tracing at the top level, so tracing stays off",
        "the chart's tracing example puts observability: at the top level while the chart "
        "reads config.observability.tracing",
        "state",
    ),
    Fault(
        "tls-mismatch",
        "traces",
        "useTls true with an http:// endpoint to a plaintext collector",
        "the chart's default useTls: true makes services attempt TLS against plaintext",
        "both",
    ),
    Fault(
        "http-to-grpc-port",
        "traces",
        "OTLP/HTTP exporter aimed at the collector's gRPC port 4317",
        "OTLP/HTTP sent to the gRPC port fails with protocol errors",
        "both",
    ),
    Fault(
        "traces-path-missing",
        "traces",
        "OTLP/HTTP endpoint without the /v1/traces path",
        "a full-URL endpoint without /v1/traces gets 404 from the collector",
        "both",
    ),
    Fault(
        "collector-localhost-only",
        "traces",
        "the collector's OTLP receivers listen on localhost only",
        "collector 0.104 and later bind receivers to localhost by default",
        "pods",
    ),
    Fault(
        "collector-partial-success",
        "traces",
        "the collector answers with partial_success rejecting spans",
        "partial_success rejections look like success to a client that ignores them",
        "pods",
    ),
    Fault(
        "collector-down",
        "traces",
        "the collector process is not running",
        "spans are dropped with connection refused",
        "pods",
    ),
    Fault(
        "stale-pod-env",
        "traces",
        "the config ConfigMap changed after an agent-feature pod started; that pod still "
        "runs with the old env",
        "agent-feature Deployments read the ConfigMap through envFrom but have no "
        "checksum/config annotation, so they keep the old env until restarted",
        "state",
    ),
    # support bundle
    Fault(
        "pod-vanishes",
        "bundle",
        "a backend pod is deleted during collection (on the first log request for it)",
        "a pod replaced by a rollout between listing and reading its logs",
        "state",
    ),
)

FAULTS_BY_NAME = {fault.name: fault for fault in FAULTS}
STATE_FAULTS = frozenset(f.name for f in FAULTS if f.applier in ("state", "both"))
POD_FAULTS = frozenset(f.name for f in FAULTS if f.applier in ("pods", "both"))


class UnknownFaultError(ValueError):
    """A fault name not in the registry."""


def validate_faults(names: Iterable[str]) -> tuple[str, ...]:
    """Return the names sorted and deduplicated; reject unknown names, listing the known ones."""
    unique = sorted(set(names))
    unknown = [name for name in unique if name not in FAULTS_BY_NAME]
    if unknown:
        known = ", ".join(sorted(FAULTS_BY_NAME))
        raise UnknownFaultError(
            f"unknown fault {', '.join(repr(n) for n in unknown)}; known faults: {known}"
        )
    return tuple(unique)


# ---------------------------------------------------------------------------------------------
# State-side appliers. Each takes the fault set and changes one stage's data.

GATEWAY_HOST = (
    "langsmith-observability-collector-gateway-collector.langsmith-observability.svc.cluster.local"
)


def adjust_values(faults: Iterable[str], values: JsonObject) -> JsonObject:
    """Apply the faults that live in the user values."""
    faults = set(faults)
    values = copy.deepcopy(values)
    tracing_path = ("config", "observability", "tracing")
    if "tls-mismatch" in faults:
        values = deep_merge(values, _nest(tracing_path, {"useTls": True}))
    if "http-to-grpc-port" in faults:
        endpoint = f"http://{GATEWAY_HOST}:{OTLP_GRPC_PORT}{OTLP_HTTP_TRACES_PATH}"
        values = deep_merge(values, _nest(tracing_path, {"exporter": "http", "endpoint": endpoint}))
    if "traces-path-missing" in faults:
        endpoint = f"http://{GATEWAY_HOST}:{OTLP_HTTP_PORT}"
        values = deep_merge(values, _nest(tracing_path, {"exporter": "http", "endpoint": endpoint}))
    if "tracing-values-misplaced" in faults:
        observability = values.get("config", {}).pop("observability", None)
        if observability:
            values["observability"] = observability
    return values


def _nest(path: tuple[str, ...], leaf: JsonObject) -> JsonObject:
    node: JsonObject = leaf
    for key in reversed(path):
        node = {key: node}
    return node


def adjust_documents(faults: Iterable[str], documents: list[Document], fullname: str) -> None:
    """Apply the faults that change rendered objects (in place)."""
    if "port-name-renamed" not in set(faults):
        return
    for document in documents:
        obj = document.obj
        if obj["kind"] == "Service" and obj["metadata"]["name"] == f"{fullname}-backend":
            for port in obj["spec"]["ports"]:
                if port.get("name") == "backend":
                    port["name"] = "http"


def stale_env(values: JsonObject) -> dict[str, str]:
    """Return the OTEL env an agent-feature pod kept from before tracing was configured: the
    chart's tracing-off keys."""
    del values
    return {"OTEL_TRACING_ENABLED": "false", "OTLP_ENDPOINT": ""}


RBAC_NO_NODE_PROXY_ROLE = """\
# A ClusterRole for the conformance suite that lacks nodes/proxy, so node log listing
# (GET /api/v1/nodes/<node>/proxy/logs/) is forbidden.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: lsconform-reader-without-node-proxy
rules:
  - apiGroups: [""]
    resources: [namespaces, nodes, pods, pods/log, services, endpoints, configmaps, secrets,
                events, serviceaccounts]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [services/proxy, pods/proxy, pods/portforward]
    verbs: [get, create]
  - apiGroups: [apps, batch, discovery.k8s.io, opentelemetry.io, rbac.authorization.k8s.io]
    resources: ["*"]
    verbs: [get, list, watch]
"""
