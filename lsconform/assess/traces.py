"""Evidence for the traces checks: from the tracing settings to spans arriving at the collector.

The checks form a chain, and a check whose prerequisite failed is skipped with the name of that
prerequisite, so that one fault fails one check:

    traces.values        tracing settings sit where the chart reads them
    traces.enabled       the config ConfigMap turns tracing on (off: skip, or fail on request)
    traces.endpoint      OTLP_ENDPOINT suits OTEL_EXPORTER (scheme, port, /v1/traces)
    traces.pod-env       every pod reading the ConfigMap runs with its current values
    traces.collector     the endpoint's Service has ready pods and one accepts TCP
    traces.tls           the collector's TLS handshake agrees with the TLS setting
    traces.accepts       the collector takes a probe export without rejecting spans
    traces.arrival       each traced service's own spans reach the collector or a trace backend

`TracesRun` computes each result once per session and remembers it for the checks after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lsconform.cluster.errors import ClusterError, ConnectionRefused, Forbidden
from lsconform.cluster.transport import HttpTarget
from lsconform.constants import COMPONENTS_BY_SUFFIX, OTLP_GRPC_PORT, OTLP_HTTP_PORT
from lsconform.probes import otlp_wire as wire
from lsconform.probes.otlp import build_probe_request, new_probe_id
from lsconform.probes.otlp_client import ACCEPTED, PARTIAL, export
from lsconform.probes.otlp_endpoint import (
    Endpoint,
    EndpointSyntaxError,
    ServiceReference,
    check_endpoint,
    check_tls_agreement,
    parse_endpoint,
    service_reference,
    tls_from_config,
)
from lsconform.probes.otlp_evidence import (
    BackendError,
    SpanCounters,
    backend_services,
    detect_backend,
    find_traces,
    parse_span_counters,
)
from lsconform.probes.tracing_config import (
    ENABLE_HINT,
    TracingConfig,
    configmap_changed_at,
    find_misplaced_settings,
    parse_time,
)
from lsconform.results import Area, CheckResult, Severity, Status
from lsconform.settings import Settings

log = logging.getLogger(__name__)

# The collector's own telemetry port (its `service.telemetry.metrics` default).
COLLECTOR_METRICS_PORT = 8888
# Responses read from health endpoints, collector metrics and trace backends (bytes).
MAX_BODY_BYTES = 4 * 1024 * 1024
# Seconds between two looks for arrived spans while waiting.
POLL_INTERVAL = 0.2
# Components whose exports go over gRPC only (their chart env sets OTLP export only for
# exporter grpc), by the prefix of their component suffix.
GRPC_ONLY_PREFIXES = ("smithdb-",)


@dataclass(frozen=True)
class TracedTarget:
    """A component whose service exports spans, with its ready pods to send traffic to."""

    id: str
    component: str
    workload: str
    pods: tuple[str, ...]
    health_port: int | None
    health_path: str | None
    service_names: tuple[str, ...]


@dataclass(frozen=True)
class EnvTarget:
    """A component whose containers read the config ConfigMap through envFrom."""

    id: str
    component: str
    workload_kind: str
    workload: str
    pods: tuple[Any, ...] = field(default=(), compare=False)


def traced_targets(release: Any, settings: Settings) -> list[TracedTarget]:
    """Enabled components the chart's services trace, each with its ready pods."""
    del settings
    found = []
    for component in release.components:
        spec = COMPONENTS_BY_SUFFIX.get(component.suffix)
        if spec is None or not spec.traced or not component.enabled:
            continue
        names = (f"{release.fullname}-{component.suffix}", component.suffix, spec.container)
        found.append(
            TracedTarget(
                id=component.suffix,
                component=component.suffix,
                workload=component.workload_name,
                pods=tuple(p.name for p in component.pods if p.ready),
                health_port=spec.health_port,
                health_path=spec.health_path,
                service_names=tuple(dict.fromkeys(names)),
            )
        )
    return found


def env_targets(release: Any, settings: Settings) -> list[EnvTarget]:
    """Enabled components whose containers take env from the config ConfigMap."""
    del settings
    found = []
    for component in release.components:
        reads = any(
            source.kind == "configMap" and source.name == release.config_map_name
            for container in component.containers
            for source in container.env_from
        )
        if component.enabled and reads:
            found.append(
                EnvTarget(
                    component.suffix,
                    component.suffix,
                    component.workload_kind,
                    component.workload_name,
                    tuple(component.pods),
                )
            )
    return found


def _result(
    check_id: str,
    status: Status,
    summary: str,
    *,
    component: str = "tracing",
    target: str = "",
    **extra: Any,
) -> CheckResult:
    return CheckResult(
        check_id=check_id,
        area=Area.TRACES,
        component=component,
        target=target or check_id,
        status=status,
        summary=summary,
        **extra,
    )


def _forbidden(check_id: str, error: Forbidden, target: str = "") -> CheckResult:
    return _result(
        check_id,
        Status.ERROR,
        f"not allowed to read what this check needs: {error.cause}",
        target=target,
        evidence=dict(error.evidence),
        remedy=f"grant this rule to the identity running the suite:\n{error.rule_yaml()}",
    )


@dataclass
class CollectorPlace:
    """Location of the collector behind OTLP_ENDPOINT: its Service, a ready pod and its port."""

    service: ServiceReference
    pod: str
    pod_ip: str
    port: int
    ready_pods: list[str]


class TracesRun:
    """The traces checks' shared state for one session: settings read once, results remembered."""

    def __init__(
        self, release: Any, client: Any, transport: Any, local_transport: Any, settings: Settings
    ) -> None:
        self.release = release
        self.client = client
        self.transport = transport
        self.local_transport = local_transport
        self.settings = settings
        self.config = TracingConfig.from_configmap(release.config_map_name, release.config_data)
        self._results: dict[str, CheckResult] = {}
        self._place: CollectorPlace | None = None
        self._lock = threading.Lock()
        self._backend: tuple[str, Callable[[str], tuple[int, bytes]]] | None = None
        self._configmap_read = False
        self._configmap_changed: datetime | None = None

    # -- the chain --------------------------------------------------------------------------

    def _once(self, check_id: str, compute: Callable[[], CheckResult]) -> CheckResult:
        with self._lock:
            cached = self._results.get(check_id)
        if cached is not None:
            return cached
        started = time.monotonic()
        result = compute()
        result.duration = time.monotonic() - started
        with self._lock:
            self._results.setdefault(check_id, result)
            return self._results[check_id]

    def _blocked(
        self,
        check_id: str,
        prerequisites: tuple[Callable[[], CheckResult], ...],
        target: str = "",
        component: str = "tracing",
    ) -> CheckResult | None:
        for prerequisite in prerequisites:
            result = prerequisite()
            if result.status in (Status.FAIL, Status.ERROR, Status.SKIP):
                # A skipped prerequisite already names the root cause (tracing off, or the
                # check that failed further up); repeat it as it is.
                reason = result.summary
                if result.status is not Status.SKIP:
                    reason = f"{result.check_id} did not pass: {result.summary}"
                return _result(
                    check_id,
                    Status.SKIP,
                    reason,
                    target=target,
                    component=component,
                    severity=Severity.INFO,
                )
        return None

    # -- traces.values ----------------------------------------------------------------------

    def check_values(self) -> CheckResult:
        """Check that tracing settings in the user values sit under config.observability.tracing."""
        return self._once("traces.values", self._values)

    def _values(self) -> CheckResult:
        misplaced = find_misplaced_settings(self.release.values or {})
        if not misplaced:
            return _result(
                "traces.values", Status.PASS, "no tracing settings at keys the chart does not read"
            )
        first = misplaced[0]
        state = "on" if self.config.enabled else "off"
        return _result(
            "traces.values",
            Status.FAIL,
            f"user values set {first.path} but the chart reads {first.expected}, so Helm ignores "
            f"it; the rendered {self.config.configmap} has tracing {state} "
            f"(OTEL_TRACING_ENABLED={self.config.keys.get('OTEL_TRACING_ENABLED', 'absent')})",
            evidence={
                "misplaced": [f"{m.path} = {m.value}" for m in misplaced],
                "configmap": self.config.configmap,
            },
            remedy=f"move the settings under {first.expected} in the release values and run "
            "helm upgrade",
        )

    # -- traces.enabled ---------------------------------------------------------------------

    def check_enabled(self) -> CheckResult:
        """Check that the config ConfigMap turns tracing on; report off with how to enable it."""
        return self._once("traces.enabled", self._enabled)

    def _enabled(self) -> CheckResult:
        evidence = {"configmap": self.config.configmap, "keys": self.config.keys}
        if not self.config.keys:
            return _result(
                "traces.enabled",
                Status.ERROR,
                f"ConfigMap {self.config.configmap or '<fullname>-config'} was not "
                "found or has no OTEL keys, so the tracing setting is unknown",
                evidence=evidence,
                remedy="check that discovery can read ConfigMaps",
            )
        if self.config.enabled:
            return _result(
                "traces.enabled",
                Status.PASS,
                f"tracing is on: OTEL_EXPORTER={self.config.effective_exporter}, "
                f"OTLP_ENDPOINT={self.config.endpoint}",
                evidence=evidence,
            )
        summary = (
            f"tracing is off (OTEL_TRACING_ENABLED="
            f"{self.config.keys.get('OTEL_TRACING_ENABLED', 'absent')} in "
            f"{self.config.configmap}); to turn it on, {ENABLE_HINT}"
        )
        status = Status.FAIL if self.settings.require_tracing else Status.SKIP
        return _result(
            "traces.enabled",
            status,
            summary,
            evidence=evidence,
            remedy=ENABLE_HINT,
            severity=Severity.CRITICAL if self.settings.require_tracing else Severity.INFO,
        )

    # -- traces.endpoint --------------------------------------------------------------------

    def check_endpoint(self) -> CheckResult:
        """Check that OTLP_ENDPOINT has the form OTEL_EXPORTER needs; name gRPC-only components."""
        return self._once("traces.endpoint", self._endpoint)

    def _endpoint(self) -> CheckResult:
        blocked = self._blocked("traces.endpoint", (self.check_enabled,))
        if blocked:
            return blocked
        exporter = self.config.effective_exporter
        problems = check_endpoint(self.config.endpoint, exporter)
        evidence: dict[str, Any] = {
            "OTLP_ENDPOINT": self.config.endpoint,
            "OTEL_EXPORTER": exporter,
        }
        if problems:
            evidence["problems"] = [p.summary for p in problems]
            return _result(
                "traces.endpoint",
                Status.FAIL,
                problems[0].summary,
                evidence=evidence,
                remedy=problems[0].fix,
            )
        grpc_only = [
            c.suffix
            for c in self.release.components
            if c.enabled and c.suffix.startswith(GRPC_ONLY_PREFIXES)
        ]
        if grpc_only and exporter == "http":
            return _result(
                "traces.endpoint",
                Status.WARN,
                f"exporter is http, but {', '.join(grpc_only)} export traces only over gRPC; "
                "expect no spans from them",
                evidence=evidence,
                severity=Severity.WARNING,
                remedy=f"set config.observability.tracing.exporter: grpc with a host:"
                f"{OTLP_GRPC_PORT} endpoint (no scheme) to get spans from every component",
            )
        if grpc_only and "://" in self.config.endpoint:
            # SmithDB builds OTEL_EXPORTER_OTLP_ENDPOINT as http(s)://<endpoint> itself.
            return _result(
                "traces.endpoint",
                Status.WARN,
                f"{', '.join(grpc_only)} prepend http:// or https:// to OTLP_ENDPOINT, so the "
                f"scheme in {self.config.endpoint} gives them an invalid endpoint",
                evidence=evidence,
                severity=Severity.WARNING,
                remedy=f"write the endpoint as host:{OTLP_GRPC_PORT} without a scheme; useTls "
                "decides TLS",
            )
        return _result(
            "traces.endpoint",
            Status.PASS,
            f"{self.config.endpoint} suits the {exporter} exporter",
            evidence=evidence,
        )

    def endpoint(self) -> Endpoint:
        return parse_endpoint(self.config.endpoint)

    def expects_tls(self) -> bool:
        return tls_from_config(self.endpoint(), self.config.effective_exporter, self.config.use_tls)

    # -- traces.pod-env ---------------------------------------------------------------------

    def check_pod_env(self, target: EnvTarget) -> CheckResult:
        """Check that each pod of the component carries the ConfigMap's tracing values and started
        after its last change."""
        return self._once(f"traces.pod-env/{target.id}", lambda: self._pod_env(target))

    def _configmap_changed_at(self) -> datetime | None:
        # Every component's pod-env check compares with the same ConfigMap: read it once.
        if not self._configmap_read:
            self._configmap_changed = self._read_configmap_changed_at()
            self._configmap_read = True
        return self._configmap_changed

    def _read_configmap_changed_at(self) -> datetime | None:
        try:
            configmap = self.client.get(
                "configmaps", self.config.configmap, namespace=self.release.namespace
            )
        except ClusterError as error:
            log.debug("reading ConfigMap %s failed: %s", self.config.configmap, error)
            return None
        return configmap_changed_at(configmap)

    def _pod_env(self, target: EnvTarget) -> CheckResult:
        changed = self._configmap_changed_at()
        stale: list[str] = []
        overridden: list[str] = []
        for pod in target.pods:
            started = parse_time(pod.start_time)
            if changed is not None and started is not None and started < changed:
                stale.append(f"{pod.name} started {pod.start_time}")
            for container in pod.containers:
                for variable in container.env:
                    expected = self.config.keys.get(variable.name)
                    if expected is not None and variable.value != expected:
                        shown = variable.value if not variable.source else f"from {variable.source}"
                        overridden.append(
                            f"{pod.name}/{container.name}: {variable.name}="
                            f"{shown} (ConfigMap: {expected})"
                        )
        evidence: dict[str, Any] = {
            "configmap": self.config.configmap,
            "configmap_changed_at": changed.isoformat() if changed else "unknown",
            "pods": [p.name for p in target.pods],
        }
        if stale:
            evidence["stale_pods"] = stale
            return _result(
                "traces.pod-env",
                Status.FAIL,
                f"{len(stale)} pod(s) of {target.workload} started before {self.config.configmap} "
                f"last changed ({changed.isoformat() if changed else '?'}) and still run with the "
                "env from before: " + ", ".join(s.split(" ")[0] for s in stale),
                component=target.component,
                target=target.id,
                evidence=evidence,
                remedy=f"restart them: kubectl -n {self.release.namespace} rollout restart "
                f"{target.workload_kind.lower() or 'deployment'}/{target.workload} (this "
                "workload has no checksum/config annotation, so a config change does not roll it)",
            )
        if overridden:
            evidence["overrides"] = overridden
            return _result(
                "traces.pod-env",
                Status.FAIL,
                f"an env entry overrides the ConfigMap's tracing value: {overridden[0]}",
                component=target.component,
                target=target.id,
                evidence=evidence,
                remedy="remove the OTEL entry from commonEnv or the component's extraEnv, or set "
                "it through config.observability.tracing",
            )
        if changed is None:
            return _result(
                "traces.pod-env",
                Status.ERROR,
                f"cannot tell when {self.config.configmap} last changed",
                component=target.component,
                target=target.id,
                evidence=evidence,
                remedy="grant get on configmaps in the release namespace",
            )
        return _result(
            "traces.pod-env",
            Status.PASS,
            f"{len(target.pods)} pod(s) started after the ConfigMap's last change and "
            "carry its tracing values",
            component=target.component,
            target=target.id,
            evidence=evidence,
        )

    # -- traces.collector -------------------------------------------------------------------

    def check_collector(self) -> CheckResult:
        """Check that the endpoint's Service has a ready pod that accepts a TCP connection."""
        return self._once("traces.collector", self._collector)

    def _collector(self) -> CheckResult:
        blocked = self._blocked("traces.collector", (self.check_enabled, self.check_endpoint))
        if blocked:
            return blocked
        endpoint = self.endpoint()
        reference = service_reference(endpoint.host, self.release.namespace)
        if reference is None:
            return _result(
                "traces.collector",
                Status.SKIP,
                f"the endpoint host {endpoint.host} is not a cluster Service name; "
                "lsconform reaches only in-cluster collectors",
                severity=Severity.INFO,
            )
        try:
            place = self._locate(reference, endpoint)
        except Forbidden as error:
            return _forbidden("traces.collector", error)
        except ClusterError as error:
            return _result(
                "traces.collector",
                Status.FAIL,
                error.cause,
                evidence={**error.evidence, "endpoint": endpoint.raw},
                remedy=error.fix,
            )
        evidence = {
            "service": f"{reference.namespace}/{reference.name}",
            "ready_pods": place.ready_pods,
            "pod": place.pod,
            "port": place.port,
        }
        try:
            refused = self._connect(place)
        except Forbidden as error:
            return _forbidden("traces.collector", error)
        if refused:
            evidence["connect"] = refused
            return _result(
                "traces.collector",
                Status.FAIL,
                f"pod {place.pod} of Service {reference.name} refuses connections on port "
                f"{place.port}: nothing listens on the pod's address there, as when the OTLP "
                "receiver is bound to localhost (the default since collector 0.104)",
                evidence=evidence,
                remedy=f"set the receiver endpoint to 0.0.0.0:{place.port} or "
                f"${{env:MY_POD_IP}}:{place.port} in the collector config",
            )
        outside = self._refused_from_outside(place)
        if outside:
            evidence["pod_proxy"] = outside
            return _result(
                "traces.collector",
                Status.FAIL,
                f"pod {place.pod} accepts port {place.port} through a port-forward (inside the "
                "pod) but refuses it on the pod's address from outside: the OTLP receiver "
                "listens on localhost only (the default since collector 0.104)",
                evidence=evidence,
                remedy=f"set the receiver endpoint to 0.0.0.0:{place.port} or "
                f"${{env:MY_POD_IP}}:{place.port} in the collector config",
            )
        self._place = place
        return _result(
            "traces.collector",
            Status.PASS,
            f"Service {reference.namespace}/{reference.name} has {len(place.ready_pods)} "
            f"ready pod(s); pod {place.pod} accepts TCP on port {place.port}",
            evidence=evidence,
        )

    def _locate(self, reference: ServiceReference, endpoint: Endpoint) -> CollectorPlace:
        service = self.client.get("services", reference.name, namespace=reference.namespace)
        wanted = endpoint.port or (
            OTLP_GRPC_PORT if self.config.effective_exporter == "grpc" else OTLP_HTTP_PORT
        )
        ports = (service.get("spec") or {}).get("ports") or []
        port = next((p for p in ports if p.get("port") == wanted), None)
        if port is None:
            listed = ", ".join(f"{p.get('name')}:{p.get('port')}" for p in ports)
            raise ClusterError(
                f"Service {reference.name} has no port {wanted}",
                evidence={"ports": listed},
                fix="point OTLP_ENDPOINT at one of the Service's OTLP ports",
            )
        endpoints = self.client.get("endpoints", reference.name, namespace=reference.namespace)
        ready: list[tuple[str, str, int]] = []
        not_ready = 0
        for subset in endpoints.get("subsets") or []:
            number = _subset_port(subset.get("ports") or [], port)
            not_ready += len(subset.get("notReadyAddresses") or [])
            for address in subset.get("addresses") or []:
                pod = ((address.get("targetRef") or {}).get("name")) or ""
                if pod and number is not None:
                    ready.append((pod, str(address.get("ip", "")), number))
        if not ready:
            raise ClusterError(
                f"Service {reference.namespace}/{reference.name} has no ready endpoint "
                f"({not_ready} not ready): the collector is not running",
                evidence={"endpoint": endpoint.raw},
                fix=f"check the collector pods: kubectl -n {reference.namespace} get pods; "
                "kubectl describe the collector Deployment",
            )
        pod, ip, number = sorted(ready)[0]
        return CollectorPlace(reference, pod, ip, number, sorted({r[0] for r in ready}))

    def _connect(self, place: CollectorPlace) -> str:
        """Open a port-forward stream to the pod port; return the refusal text, or ''."""
        target = HttpTarget(place.service.namespace, "pod", place.pod, place.port, ip=place.pod_ip)
        try:
            sock = self.local_transport.connect(target, self.settings.probe_timeout)
        except ConnectionRefused as error:
            return error.cause
        try:
            sock.settimeout(0.3)
            try:
                data = sock.recv(1)
            except OSError:
                data = None  # silence means connected and waiting for the client
            if data == b"":
                for _ in range(20):
                    message = getattr(sock, "error", None)
                    if message:
                        return str(message)
                    time.sleep(0.01)
                return "the connection closed at once"
            return ""
        finally:
            wire.close_drained(sock)

    def _refused_from_outside(self, place: CollectorPlace) -> str:
        """Return the refusal text when the pod's address refuses the port from outside.

        A kubelet's port-forward dials inside the pod's network namespace, so it reaches a
        receiver bound to localhost; the API server's pod proxy dials the pod's address, as
        other pods do. Only a refusal counts: any answer, even an error, shows a listener.
        """
        if getattr(self.transport, "name", "") == getattr(self.local_transport, "name", ""):
            return ""
        target = HttpTarget(place.service.namespace, "pod", place.pod, place.port, ip=place.pod_ip)
        try:
            self.transport.request(
                target, "/", timeout=self.settings.probe_timeout, max_bytes=64 * 1024
            )
        except ConnectionRefused as error:
            return error.cause
        except ClusterError as error:
            log.debug("pod proxy probe of %s:%s ended with %s", place.pod, place.port, error)
        return ""

    def _relay(self) -> wire.LoopbackRelay:
        place = self._place
        assert place is not None
        target = HttpTarget(place.service.namespace, "pod", place.pod, place.port, ip=place.pod_ip)
        timeout = self.settings.probe_timeout
        return wire.LoopbackRelay(lambda: self.local_transport.connect(target, timeout))

    # -- traces.tls -------------------------------------------------------------------------

    def check_tls(self) -> CheckResult:
        """Check that the collector's response to a TLS ClientHello agrees with the TLS setting."""
        return self._once("traces.tls", self._tls)

    def _tls(self) -> CheckResult:
        blocked = self._blocked("traces.tls", (self.check_collector,))
        if blocked:
            return blocked
        endpoint = self.endpoint()
        expects = self.expects_tls()
        static = check_tls_agreement(endpoint, self.config.use_tls)
        with self._relay() as relay:
            probe = wire.probe_tls(relay.address, endpoint.host, self.settings.probe_timeout)
        evidence: dict[str, Any] = {
            "OTLP_ENDPOINT": endpoint.raw,
            "OTEL_USE_TLS": self.config.keys.get("OTEL_USE_TLS"),
            "client_uses_tls": "unknown: OTEL_USE_TLS and the scheme disagree"
            if static
            else expects,
            **probe.evidence,
        }
        if probe.speaks_tls is None:
            return _result(
                "traces.tls",
                Status.ERROR,
                f"the collector answered neither a TLS ClientHello nor plaintext ({probe.detail})",
                evidence=evidence,
                remedy="check the collector's receiver config and logs",
            )
        server = "TLS" if probe.speaks_tls else f"plaintext ({probe.plaintext})"
        if static or expects != probe.speaks_tls:
            if probe.speaks_tls:
                cause = (
                    "the collector speaks TLS but the services dial plaintext"
                    if not expects
                    else static[0].summary
                )
                fix = (
                    "use an https:// endpoint and config.observability.tracing.useTls: true, "
                    "or turn TLS off on the receiver"
                )
            else:
                cause = (
                    static[0].summary
                    if static
                    else "the services dial TLS but the collector speaks plaintext"
                )
                fix = (
                    "set config.observability.tracing.useTls: false and use an http:// "
                    "endpoint, or enable TLS on the collector's receiver"
                )
            return _result(
                "traces.tls",
                Status.FAIL,
                f"TLS mismatch: {cause}; the collector answered {server}",
                evidence=evidence,
                remedy=fix,
            )
        return _result(
            "traces.tls",
            Status.PASS,
            f"the collector speaks {server}, as the settings expect",
            evidence=evidence,
        )

    # -- traces.accepts ---------------------------------------------------------------------

    def check_accepts(self) -> CheckResult:
        """Check that the collector accepts a probe export over the configured protocol in full."""
        return self._once("traces.accepts", self._accepts)

    def _accepts(self) -> CheckResult:
        blocked = self._blocked("traces.accepts", (self.check_collector, self.check_tls))
        if blocked:
            return blocked
        endpoint = self.endpoint()
        exporter = self.config.effective_exporter
        probe_id = new_probe_id()
        request = build_probe_request(probe_id, environment=self.config.environment)
        with self._relay() as relay:
            outcome = export(
                endpoint,
                request,
                protocol=exporter,
                tls=self.expects_tls(),
                timeout=self.settings.probe_timeout,
                connect_to=relay.address,
                verify=False,
            )
        evidence = {"probe_id": probe_id, "protocol": exporter, **outcome.evidence}
        if outcome.kind == ACCEPTED:
            return _result("traces.accepts", Status.PASS, outcome.explanation, evidence=evidence)
        if outcome.kind == PARTIAL:
            rejected = outcome.result.rejected_spans if outcome.result else 0
            return _result(
                "traces.accepts",
                Status.FAIL,
                f"the collector returned success but rejected {rejected} of "
                f"{outcome.spans_sent} probe spans (partial_success): "
                f"{outcome.result.error_message if outcome.result else ''}",
                evidence=evidence,
                remedy="raise the limit that rejects them in the collector or its backend (the "
                "message names it); exporters log partial success at most as a warning, so "
                "such spans vanish silently",
            )
        return _result(
            "traces.accepts",
            Status.FAIL,
            outcome.explanation,
            evidence=evidence,
            remedy="fix the endpoint or the collector as the summary says",
        )

    # -- traces.arrival ---------------------------------------------------------------------

    def check_arrival(self, target: TracedTarget) -> CheckResult:
        """Check that spans of the component's service reach the collector or a trace backend."""
        return self._once(f"traces.arrival/{target.id}", lambda: self._arrival(target))

    def _arrival(self, target: TracedTarget) -> CheckResult:
        blocked = self._blocked(
            "traces.arrival",
            (self.check_collector, self.check_tls),
            target=target.id,
            component=target.component,
        )
        if blocked:
            return blocked
        accepts = self.check_accepts()
        if accepts.status is Status.FAIL and accepts.evidence.get("rejected_spans") is None:
            return _result(
                "traces.arrival",
                Status.SKIP,
                f"traces.accepts did not pass: {accepts.summary}",
                target=target.id,
                component=target.component,
                severity=Severity.INFO,
            )
        if not target.pods:
            return _result(
                "traces.arrival",
                Status.SKIP,
                f"{target.component} has no ready pod",
                target=target.id,
                component=target.component,
                severity=Severity.INFO,
            )
        if self.settings.trace_backend:
            return self._arrival_in_backend(target)
        return self._arrival_in_metrics(target)

    def _drive_traffic(self, target: TracedTarget) -> list[str]:
        """Request each ready pod's health endpoint once, so its service emits a span."""
        sent: list[str] = []
        if target.health_port is None or target.health_path is None:
            return sent
        for pod in target.pods:
            http_target = HttpTarget(self.release.namespace, "pod", pod, target.health_port)
            try:
                response = self.transport.request(
                    http_target,
                    target.health_path,
                    timeout=self.settings.probe_timeout,
                    max_bytes=64 * 1024,
                )
                sent.append(f"{pod}{target.health_path} -> {response.status}")
            except ClusterError as error:
                sent.append(f"{pod}{target.health_path} -> {error.cause}")
        return sent

    def _collector_counters(self) -> SpanCounters:
        place = self._place
        assert place is not None
        http_target = HttpTarget(place.service.namespace, "pod", place.pod, COLLECTOR_METRICS_PORT)
        response = self.transport.request(
            http_target, "/metrics", timeout=self.settings.probe_timeout, max_bytes=MAX_BODY_BYTES
        )
        if response.status != 200:
            raise ClusterError(
                f"the collector's /metrics returned HTTP {response.status}",
                fix="expose the collector's telemetry on port 8888",
            )
        return parse_span_counters(response.text())

    def _arrival_in_metrics(self, target: TracedTarget) -> CheckResult:
        try:
            before = self._collector_counters()
        except ClusterError as error:
            return _result(
                "traces.arrival",
                Status.SKIP,
                f"no evidence source: the collector's metrics are not readable ({error.cause}) "
                "and no trace backend was given; pass --trace-backend URL (Tempo or Jaeger) or "
                "expose the collector's telemetry on port 8888",
                target=target.id,
                component=target.component,
                severity=Severity.INFO,
            )
        if "otelcol_receiver_accepted_spans" not in before.found:
            return _result(
                "traces.arrival",
                Status.SKIP,
                "the collector's metrics have no otelcol_receiver_accepted_spans; pass "
                "--trace-backend URL or raise service.telemetry.metrics.level to normal",
                target=target.id,
                component=target.component,
                severity=Severity.INFO,
            )
        sent = self._drive_traffic(target)
        deadline = time.monotonic() + self.settings.traces_wait
        after = before
        while time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL)
            try:
                after = self._collector_counters()
            except ClusterError as error:
                log.debug("reading collector metrics failed: %s", error)
                continue
            if after.accepted > before.accepted:
                break
        moved = after.moved_since(before)
        evidence = {
            "requests": sent,
            "counters_moved": moved,
            "evidence_source": "collector metrics (all services together)",
        }
        if moved["accepted"] <= 0:
            return _result(
                "traces.arrival",
                Status.FAIL,
                f"otelcol_receiver_accepted_spans did not move within "
                f"{self.settings.traces_wait:g} s after {len(sent)} request(s) to "
                f"{target.component}",
                target=target.id,
                component=target.component,
                evidence=evidence,
                remedy="check the service's OTEL env (traces.pod-env) and its logs for export "
                "errors",
            )
        if moved["send_failed"] > 0:
            return _result(
                "traces.arrival",
                Status.WARN,
                f"the collector received spans but failed to export {moved['send_failed']:g} to "
                "its backend",
                target=target.id,
                component=target.component,
                evidence=evidence,
                severity=Severity.WARNING,
                remedy="check the collector's exporter endpoint and logs",
            )
        return _result(
            "traces.arrival",
            Status.PASS,
            f"the collector accepted {moved['accepted']:g} span(s) after requests to "
            f"{target.component}; its counters do not name the sending service",
            target=target.id,
            component=target.component,
            evidence=evidence,
        )

    def _backend_fetch(self) -> tuple[str, Callable[[str], tuple[int, bytes]]]:
        if self._backend is None:
            fetch = make_backend_fetch(
                self.settings.trace_backend or "",
                self.transport,
                self.release.namespace,
                self.settings.probe_timeout,
            )
            self._backend = (detect_backend(fetch), fetch)
        return self._backend

    def _arrival_in_backend(self, target: TracedTarget) -> CheckResult:
        try:
            kind, fetch = self._backend_fetch()
        except (BackendError, ClusterError, wire.WireError) as error:
            return _result(
                "traces.arrival",
                Status.ERROR,
                f"the trace backend {self.settings.trace_backend} could not be queried: {error}",
                target=target.id,
                component=target.component,
                remedy="check --trace-backend: the base URL of Tempo (port 3200) or "
                "the Jaeger query service (port 16686)",
            )
        since = int(time.time()) - 1
        sent = self._drive_traffic(target)
        deadline = time.monotonic() + self.settings.traces_wait
        seen: list[str] = []
        while True:
            try:
                seen = backend_services(fetch, kind)
                for name in (n for n in target.service_names if n in seen):
                    hit = find_traces(fetch, kind, name, since_s=since)
                    if hit.trace_ids:
                        return _result(
                            "traces.arrival",
                            Status.PASS,
                            f"{kind} has {len(hit.trace_ids)} trace(s) of service {name} from "
                            "after the probe requests",
                            target=target.id,
                            component=target.component,
                            evidence={
                                "requests": sent,
                                "trace_ids": list(hit.trace_ids[:5]),
                                "evidence_source": f"{kind} at {self.settings.trace_backend}",
                            },
                        )
            except (BackendError, ClusterError, wire.WireError) as error:
                log.debug("trace backend query failed: %s", error)
            if time.monotonic() + POLL_INTERVAL > deadline:
                break
            time.sleep(POLL_INTERVAL)
        return _result(
            "traces.arrival",
            Status.FAIL,
            f"no trace of {target.component} (service.name {' or '.join(target.service_names)}) "
            f"reached {kind} within {self.settings.traces_wait:g} s after {len(sent)} request(s)",
            target=target.id,
            component=target.component,
            evidence={"requests": sent, "services_in_backend": seen[:20]},
            remedy="check the service's OTEL env (traces.pod-env), its logs for export errors, "
            "and the collector's trace pipeline to the backend",
        )


def _subset_port(ports: list[dict[str, Any]], service_port: dict[str, Any]) -> int | None:
    target_port = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target_port, int):
        return target_port
    for entry in ports:
        if entry.get("name") in (service_port.get("name"), target_port):
            return int(entry["port"])
    return None


def make_backend_fetch(
    url: str, transport: Any, namespace: str, timeout: float
) -> Callable[[str], tuple[int, bytes]]:
    """Build `fetch(path)` for a trace backend base URL.

    A cluster Service URL (`http://tempo.observability.svc:3200`) is reached through the run's
    transport; any other URL (a port-forward on localhost, an ingress) with plain HTTP.
    """
    try:
        base = parse_endpoint(url)
    except EndpointSyntaxError as error:
        raise BackendError(f"invalid --trace-backend {url!r}: {error}") from error
    if base.scheme not in ("http", "https"):
        raise BackendError(f"--trace-backend needs an http:// or https:// URL, got {url!r}")
    prefix = base.path.rstrip("/")
    port = base.port or (443 if base.scheme == "https" else 80)
    reference = service_reference(base.host, namespace) if ".svc" in base.host else None
    if reference is not None:
        target = HttpTarget(
            reference.namespace,
            "service",
            reference.name,
            port,
            scheme="https" if base.scheme == "https" else "http",
        )

        def fetch_in_cluster(path: str) -> tuple[int, bytes]:
            response = transport.request(
                target, prefix + path, timeout=timeout, max_bytes=MAX_BODY_BYTES
            )
            return response.status, response.body

        return fetch_in_cluster
    context = wire.client_tls_context(verify=True) if base.scheme == "https" else None

    def fetch_direct(path: str) -> tuple[int, bytes]:
        exchange = wire.http_exchange(
            (base.host, port),
            "GET",
            prefix + path,
            host_header=base.address,
            tls=context,
            timeout=timeout,
            max_bytes=MAX_BODY_BYTES,
        )
        return exchange.status, exchange.body

    return fetch_direct
