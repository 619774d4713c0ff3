"""OTLP span export of the simulated LangSmith services, with the real OpenTelemetry SDK.

A pod whose env has `OTEL_TRACING_ENABLED="true"` gets its own `TracerProvider` (never the global
one) that exports one span per request to `OTLP_ENDPOINT`. `OTEL_EXPORTER` picks OTLP/HTTP
(protobuf) or OTLP/gRPC. Only an in-cluster host name is swapped for the address of a pod behind
that Service (from `workdir/dns.json`), and the Service port for its target port. Path and port
keep their configured meaning, so a wrong port or a missing `/v1/traces` fails here as it fails
in a cluster.

How LangSmith's own services read these settings is application code that the chart does not show.
This module assumes that with `OTEL_USE_TLS="true"` the services attempt TLS even against an
`http://` endpoint, so the chart's default `useTls: true` breaks export to a plaintext collector.
OTLP/HTTP therefore uses TLS when the scheme is `https` or `OTEL_USE_TLS` is "true". For gRPC,
`OTEL_EXPORTER_OTLP_INSECURE="true"` (or `OTEL_USE_TLS="false"`) means plaintext. With neither
set, an `http://` endpoint means plaintext and anything else TLS, as in the OpenTelemetry Python
gRPC exporter.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

log = logging.getLogger(__name__)

# Spans leave the pod 200 ms after they end, so tests and checks see them quickly.
SCHEDULE_DELAY_MS = 200
# One export attempt may take this long before the SDK gives up on it (seconds).
EXPORT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ExportTarget:
    """A pod's export settings: exporter, translated endpoint, TLS, and why export is off."""

    exporter: str
    endpoint: str
    insecure: bool
    configured: str
    error: str | None = None


def load_dns(workdir: Path) -> dict[str, Any] | None:
    """Read `workdir/dns.json`, or return None while it does not exist yet."""
    path = workdir / "dns.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("cannot read %s: %s", path, error)
        return None
    return data if isinstance(data, dict) else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _translate(host: str, port: int, dns: Mapping[str, Any]) -> tuple[str, int] | str:
    """Map an in-cluster host and Service port to a pod address, or return an error message."""
    entry = dns.get(host)
    if isinstance(entry, dict) and entry.get("ip"):
        ports = entry.get("ports") or {}
        target = ports.get(str(port), port)
        return str(entry["ip"]), int(target)
    if _is_loopback(host):
        return host, port
    return f"name resolution failed for {host}: no such host"


def _split_grpc(endpoint: str) -> tuple[str, str, int | None, str]:
    """Split a gRPC endpoint into (scheme, host, port, rest), accepting `host:port[/path]`."""
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        return parts.scheme, parts.hostname or "", parts.port, parts.path
    hostport, _, rest = endpoint.partition("/")
    host, _, port_text = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    port = int(port_text) if port_text.isdigit() else None
    return "", host, port, ("/" + rest) if rest else ""


def resolve_target(env: Mapping[str, str], dns: Mapping[str, Any]) -> ExportTarget:
    """Work out the exporter, the loopback endpoint and TLS from a container's env."""
    configured = env.get("OTLP_ENDPOINT", "")
    exporter = env.get("OTEL_EXPORTER", "http").strip().lower() or "http"
    insecure_env = env.get("OTEL_EXPORTER_OTLP_INSECURE", "").lower()
    use_tls = env.get("OTEL_USE_TLS", "").lower()
    insecure = insecure_env == "true" or (insecure_env == "" and use_tls == "false")
    if not configured:
        return ExportTarget(exporter, "", insecure, configured, "OTLP_ENDPOINT is empty")

    if exporter == "grpc":
        scheme, host, port, rest = _split_grpc(configured)
        if scheme == "http" and insecure_env == "" and use_tls == "":
            insecure = True
        mapped = _translate(host, port or 443, dns)
        if isinstance(mapped, str):
            return ExportTarget(exporter, "", insecure, configured, mapped)
        hostport = f"{mapped[0]}:{mapped[1]}" if port is not None else mapped[0]
        endpoint = f"{scheme}://{hostport}{rest}" if scheme else f"{hostport}{rest}"
        return ExportTarget(exporter, endpoint, insecure, configured)

    parts = urlsplit(configured)
    if not parts.scheme or not parts.hostname:
        # Without a scheme the OTLP/HTTP exporter cannot build a request; keep it verbatim so the
        # export fails the way it does in the real service.
        return ExportTarget(exporter, configured, insecure, configured)
    default_port = 443 if parts.scheme == "https" else 80
    mapped = _translate(parts.hostname, parts.port or default_port, dns)
    if isinstance(mapped, str):
        return ExportTarget(exporter, "", insecure, configured, mapped)
    # The port keeps its meaning (80 for a bare http:// host) even when TLS is switched on.
    scheme = "https" if parts.scheme == "https" or use_tls == "true" else parts.scheme
    netloc = f"{mapped[0]}:{mapped[1]}"
    endpoint = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
    return ExportTarget(exporter, endpoint, scheme != "https", configured)


# Maximum characters of each exporter message copied into a pod's log line.
MAX_REASON_CHARS = 300


class _ExportErrors(logging.Handler):
    """Collect the OTLP exporters' log messages per export thread.

    Each pod's BatchSpanProcessor exports from a thread of its own, so the messages an exporter
    logs during one `export()` call belong to the pod whose exporter runs in that thread.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        messages = getattr(self.local, "messages", None)
        if messages is not None:
            messages.append(record.getMessage())

    def start(self) -> None:
        self.local.messages = []

    def collect(self) -> list[str]:
        messages: list[str] = getattr(self.local, "messages", None) or []
        self.local.messages = None
        return messages


_export_errors = _ExportErrors()
logging.getLogger("opentelemetry.exporter").addHandler(_export_errors)


class ReportingExporter(SpanExporter):
    """Wrap an exporter and report each failed export through a callback (the pod's log).

    The report carries the exporter's own reason (an HTTP status, a TLS or connection error)
    when it logged one during the export.
    """

    def __init__(self, inner: SpanExporter, report: Callable[[str], None], endpoint: str) -> None:
        self.inner = inner
        self.report = report
        self.endpoint = endpoint
        self.exported = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        _export_errors.start()
        try:
            result = self.inner.export(spans)
        except Exception as error:  # an exporter bug must not kill the pod's export thread
            _export_errors.collect()
            self.failed += len(spans)
            self.report(f"failed to export {len(spans)} spans to {self.endpoint}: {error}")
            return SpanExportResult.FAILURE
        reasons = _export_errors.collect()
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
            return result
        self.failed += len(spans)
        message = f"failed to export {len(spans)} spans to {self.endpoint}"
        if reasons:
            # The first message names the cause (a TLS or connection error, an HTTP status). A
            # later one, after retries, only reports that the exporter gave up.
            message += ": " + reasons[0][:MAX_REASON_CHARS]
        if len(reasons) > 1:
            message += f" ({reasons[-1][:MAX_REASON_CHARS]})"
        self.report(message)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def build_exporter(target: ExportTarget) -> SpanExporter:
    """Create the SDK exporter for a resolved target."""
    if target.exporter == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(
            endpoint=target.endpoint, insecure=target.insecure, timeout=EXPORT_TIMEOUT_S
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(endpoint=target.endpoint, timeout=EXPORT_TIMEOUT_S)


def build_provider(
    target: ExportTarget,
    *,
    service_name: str,
    pod: str,
    namespace: str,
    environment: str,
    report: Callable[[str], None],
) -> tuple[TracerProvider, ReportingExporter]:
    """Create a pod's own TracerProvider exporting to `target` in batches."""
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.instance.id": pod,
            "deployment.environment": environment,
            "k8s.pod.name": pod,
            "k8s.namespace.name": namespace,
        }
    )
    provider = TracerProvider(resource=resource)
    exporter = ReportingExporter(build_exporter(target), report, target.endpoint)
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter,
            schedule_delay_millis=SCHEDULE_DELAY_MS,
            export_timeout_millis=int(EXPORT_TIMEOUT_S * 1000),
        )
    )
    return provider, exporter
