"""Evidence that spans arrived: a collector's own metrics, and Tempo or Jaeger query APIs.

A collector exposes counters of the spans its receivers accepted or refused and its exporters
sent or failed to send. Recent collector releases, whose own telemetry goes through the
OpenTelemetry Go SDK's Prometheus exporter, name them with a `_total` suffix
(`otelcol_receiver_accepted_spans_total`). Older ones, such as 0.91, have no suffix. Both
spellings are read. NOTE: the first release with the suffix is not pinned down here.

A trace backend answers by service: Tempo's `/api/search?tags=service.name=<name>` lists traces
with that root or span service, Jaeger's `/api/traces?service=<name>` does the same. Both APIs
are read through a `fetch(path) -> (status, body)` callable, so the caller decides how the
backend is reached (the API server's proxy, a port-forward or a plain URL).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

ACCEPTED = "otelcol_receiver_accepted_spans"
REFUSED = "otelcol_receiver_refused_spans"
SENT = "otelcol_exporter_sent_spans"
SEND_FAILED = "otelcol_exporter_send_failed_spans"
_FAMILIES = (ACCEPTED, REFUSED, SENT, SEND_FAILED)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Fetch = Callable[[str], tuple[int, bytes]]


class BackendError(Exception):
    """A failed trace backend query. The message contains what the backend returned."""


@dataclass(frozen=True)
class SpanCounters:
    """Sums of the collector's span counters for trace pipelines (all labels added up)."""

    accepted: float = 0.0
    refused: float = 0.0
    sent: float = 0.0
    send_failed: float = 0.0
    found: frozenset[str] = field(default_factory=frozenset)
    by_transport: dict[str, float] = field(default_factory=dict)

    def moved_since(self, before: SpanCounters) -> dict[str, float]:
        """Return how much each counter rose since `before` (negative after a restart)."""
        return {
            "accepted": self.accepted - before.accepted,
            "refused": self.refused - before.refused,
            "sent": self.sent - before.sent,
            "send_failed": self.send_failed - before.send_failed,
        }


def parse_span_counters(text: str) -> SpanCounters:
    """Add up the collector's span counters from a Prometheus text exposition."""
    totals = dict.fromkeys(_FAMILIES, 0.0)
    found: set[str] = set()
    by_transport: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("otelcol_"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name = match.group(1)
        family = name[: -len("_total")] if name.endswith("_total") else name
        if family not in totals:
            continue
        try:
            value = float(match.group(4))
        except ValueError:
            continue
        totals[family] += value
        found.add(family)
        if family == ACCEPTED:
            labels = dict(_LABEL.findall(match.group(3) or ""))
            transport = labels.get("transport", "")
            by_transport[transport] = by_transport.get(transport, 0.0) + value
    return SpanCounters(
        totals[ACCEPTED],
        totals[REFUSED],
        totals[SENT],
        totals[SEND_FAILED],
        frozenset(found),
        by_transport,
    )


@dataclass(frozen=True)
class BackendHit:
    """Traces a backend returned for one service name."""

    backend: str
    service: str
    trace_ids: tuple[str, ...]
    newest_start_ns: int = 0


def _json(status: int, body: bytes, what: str) -> Any:
    if status != 200:
        raise BackendError(f"{what} returned HTTP {status}: {body[:120]!r}")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackendError(f"{what} returned invalid JSON: {error}") from error


def detect_backend(fetch: Fetch) -> str:
    """Tell whether the base URL serves Tempo or Jaeger's query API."""
    status, body = fetch("/api/echo")
    if status == 200 and body.strip() == b"echo":
        return "tempo"
    status, _ = fetch("/api/services")
    if status == 200:
        return "jaeger"
    raise BackendError(
        "neither Tempo (/api/echo) nor Jaeger (/api/services) responded at the trace backend URL"
    )


def backend_services(fetch: Fetch, backend: str) -> list[str]:
    """List the service names the backend has spans for."""
    if backend == "tempo":
        document = _json(*fetch("/api/search/tag/service.name/values"), "Tempo tag values")
        values = document.get("tagValues", []) if isinstance(document, dict) else []
        return [str(v.get("value", "")) if isinstance(v, dict) else str(v) for v in values]
    document = _json(*fetch("/api/services"), "Jaeger services")
    data = document.get("data") if isinstance(document, dict) else None
    return [str(name) for name in data or []]


def find_traces(
    fetch: Fetch, backend: str, service: str, *, since_s: int, limit: int = 20
) -> BackendHit:
    """Return the traces of `service` that started at or after `since_s` (UNIX seconds)."""
    if backend == "tempo":
        query = urllib.parse.urlencode(
            {"tags": f"service.name={service}", "start": since_s, "limit": limit}
        )
        document = _json(*fetch(f"/api/search?{query}"), "Tempo search")
        traces = document.get("traces", []) if isinstance(document, dict) else []
        starts = [int(t.get("startTimeUnixNano", 0) or 0) for t in traces if isinstance(t, dict)]
        recent = [
            str(t.get("traceID", ""))
            for t, start in zip(traces, starts, strict=True)
            if start >= since_s * 1_000_000_000
        ]
        return BackendHit("tempo", service, tuple(recent), max(starts, default=0))
    query = urllib.parse.urlencode({"service": service, "limit": limit, "lookback": "1h"})
    document = _json(*fetch(f"/api/traces?{query}"), "Jaeger search")
    data = document.get("data") if isinstance(document, dict) else None
    recent_ids = []
    newest = 0
    for trace in data or []:
        starts = [int(s.get("startTime", 0)) * 1000 for s in trace.get("spans") or []]
        first = min(starts, default=0)
        newest = max(newest, first)
        if first >= since_s * 1_000_000_000:
            recent_ids.append(str(trace.get("traceID", "")))
    return BackendHit("jaeger", service, tuple(recent_ids), newest)


def match_services(candidates: Iterable[str], available: Iterable[str]) -> list[str]:
    """Pick the backend's service names that belong to a component, best match first."""
    available_list = list(available)
    wanted = [c for c in candidates if c]
    exact = [c for c in wanted if c in available_list]
    return exact
