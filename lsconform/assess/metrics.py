"""Evidence for the metrics checks: one function per check, each returning a CheckResult."""

from __future__ import annotations

import re
from typing import Any

from lsconform.assess.release import forbidden_lists, forbidden_result
from lsconform.assess.scrape import Scrape, ScrapeCache
from lsconform.assess.targets import (
    CollectTarget,
    ComponentTarget,
    MetricsTarget,
)
from lsconform.cluster.errors import ConnectionRefused, Forbidden, RequestTimeout
from lsconform.constants import SCRAPE_PORT_NAME_REGEX
from lsconform.probes.classify import BodyKind, classify_body
from lsconform.probes.exposition import missing_families, parse_exposition
from lsconform.probes.exposition_model import Exposition
from lsconform.probes.exposition_model import Severity as ProblemSeverity
from lsconform.results import Area, CheckResult, Severity, Status
from lsconform.settings import Settings

# Content types Prometheus 3 accepts without a fallback_scrape_protocol (its scrape manager
# negotiates these; anything else, blank included, fails the scrape since 3.0).
ACCEPTED_MEDIA_TYPES = ("text/plain", "application/openmetrics-text")
# A family with more series than this is reported, because an unbounded label usually causes it.
SERIES_PER_FAMILY_WARNING = 10_000
# Share of scrape_timeout after which a slow endpoint is a warning before it becomes a failure.
SLOW_SCRAPE_SHARE = 0.8


def _result(
    target: MetricsTarget, check_id: str, status: Status, summary: str, **extra: Any
) -> CheckResult:
    return CheckResult(
        check_id=check_id,
        area=Area.METRICS,
        component=target.component,
        target=target.id,
        status=status,
        summary=summary,
        **extra,
    )


def _unusable(scrape: Scrape, check_id: str) -> CheckResult | None:
    """Return a skip result when the scrape produced no body to judge, else None."""
    if scrape.error is not None or scrape.response is None:
        return _result(
            scrape.target,
            check_id,
            Status.SKIP,
            "no response to judge: the endpoint is unreachable (see metrics.reachable)",
        )
    if scrape.response.status != 200:
        return _result(
            scrape.target,
            check_id,
            Status.SKIP,
            f"no exposition to judge: HTTP {scrape.response.status} (see metrics.reachable)",
        )
    if check_id != "metrics.content_type":
        kind = classify_body(scrape.response.body, scrape.response.content_type).kind
        if kind is BodyKind.HTML:
            return _result(
                scrape.target,
                check_id,
                Status.SKIP,
                "the body is HTML, not an exposition (see metrics.content_type)",
            )
    return None


def _fetch_remedy(target: MetricsTarget) -> str:
    if target.kind == "service":
        return (
            f"check that Service {target.name} port {target.port} targets the container's "
            "metrics port and that its pods are ready"
        )
    return (
        f"check that the {target.component} container listens on port {target.port} and serves "
        f"{target.path}; look at its logs (kubectl logs {target.name})"
    )


def check_reachable(scrape: Scrape, settings: Settings) -> CheckResult:
    """Check that the endpoint returns HTTP 200 within the probe timeout."""
    target = scrape.target
    evidence: dict[str, Any] = {"duration_seconds": round(scrape.duration, 3)}
    error = scrape.error
    if isinstance(error, Forbidden):
        return _result(
            target,
            "metrics.reachable",
            Status.ERROR,
            f"could not reach {target.id}: {error}",
            evidence={**evidence, **error.evidence},
            remedy=f"grant this rule to the identity running the suite:\n{error.rule_yaml()}",
        )
    if isinstance(error, ConnectionRefused):
        return _result(
            target,
            "metrics.reachable",
            Status.FAIL,
            f"port {target.port} refuses connections: nothing listens for metrics",
            evidence={**evidence, **error.evidence},
            remedy=_fetch_remedy(target),
        )
    if isinstance(error, RequestTimeout):
        return _result(
            target,
            "metrics.reachable",
            Status.FAIL,
            f"no complete response within the probe timeout of {settings.probe_timeout:g} s "
            "(Prometheus would report 'context deadline exceeded')",
            evidence={**evidence, **error.evidence},
            remedy="find what makes the endpoint slow (a collector doing I/O on every scrape), "
            "or raise scrape_timeout and --probe-timeout together",
        )
    if error is not None:
        return _result(
            target,
            "metrics.reachable",
            Status.FAIL,
            f"request failed: {error}",
            evidence={**evidence, **error.evidence},
            remedy=_fetch_remedy(target),
        )
    assert scrape.response is not None
    response = scrape.response
    evidence.update(
        status=response.status, content_type=response.content_type, bytes=len(response.body)
    )
    if response.status != 200:
        return _result(
            target,
            "metrics.reachable",
            Status.FAIL,
            f"HTTP {response.status} from {target.path}",
            evidence={**evidence, "body": response.text()[:300]},
            remedy=_fetch_remedy(target),
        )
    return _result(
        target,
        "metrics.reachable",
        Status.PASS,
        f"HTTP 200 in {scrape.duration:.2f} s",
        evidence=evidence,
    )


def check_content_type(scrape: Scrape) -> CheckResult:
    """Check that Prometheus 3 accepts the Content-Type and that the body is no HTML page."""
    skipped = _unusable(scrape, "metrics.content_type")
    if skipped:
        return skipped
    assert scrape.response is not None
    target = scrape.target
    content_type = scrape.response.content_type
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind = classify_body(scrape.response.body, content_type).kind
    evidence = {"content_type": content_type or "(none)", "body_kind": kind.value}
    if kind is BodyKind.HTML:
        return _result(
            target,
            "metrics.content_type",
            Status.FAIL,
            f"the endpoint returns an HTML page (Content-Type {content_type or '(none)'}), not a "
            "metrics exposition: a web UI or SPA fallback answers this path",
            evidence=evidence,
            remedy=f"serve Prometheus text on {target.path}, or point the scrape job at the "
            "port that does",
        )
    if media_type not in ACCEPTED_MEDIA_TYPES:
        return _result(
            target,
            "metrics.content_type",
            Status.FAIL,
            f"Content-Type {content_type or '(none)'!r} is not a metrics media type; "
            "Prometheus 3 fails the scrape",
            evidence=evidence,
            remedy="serve 'text/plain; version=0.0.4' or OpenMetrics, or set "
            "fallback_scrape_protocol: PrometheusText0.0.4 in the scrape config",
        )
    return _result(
        target,
        "metrics.content_type",
        Status.PASS,
        f"Content-Type {content_type}",
        evidence=evidence,
    )


def parse_scrape(scrape: Scrape) -> Exposition:
    assert scrape.response is not None
    return parse_exposition(scrape.response.body, scrape.response.content_type or None)


def check_exposition(scrape: Scrape) -> CheckResult:
    """Check that the body parses strictly and passes the promtool-equivalent lint rules."""
    skipped = _unusable(scrape, "metrics.parse")
    if skipped:
        return skipped
    assert scrape.response is not None
    target = scrape.target
    exposition = parse_scrape(scrape)
    # The Content-Type has a check of its own; here only the body counts.
    problems = [p for p in exposition.problems if not p.rule.startswith("content-type")]
    errors = [p for p in problems if p.severity is not ProblemSeverity.CONVENTION]
    evidence: dict[str, Any] = {
        "families": exposition.family_count,
        "series": exposition.series_count,
        "problems_by_rule": {
            k: v for k, v in exposition.problem_counts.items() if not k.startswith("content-type")
        },
    }
    if errors:
        first = errors[0]
        evidence["problems"] = [
            f"line {p.line}: {p.rule}: {p.cause}: {p.text}" for p in errors[:10]
        ]
        return _result(
            target,
            "metrics.parse",
            Status.FAIL,
            f"line {first.line}: {first.cause}"
            + (f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""),
            evidence=evidence,
            remedy=first.fix,
        )
    conventions = [p for p in problems if p.severity is ProblemSeverity.CONVENTION]
    if conventions:
        evidence["conventions"] = [f"line {p.line}: {p.rule}: {p.cause}" for p in conventions[:10]]
    return _result(
        target,
        "metrics.parse",
        Status.PASS,
        f"{exposition.family_count} families, {exposition.series_count} series parse cleanly",
        evidence=evidence,
    )


def check_families(scrape: Scrape) -> CheckResult:
    """Check that the families a healthy endpoint of this component exposes are present."""
    skipped = _unusable(scrape, "metrics.families")
    if skipped:
        return skipped
    target = scrape.target
    if not target.expected_families:
        return _result(
            target,
            "metrics.families",
            Status.SKIP,
            "no family is pinned for this component: the official dashboards query none of its "
            "families",
        )
    exposition = parse_scrape(scrape)
    missing = missing_families(exposition, target.expected_families)
    evidence = {
        "expected": list(target.expected_families),
        "missing": missing,
        "present_count": exposition.family_count,
    }
    if missing:
        return _result(
            target,
            "metrics.families",
            Status.FAIL,
            f"{len(missing)} of {len(target.expected_families)} expected families are missing: "
            f"{', '.join(missing)}",
            evidence=evidence,
            remedy="dashboards that query these families stay empty; check that the service's "
            "metrics middleware is enabled and that this is the LangSmith version you expect",
        )
    return _result(
        target,
        "metrics.families",
        Status.PASS,
        f"all {len(target.expected_families)} expected families present",
        evidence=evidence,
    )


def counter_values(exposition: Exposition) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Values of counter samples (and histogram/summary counts and sums), keyed by series."""
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in exposition.families.values():
        if family.type not in ("counter", "histogram", "summary"):
            continue
        for name, labels, value, _timestamp, _line in family.samples:
            if family.type == "summary" and not name.endswith(("_count", "_sum")):
                continue
            values[(name, labels)] = value
    return values


def check_counters(scrapes: ScrapeCache, target: MetricsTarget) -> CheckResult:
    """Check that no counter decreases between two scrapes of the same pod."""
    if target.kind != "pod":
        return check_service_sampling(scrapes, target)
    first, second = scrapes.first(target), scrapes.second(target)
    for scrape in (first, second):
        skipped = _unusable(scrape, "metrics.counters")
        if skipped:
            return skipped
    before, after = counter_values(parse_scrape(first)), counter_values(parse_scrape(second))
    decreased = [
        (key, before[key], after[key])
        for key in before.keys() & after.keys()
        if after[key] < before[key]
    ]
    evidence: dict[str, Any] = {
        "interval_seconds": round(second.started - first.started, 2),
        "counters_compared": len(before.keys() & after.keys()),
    }
    if decreased:
        evidence["decreased"] = [f"{_series(k)}: {a:g} -> {b:g}" for k, a, b in decreased[:10]]
        return _result(
            target,
            "metrics.counters",
            Status.FAIL,
            f"{len(decreased)} counters decreased between two scrapes of the same pod",
            evidence=evidence,
            remedy="a counter resets only when its process restarts; look for a multiprocess "
            "setup that merges per-worker values wrongly, or a pod that restarted in between",
        )
    return _result(
        target,
        "metrics.counters",
        Status.PASS,
        f"no counter decreased across {evidence['counters_compared']} series",
        evidence=evidence,
    )


def check_service_sampling(scrapes: ScrapeCache, target: MetricsTarget) -> CheckResult:
    """Skip the counter check for a Service address, saying why per-pod scrapes decide it."""
    first = scrapes.first(target)
    skipped = _unusable(first, "metrics.counters")
    if skipped:
        return skipped
    if target.replicas <= 1:
        summary = (
            "judged per pod: with one replica the Service address reaches the same pod, whose "
            "own scrapes are compared"
        )
    else:
        summary = (
            f"judged per pod: the Service balances {target.replicas} pods, so its counters jump "
            "between them; scrape the pods (role endpoints), not the Service address"
        )
    return _result(
        target,
        "metrics.counters",
        Status.SKIP,
        summary,
        evidence={"replicas": target.replicas},
    )


def _series(key: tuple[str, tuple[tuple[str, str], ...]]) -> str:
    name, labels = key
    inner = ",".join(f'{k}="{v}"' for k, v in labels)
    return f"{name}{{{inner}}}" if inner else name


def check_budget(scrape: Scrape, settings: Settings) -> CheckResult:
    """Judge payload size, series and scrape duration against common scrape limits."""
    skipped = _unusable(scrape, "metrics.budget")
    if skipped:
        return skipped
    assert scrape.response is not None
    target = scrape.target
    if scrape.response.truncated or len(scrape.response.body) > settings.body_limit:
        # No need to parse what Prometheus would not even finish reading.
        return _result(
            target,
            "metrics.budget",
            Status.FAIL,
            f"payload exceeds body_size_limit of {settings.body_limit} bytes; Prometheus "
            "fails the scrape",
            evidence={
                "bytes_read": len(scrape.response.body),
                "truncated": scrape.response.truncated,
                "body_size_limit": settings.body_limit,
                "duration_seconds": round(scrape.duration, 3),
            },
            remedy="drop unbounded labels from the largest families or raise body_size_limit "
            "(the suite uses 16 MiB)",
        )
    exposition = parse_scrape(scrape)
    top = sorted(exposition.families.values(), key=lambda f: f.series_count, reverse=True)[:5]
    evidence: dict[str, Any] = {
        "bytes": exposition.byte_count,
        "series": exposition.series_count,
        "duration_seconds": round(scrape.duration, 3),
        "body_size_limit": settings.body_limit,
        "sample_limit": settings.sample_limit,
        "scrape_timeout": settings.probe_timeout,
        "top_families": {f.name: f.series_count for f in top},
    }
    if exposition.series_count > settings.sample_limit:
        return _result(
            target,
            "metrics.budget",
            Status.FAIL,
            f"{exposition.series_count} series exceed sample_limit {settings.sample_limit}",
            evidence=evidence,
            remedy="drop unbounded labels from the largest families or raise sample_limit",
        )
    wide = [f for f in top if f.series_count > SERIES_PER_FAMILY_WARNING]
    if wide:
        return _result(
            target,
            "metrics.budget",
            Status.WARN,
            f"family {wide[0].name} has {wide[0].series_count} series: an unbounded label?",
            evidence=evidence,
            remedy="keep user-controlled values (ids, models, paths) out of label values",
        )
    if scrape.duration > SLOW_SCRAPE_SHARE * settings.probe_timeout:
        return _result(
            target,
            "metrics.budget",
            Status.WARN,
            f"scrape took {scrape.duration:.1f} s, close to scrape_timeout "
            f"{settings.probe_timeout:g} s",
            evidence=evidence,
            remedy="find what makes the endpoint slow before it starts timing out",
        )
    return _result(
        target,
        "metrics.budget",
        Status.PASS,
        f"{exposition.byte_count} bytes, {exposition.series_count} series, "
        f"{scrape.duration:.2f} s: within limits",
        evidence=evidence,
    )


def check_collectable(release: Any, target: CollectTarget) -> CheckResult:
    """Check that the standard scrape rule keeps the metrics port, with every ready pod."""
    component = target.component
    hidden = forbidden_lists(release, "services", "endpoints")
    if hidden:
        return forbidden_result(
            "metrics.collectable",
            Area.METRICS,
            target.component.suffix,
            f"{target.component.suffix}/collect",
            hidden,
        )
    pattern = re.compile(f"(?:{SCRAPE_PORT_NAME_REGEX})")
    ready = sorted(pod.name for pod in component.pods if pod.ready)
    evidence: dict[str, Any] = {"scrape_port_regex": SCRAPE_PORT_NAME_REGEX, "ready_pods": ready}

    def result(status: Status, summary: str, remedy: str = "") -> CheckResult:
        return CheckResult(
            check_id="metrics.collectable",
            area=Area.METRICS,
            component=component.suffix,
            target=f"{component.suffix}/collect",
            status=status,
            summary=summary,
            evidence=evidence,
            remedy=remedy,
        )

    kept = []
    for service in component.services:
        for port in service.ports:
            if port.target_port in (target.metrics_port_name, target.metrics_port):
                evidence.setdefault("service_ports", []).append(
                    f"{service.name}:{port.name or '(unnamed)'}:{port.port}"
                )
                if port.name and pattern.fullmatch(port.name):
                    kept.append((service, port))
    if not evidence.get("service_ports"):
        return result(
            Status.FAIL,
            f"no Service exposes the metrics port {target.metrics_port}; an endpoints-based "
            "scrape job finds nothing",
            "add the metrics port to the component's Service (or upgrade the chart), or scrape "
            "the pods directly",
        )
    if not kept:
        return result(
            Status.FAIL,
            f"the Service port to {target.metrics_port} is named "
            f"{evidence['service_ports'][0].split(':')[1]!r}, which the standard scrape rule "
            f"(port name matching {SCRAPE_PORT_NAME_REGEX}) drops",
            "name the Service port as the chart does (backend, platform, playground, "
            "host-backend, metrics) or widen the scrape job's port-name regex",
        )
    service, _port = kept[0]
    in_endpoints = {address.pod for address in service.ready_addresses}
    missing = [name for name in ready if name not in in_endpoints]
    evidence["endpoints"] = sorted(in_endpoints)
    if missing:
        return result(
            Status.FAIL,
            f"ready pods missing from Service {service.name}'s endpoints: {', '.join(missing)}",
            "check that the Service selector matches the pods' labels",
        )
    note = ""
    if len(ready) > 1:
        note = f"; {len(ready)} replicas, so scrape per pod (role endpoints), not the Service"
    return result(
        Status.PASS,
        f"Service {service.name} port is kept with all {len(ready)} "
        f"ready pods in its endpoints{note}",
    )


def describe_no_metrics(target: ComponentTarget) -> CheckResult:
    """Skip a component that exposes no Prometheus endpoint, saying why nothing is scraped."""
    component = target.component
    notes = {
        "frontend": "the frontend app serves no /metrics; its nginx stub_status is checked "
        "separately (metrics.nginx_status)",
        "queue": "the queue worker exposes only a health endpoint",
        "ingest-queue": "the ingest-queue worker exposes only a health endpoint",
        "ace-backend": "ace-backend's Service port is named 'ace', which the standard scrape "
        "rule does not keep, and it serves no /metrics",
    }
    summary = notes.get(component.suffix, f"{component.suffix} exposes no Prometheus endpoint")
    return CheckResult(
        check_id="metrics.none_expected",
        area=Area.METRICS,
        component=component.suffix,
        target=f"{component.suffix}/no-metrics",
        status=Status.SKIP,
        summary=summary,
        severity=Severity.INFO,
    )
