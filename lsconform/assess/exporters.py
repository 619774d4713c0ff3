"""Evidence for the Postgres and Redis exporter checks.

The LangSmith chart deploys no exporter. Operators run prometheus-community's postgres_exporter
and redis_exporter (directly or through the langsmith-observability chart), usually in the
release namespace or an observability namespace. An exporter that runs and is scraped can still
report nothing: it then serves `pg_up 0` or `redis_up 0`, for example when its target address
points at another namespace. So the check finds the exporter, reads its own metrics, and compares
its target with the release's datastore Service.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lsconform.assess.targets import ExporterTarget
from lsconform.cluster.errors import ClusterError, Forbidden, NotFound
from lsconform.cluster.transport import HttpTarget, Transport
from lsconform.probes.exposition import parse_exposition
from lsconform.results import Area, CheckResult, Severity, Status
from lsconform.settings import Settings

log = logging.getLogger(__name__)

# Names the upstream charts and images give each exporter (chart name, container image).
EXPORTER_NAMES = {
    "postgres": ("prometheus-postgres-exporter", "postgres-exporter", "postgres_exporter"),
    "redis": ("prometheus-redis-exporter", "redis-exporter", "redis_exporter"),
}
UP_METRIC = {"postgres": "pg_up", "redis": "redis_up"}
EXPORTER_PORT = {"postgres": 9187, "redis": 9121}
# Environment variables through which each exporter receives its target address.
TARGET_ENV = {
    "postgres": ("DATA_SOURCE_NAME", "DATA_SOURCE_URI", "PG_EXPORTER_URI"),
    "redis": ("REDIS_ADDR",),
}
NAMESPACE_HINTS = re.compile(r"observability|monitoring|prometheus|metrics")


@dataclass(frozen=True)
class FoundExporter:
    """An exporter Service (or pod when it has none) and the address it scrapes."""

    namespace: str
    kind: str  # "service" or "pod"
    name: str
    port: int | str
    target_host: str | None
    workload: str = ""


def search_namespaces(
    client: Any, release: Any, settings: Settings
) -> tuple[list[str], Forbidden | None]:
    """Return the release namespace, the namespaces the user named, and likely observability
    ones, with the Forbidden error when the suite may not list namespaces."""
    names = [release.namespace, *settings.exporter_namespaces]
    denied: Forbidden | None = None
    try:
        for item in client.list("namespaces"):
            name = item.get("metadata", {}).get("name", "")
            if NAMESPACE_HINTS.search(name):
                names.append(name)
    except Forbidden as error:
        # Listing namespaces is a cluster-scoped permission many users lack.
        denied = error
    except ClusterError as error:
        log.warning("listing namespaces to look for exporters failed: %s", error)
    return list(dict.fromkeys(names)), denied


def _is_exporter(obj: dict[str, Any], datastore: str) -> bool:
    metadata = obj.get("metadata", {})
    labels = metadata.get("labels") or {}
    values = {str(v) for v in labels.values()} | {str(metadata.get("name", ""))}
    for name in EXPORTER_NAMES[datastore]:
        if any(name in value for value in values):
            return True
    containers = obj.get("spec", {}).get("template", {}).get("spec", {}) or obj.get("spec", {})
    for container in containers.get("containers", []) or []:
        if any(name in str(container.get("image", "")) for name in EXPORTER_NAMES[datastore]):
            return True
    return False


def _target_host(pod_spec: dict[str, Any], datastore: str) -> str | None:
    """The host the exporter scrapes, from its environment; credentials are never kept."""
    for container in pod_spec.get("containers", []) or []:
        for env in container.get("env", []) or []:
            if env.get("name") in TARGET_ENV[datastore] and env.get("value"):
                return _host_of(str(env["value"]))
        for arg in (container.get("args") or []) + (container.get("command") or []):
            text = str(arg)
            if text.startswith(("--redis.addr=", "--redis.addr ")):
                return _host_of(text.split("=", 1)[-1])
    return None


def _host_of(address: str) -> str | None:
    text = address.strip()
    if "://" not in text:
        text = "tcp://" + text.split("?", 1)[0]
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if host:
        return host
    match = re.search(r"host=([^\s]+)", address)
    return match.group(1) if match else None


def find_exporters(
    client: Any, namespaces: list[str], datastore: str
) -> tuple[list[FoundExporter], list[str]]:
    """Find exporter workloads and their Services; also return namespaces that were forbidden."""
    found: list[FoundExporter] = []
    forbidden: list[str] = []
    # One round of concurrent lists, so that API latency is paid once, not per namespace.
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="lsconform-exporters") as pool:
        listed = {
            namespace: (
                pool.submit(client.list, "deployments.apps", namespace=namespace),
                pool.submit(client.list, "services", namespace=namespace),
            )
            for namespace in namespaces
        }
    for namespace in namespaces:
        try:
            deployments = listed[namespace][0].result()
            services = listed[namespace][1].result()
        except Forbidden:
            forbidden.append(namespace)
            continue
        except NotFound:
            continue
        for deployment in deployments:
            if not _is_exporter(deployment, datastore):
                continue
            pod_spec = deployment.get("spec", {}).get("template", {}).get("spec", {})
            host = _target_host(pod_spec, datastore)
            selector = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {})
            labels = (
                deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
            )
            service = _service_for(services, labels)
            if service is not None:
                port = service["spec"]["ports"][0].get("port")
                found.append(
                    FoundExporter(
                        namespace,
                        "service",
                        service["metadata"]["name"],
                        port,
                        host,
                        deployment["metadata"]["name"],
                    )
                )
            elif selector:
                found.append(
                    FoundExporter(
                        namespace,
                        "deployment",
                        deployment["metadata"]["name"],
                        EXPORTER_PORT[datastore],
                        host,
                        deployment["metadata"]["name"],
                    )
                )
    return found, forbidden


def _service_for(services: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any] | None:
    for service in services:
        spec = service.get("spec", {})
        selector = spec.get("selector") or {}
        matches = bool(selector) and all(labels.get(k) == v for k, v in selector.items())
        if matches and spec.get("ports"):
            return service
    return None


def check_exporter(
    target: ExporterTarget, client: Any, transport: Transport, release: Any, settings: Settings
) -> CheckResult:
    """An exporter for the release's in-cluster datastore exists, scrapes it, and reports up."""
    datastore = target.datastore

    def result(status: Status, summary: str, remedy: str = "", **evidence: Any) -> CheckResult:
        return CheckResult(
            check_id="metrics.exporter",
            area=Area.METRICS,
            component=datastore,
            target=target.id,
            status=status,
            summary=summary,
            evidence=evidence,
            remedy=remedy,
            severity=Severity.WARNING,
        )

    if target.external:
        return result(
            Status.SKIP,
            f"{datastore} is external to the release; its metrics must come from the provider",
        )
    namespaces, namespaces_denied = search_namespaces(client, release, settings)
    exporters, forbidden = find_exporters(client, namespaces, datastore)
    if not exporters and namespaces_denied is not None and not settings.exporter_namespaces:
        return result(
            Status.ERROR,
            f"no {datastore} exporter in {', '.join(namespaces)}, and other namespaces could "
            f"not be searched: {namespaces_denied}",
            "grant list on namespaces, or name the exporter's namespace with "
            f"--exporter-namespace:\n{namespaces_denied.rule_yaml()}",
            searched=namespaces,
        )
    if not exporters:
        if forbidden:
            return result(
                Status.ERROR,
                f"could not look for a {datastore} exporter: listing is forbidden in "
                f"{', '.join(forbidden)}",
                searched=namespaces,
                remedy="grant list on deployments and services in those namespaces, or name "
                "the exporter's namespace with --exporter-namespace",
            )
        return result(
            Status.WARN,
            f"no {datastore} exporter found; the {datastore} dashboard stays empty",
            f"deploy prometheus-community's {EXPORTER_NAMES[datastore][0]} chart pointed at the "
            f"release's {datastore} Service, or name its namespace with --exporter-namespace",
            searched=namespaces,
        )
    exporter = exporters[0]
    http = HttpTarget(
        namespace=exporter.namespace, kind="service", name=exporter.name, port=exporter.port
    )
    if exporter.kind != "service":
        return result(
            Status.WARN,
            f"{datastore} exporter {exporter.namespace}/{exporter.name} "
            "has no Service, so no endpoints-based scrape job can find it",
            "add a Service for the exporter (port name http)",
        )
    try:
        response = transport.request(
            http, "/metrics", timeout=settings.probe_timeout, max_bytes=settings.body_limit
        )
    except Forbidden as error:
        return result(
            Status.ERROR,
            f"could not read the exporter: {error}",
            f"grant this rule:\n{error.rule_yaml()}",
        )
    except ClusterError as error:
        return result(
            Status.FAIL,
            f"the {datastore} exporter does not answer: {error}",
            "check the exporter pod's logs",
            **dict(error.evidence),
        )
    exposition = parse_exposition(response.body, response.content_type or None)
    up_metric = UP_METRIC[datastore]
    family = exposition.families.get(up_metric)
    values = [sample[2] for sample in family.samples] if family is not None else []
    expected_host = _datastore_host(release, target)
    evidence = {
        "exporter": f"{exporter.namespace}/{exporter.name}:{exporter.port}",
        up_metric: values[0] if values else None,
        "target_host": exporter.target_host,
        "expected_host": expected_host,
    }
    if not values:
        return result(
            Status.FAIL,
            f"the exporter serves no {up_metric} sample",
            "check that this is a prometheus-community exporter",
            **evidence,
        )
    if values[0] != 1:
        mismatch = (
            exporter.target_host is not None
            and expected_host is not None
            and not exporter.target_host.startswith(expected_host)
        )
        cause = (
            f"; it scrapes {exporter.target_host}, not the release's {expected_host}"
            if mismatch
            else ""
        )
        if mismatch:
            remedy = (
                f"point the exporter at {expected_host} (the release's {datastore} Service) "
                "with working credentials"
            )
        else:
            remedy = (
                f"the exporter targets the release's {datastore} Service, so check the "
                f"credentials it uses and its logs (kubectl logs -n {exporter.namespace} "
                f"deploy/{exporter.workload})"
            )
        return result(
            Status.FAIL,
            f"{up_metric} is {values[0]:g}: the exporter cannot reach {datastore}{cause}",
            remedy,
            **evidence,
        )
    return result(
        Status.PASS, f"{up_metric} 1 from {exporter.namespace}/{exporter.name}", "", **evidence
    )


def _datastore_host(release: Any, target: ExporterTarget) -> str | None:
    component = target.component
    if component is None or not component.services:
        return None
    return f"{component.services[0].name}.{release.namespace}"
