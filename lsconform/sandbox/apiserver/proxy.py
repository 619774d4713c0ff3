"""`services/<name>[:<port>]/proxy/<path>` and `pods/<name>[:<port>]/proxy/<path>`.

The request goes to `podIP:targetPort` from a fixed source address (127.0.0.2 in the sandbox),
not from 127.0.0.1. A server that accepts only local clients then rejects proxied requests, as it
does in a cluster where the API server's address is not the pod's own. A Service picks a ready
address from its Endpoints, round-robin. Errors read like the real server's, for example
`error trying to reach service: dial tcp 127.10.0.5:1984: connect: connection refused`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import aiohttp
from aiohttp import web

from lsconform.sandbox.apiserver.requestinfo import RequestInfo
from lsconform.sandbox.apiserver.status import (
    ApiError,
    bad_request,
    not_found,
    service_unavailable,
)
from lsconform.sandbox.apiserver.store import JsonObject, Store

# Bounds of one proxied request, so that a slow or huge upstream cannot hold the server.
MAX_REQUEST_BODY_BYTES = 16 * 1024 * 1024
MAX_RESPONSE_BODY_BYTES = 64 * 1024 * 1024
CONNECT_TIMEOUT_SECONDS = 5.0
RESPONSE_HEADERS_TIMEOUT_SECONDS = 30.0
TOTAL_TIMEOUT_SECONDS = 120.0
CHUNK_BYTES = 64 * 1024

# Hop-by-hop headers (RFC 9110 section 7.6.1) and the caller's credentials are not forwarded.
_DROPPED_REQUEST_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
}
_DROPPED_RESPONSE_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


@dataclass(frozen=True)
class ProxyTarget:
    scheme: str
    name: str
    port: str


def parse_proxy_name(text: str) -> ProxyTarget:
    """Split `[scheme:]name[:port]` as the API server does."""
    parts = text.split(":")
    if len(parts) == 1:
        return ProxyTarget("", parts[0], "")
    if len(parts) == 2:
        if parts[0] in ("http", "https"):
            return ProxyTarget(parts[0], parts[1], "")
        return ProxyTarget("", parts[0], parts[1])
    if len(parts) == 3:
        return ProxyTarget(parts[0], parts[1], parts[2])
    raise bad_request(f"invalid proxy name {text!r}: expected [scheme:]name[:port]")


@dataclass
class Proxy:
    """Forwarder of proxy requests, with the HTTP client session and round-robin counters."""

    store: Store
    source_address: str
    _session: aiohttp.ClientSession | None = None
    _counters: dict[tuple[str, str, str], Iterator[int]] = field(default_factory=dict)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                local_addr=(self.source_address, 0), force_close=True, ssl=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        target = parse_proxy_name(info.name)
        if info.resource == "services":
            ip, port = self._service_endpoint(info.namespace, target)
        else:
            ip, port = self._pod_endpoint(info.namespace, target)
        scheme = target.scheme or "http"
        # Like the real server, forward the decoded remainder re-encoded, so `%2F` becomes `/`.
        path = quote(unquote(info.rest), safe="/:@!$&'()*+,;=-._~")
        url = f"{scheme}://{ip}:{port}/{path}"
        if request.query_string:
            url += "?" + request.query_string
        return await self._forward(request, url, f"{ip}:{port}")

    def _service_endpoint(self, namespace: str, target: ProxyTarget) -> tuple[str, int]:
        service = self.store.get("services", "", namespace, target.name)
        if service is None:
            raise not_found("services", "", target.name)
        port = _service_port(service, target)
        endpoints = self.store.get("endpoints", "", namespace, target.name)
        addresses = _ready_addresses(endpoints, port) if endpoints else []
        if not addresses:
            raise service_unavailable(f'no endpoints available for service "{target.name}"')
        counter = self._counters.setdefault(
            (namespace, target.name, str(port.get("name"))), itertools.count()
        )
        return addresses[next(counter) % len(addresses)]

    def _pod_endpoint(self, namespace: str, target: ProxyTarget) -> tuple[str, int]:
        pod = self.store.get("pods", "", namespace, target.name)
        if pod is None:
            raise not_found("pods", "", target.name)
        ip = self.store.pod_ip(namespace, target.name)
        if ip is None:
            raise bad_request(f'pod "{target.name}" has no IP address yet')
        if not target.port:
            return ip, 80
        if target.port.isdigit():
            return ip, int(target.port)
        for container in (pod.get("spec") or {}).get("containers", []):
            for port in container.get("ports") or []:
                if port.get("name") == target.port:
                    return ip, int(port["containerPort"])
        raise service_unavailable(f'no port named "{target.port}" in pod "{target.name}"')

    async def _forward(self, request: web.Request, url: str, address: str) -> web.StreamResponse:
        body = await request.content.read(MAX_REQUEST_BODY_BYTES + 1)
        if len(body) > MAX_REQUEST_BODY_BYTES:
            raise ApiError(413, "RequestEntityTooLarge", "request body is too large to proxy")
        headers = {
            key: value
            for key, value in request.headers.items()
            if key.lower() not in _DROPPED_REQUEST_HEADERS
        }
        timeout = aiohttp.ClientTimeout(
            total=TOTAL_TIMEOUT_SECONDS,
            sock_connect=CONNECT_TIMEOUT_SECONDS,
            sock_read=RESPONSE_HEADERS_TIMEOUT_SECONDS,
        )
        try:
            upstream = await self.session().request(
                request.method,
                url,
                data=body or None,
                headers=headers,
                allow_redirects=False,
                timeout=timeout,
            )
        except aiohttp.ClientConnectorError as error:
            raise service_unavailable(
                f"error trying to reach service: dial tcp {address}: {_dial_error(error)}"
            ) from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise service_unavailable(
                f"error trying to reach service: dial tcp {address}: i/o timeout"
            ) from None
        except aiohttp.ClientError as error:
            raise service_unavailable(f"error trying to reach service: {error}") from None
        async with upstream:
            return await _relay(request, upstream)


def _dial_error(error: aiohttp.ClientConnectorError) -> str:
    cause = error.os_error
    if isinstance(cause, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(cause, TimeoutError):
        return "i/o timeout"
    return f"connect: {cause.strerror or cause}"


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    for key, value in upstream.headers.items():
        if key.lower() not in _DROPPED_RESPONSE_HEADERS:
            response.headers.add(key, value)
    length = upstream.content_length
    if length is not None and length <= MAX_RESPONSE_BODY_BYTES:
        response.content_length = length
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    sent = 0
    try:
        async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
            chunk = chunk[: MAX_RESPONSE_BODY_BYTES - sent]
            await response.write(chunk)
            sent += len(chunk)
            if sent >= MAX_RESPONSE_BODY_BYTES:
                break
    except (aiohttp.ClientError, asyncio.TimeoutError):
        # The headers are gone already: the client sees a short body, as through a real proxy.
        pass
    return response


def _service_port(service: JsonObject, target: ProxyTarget) -> JsonObject:
    ports: list[JsonObject] = (service.get("spec") or {}).get("ports") or []
    for port in ports:
        if (
            not target.port
            or port.get("name") == target.port
            or str(port.get("port")) == target.port
        ):
            return port
    raise service_unavailable(f'no service port "{target.port}" found for service "{target.name}"')


def _ready_addresses(endpoints: JsonObject, service_port: JsonObject) -> list[tuple[str, int]]:
    """Return the ready addresses and target port of the Endpoints subset for this port."""
    wanted = service_port.get("name") or ""
    found: list[tuple[str, int]] = []
    for subset in endpoints.get("subsets") or []:
        for port in subset.get("ports") or []:
            if (port.get("name") or "") != wanted:
                continue
            for address in subset.get("addresses") or []:
                found.append((str(address["ip"]), int(port["port"])))
    return found
