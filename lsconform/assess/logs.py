"""Evidence for the log checks: every container's output, its file on the node, its collectors.

Three checks run per container of the release:

- `logs.output`: the container's logs are readable through the API, it has written something,
  and a restarted container's previous run is summarised (traceback, exit reason);
- `logs.node-file`: `/var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log` exists on the
  pod's node in the runtime's line format and agrees with the API, and the
  `/var/log/containers` link resolves to it (read through the kubelet's `/logs/` file server);
- `logs.collected`: some collector found in the cluster (or in files given by the user) selects
  the container's file and can open and parse it.

`LogEvidence` fetches everything once, when the first log check runs, with at most
`settings.concurrency` requests (and never more than 16) in flight. A run then waits for the
slowest container rather than for the sum of all of them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lsconform.cluster.client import NO_RETRY
from lsconform.cluster.errors import ClusterError, Forbidden, RbacRule
from lsconform.probes import logfiles
from lsconform.probes.collectors import discover
from lsconform.probes.collectors.model import ContainerLogTarget, Outcome, Verdict
from lsconform.probes.logfiles import LineFormat, RuntimeKind
from lsconform.results import Area, CheckResult, Severity, Status
from lsconform.settings import Settings

logger = logging.getLogger(__name__)

# How much of a container's output the output check reads: the last lines the API returns,
# capped in bytes so a container that writes 10 MB lines cannot make the suite hold them.
API_TAIL_LINES = 1000
API_LIMIT_BYTES = 2 * 1024 * 1024
# How much of a node file is read: its tail for format and recency, its head to compare the
# /var/log/containers link with the file it should point to.
NODE_TAIL_BYTES = 256 * 1024
NODE_HEAD_BYTES = 2048
# A listing of /var/log/containers has one entry per container on the node.
LISTING_LIMIT_BYTES = 4 * 1024 * 1024
# The output check warns when at least this share of at least this many recent lines is at
# level ERROR or worse.
ERROR_SHARE_WARN = 0.5
ERROR_SHARE_MIN_LINES = 20
# A node file whose last line is older than the API's last line by more than this is stale.
STALE_TOLERANCE_SECONDS = 60.0
# A file listed by the kubelet but gone when read is read again once after this pause, because
# the kubelet's rotation renames and recreates it in two steps.
ROTATION_RETRY_SECONDS = 0.2

NODE_PROXY_RULE = RbacRule(verb="get", group="", resource="nodes", subresource="proxy")

OUTPUT_CHECK = "logs.output"
NODE_FILE_CHECK = "logs.node-file"
COLLECTED_CHECK = "logs.collected"


@dataclass(frozen=True)
class LogTarget:
    """One container of a pod of the release; `id` is `<component>/<pod>/<container>`."""

    id: str
    component: str
    namespace: str
    pod: str
    container: str


def log_targets(release: Any, settings: Settings | None = None) -> list[LogTarget]:
    """List every container of every pod of the release, sorted by id."""
    del settings
    targets = []
    for component in release.enabled_components:
        for pod in component.pods:
            for container in pod.containers:
                targets.append(
                    LogTarget(
                        id=f"{component.suffix}/{pod.name}/{container.name}",
                        component=component.suffix,
                        namespace=release.namespace,
                        pod=pod.name,
                        container=container.name,
                    )
                )
    return sorted(targets, key=lambda target: target.id)


# ---------------------------------------------------------------------------------------------
# Evidence.


@dataclass
class Fetch:
    """One HTTP read: status and body, or the failure that prevented it."""

    status: int = 0
    body: bytes = b""
    truncated: bool = False
    partial_content: bool = False
    error: ClusterError | None = None

    @property
    def forbidden(self) -> bool:
        """Say whether the API server denied the request (HTTP 403)."""
        return isinstance(self.error, Forbidden) or self.status == 403


@dataclass
class OutputEvidence:
    """The API's responses for a container's current and previous logs."""

    current: Fetch
    previous: Fetch | None
    container: Any
    pod: Any


@dataclass
class NodeFileEvidence:
    """The kubelet file server's responses for a container's node files."""

    node: str
    runtime: RuntimeKind
    directory: str
    listing: Fetch
    file_name: str = ""
    tail: Fetch | None = None
    head: Fetch | None = None
    link_name: str = ""
    link_listing: Fetch | None = None
    link_head: Fetch | None = None
    retried: bool = False


@dataclass
class ClusterFacts:
    """Pods (for annotations), node runtimes and the collectors found, read once."""

    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    runtimes: dict[str, str] = field(default_factory=dict)
    runtime_problem: str = ""
    collectors: discover.Found = field(default_factory=discover.Found)
    collector_sources: list[str] = field(default_factory=list)
    denied_lists: list[RbacRule] = field(default_factory=list)


class LogEvidence:
    """Fetches the log evidence of every container once, concurrently, for the three checks."""

    def __init__(
        self,
        release: Any,
        client: Any,
        settings: Settings,
        *,
        collector_files: Sequence[Path] = (),
    ) -> None:
        self._release = release
        self._client = client
        self._settings = settings
        self._collector_files = list(collector_files)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._facts: Future[ClusterFacts] | None = None
        self._outputs: dict[str, Future[OutputEvidence]] = {}
        self._node_files: dict[str, Future[NodeFileEvidence]] = {}
        self._listings: dict[str, Future[Fetch]] = {}

    def _start(self) -> None:
        with self._lock:
            if self._pool is not None:
                return
            workers = max(1, min(self._settings.concurrency, 16))
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lsc-logs")
            self._facts = self._pool.submit(self._read_facts)
            for target in log_targets(self._release):
                self._outputs[target.id] = self._pool.submit(self._read_output, target)
            for target in log_targets(self._release):
                self._node_files[target.id] = self._pool.submit(self._read_node_files, target)

    def close(self) -> None:
        """Stop fetching: drop requests not started and wait for the ones in flight.

        The wait is bounded, because every request has the probe timeout.
        """
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def facts(self) -> ClusterFacts:
        """Return the pods, node runtimes and collectors of the cluster."""
        self._start()
        assert self._facts is not None
        return self._facts.result()

    def output(self, target: LogTarget) -> OutputEvidence:
        """Return the API's current (and previous) logs of a container."""
        self._start()
        future = self._outputs.get(target.id)
        return future.result() if future else self._read_output(target)

    def node_files(self, target: LogTarget) -> NodeFileEvidence:
        """Return what the node's file server has for a container."""
        self._start()
        future = self._node_files.get(target.id)
        return future.result() if future else self._read_node_files(target)

    # --- reading -----------------------------------------------------------------------------

    def _get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        max_bytes: int,
        byte_range: str | None = None,
    ) -> Fetch:
        headers = {"Range": f"bytes={byte_range}"} if byte_range else None
        try:
            response = self._client.request(
                "GET",
                path,
                params=params,
                headers=headers,
                max_bytes=max_bytes,
                timeout=self._settings.probe_timeout,
                raise_for_status=False,
                allow_truncated=True,
                retry=NO_RETRY,
            )
        except ClusterError as error:
            return Fetch(error=error)
        if response.status == 416 and byte_range:
            # 416 Range Not Satisfiable: the file has fewer bytes than the range asks for, which
            # for a suffix range means it is empty (a silent container's fresh log file).
            return Fetch(status=200, body=b"", truncated=False, partial_content=False)
        return Fetch(
            status=response.status,
            body=response.body,
            truncated=response.truncated,
            partial_content=response.status == 206,
        )

    def _read_output(self, target: LogTarget) -> OutputEvidence:
        pod, container = _find_container(self._release, target)
        path = f"/api/v1/namespaces/{quote(target.namespace)}/pods/{quote(target.pod)}/log"
        params = {
            "container": target.container,
            "timestamps": "true",
            "tailLines": str(API_TAIL_LINES),
            "limitBytes": str(API_LIMIT_BYTES),
        }
        current = self._get(path, params=params, max_bytes=API_LIMIT_BYTES + 4096)
        previous = None
        if container is not None and container.restart_count > 0:
            previous = self._get(
                path, params={**params, "previous": "true"}, max_bytes=API_LIMIT_BYTES + 4096
            )
        return OutputEvidence(current, previous, container, pod)

    def _read_node_files(self, target: LogTarget) -> NodeFileEvidence:
        pod, container = _find_container(self._release, target)
        node = getattr(pod, "node", "") or ""
        facts = self.facts()
        runtime = logfiles.runtime_kind(facts.runtimes.get(node, ""))
        uid = getattr(pod, "uid", "")
        directory = f"{logfiles.pod_log_dir(target.namespace, target.pod, uid)}/{target.container}"
        evidence = NodeFileEvidence(node, runtime, directory, Fetch())
        if not node:
            return evidence
        base = f"/api/v1/nodes/{quote(node)}/proxy/logs"
        evidence.listing = self._get(f"{base}/{directory}/", max_bytes=LISTING_LIMIT_BYTES)
        if evidence.listing.status != 200:
            return evidence
        names = [e.name for e in logfiles.parse_listing(evidence.listing.body) if not e.is_dir]
        current = logfiles.restart_files(names)
        expected = getattr(container, "restart_count", 0)
        evidence.file_name = current.get(expected) or (current[max(current)] if current else "")
        if evidence.file_name:
            self._read_file(evidence, f"{base}/{directory}/{evidence.file_name}")
        container_id = getattr(container, "container_id", "")
        if container_id:
            evidence.link_name = logfiles.container_link_name(
                target.pod, target.namespace, target.container, container_id
            )
            evidence.link_listing = self._node_listing(node, f"{base}/containers/")
            if evidence.link_name in _names(evidence.link_listing):
                evidence.link_head = self._get(
                    f"{base}/containers/{quote(evidence.link_name)}",
                    max_bytes=NODE_HEAD_BYTES,
                    byte_range=f"0-{NODE_HEAD_BYTES - 1}",
                )
        return evidence

    def _read_file(self, evidence: NodeFileEvidence, path: str) -> None:
        evidence.tail = self._get(path, max_bytes=NODE_TAIL_BYTES, byte_range=f"-{NODE_TAIL_BYTES}")
        if evidence.tail.status == 404:
            # The kubelet rotates by renaming the file and creating a new one.
            time.sleep(ROTATION_RETRY_SECONDS)
            evidence.retried = True
            evidence.tail = self._get(
                path, max_bytes=NODE_TAIL_BYTES, byte_range=f"-{NODE_TAIL_BYTES}"
            )
        evidence.head = self._get(
            path, max_bytes=NODE_HEAD_BYTES, byte_range=f"0-{NODE_HEAD_BYTES - 1}"
        )

    def _node_listing(self, node: str, path: str) -> Fetch:
        with self._lock:
            future = self._listings.get(node)
            if future is None:
                future = Future()
                self._listings[node] = future
                owner = True
            else:
                owner = False
        if owner:
            future.set_result(self._get(path, max_bytes=LISTING_LIMIT_BYTES))
        return future.result()

    def _read_facts(self) -> ClusterFacts:
        facts = ClusterFacts()
        namespace = self._release.namespace
        try:
            for pod in self._client.list("pods", namespace=namespace):
                facts.pods[str((pod.get("metadata") or {}).get("name"))] = pod
        except ClusterError as error:
            logger.info("listing pods of %s failed: %s", namespace, error)
        try:
            for node in self._client.list("nodes"):
                name = str((node.get("metadata") or {}).get("name"))
                info = (node.get("status") or {}).get("nodeInfo") or {}
                facts.runtimes[name] = str(info.get("containerRuntimeVersion", ""))
        except ClusterError as error:
            facts.runtime_problem = f"nodes could not be listed ({error.cause})"
        facts.collectors = self._find_collectors(facts)
        return facts

    def _find_collectors(self, facts: ClusterFacts) -> discover.Found:
        fallback = [self._release.namespace, *self._settings.exporter_namespaces]
        objects, problems, denied = _list_collector_objects(self._client, fallback)
        facts.denied_lists = denied
        found = discover.from_objects(objects)
        found.problems = problems + found.problems
        facts.collector_sources.append(f"{len(objects)} cluster objects")
        if self._collector_files:
            from_files = discover.from_files(self._collector_files)
            found.collectors += from_files.collectors
            found.problems += from_files.problems
            facts.collector_sources += [str(path) for path in self._collector_files]
        return found


def _names(listing: Fetch | None) -> set[str]:
    if listing is None or listing.status != 200:
        return set()
    return {entry.name for entry in logfiles.parse_listing(listing.body)}


def _find_container(release: Any, target: LogTarget) -> tuple[Any, Any]:
    for component in release.components:
        for pod in component.pods:
            if pod.name == target.pod:
                return pod, pod.container(target.container)
    return None, None


# Collector objects are listed in every namespace; without cluster-wide list permission these
# lists fail and the collectors of those kinds are reported as not visible.
_COLLECTOR_LISTS: tuple[tuple[str, str | None], ...] = (
    ("daemonsets.apps", None),
    ("deployments.apps", None),
    ("statefulsets.apps", None),
    ("opentelemetrycollectors.opentelemetry.io", "opentelemetry.io/v1beta1"),
    ("datadogagents.datadoghq.com", "datadoghq.com/v2alpha1"),
)


def _list_collector_objects(
    client: Any, fallback_namespaces: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str], list[RbacRule]]:
    """List the objects collectors are found in, and the problems and denied rules met.

    A kind that cannot be listed in all namespaces is listed in `fallback_namespaces` (the
    release's namespace and the namespaces the user named) instead.
    """
    objects: list[dict[str, Any]] = []
    problems: list[str] = []
    denied: list[RbacRule] = []
    for resource, api_version in _COLLECTOR_LISTS:
        try:
            objects += client.list(resource, api_version=api_version)
        except Forbidden as error:
            denied.append(error.rule)
            shown = ", ".join(fallback_namespaces)
            problems.append(
                f"cannot list {resource} in all namespaces ({error.cause}); looked only in {shown}"
            )
            objects += _list_in(client, resource, api_version, fallback_namespaces)
        except ClusterError as error:
            if error.status != 404:
                problems.append(f"listing {resource} failed: {error.cause}")
    wanted = _configmaps_of(objects)
    for namespace, name in sorted(wanted):
        try:
            objects.append(client.get("configmaps", name, namespace=namespace))
        except Forbidden as error:
            # Without its configuration a collector cannot be judged: a missing permission,
            # not a collector that reads nothing.
            denied.append(error.rule)
            problems.append(f"ConfigMap {namespace}/{name} could not be read: {error.cause}")
        except ClusterError as error:
            problems.append(f"ConfigMap {namespace}/{name} could not be read: {error.cause}")
    return objects, problems, denied


def _list_in(
    client: Any, resource: str, api_version: str | None, namespaces: Sequence[str]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for namespace in dict.fromkeys(namespaces):
        try:
            found += client.list(resource, namespace=namespace, api_version=api_version)
        except ClusterError as error:
            logger.info("listing %s in %s failed: %s", resource, namespace, error.cause)
    return found


def _configmaps_of(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """Return the ConfigMaps that collector containers of these workloads mount."""
    wanted = set()
    for obj in objects:
        namespace = str((obj.get("metadata") or {}).get("namespace", ""))
        pod_spec = (((obj.get("spec") or {}).get("template")) or {}).get("spec") or {}
        images = " ".join(str(c.get("image", "")) for c in pod_spec.get("containers") or [])
        if not (discover.OTEL_IMAGE.search(images) or discover.FLUENT_BIT_IMAGE.search(images)):
            continue
        for volume in pod_spec.get("volumes") or []:
            name = (volume.get("configMap") or {}).get("name")
            if name:
                wanted.add((namespace, str(name)))
    return wanted


# ---------------------------------------------------------------------------------------------
# Results.


def _result(
    check_id: str,
    target: LogTarget,
    status: Status,
    summary: str,
    remedy: str = "",
    severity: Severity = Severity.CRITICAL,
    **evidence: Any,
) -> CheckResult:
    return CheckResult(
        check_id=check_id,
        area=Area.LOGS,
        component=target.component,
        target=target.id,
        status=status,
        summary=summary,
        severity=severity,
        evidence=evidence,
        remedy=remedy,
    )


def _forbidden_result(
    check_id: str, target: LogTarget, fetch: Fetch, rule: RbacRule
) -> CheckResult:
    if isinstance(fetch.error, Forbidden):
        rule = fetch.error.rule
    return _result(
        check_id,
        target,
        Status.ERROR,
        f"the API server denied {rule.verb} on {rule.resource_name}, so this could not be checked",
        f"add this rule for the user running the suite:\n{rule.to_yaml()}",
        rbac_rule=rule.to_yaml(),
    )


def _error_result(check_id: str, target: LogTarget, fetch: Fetch, what: str) -> CheckResult:
    error = fetch.error
    cause = error.cause if error else f"HTTP {fetch.status}"
    return _result(
        check_id,
        target,
        Status.ERROR,
        f"could not read {what}: {cause}",
        error.fix if error else "retry; check the API server's health",
        http_status=fetch.status,
    )


def check_output(evidence: LogEvidence, target: LogTarget) -> CheckResult:
    """Check a container's output through the API: readable, not silent, no crash."""
    output = evidence.output(target)
    pod_rule = RbacRule("get", "", "pods", "log", target.namespace)
    if output.current.forbidden:
        return _forbidden_result(OUTPUT_CHECK, target, output.current, pod_rule)
    if output.current.error is not None:
        return _error_result(OUTPUT_CHECK, target, output.current, "the container's logs")

    waiting = output.current.status == 400
    records = [] if waiting else logfiles.records_from_api(output.current.body, timestamps=True)
    summary = logfiles.summarise(records)
    facts = {"api_status": output.current.status, **summary.to_evidence()}

    restarts = getattr(output.container, "restart_count", 0)
    if restarts:
        crash = _crash_result(target, output, restarts, facts)
        if crash is not None:
            return crash
    if output.current.status not in (200, 400):
        return _error_result(OUTPUT_CHECK, target, output.current, "the container's logs")

    warning = _output_warning(target, output, summary, facts)
    if warning is not None:
        return warning
    notes = _output_notes(summary)
    return _result(
        OUTPUT_CHECK,
        target,
        Status.PASS,
        f"{summary.lines} recent lines ({summary.structured_lines} JSON, "
        f"{summary.error_share:.1%} at ERROR or worse){notes}",
        **facts,
    )


def _output_warning(
    target: LogTarget,
    output: OutputEvidence,
    summary: logfiles.LogSummary,
    facts: dict[str, Any],
) -> CheckResult | None:
    """Warn about a container with no logs, a silent one, or one that mostly logs errors."""
    if output.current.status == 400:
        message = _status_message(output.current.body)
        summary_text = f"the API returned no logs for container {target.container}: {message}"
        remedy = "check the container's state with `kubectl describe pod`"
    elif summary.lines == 0:
        started = getattr(output.pod, "start_time", "") or "its start"
        summary_text = (
            f"container {target.container} of pod {target.pod} has written nothing to stdout "
            f"or stderr since {started}"
        )
        remedy = (
            "make the service log to stdout/stderr (a service that logs to a file inside the "
            "container leaves collectors nothing to read); check LOG_LEVEL"
        )
    elif summary.lines >= ERROR_SHARE_MIN_LINES and summary.error_share >= ERROR_SHARE_WARN:
        last = summary.last_errors[-1] if summary.last_errors else ""
        summary_text = (
            f"{summary.error_share:.0%} of the last {summary.lines} lines are at level ERROR "
            f"or worse; last: {last}"
        )
        remedy = "read the errors with `kubectl logs` and fix their cause"
    else:
        return None
    return _result(
        OUTPUT_CHECK,
        target,
        Status.WARN,
        summary_text,
        remedy,
        severity=Severity.WARNING,
        **facts,
    )


def _status_message(body: bytes) -> str:
    """Return the message of an API Status body, or the start of the body."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    text = message if isinstance(message, str) else body[:300].decode("utf-8", "replace")
    return text.strip() or "no message"


def _output_notes(summary: logfiles.LogSummary) -> str:
    notes = []
    if summary.invalid_utf8_lines:
        notes.append(f"{summary.invalid_utf8_lines} lines with invalid UTF-8")
    if summary.truncated_lines:
        notes.append(f"{summary.truncated_lines} lines cut at {logfiles.MAX_LINE_BYTES} bytes")
    return f"; {', '.join(notes)}" if notes else ""


def _crash_result(
    target: LogTarget, output: OutputEvidence, restarts: int, facts: dict[str, Any]
) -> CheckResult | None:
    container = output.container
    reason = getattr(container, "last_termination_reason", "") or ""
    code = getattr(container, "last_exit_code", None)
    previous = output.previous
    previous_summary = logfiles.LogSummary()
    if previous is not None and previous.status == 200:
        previous_summary = logfiles.summarise(
            logfiles.records_from_api(previous.body, timestamps=True)
        )
    crashed = reason in ("Error", "OOMKilled") or (code not in (None, 0))
    if not crashed and not previous_summary.traceback:
        return None
    cause = _crash_cause(reason, code, previous_summary)
    status = Status.FAIL if crashed else Status.WARN
    return _result(
        OUTPUT_CHECK,
        target,
        status,
        f"container {target.container} restarted {restarts} times; {cause}",
        "read the previous run with `kubectl logs --previous` and fix the crash; for "
        "OOMKilled raise the memory limit",
        severity=Severity.CRITICAL if crashed else Severity.WARNING,
        last_termination_reason=reason,
        last_exit_code=code,
        previous_traceback=previous_summary.traceback,
        previous_last_errors=previous_summary.last_errors,
        previous_api_status=previous.status if previous else None,
        **facts,
    )


def _crash_cause(reason: str, code: int | None, previous: logfiles.LogSummary) -> str:
    if reason == "OOMKilled":
        text = "the last run was OOMKilled (memory limit reached)"
    else:
        text = f"the last run ended with exit code {code} ({reason or 'no reason given'})"
    if previous.traceback:
        text += f": {previous.traceback[-1]}"
    elif previous.last_errors:
        text += f"; last error: {previous.last_errors[-1]}"
    return text


def check_node_file(evidence: LogEvidence, target: LogTarget) -> CheckResult:
    """Check the container's log file and link on its node, through the kubelet's /logs/."""
    files = evidence.node_files(target)
    if not files.node:
        return _result(
            NODE_FILE_CHECK,
            target,
            Status.SKIP,
            f"pod {target.pod} is not scheduled on a node, so it has no node log file",
        )
    for fetch in (files.listing, files.tail, files.link_listing, files.link_head):
        if fetch is not None and fetch.forbidden:
            return _forbidden_result(NODE_FILE_CHECK, target, fetch, NODE_PROXY_RULE)
    if files.listing.error is not None:
        return _error_result(NODE_FILE_CHECK, target, files.listing, "the node's log listing")
    node_path = f"/var/log/{files.directory}/"
    facts: dict[str, Any] = {"node": files.node, "runtime": files.runtime.value}
    if files.listing.status == 404 or not files.file_name:
        return _result(
            NODE_FILE_CHECK,
            target,
            Status.FAIL,
            f"no log file in {node_path} on node {files.node}: the kubelet's layout has no file "
            f"for container {target.container}, so no collector can read its logs",
            "check the kubelet's --root-dir and the runtime's log path; the kubelet must write "
            "/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log",
            listing_status=files.listing.status,
            **facts,
        )
    file_path = f"{node_path}{files.file_name}"
    facts["path"] = file_path
    problem = _file_problem(files, evidence.output(target), file_path)
    if problem is not None:
        return _result(
            NODE_FILE_CHECK, target, problem[0], problem[1], problem[2], **facts, **problem[3]
        )
    link_problem = _link_problem(files)
    if link_problem is not None:
        return _result(
            NODE_FILE_CHECK,
            target,
            link_problem[0],
            link_problem[1],
            link_problem[2],
            link=f"/var/log/containers/{files.link_name}",
            **facts,
        )
    parsed = logfiles.parse_node_file(
        files.tail.body if files.tail else b"", starts_mid_file=_read_from_offset(files.tail)
    )
    link = f"; link /var/log/containers/{files.link_name} resolves to it" if files.link_name else ""
    return _result(
        NODE_FILE_CHECK,
        target,
        Status.PASS,
        f"{file_path} on node {files.node} ({parsed.format.value}, last line "
        f"{parsed.last_time or 'none yet'}){link}",
        link=f"/var/log/containers/{files.link_name}" if files.link_name else "",
        **facts,
    )


def _read_from_offset(fetch: Fetch | None) -> bool:
    return fetch is not None and fetch.partial_content


def _file_problem(
    files: NodeFileEvidence, output: OutputEvidence, file_path: str
) -> tuple[Status, str, str, dict[str, Any]] | None:
    tail = files.tail
    if tail is None or tail.error is not None or tail.status not in (200, 206):
        status = tail.status if tail else 0
        cause = tail.error.cause if tail is not None and tail.error else f"HTTP {status}"
        return (
            Status.ERROR,
            f"{file_path} was listed but could not be read ({cause}); it was probably rotated "
            f"or deleted while being read",
            "run the check again; if it persists, check the kubelet's log rotation settings",
            {"read_status": status, "retried": files.retried},
        )
    parsed = logfiles.parse_node_file(tail.body, starts_mid_file=_read_from_offset(tail))
    facts: dict[str, Any] = {
        "format": parsed.format.value,
        "records_read": len(parsed.records),
        "unparsed_lines": parsed.unparsed_lines,
        "last_time": parsed.last_time,
        "bytes_read": parsed.bytes_read,
        "incomplete_tail_bytes": parsed.incomplete_tail,
    }
    expected = logfiles.expected_format(files.runtime)
    if parsed.records and parsed.format is LineFormat.UNKNOWN:
        return (
            Status.FAIL,
            f"{file_path} holds lines in neither CRI nor Docker JSON format",
            "check the node's container runtime log configuration",
            facts,
        )
    if not parsed.records and parsed.unparsed_lines:
        return (
            Status.FAIL,
            f"{file_path} holds {parsed.unparsed_lines} lines in neither CRI nor Docker JSON "
            f"format",
            "check the node's container runtime log configuration",
            facts,
        )
    if expected is not LineFormat.UNKNOWN and parsed.records and parsed.format is not expected:
        return (
            Status.FAIL,
            f"{file_path} holds {parsed.format.value} lines but node runtime "
            f"{files.runtime.value} writes {expected.value}",
            "make collectors detect the format (OpenTelemetry `container` operator, Fluent Bit "
            "`multiline.parser docker, cri`) and check the runtime's log driver",
            facts,
        )
    stale = _stale(parsed.last_time, output)
    if stale is not None:
        return (
            Status.FAIL,
            f"{file_path} ends at {parsed.last_time} but the API has lines up to {stale}: the "
            f"file on the node is not where the runtime writes now",
            "check the kubelet's log directory and rotation; collectors read this file",
            facts,
        )
    return None


def _stale(file_time: str, output: OutputEvidence) -> str | None:
    if output.current.status != 200 or not file_time:
        return None
    records = logfiles.records_from_api(output.current.body[-65536:], timestamps=True)
    api_time = next((r.time for r in reversed(records) if r.time), "")
    file_moment = logfiles.parse_time(file_time)
    api_moment = logfiles.parse_time(api_time)
    if file_moment is None or api_moment is None:
        return None
    if (api_moment - file_moment).total_seconds() > STALE_TOLERANCE_SECONDS:
        return api_time
    return None


def _link_problem(files: NodeFileEvidence) -> tuple[Status, str, str] | None:
    if not files.link_name:
        return None
    link = f"/var/log/containers/{files.link_name}"
    if files.link_listing is None or files.link_listing.status != 200:
        status = files.link_listing.status if files.link_listing else 0
        return (
            Status.FAIL,
            f"/var/log/containers could not be listed on node {files.node} (HTTP {status})",
            "check that the kubelet creates /var/log/containers links",
        )
    if files.link_name not in _names(files.link_listing):
        return (
            Status.FAIL,
            f"{link} is missing on node {files.node}, so collectors that read "
            f"/var/log/containers miss this container",
            "check the kubelet: it links every running container's log there",
        )
    head = files.link_head
    if head is None or head.status == 404:
        return (
            Status.FAIL,
            f"{link} dangles on node {files.node}: it does not resolve to a file (the kubelet's "
            f"file server answers 404), so collectors that follow it read nothing",
            "point the runtime's log root back at /var/log/pods, or mount the directory the "
            "link targets at the identical path in every collector",
        )
    file_head = files.head
    comparable = (
        file_head is not None and file_head.status in (200, 206) and head.status in (200, 206)
    )
    # The file may grow between the two reads, so only the shorter read's bytes are compared.
    if comparable and file_head is not None and not _same_start(head.body, file_head.body):
        return (
            Status.FAIL,
            f"{link} resolves to a file whose content differs from "
            f"/var/log/{files.directory}/{files.file_name}",
            "check the link's target with `readlink -f` on the node",
        )
    return None


def _same_start(first: bytes, second: bytes) -> bool:
    shorter = min(len(first), len(second))
    return first[:shorter] == second[:shorter]


def check_collected(evidence: LogEvidence, target: LogTarget) -> CheckResult:
    """Check that some collector selects, opens and parses the container's log file."""
    facts = evidence.facts()
    log_target = container_log_target(evidence, target, facts)
    found = facts.collectors
    base: dict[str, Any] = {
        "pod_path": log_target.pod_path,
        "link_path": log_target.link_path,
        "runtime": log_target.runtime.value,
        "collectors_found": [collector.name for collector in found.collectors],
    }
    if found.problems:
        base["discovery_problems"] = found.problems
    if facts.runtime_problem:
        base["runtime_note"] = f"{facts.runtime_problem}; CRI lines assumed"
    if not found.collectors and facts.denied_lists:
        rules = "".join(rule.to_yaml() for rule in facts.denied_lists)
        return _result(
            COLLECTED_CHECK,
            target,
            Status.ERROR,
            "no log collector found, and the API server denied listing collectors in all "
            "namespaces or reading their ConfigMaps, so this could not be decided",
            f"add these rules for the user running the suite, or pass the collectors' "
            f"configuration files to the suite:\n{rules}",
            rbac_rule=rules,
            **base,
        )
    if not found.collectors:
        return _result(
            COLLECTED_CHECK,
            target,
            Status.FAIL,
            "no log collector found (OpenTelemetry Collector with filelog, Fluent Bit tail, "
            "Datadog agent) in the namespaces this user can read",
            "deploy a node-level log collector that reads /var/log/pods (for example an "
            "OpenTelemetry Collector DaemonSet with the filelog receiver), or pass its "
            "configuration files to the suite",
            **base,
        )
    verdicts = [_evaluate(collector, log_target) for collector in found.collectors]
    return _collected_result(target, verdicts, base)


def _evaluate(collector: Any, target: ContainerLogTarget) -> Verdict:
    """Evaluate one collector; one that would read the file but runs no pod cannot deliver it."""
    verdict: Verdict = collector.evaluate(target)
    not_running = collector.reader.not_running
    if verdict.outcome is Outcome.READS and not_running:
        verdict.outcome = Outcome.BROKEN
        verdict.reason = f"{verdict.reason}, but {not_running}"
        verdict.remedy = "check why the collector's pods are not ready (kubectl describe)"
    return verdict


def _collected_result(
    target: LogTarget, verdicts: list[Verdict], base: dict[str, Any]
) -> CheckResult:
    readers = [v for v in verdicts if v.outcome is Outcome.READS]
    broken = [v for v in verdicts if v.outcome is Outcome.BROKEN]
    doubtful = [v for v in verdicts if v.outcome is Outcome.DOUBTFUL]
    evidence = {**base, "verdicts": [v.to_evidence() for v in verdicts]}
    read_by = "; ".join(f"{v.collector} ({v.path})" for v in readers)
    if broken:
        first = broken[0]
        also = f"; read by {read_by}" if readers else "; no collector reads it"
        return _result(
            COLLECTED_CHECK,
            target,
            Status.FAIL,
            f"{first.collector} selects this container's logs but cannot deliver them: "
            f"{first.reason}{also}",
            first.remedy,
            **evidence,
        )
    if readers and not doubtful:
        return _result(COLLECTED_CHECK, target, Status.PASS, f"read by {read_by}", **evidence)
    if doubtful:
        first = doubtful[0]
        return _result(
            COLLECTED_CHECK,
            target,
            Status.WARN,
            f"{first.collector} may not read this container's logs: {first.reason}",
            first.remedy,
            severity=Severity.WARNING,
            **evidence,
        )
    reasons = "; ".join(f"{v.collector}: {v.reason}" for v in verdicts)
    remedy = next((v.remedy for v in verdicts if v.remedy), "")
    return _result(
        COLLECTED_CHECK,
        target,
        Status.FAIL,
        f"no collector reads {target.container} of pod {target.pod}: {reasons}",
        remedy,
        **evidence,
    )


def container_log_target(
    evidence: LogEvidence, target: LogTarget, facts: ClusterFacts
) -> ContainerLogTarget:
    """Build the collector-side view of a container: paths, runtime, annotations."""
    pod, container = _find_container(evidence._release, target)
    raw_pod = facts.pods.get(target.pod, {})
    metadata = raw_pod.get("metadata") or {}
    node = getattr(pod, "node", "") or ""
    runtime = logfiles.runtime_kind(facts.runtimes.get(node, ""))
    if runtime is RuntimeKind.UNKNOWN:
        runtime = RuntimeKind.CONTAINERD
    return ContainerLogTarget(
        namespace=target.namespace,
        pod=target.pod,
        uid=getattr(pod, "uid", ""),
        container=target.container,
        container_id=getattr(container, "container_id", "") or "",
        restart_count=getattr(container, "restart_count", 0),
        node=node,
        runtime=runtime,
        image=getattr(container, "image", ""),
        pod_annotations=dict(metadata.get("annotations") or {}),
        pod_labels=dict(metadata.get("labels") or {}),
    )


CHECKS: dict[str, Callable[[LogEvidence, LogTarget], CheckResult]] = {
    OUTPUT_CHECK: check_output,
    NODE_FILE_CHECK: check_node_file,
    COLLECTED_CHECK: check_collected,
}
