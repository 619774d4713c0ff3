"""Evidence for the frontend's nginx stub_status check.

Since chart 0.13.25 the frontend's nginx answers `/nginx_status` only to 127.0.0.1 and ::1, on
container port 8080. The check reads it the way the chart allows, through a port-forward (the
connection then comes from the pod's own loopback, as a sidecar exporter's would), and also
through the API server's proxy, to show what an exporter in another pod gets: a 403 there is
expected and explained, not failed.
"""

from __future__ import annotations

from typing import Any

from lsconform.assess.targets import FrontendTarget
from lsconform.cluster.errors import ClusterError, ConnectionRefused, Forbidden
from lsconform.cluster.transport import HttpTarget, Transport
from lsconform.probes.stub_status import parse_stub_status
from lsconform.results import Area, CheckResult, Status
from lsconform.settings import Settings

STATUS_BODY_LIMIT = 64 * 1024  # bytes; a stub_status page is four short lines


def _fetch(transport: Transport, target: FrontendTarget, settings: Settings) -> Any:
    http = HttpTarget(namespace=target.namespace, kind="pod", name=target.pod, port=target.port)
    return transport.request(
        http, target.path, timeout=settings.probe_timeout, max_bytes=STATUS_BODY_LIMIT
    )


def check_nginx_status(
    target: FrontendTarget, proxy: Transport, local: Transport, settings: Settings
) -> CheckResult:
    """stub_status answers locally with the stock page, and nginx drops no connection."""
    evidence: dict[str, Any] = {}

    def result(status: Status, summary: str, remedy: str = "") -> CheckResult:
        return CheckResult(
            check_id="metrics.nginx_status",
            area=Area.METRICS,
            component="frontend",
            target=target.id,
            status=status,
            summary=summary,
            evidence=evidence,
            remedy=remedy,
        )

    try:
        remote = _fetch(proxy, target, settings)
        evidence["through_proxy"] = f"HTTP {remote.status}"
        if remote.status == 403:
            evidence["through_proxy"] += (
                " (expected: the chart allows only 127.0.0.1 and ::1, so an exporter in "
                "another pod gets 403 too)"
            )
    except ClusterError as error:
        evidence["through_proxy"] = str(error)
    try:
        response = _fetch(local, target, settings)
    except Forbidden as error:
        return result(
            Status.ERROR,
            f"could not open a port-forward: {error}",
            f"grant this rule to the identity running the suite:\n{error.rule_yaml()}",
        )
    except ConnectionRefused as error:
        evidence.update(error.evidence)
        return result(
            Status.FAIL,
            f"port {target.port} of the frontend refuses connections",
            "check the frontend container and its nginx configuration",
        )
    except ClusterError as error:
        evidence.update(error.evidence)
        return result(
            Status.ERROR,
            f"could not reach the frontend locally: {error}",
            "retry; check that port-forward works for this pod",
        )
    evidence["local"] = f"HTTP {response.status}"
    if response.status == 404:
        return result(
            Status.FAIL,
            f"{target.path} answers 404: nginx has no stub_status location there",
            "restore the chart's nginx.conf (frontend.existingConfigMapName replaces it), which "
            "has `location = /nginx_status { stub_status on; allow 127.0.0.1; deny all; }`",
        )
    if response.status == 403:
        return result(
            Status.FAIL,
            f"{target.path} answers 403 even to a local client",
            "allow 127.0.0.1 and ::1 in the stub_status location",
        )
    if response.status != 200:
        return result(
            Status.FAIL,
            f"{target.path} answers HTTP {response.status}",
            "check the frontend's nginx configuration",
        )
    page = parse_stub_status(response.body, response.content_type or None)
    evidence["body_kind"] = page.body_kind.value
    if page.status is not None:
        evidence.update(
            active=page.status.active,
            accepts=page.status.accepts,
            handled=page.status.handled,
            requests=page.status.requests,
        )
    errors = [p for p in page.problems if p.severity.value == "error"]
    if errors or page.status is None:
        first = errors[0] if errors else None
        return result(
            Status.FAIL,
            first.cause if first else "the page is not stub_status",
            first.fix if first else "serve the stock stub_status page",
        )
    warnings = [p for p in page.problems if p.severity.value != "error"]
    if warnings:
        return result(Status.WARN, warnings[0].cause, warnings[0].fix)
    return result(
        Status.PASS,
        f"stub_status readable locally: {page.status.accepts} accepted, "
        f"{page.status.handled} handled; scrape it with nginx-prometheus-exporter as a sidecar "
        "pointed at http://127.0.0.1:8080/nginx_status",
    )
