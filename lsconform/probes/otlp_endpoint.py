"""Rules for an OTLP trace endpoint as LangSmith's `OTLP_ENDPOINT` and `OTEL_EXPORTER` use it.

The chart copies `config.observability.tracing.endpoint` verbatim into `OTLP_ENDPOINT`. With
exporter `http` the services POST to that URL as it is, so it needs a scheme, a host, the port
and the `/v1/traces` path (OTLP/HTTP's traces-specific endpoint). With exporter `grpc` it is a
gRPC target, `host:port` with no path; SmithDB prepends `http://` or `https://` itself, so there
it must carry no scheme either. OTLP's well-known ports are 4317 (gRPC) and 4318 (HTTP).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from lsconform.constants import OTLP_GRPC_PORT, OTLP_HTTP_PORT, OTLP_HTTP_TRACES_PATH

EXPORTERS = ("http", "grpc")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Endpoint:
    """An OTLP endpoint split into its parts; `scheme` and `path` are empty when absent."""

    raw: str
    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def address(self) -> str:
        """`host:port`, or the host alone when no port is given."""
        return self.host if self.port is None else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class EndpointProblem:
    """One rule the endpoint breaks: a stable code, the cause in one line, and the fix."""

    code: str
    summary: str
    fix: str


@dataclass(frozen=True)
class ServiceReference:
    """The Kubernetes Service an in-cluster host name designates."""

    name: str
    namespace: str


class EndpointSyntaxError(ValueError):
    """An endpoint that cannot be split into scheme, host, port and path."""


def parse_endpoint(raw: str) -> Endpoint:
    """Split an endpoint, with or without a scheme, into its parts."""
    text = raw.strip()
    if not text:
        raise EndpointSyntaxError("the endpoint is empty")
    has_scheme = "://" in text
    try:
        parts = urlsplit(text if has_scheme else f"//{text}")
        port = parts.port
    except ValueError as error:
        raise EndpointSyntaxError(f"invalid endpoint {raw!r}: {error}") from error
    if not parts.hostname:
        raise EndpointSyntaxError(f"invalid endpoint {raw!r}: no host")
    return Endpoint(
        raw=raw,
        scheme=parts.scheme.lower() if has_scheme else "",
        host=parts.hostname,
        port=port,
        path=parts.path,
    )


def check_endpoint(raw: str, exporter: str) -> list[EndpointProblem]:
    """Return every rule `raw` breaks for `exporter` (`http` or `grpc`); empty when it suits."""
    if exporter not in EXPORTERS:
        return [
            EndpointProblem(
                "exporter-unknown",
                f"OTEL_EXPORTER is {exporter!r}; LangSmith services take only 'http' or 'grpc'",
                "set config.observability.tracing.exporter to http or grpc",
            )
        ]
    try:
        endpoint = parse_endpoint(raw)
    except EndpointSyntaxError as error:
        return [
            EndpointProblem(
                "endpoint-invalid",
                f"OTLP_ENDPOINT {raw!r}: {error}",
                "set config.observability.tracing.endpoint to " + _example(exporter),
            )
        ]
    if exporter == "http":
        return _check_http(endpoint)
    return _check_grpc(endpoint)


def _example(exporter: str) -> str:
    if exporter == "http":
        return f"http://<collector>.<namespace>.svc.cluster.local:{OTLP_HTTP_PORT}/v1/traces"
    return f"<collector>.<namespace>.svc.cluster.local:{OTLP_GRPC_PORT}"


def _check_http(endpoint: Endpoint) -> list[EndpointProblem]:
    problems: list[EndpointProblem] = []
    if endpoint.scheme not in ("http", "https"):
        problems.append(
            EndpointProblem(
                "scheme-missing" if not endpoint.scheme else "scheme-unknown",
                f"OTLP_ENDPOINT {endpoint.raw!r} has no http:// or https:// scheme, which the "
                "OTLP/HTTP exporter needs",
                f"write the full URL, e.g. {_example('http')}",
            )
        )
    if endpoint.port == OTLP_GRPC_PORT:
        problems.append(
            EndpointProblem(
                "grpc-port-for-http",
                f"OTLP_ENDPOINT uses port {OTLP_GRPC_PORT}, the OTLP/gRPC port, but "
                "OTEL_EXPORTER is http; the collector answers HTTP/1.1 there with an HTTP/2 frame",
                f"use port {OTLP_HTTP_PORT} (OTLP/HTTP) or set exporter grpc with a host:"
                f"{OTLP_GRPC_PORT} endpoint",
            )
        )
    elif endpoint.port is None:
        problems.append(
            EndpointProblem(
                "port-missing",
                f"OTLP_ENDPOINT {endpoint.raw!r} has no port, so the exporter connects to port "
                f"{443 if endpoint.scheme == 'https' else 80}, not the OTLP/HTTP port "
                f"{OTLP_HTTP_PORT}",
                f"add the port: {_example('http')}",
            )
        )
    problems.extend(_check_http_path(endpoint))
    return problems


def _check_http_path(endpoint: Endpoint) -> list[EndpointProblem]:
    path = endpoint.path.rstrip("/") or "/"
    if path == OTLP_HTTP_TRACES_PATH:
        return []
    if path == "/":
        summary = (
            f"OTLP_ENDPOINT {endpoint.raw!r} has no {OTLP_HTTP_TRACES_PATH} path; the services "
            "POST to it verbatim, so every export goes to / and gets 404"
        )
        code = "traces-path-missing"
    elif path.count("/v1/") > 1 or path.endswith("/v1/v1/traces"):
        summary = (
            f"OTLP_ENDPOINT {endpoint.raw!r} repeats the /v1/traces path; the collector answers "
            "404 at that URL"
        )
        code = "traces-path-doubled"
    else:
        summary = (
            f"OTLP_ENDPOINT path {endpoint.path!r} is not {OTLP_HTTP_TRACES_PATH}, where an "
            "OTLP/HTTP receiver takes traces"
        )
        code = "traces-path-wrong"
    fix = f"set the endpoint to {endpoint.scheme or 'http'}://{endpoint.address}{OTLP_HTTP_TRACES_PATH}"
    return [EndpointProblem(code, summary, fix)]


def _check_grpc(endpoint: Endpoint) -> list[EndpointProblem]:
    problems: list[EndpointProblem] = []
    if endpoint.path.rstrip("/"):
        problems.append(
            EndpointProblem(
                "grpc-path",
                f"OTLP_ENDPOINT {endpoint.raw!r} has a path, but a gRPC target is host:port only; "
                "gRPC clients fail to parse it or ignore the path",
                f"set the endpoint to {endpoint.address}",
            )
        )
    if endpoint.port == OTLP_HTTP_PORT:
        problems.append(
            EndpointProblem(
                "http-port-for-grpc",
                f"OTLP_ENDPOINT uses port {OTLP_HTTP_PORT}, the OTLP/HTTP port, but "
                "OTEL_EXPORTER is grpc; an HTTP/1.1 receiver there rejects the HTTP/2 connection",
                f"use port {OTLP_GRPC_PORT} (OTLP/gRPC) or set exporter http with "
                f"http://{endpoint.host}:{OTLP_HTTP_PORT}/v1/traces",
            )
        )
    elif endpoint.port is None:
        problems.append(
            EndpointProblem(
                "port-missing",
                f"OTLP_ENDPOINT {endpoint.raw!r} has no port; a gRPC target needs one",
                f"set the endpoint to {endpoint.host}:{OTLP_GRPC_PORT}",
            )
        )
    return problems


def tls_from_config(endpoint: Endpoint, exporter: str, use_tls: bool | None) -> bool:
    """Return whether the services dial the collector with TLS.

    For OTLP/HTTP the URL scheme decides (https means TLS). For gRPC, OTEL_USE_TLS decides
    (OTEL_EXPORTER_OTLP_INSECURE is its negation); without it, an https:// scheme means TLS.
    """
    if exporter == "http":
        return endpoint.scheme == "https"
    if use_tls is not None:
        return use_tls
    return endpoint.scheme == "https"


def check_tls_agreement(endpoint: Endpoint, use_tls: bool | None) -> list[EndpointProblem]:
    """Return a problem when the endpoint's scheme and OTEL_USE_TLS disagree."""
    if use_tls is None or not endpoint.scheme:
        return []
    if use_tls and endpoint.scheme == "http":
        return [
            EndpointProblem(
                "tls-scheme-mismatch",
                f"OTEL_USE_TLS is true but OTLP_ENDPOINT uses http:// ({endpoint.raw})",
                "set config.observability.tracing.useTls: false for a plaintext collector, or use "
                "https:// with a collector that serves TLS",
            )
        ]
    if not use_tls and endpoint.scheme == "https":
        return [
            EndpointProblem(
                "tls-scheme-mismatch",
                f"OTEL_USE_TLS is false but OTLP_ENDPOINT uses https:// ({endpoint.raw})",
                "set config.observability.tracing.useTls: true for a TLS collector, or use http:// "
                "with a plaintext one",
            )
        ]
    return []


def service_reference(host: str, default_namespace: str) -> ServiceReference | None:
    """Return the Service a cluster DNS name designates, or None for any other host.

    Accepted forms: `<svc>.<ns>.svc.<cluster-domain>`, `<svc>.<ns>.svc`, `<svc>.<ns>` and a
    bare `<svc>` (resolved in `default_namespace`, as cluster DNS does for the client's pod).
    """
    name = host.rstrip(".").lower()
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    labels = name.split(".")
    if "svc" in labels:
        index = labels.index("svc")
        if index != 2:
            return None
        labels = labels[:2]
    if len(labels) > 2 or not all(_DNS_LABEL.match(label) for label in labels):
        return None
    if len(labels) == 1:
        return ServiceReference(labels[0], default_namespace)
    return ServiceReference(labels[0], labels[1])
