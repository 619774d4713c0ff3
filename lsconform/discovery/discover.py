"""Finding the LangSmith Helm release in a namespace and building its inventory.

Discovery reads Helm's release records: every revision, from Secrets and ConfigMaps labelled
`owner=helm`. It picks the release whose decoded chart is `langsmith` (never by release name) and
takes its latest deployed revision. Every object is then resolved from that revision's manifest
and from labels. Object names are read, never built by joining strings: the component of a
workload is the part of its name after the fullname that most workload names of the manifest
share.

The number of API requests does not grow with the number of pods: one list per resource type.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import yaml

from lsconform.cluster.client import ClusterClient
from lsconform.cluster.errors import ClusterError, Forbidden, NotFound
from lsconform.constants import (
    CHART_NAME,
    COMPONENTS,
    COMPONENTS_BY_SUFFIX,
    HELM_OWNER_SELECTOR,
    LABEL_COMPONENT,
    LABEL_HELM_CHART,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_VERSION,
    OBSERVABILITY_CHART_NAME,
    TRACING_KEYS,
)
from lsconform.discovery import naming
from lsconform.discovery.helm import HelmRecord, record_from_object
from lsconform.discovery.objects import (
    WORKLOAD_KINDS,
    apply_endpoint_slices,
    apply_endpoints,
    containers_from_spec,
    labels_of,
    matches,
    metadata,
    name_of,
    pod_from_object,
    pod_template,
    selector_of,
    service_from_object,
)
from lsconform.discovery.release import (
    Component,
    Discovery,
    MetricsEndpoint,
    Problem,
    Release,
    RevisionInfo,
    Service,
)

logger = logging.getLogger(__name__)

# Helm records are up to 1 MiB each; 20 per page keeps one list response near 20 MiB.
HELM_PAGE_SIZE = 20
# Statuses of a revision that was (or is) the release's running state.
GOOD_STATUSES = ("deployed", "superseded")
LIST_RESOURCES = {
    "Deployment": "deployments.apps",
    "StatefulSet": "statefulsets.apps",
    "DaemonSet": "daemonsets.apps",
    "Rollout": "rollouts.argoproj.io",
}


class DiscoveryError(Exception):
    """Discovery cannot go on without the user's choice."""


class AmbiguousRelease(DiscoveryError):
    """Several LangSmith releases share the namespace and none was named."""

    def __init__(self, namespace: str, releases: list[str]) -> None:
        self.namespace = namespace
        self.releases = releases
        super().__init__(
            f"namespace {namespace} holds {len(releases)} LangSmith releases "
            f"({', '.join(releases)}); choose one with --release NAME"
        )


def discover(client: ClusterClient, namespace: str, release_name: str | None = None) -> Discovery:
    """Find the LangSmith release in `namespace` and build its inventory.

    Raises AmbiguousRelease when several LangSmith releases are found and `release_name` is
    None. Everything else that goes wrong becomes a Problem of the returned Discovery.
    """
    started = client.request_count
    problems: list[Problem] = []
    lister = _Lister(client, problems)
    records = _read_helm_records(lister, namespace)
    revisions = [_revision_info(record) for record in records]
    group = _choose_release(records, namespace, release_name, problems)
    release: Release | None
    objects: list[dict[str, Any]]
    if group is None:
        release, objects = None, []
    elif group:
        record = _select_revision(group, problems)
        try:
            release, objects = _release_from_record(record, namespace, problems)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            logger.warning("Helm record %s has an unexpected shape: %r", record.object_name, error)
            problems.append(
                Problem(
                    code="helm-record-corrupt",
                    severity="error",
                    summary=f"the Helm record {record.object_name} decodes to JSON of an "
                    f"unexpected shape: {str(error)[:200]}",
                    remedy="a new `helm upgrade` writes a fresh record",
                )
            )
            release, objects = _release_from_labels(lister, namespace, record.name, problems)
    else:
        release, objects = _release_from_labels(lister, namespace, release_name, problems)
    if release is not None:
        _resolve(lister, release, objects, problems)
        release.problems = list(problems)
    logger.info(
        "discovered release %s in namespace %s with %d API requests",
        release.name if release else "(none)",
        namespace,
        client.request_count - started,
    )
    return Discovery(release, problems, revisions, client.request_count - started)


# --- reading the cluster ----------------------------------------------------------------


class _Lister:
    """Lists resources, turning API failures into Problems (and None: "unknown")."""

    def __init__(self, client: ClusterClient, problems: list[Problem]) -> None:
        self.client = client
        self.problems = problems

    def list(
        self,
        resource: str,
        namespace: str,
        selector: str | None = None,
        *,
        page_size: int = 500,
        quiet_not_found: bool = False,
    ) -> list[dict[str, Any]] | None:
        """List `resource`; on failure record a Problem, log it, and return None."""
        try:
            return self.client.list(
                resource, namespace=namespace, label_selector=selector, page_size=page_size
            )
        except Forbidden as error:
            logger.warning(
                "listing %s in namespace %s is forbidden: %s", resource, namespace, error.cause
            )
            self.problems.append(
                Problem(
                    code="rbac-missing",
                    severity="error",
                    summary=f"cannot list {resource} in namespace {namespace}: {error.cause}",
                    remedy=f"add this rule to the Role bound to the user:\n{error.rule_yaml()}",
                    evidence=dict(error.evidence),
                )
            )
        except NotFound as error:
            logger.info("the API server does not serve %s", resource)
            if not quiet_not_found:
                self.problems.append(
                    Problem(
                        code="api-missing",
                        severity="info",
                        summary=f"the API server does not serve {resource}",
                        evidence=dict(error.evidence),
                    )
                )
            return None
        except ClusterError as error:
            logger.warning("listing %s in namespace %s failed: %s", resource, namespace, error)
            self.problems.append(
                Problem(
                    code="list-failed",
                    severity="error",
                    summary=f"listing {resource} in namespace {namespace} failed: {error.cause}",
                    remedy=error.fix,
                    evidence=dict(error.evidence),
                )
            )
        return None


def _read_helm_records(lister: _Lister, namespace: str) -> list[HelmRecord]:
    records: list[HelmRecord] = []
    for resource in ("secrets", "configmaps"):
        items = lister.list(resource, namespace, HELM_OWNER_SELECTOR, page_size=HELM_PAGE_SIZE)
        for item in items or []:
            item.setdefault("kind", "Secret" if resource == "secrets" else "ConfigMap")
            records.append(record_from_object(item))
    records.sort(key=lambda r: (r.name, -r.revision))
    return records


def _revision_info(record: HelmRecord) -> RevisionInfo:
    chart = (record.payload or {}).get("chart")
    chart = chart.get("metadata") if isinstance(chart, dict) else None
    chart = chart if isinstance(chart, dict) else {}
    return RevisionInfo(
        release=record.name,
        revision=record.revision,
        status=record.status,
        storage=record.storage,
        object_name=record.object_name,
        chart_name=str(chart.get("name") or ""),
        chart_version=str(chart.get("version") or ""),
        problem=record.problem.reason if record.problem else "",
    )


# --- choosing the release and its revision ----------------------------------------------


def _choose_release(
    records: list[HelmRecord], namespace: str, release_name: str | None, problems: list[Problem]
) -> list[HelmRecord] | None:
    """Return the records of the LangSmith release to use, [] to look for it by labels, or
    None when the named release exists but uses another chart."""
    groups: dict[str, list[HelmRecord]] = defaultdict(list)
    for record in records:
        groups[record.name].append(record)
    langsmith = sorted(
        name for name, group in groups.items() if any(r.chart_name == CHART_NAME for r in group)
    )
    unreadable = sorted(
        name for name, group in groups.items() if all(r.payload is None for r in group)
    )
    for name in unreadable:
        if release_name in (None, name):
            reasons = "; ".join(
                f"{r.object_name}: {r.problem.reason}" for r in groups[name] if r.problem
            )
            problems.append(
                Problem(
                    code="helm-record-corrupt",
                    severity="error",
                    summary=f"no stored revision of release {name} can be decoded, so its chart "
                    "and values are unknown",
                    remedy="inspect the records with `kubectl get secret -l owner=helm,name="
                    f"{name} -n {namespace}`; a `helm upgrade` writes a new record",
                    evidence={"reasons": reasons},
                )
            )
    if release_name is not None:
        if release_name in langsmith:
            return groups[release_name]
        if release_name in groups and release_name not in unreadable:
            charts = sorted({r.chart_name or "?" for r in groups[release_name]})
            problems.append(
                Problem(
                    code="not-langsmith",
                    severity="error",
                    summary=f"release {release_name} uses chart {', '.join(charts)}, not "
                    f"{CHART_NAME}",
                    remedy=f"pass the name of the LangSmith release; LangSmith releases here: "
                    f"{', '.join(langsmith) or '(none)'}",
                )
            )
            return None
        return []
    if len(langsmith) > 1:
        raise AmbiguousRelease(namespace, langsmith)
    return groups[langsmith[0]] if langsmith else []


def _select_revision(group: list[HelmRecord], problems: list[Problem]) -> HelmRecord:
    """Pick the latest deployed decodable revision; report a newer revision that is not."""
    ordered = sorted(group, key=lambda r: r.revision, reverse=True)
    decoded = [r for r in ordered if r.payload is not None]
    chosen = next((r for r in decoded if r.status == "deployed"), None)
    chosen = chosen or next((r for r in decoded if r.status in GOOD_STATUSES), None)
    chosen = chosen or decoded[0]
    latest = ordered[0]
    if latest is not chosen:
        problems.append(_newer_revision_problem(latest, chosen))
    # An undecodable record labelled `deployed` is already reported as corrupt.
    deployed_by_label = any(r.status == "deployed" for r in ordered if r.payload is None)
    if chosen.status != "deployed" and not deployed_by_label:
        problems.append(
            Problem(
                code="release-not-deployed",
                severity="warning",
                summary=f"release {chosen.name} has no deployed revision; using revision "
                f"{chosen.revision} ({chosen.status})",
                remedy="finish or roll back the pending operation (`helm history`, "
                "`helm rollback`)",
            )
        )
    return chosen


def _newer_revision_problem(latest: HelmRecord, chosen: HelmRecord) -> Problem:
    using = f"using revision {chosen.revision} ({chosen.status})"
    history = f"helm history {latest.name}"
    if latest.problem is not None:
        return Problem(
            code="helm-record-corrupt",
            severity="error",
            summary=f"newest revision {latest.revision} of release {latest.name} cannot be "
            f"decoded ({latest.problem.reason}); {using}",
            remedy=f"the stored record {latest.object_name} is damaged, so Helm cannot read it "
            f"either; `helm rollback {latest.name} {chosen.revision}` or a new `helm upgrade` "
            "writes a readable revision",
            evidence={"object": latest.object_name},
        )
    if latest.status == "failed":
        return Problem(
            code="release-failed",
            severity="error",
            summary=f"newest revision {latest.revision} of release {latest.name} failed; "
            f"last deployed is revision {chosen.revision}",
            remedy=f"see why with `{history}`, then fix the values and upgrade again or roll back",
            evidence={
                "description": str((latest.payload or {}).get("info", {}).get("description", ""))
            },
        )
    if latest.status.startswith("pending"):
        return Problem(
            code="release-pending",
            severity="error",
            summary=f"newest revision {latest.revision} of release {latest.name} is "
            f"{latest.status}; last deployed is revision {chosen.revision}; the "
            "operation is in progress or stuck",
            remedy=f"wait for it, or if no helm process runs, `helm rollback {latest.name} "
            f"{chosen.revision}`",
        )
    return Problem(
        code="release-status",
        severity="warning",
        summary=f"newest revision {latest.revision} of release {latest.name} is "
        f"{latest.status}; {using}",
        remedy=f"check `{history}`",
    )


# --- the release record -----------------------------------------------------------------


def _release_from_record(
    record: HelmRecord, namespace: str, problems: list[Problem]
) -> tuple[Release, list[dict[str, Any]]]:
    payload = record.payload or {}
    chart = payload.get("chart") or {}
    meta = chart.get("metadata") or {}
    info = payload.get("info") or {}
    values = payload.get("config") or {}
    defaults = chart.get("values") or {}
    effective = deep_merge(defaults, values) if isinstance(values, dict) else dict(defaults)
    release = Release(
        name=record.name,
        namespace=str(payload.get("namespace") or namespace),
        revision=record.revision,
        status=record.status,
        source=record.storage,
        chart_name=str(meta.get("name") or ""),
        chart_version=str(meta.get("version") or ""),
        app_version=str(meta.get("appVersion") or ""),
        first_deployed=str(info.get("first_deployed") or ""),
        last_deployed=str(info.get("last_deployed") or ""),
        values=values if isinstance(values, dict) else {},
        tracing=dict(
            ((effective.get("config") or {}).get("observability") or {}).get("tracing") or {}
        ),
        fullname_rule=naming.explain_fullname(record.name, effective),
    )
    if defaults and isinstance(values, dict):
        release.misplaced_values = unknown_keys(values, defaults)
    if release.misplaced_values:
        paths = ", ".join(sorted(release.misplaced_values))
        problems.append(
            Problem(
                code="values-unknown-keys",
                severity="warning",
                summary=f"user values set keys the chart does not read: {paths}",
                remedy="move them where the chart reads them (tracing belongs under "
                "config.observability.tracing) and upgrade",
                evidence={"keys": sorted(release.misplaced_values)},
            )
        )
    return release, parse_manifest(str(payload.get("manifest") or ""), problems)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge user values over chart defaults as Helm does for maps.

    NOTE: Helm also deletes a key whose user value is null; this merge keeps the null.
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def unknown_keys(
    values: Mapping[str, Any], defaults: Mapping[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """Return user values at keys the chart's defaults do not have, by dotted path.

    Only maps whose defaults list keys are compared: an empty default map (`commonLabels: {}`)
    accepts any key.
    """
    found: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in defaults:
            found[path] = value
            continue
        default = defaults[key]
        if isinstance(value, Mapping) and isinstance(default, Mapping) and default:
            found.update(unknown_keys(value, default, f"{path}."))
    return found


def parse_manifest(manifest: str, problems: list[Problem]) -> list[dict[str, Any]]:
    """Parse a multi-document manifest into objects (dicts with a `kind`)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        documents = list(yaml.load_all(manifest, Loader=loader))
    except yaml.YAMLError as error:
        problems.append(
            Problem(
                code="manifest-unparsable",
                severity="error",
                summary=f"the release manifest is not valid YAML: {str(error)[:200]}",
                remedy="the Helm record is damaged; a new `helm upgrade` rewrites it",
            )
        )
        return []
    return [doc for doc in documents if isinstance(doc, dict) and doc.get("kind")]


# --- discovery from labels, without a Helm record ---------------------------------------


def _release_from_labels(
    lister: _Lister, namespace: str, release_name: str | None, problems: list[Problem]
) -> tuple[Release | None, list[dict[str, Any]]]:
    selector = f"{LABEL_MANAGED_BY}=Helm"
    if release_name:
        selector += f",{LABEL_INSTANCE}={release_name}"
    workloads: list[dict[str, Any]] = []
    for kind in ("Deployment", "StatefulSet"):
        for item in lister.list(LIST_RESOURCES[kind], namespace, selector) or []:
            item.setdefault("kind", kind)
            if _is_langsmith_chart(labels_of(item).get(LABEL_HELM_CHART, "")):
                workloads.append(item)
    instances = sorted({labels_of(w).get(LABEL_INSTANCE, "") for w in workloads} - {""})
    if not instances:
        subject = f"release {release_name}" if release_name else "LangSmith release"
        problems.append(
            Problem(
                code="release-not-found",
                severity="error",
                summary=f"no {subject} found in namespace {namespace}: no Helm record of chart "
                f"{CHART_NAME} and no workload labelled {LABEL_HELM_CHART}={CHART_NAME}-*",
                remedy="check the namespace (--namespace) and the release name (--release); "
                "`helm list -n NAMESPACE` lists releases",
            )
        )
        return None, []
    if len(instances) > 1 and release_name is None:
        raise AmbiguousRelease(namespace, instances)
    name = release_name or instances[0]
    own = [w for w in workloads if labels_of(w).get(LABEL_INSTANCE) == name]
    labels = labels_of(own[0])
    chart_label = labels.get(LABEL_HELM_CHART, "")
    problems.append(
        Problem(
            code="helm-record-missing",
            severity="warning",
            summary=f"no readable Helm record of release {name}; it was found by its labels, so "
            "its revision, status and values are unknown",
            remedy="allow listing Secrets in the namespace, or accept that value checks are "
            "skipped (a release applied by `helm template` or Argo CD has no record)",
        )
    )
    release = Release(
        name=name,
        namespace=namespace,
        source="labels",
        status="unknown",
        chart_name=CHART_NAME,
        chart_version=chart_label[len(CHART_NAME) + 1 :],
        app_version=labels.get(LABEL_VERSION, ""),
    )
    objects = list(own)
    instance = f"{LABEL_INSTANCE}={name}"
    for resource, kind in (("services", "Service"), ("configmaps", "ConfigMap")):
        for item in lister.list(resource, namespace, instance) or []:
            item.setdefault("kind", kind)
            objects.append(item)
    return release, objects


def _is_langsmith_chart(label: str) -> bool:
    return label.startswith(f"{CHART_NAME}-") and not label.startswith(
        f"{OBSERVABILITY_CHART_NAME}-"
    )


# --- resolving the objects --------------------------------------------------------------


def infer_fullname(workloads: Iterable[Mapping[str, Any]]) -> str:
    """Find the name prefix most workloads share, from the chart's known component suffixes.

    Each workload votes for the prefix left when its longest known suffix is removed
    (`langsmith-platform-backend` votes `langsmith`, not `langsmith-platform`).
    """
    suffixes = sorted(COMPONENTS_BY_SUFFIX, key=len, reverse=True)
    votes: Counter[str] = Counter()
    for workload in workloads:
        name = name_of(workload)
        for suffix in suffixes:
            if name.endswith(f"-{suffix}"):
                votes[name[: -len(suffix) - 1]] += 1
                break
    return votes.most_common(1)[0][0] if votes else ""


def _resolve(
    lister: _Lister, release: Release, objects: list[dict[str, Any]], problems: list[Problem]
) -> None:
    workloads = [o for o in objects if o.get("kind") in WORKLOAD_KINDS]
    release.fullname = infer_fullname(workloads)
    release.name_label = next(
        (selector_of(w).get(LABEL_NAME, "") for w in workloads if selector_of(w).get(LABEL_NAME)),
        "",
    )
    _explain_fullname(release, problems)
    namespace = _objects_namespace(objects, release.namespace)
    instance = f"{LABEL_INSTANCE}={release.name}"
    kinds = {str(w.get("kind")) for w in workloads} | {"Deployment", "StatefulSet"}
    # The lists are independent, so they go out together: with API latency L, discovery costs
    # about 2 L (Helm records, then these) instead of one L per list.
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="lsconform-discover") as pool:
        workload_lists = {
            kind: pool.submit(lister.list, LIST_RESOURCES[kind], namespace, instance)
            for kind in sorted(kinds)
        }
        pods_list = pool.submit(lister.list, "pods", namespace, instance)
        services_list = pool.submit(lister.list, "services", namespace, instance)
        endpoints_list = pool.submit(_list_endpoints, lister, namespace)
        configmaps_list = pool.submit(lister.list, "configmaps", namespace, instance)
    live_workloads: dict[tuple[str, str], dict[str, Any]] | None = {}
    for kind in sorted(kinds):
        items = workload_lists[kind].result()
        if items is None:
            live_workloads = None if kind in ("Deployment", "StatefulSet") else live_workloads
            continue
        if live_workloads is not None:
            live_workloads.update({(kind, name_of(i)): i for i in items})
    pods = pods_list.result()
    services = services_list.result()
    endpoints = endpoints_list.result()
    configmaps = configmaps_list.result()

    manifest_services = [o for o in objects if o.get("kind") == "Service"]
    live_services = {name_of(s): s for s in services} if services is not None else None
    for workload in sorted(workloads, key=name_of):
        try:
            component = _component(release, workload, live_workloads, pods or [], problems)
            component.services = _services_for(
                component, manifest_services, live_services, endpoints, problems
            )
            component.metrics_endpoints = _metrics_endpoints(component, problems)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            # A field of an unexpected type (a hand-edited manifest, an odd controller) costs
            # this one component, not the whole discovery.
            logger.warning("workload %s has an unexpected shape: %r", name_of(workload), error)
            problems.append(
                Problem(
                    code="object-malformed",
                    severity="error",
                    summary=f"{workload.get('kind')} {name_of(workload)} or one of its pods or "
                    f"Services has a field of an unexpected type: {str(error)[:200]}",
                    remedy="compare the object with `kubectl get -o yaml`; this is likely a "
                    "bug in lsconform, so please report it with that output",
                )
            )
            continue
        release.components.append(component)
    present = {c.suffix for c in release.components}
    for spec in COMPONENTS:
        if spec.suffix not in present:
            release.components.append(Component(suffix=spec.suffix, enabled=False))
    _config_map(release, objects, configmaps, problems)


def _explain_fullname(release: Release, problems: list[Problem]) -> None:
    if not release.fullname or release.source == "labels":
        return
    expected = naming.fullname(release.name, release.values)
    if expected != release.fullname:
        problems.append(
            Problem(
                code="fullname-unexpected",
                severity="info",
                summary=f"objects are named {release.fullname}-<component>, but the chart's rule "
                f"for these values gives {expected}",
                evidence={"rule": release.fullname_rule},
            )
        )


def _objects_namespace(objects: list[dict[str, Any]], default: str) -> str:
    namespaces = Counter(
        str(metadata(o).get("namespace")) for o in objects if metadata(o).get("namespace")
    )
    return namespaces.most_common(1)[0][0] if namespaces else default


def _list_endpoints(lister: _Lister, namespace: str) -> dict[str, Any] | None:
    """Return Endpoints by Service name, or EndpointSlice lists where Endpoints are not served.

    Endpoints are listed without a label selector: not every controller copies the Service's
    labels onto them.
    """
    items = lister.list("endpoints", namespace, quiet_not_found=True)
    if items is not None:
        return {name_of(item): item for item in items}
    slices = lister.list("endpointslices.discovery.k8s.io", namespace)
    if slices is None:
        return None
    grouped: dict[str, Any] = defaultdict(list)
    for item in slices:
        grouped[labels_of(item).get("kubernetes.io/service-name", "")].append(item)
    return dict(grouped)


def _component(
    release: Release,
    workload: dict[str, Any],
    live_workloads: dict[tuple[str, str], dict[str, Any]] | None,
    pods: list[dict[str, Any]],
    problems: list[Problem],
) -> Component:
    kind = str(workload.get("kind"))
    name = name_of(workload)
    prefix = f"{release.fullname}-"
    suffix = name[len(prefix) :] if release.fullname and name.startswith(prefix) else name
    selector = selector_of(workload)
    live = live_workloads.get((kind, name)) if live_workloads is not None else None
    source = live or workload
    spec = source.get("spec") or {}
    component = Component(
        suffix=suffix,
        name=selector.get(LABEL_COMPONENT) or labels_of(workload).get(LABEL_COMPONENT) or name,
        workload_kind=kind,
        workload_name=name,
        desired_replicas=int(
            # Kubernetes defaults spec.replicas to 1; a manifest may leave it out (autoscaling).
            (1 if spec.get("replicas") is None else spec["replicas"])
            if kind != "DaemonSet"
            else (source.get("status") or {}).get("desiredNumberScheduled", 0)
        ),
        ready_replicas=int(
            (source.get("status") or {}).get(
                "readyReplicas" if kind != "DaemonSet" else "numberReady"
            )
            or 0
        )
        if live
        else 0,
        selector=selector,
        containers=containers_from_spec(pod_template(source)),
    )
    component.pods = sorted(
        (pod_from_object(p) for p in pods if matches(selector, labels_of(p))), key=lambda p: p.name
    )
    if live_workloads is not None and live is None:
        problems.append(
            Problem(
                code="workload-missing",
                severity="error",
                summary=f"{kind} {name} of the release manifest does not exist in the cluster",
                remedy="someone deleted it; `helm upgrade` with the same values recreates it",
                evidence={"component": suffix},
            )
        )
    elif live is not None and component.ready_replicas < component.desired_replicas:
        problems.append(_not_ready_problem(component))
    return component


def _not_ready_problem(component: Component) -> Problem:
    waiting = {
        pod.name: ", ".join(
            f"{c.name}: {c.state or 'unknown'}"
            + (f" (last: {c.last_termination_reason})" if c.last_termination_reason else "")
            for c in pod.containers
        )
        for pod in component.pods
        if not pod.ready
    }
    return Problem(
        code="replicas-not-ready",
        severity="warning",
        summary=f"{component.workload_kind} {component.workload_name} has "
        f"{component.ready_replicas} of {component.desired_replicas} replicas ready",
        remedy=f"inspect the pods: `kubectl describe pod -l {LABEL_COMPONENT}={component.name}`",
        evidence={"not_ready": waiting},
    )


def _services_for(
    component: Component,
    manifest_services: list[dict[str, Any]],
    live_services: dict[str, dict[str, Any]] | None,
    endpoints: dict[str, Any] | None,
    problems: list[Problem],
) -> list[Service]:
    found: list[Service] = []
    for declared in manifest_services:
        selector = (declared.get("spec") or {}).get("selector") or {}
        if selector.get(LABEL_COMPONENT) != component.name:
            continue
        name = name_of(declared)
        live = live_services.get(name) if live_services is not None else None
        service = service_from_object(live or declared, live=live is not None)
        if live_services is not None and live is None:
            problems.append(
                Problem(
                    code="service-missing",
                    severity="error",
                    summary=f"Service {name} of the release manifest does not exist in the cluster",
                    remedy="`helm upgrade` with the same values recreates it",
                    evidence={"component": component.suffix},
                )
            )
        entry = (endpoints or {}).get(name)
        if isinstance(entry, list):
            apply_endpoint_slices(service, entry)
        elif isinstance(entry, dict):
            apply_endpoints(service, entry)
        found.append(service)
    return sorted(found, key=lambda s: s.name)


def _metrics_endpoints(component: Component, problems: list[Problem]) -> list[MetricsEndpoint]:
    spec = COMPONENTS_BY_SUFFIX.get(component.suffix)
    if spec is None or spec.metrics is None:
        return []
    metrics = spec.metrics
    port = component.container_port(metrics.port_name)
    if port is None:
        declared = [f"{p.name}:{p.container_port}" for c in component.containers for p in c.ports]
        problems.append(
            Problem(
                code="metrics-port-name-missing",
                severity="warning",
                summary=f"{component.workload_kind} {component.workload_name} declares no "
                f"container port named {metrics.port_name}; assuming port {metrics.port}",
                remedy=f"keep the chart's port name {metrics.port_name}: scrape configs and "
                "Service targetPorts select the port by that name",
                evidence={"declared_ports": declared},
            )
        )
        port = metrics.port
    service_ports = [(s, s.port_for_target(metrics.port_name, port)) for s in component.services]
    service, service_port = next(((s, p) for s, p in service_ports if p is not None), (None, None))
    scraped = False
    if service is not None:
        scraped = any(
            p.scraped_by_observability_chart
            for p in service.ports
            if (p.name or p.port) == service_port
        )
    return [
        MetricsEndpoint(
            component=component.suffix,
            pod=pod.name,
            pod_ip=pod.ip,
            port_name=metrics.port_name,
            port=port,
            path=metrics.path,
            ready=pod.ready,
            service=service.name if service else "",
            service_port=service_port,
            scraped_by_observability_chart=scraped,
        )
        for pod in component.pods
    ]


def _config_map(
    release: Release,
    objects: list[dict[str, Any]],
    live: list[dict[str, Any]] | None,
    problems: list[Problem],
) -> None:
    """Find the ConfigMap the services read their settings from (`envFrom`), with its data."""
    referenced: Counter[str] = Counter(
        ref.name
        for component in release.components
        for container in component.containers
        for ref in container.env_from
        if ref.kind == "configMap"
    )
    declared = {name_of(o): o for o in objects if o.get("kind") == "ConfigMap"}
    candidates = [
        name
        for name, obj in declared.items()
        if any(key in (obj.get("data") or {}) for key in TRACING_KEYS)
    ]
    chosen = next((n for n in candidates if n in referenced), None)
    chosen = chosen or (candidates[0] if candidates else None)
    chosen = chosen or (referenced.most_common(1)[0][0] if referenced else None)
    if chosen is None:
        return
    release.config_map_name = chosen
    manifest_data = {
        str(k): str(v) for k, v in ((declared.get(chosen) or {}).get("data") or {}).items()
    }
    live_object = next((o for o in live or [] if name_of(o) == chosen), None)
    if live is not None and live_object is None:
        problems.append(
            Problem(
                code="config-missing",
                severity="error",
                summary=f"ConfigMap {chosen}, which the services read their settings from, does "
                "not exist; pods cannot start with it missing",
                remedy="`helm upgrade` with the same values recreates it",
            )
        )
        release.config_data = manifest_data
        return
    live_data = {str(k): str(v) for k, v in ((live_object or {}).get("data") or {}).items()}
    release.config_data = live_data if live_object is not None else manifest_data
    if live_object is not None and manifest_data:
        changed = sorted(k for k in TRACING_KEYS if manifest_data.get(k) != live_data.get(k))
        if changed:
            problems.append(
                Problem(
                    code="config-drift",
                    severity="warning",
                    summary=f"ConfigMap {chosen} differs from the release manifest in "
                    f"{', '.join(changed)}; it was edited outside Helm",
                    remedy="set the values in the chart (config.observability.tracing) and "
                    "upgrade; the next upgrade overwrites manual edits",
                    evidence={
                        key: {"manifest": manifest_data.get(key), "live": live_data.get(key)}
                        for key in changed
                    },
                )
            )
