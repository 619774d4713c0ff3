"""Transports: HTTP requests to pods and Services inside the cluster.

Three ways in, one interface (`Transport.request`):
- `ApiProxyTransport` sends the request through the API server (`services/proxy`,
  `pods/proxy`). It works from a laptop with RBAC on those subresources. The API server connects
  from its own address, so servers that answer only local clients refuse it.
- `PortForwardTransport` opens the Kubernetes port-forward stream to one pod and speaks HTTP/1.1
  over it. The connection arrives at the pod from its own loopback address, as a kubelet makes
  it, so it reaches servers restricted to localhost (the frontend's `/nginx_status`).
- `DirectTransport` connects to `<svc>.<ns>.svc.<cluster-domain>` or to a pod IP. Those names
  and addresses resolve only inside the cluster.

Every request has a deadline that also covers slow trickling responses, and a size cap: the body
stops at `max_bytes` with `truncated=True`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, quote, urlsplit

from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import portforward

from lsconform.cluster.client import NO_RETRY, ClusterClient, read_with_deadline
from lsconform.cluster.errors import (
    ClusterError,
    ConnectionRefused,
    Forbidden,
    InvalidResponse,
    NotFound,
    RequestTimeout,
    TooManyRequests,
    Unauthorized,
    Unreachable,
    bound_message,
    error_for_status,
    parse_status,
    rule_for_request,
)
from lsconform.cluster.response import HttpResponse
from lsconform.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_CLUSTER_DOMAIN = "cluster.local"
USER_AGENT = "lsconform"
# Seconds to wait for the official client's forwarding thread to end after a stream closes.
STREAM_CLOSE_WAIT = 5.0
# Name prefix of that thread (kubernetes.stream.ws_client.PortForward).
PROXY_THREAD_PREFIX = "Kubernetes port forward proxy"


@dataclass(frozen=True)
class HttpTarget:
    """A pod or Service port to send HTTP requests to.

    `port` is a port name or number: for a Service its service port, for a pod its container
    port. `ip` is the pod IP, used only by DirectTransport for pods.
    """

    namespace: str
    kind: Literal["pod", "service"]
    name: str
    port: int | str
    scheme: Literal["http", "https"] = "http"
    ip: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}:{self.port}"


class Transport(Protocol):
    """Sends one HTTP request to a target inside the cluster."""

    name: str

    def request(
        self,
        target: HttpTarget,
        path: str,
        *,
        method: str = "GET",
        timeout: float,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> HttpResponse:
        """Send `method path` to `target`; return the response, whatever its status.

        Raises ConnectionRefused when nothing listens on the port, RequestTimeout when the
        response does not complete within `timeout` seconds, Forbidden when RBAC denies the
        way in, and Unreachable for other connection failures.
        """
        ...


# --- API server proxy -------------------------------------------------------------------


class ApiProxyTransport:
    """Requests through the API server's `services/proxy` and `pods/proxy` subresources."""

    name = "proxy"

    def __init__(self, client: ClusterClient, **_: Any) -> None:
        self.client = client

    def request(
        self,
        target: HttpTarget,
        path: str,
        *,
        method: str = "GET",
        timeout: float,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> HttpResponse:
        """Send the request through the API server (see `Transport.request`)."""
        api, query = proxy_path(target, path)
        sent_headers = {"Accept": "*/*", **(headers or {})}
        try:
            response = self.client.request(
                method,
                api,
                params=query,
                headers=sent_headers,
                body=body,
                timeout=timeout,
                max_bytes=max_bytes,
                raise_for_status=False,
                allow_truncated=True,
                retry=NO_RETRY,
            )
        except RequestTimeout as error:
            # The API server forwards bytes as they come, so a timeout here is almost always
            # the target being slow, not the API server.
            raise RequestTimeout(
                f"no complete response to {method} {path} from {target} within {timeout} s "
                "(through the API server proxy)",
                evidence=error.evidence,
                fix="the endpoint is slow or stalled; check the target's load, or raise "
                "--probe-timeout",
            ) from error
        raise_for_proxy_error(response, target, method, api)
        return response


def proxy_path(target: HttpTarget, path: str) -> tuple[str, list[tuple[str, str]]]:
    """Build the API proxy path for `target` and split off the query of `path`."""
    parts = urlsplit(path)
    resource = "services" if target.kind == "service" else "pods"
    # The API server reads `<scheme>:<name>:<port>`; the scheme may be left out for http.
    prefix = "https:" if target.scheme == "https" else ""
    name = f"{prefix}{target.name}:{target.port}"
    request_path = parts.path if parts.path.startswith("/") else f"/{parts.path}"
    api = (
        f"/api/v1/namespaces/{quote(target.namespace, safe='')}/{resource}/"
        f"{quote(name, safe=':')}/proxy{quote(request_path, safe='/:@!$&()*+,;=-._~%')}"
    )
    return api, parse_qsl(parts.query, keep_blank_values=True)


def raise_for_proxy_error(
    response: HttpResponse, target: HttpTarget, method: str, api: str
) -> None:
    """Raise when the API server itself failed the proxied request.

    Failures of the API server itself come as a JSON `Status` object, while a pod's own errors
    are passed through unchanged. A `Status` therefore separates "the port refuses connections"
    (503 with `connection refused`) from a 503 that the application sent.
    """
    if response.status < 400:
        return
    status = parse_status(response.body)
    if status is None or status.get("apiVersion") not in ("v1", None):
        return
    message = bound_message(str(status.get("message", "")))
    reason = str(status.get("reason", ""))
    evidence = {"status": response.status, "target": str(target), "message": message}
    lowered = message.lower()
    if "connection refused" in lowered:
        raise ConnectionRefused(
            f"port {target.port} of {target.kind} {target.name} refuses connections",
            evidence=evidence,
        )
    if "no endpoints available" in lowered:
        raise Unreachable(
            f"Service {target.name} has no ready endpoints",
            evidence=evidence,
            fix="check that the Service's pods are running and ready, and that its selector "
            "matches their labels",
        )
    if "deadline exceeded" in lowered or "i/o timeout" in lowered or "timeout" in reason.lower():
        raise RequestTimeout(f"the API server timed out reaching {target}", evidence=evidence)
    if response.status == 401:
        raise Unauthorized("the API server rejected the credentials", evidence=evidence)
    if response.status == 403 and reason == "Forbidden":
        rule = rule_for_request(method, api)
        raise Forbidden(
            f"the credentials may not {'/'.join(rule.verbs)} {rule.resource_name}",
            rule=rule,
            evidence=evidence,
        )
    details = status.get("details") or {}
    if (
        response.status == 404
        and reason == "NotFound"
        and details.get("kind")
        in (
            "services",
            "pods",
        )
    ):
        raise NotFound(
            f"{target.kind} {target.name} does not exist in namespace {target.namespace}",
            evidence=evidence,
        )
    if response.status == 429:
        raise TooManyRequests("the API server throttled the proxied request", evidence=evidence)
    if response.status in (502, 503) and "error trying to reach" in lowered:
        raise Unreachable(f"the API server cannot reach {target}", evidence=evidence)


# --- HTTP/1.1 over a socket -------------------------------------------------------------


class _Watchdog:
    """Shuts a socket down at a deadline, so a blocked read returns even if data trickles."""

    def __init__(self, sock: Any, seconds: float) -> None:
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def http_exchange(
    sock: Any,
    *,
    host: str,
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    deadline: float,
    max_bytes: int,
) -> HttpResponse:
    """Send one HTTP/1.1 request on a connected socket and read the response.

    The response is read up to `max_bytes` of body (then `truncated=True`) and must finish by
    `deadline` (a `time.monotonic()` value), or RequestTimeout is raised.
    """
    started = time.monotonic()
    watchdog = _Watchdog(sock, deadline - started)
    # The response reads through a file made from the socket; closing the response releases
    # that file, without which the socket stays open after `sock.close()`.
    response = http.client.HTTPResponse(sock, method=method)
    try:
        sock.settimeout(max(deadline - started, 0.001))
        sock.sendall(_request_bytes(host, method, path, headers, body))
        response.begin()
        data, truncated, timed_out = read_with_deadline(
            response.read1, sock.settimeout, deadline, max_bytes
        )
    except TimeoutError as error:
        raise RequestTimeout(
            f"no complete response to {method} {path} within the timeout", evidence={"host": host}
        ) from error
    except (http.client.HTTPException, OSError) as error:
        if watchdog.fired:
            raise RequestTimeout(
                f"no complete response to {method} {path} within the timeout",
                evidence={"host": host},
            ) from error
        raise _EmptyResponse(error) from error
    finally:
        watchdog.cancel()
        response.close()
    if timed_out or (watchdog.fired and not truncated):
        raise RequestTimeout(
            f"no complete response to {method} {path} within the timeout",
            evidence={"host": host, "bytes_received": len(data)},
        )
    return HttpResponse(
        status=response.status,
        headers={key.lower(): value for key, value in response.getheaders()},
        body=data,
        elapsed=time.monotonic() - started,
        truncated=truncated,
    )


class _EmptyResponse(Exception):
    """The connection closed before a complete status line and headers arrived."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        super().__init__(f"{type(error).__name__}: {error}")


def _request_bytes(
    host: str, method: str, path: str, headers: Mapping[str, str] | None, body: bytes | None
) -> bytes:
    lines = [f"{method} {path or '/'} HTTP/1.1", f"Host: {host}"]
    given = {key.lower() for key in (headers or {})}
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if "user-agent" not in given:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in given:
        lines.append("Accept: */*")
    lines.append("Connection: close")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


def wrap_tls(sock: Any, host: str) -> ssl.SSLSocket:
    """Wrap a connected socket in TLS without verifying the certificate.

    NOTE: certificates are not verified. In-cluster endpoints usually present certificates of a
    private CA that this process does not have; the checks judge reachability and content, not
    the certificate chain.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = sock.raw_socket if isinstance(sock, ForwardedSocket) else getattr(sock, "_socket", sock)
    return context.wrap_socket(raw, server_hostname=host)


# --- port-forward -----------------------------------------------------------------------


# Unread data on the local end at close makes the official client's forwarding thread reset
# the stream and die with an exception, so close() first reads what is waiting: at most this many
# bytes, and until the pod has been quiet this many seconds.
DRAIN_LIMIT = 1024 * 1024
DRAIN_QUIET = 0.05


class ForwardedSocket:
    """A socket-like end of a port-forward stream; closing it ends the stream."""

    def __init__(self, forward: Any, port: int, proxy_thread: threading.Thread | None) -> None:
        self._forward = forward
        self._port = port
        self._sock = forward.socket(port)
        self._proxy_thread = proxy_thread

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    @property
    def raw_socket(self) -> socket.socket:
        """The underlying socket object, for `ssl.SSLContext.wrap_socket`."""
        sock = self._sock
        return sock._socket if hasattr(sock, "_socket") else sock  # type: ignore[no-any-return]

    @property
    def error(self) -> str | None:
        """Text the kubelet sent on the stream's error channel, if any."""
        value = self._forward.error(self._port)
        return str(value) if value else None

    def _drain(self) -> None:
        """Read what the pod sent that the caller left unread (it read only a status line)."""
        received = 0
        with contextlib.suppress(OSError):
            self._sock.settimeout(DRAIN_QUIET)
            while received < DRAIN_LIMIT:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                received += len(chunk)

    def close(self) -> None:
        """Close the local end and the WebSocket.

        The local end first signals end of input, so the official client's forwarding thread
        reads EOF and closes its side; closing with unread data would instead reset the
        connection and end that thread with an exception. The thread closes the WebSocket
        unless the server closed it first, so it is closed here too once the thread has ended
        (after at most `STREAM_CLOSE_WAIT` seconds).
        """
        self._drain()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)
        thread = self._proxy_thread
        if thread is not None:
            thread.join(timeout=STREAM_CLOSE_WAIT)
        self._forward.close()
        if thread is not None and thread.is_alive():
            return
        # A forwarding thread that ended on a reset from the pod's side leaves its half of the
        # client's socket pair open; close it here rather than leave it to the collector.
        for local_port in (getattr(self._forward, "local_ports", None) or {}).values():
            with contextlib.suppress(OSError, AttributeError):
                local_port.python.close()
        websocket = self._forward.websocket
        if getattr(websocket, "sock", None) is not None:
            websocket.shutdown()


class PortForwardTransport:
    """Requests over the Kubernetes port-forward stream to one pod (`pods/portforward`).

    A Service target is resolved to one ready pod behind it (two API reads). Streams are opened
    on a separate ApiClient under a lock, because the official client's `portforward` helper
    swaps a method of the ApiClient it is given while it connects.
    """

    name = "port-forward"

    def __init__(self, client: ClusterClient, **_: Any) -> None:
        self.client = client
        self._api = k8s_client.ApiClient(client.configuration)
        self._core = k8s_client.CoreV1Api(self._api)
        self._open_lock = threading.Lock()

    def request(
        self,
        target: HttpTarget,
        path: str,
        *,
        method: str = "GET",
        timeout: float,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> HttpResponse:
        """Send the request over a port-forward stream (see `Transport.request`)."""
        deadline = time.monotonic() + timeout
        pod, port = resolve_pod_port(self.client, target)
        sock: Any = self.connect(HttpTarget(target.namespace, "pod", pod, port), timeout)
        forwarded = sock
        try:
            if target.scheme == "https":
                sock = wrap_tls(sock, "localhost")
            return http_exchange(
                sock,
                host=f"localhost:{port}",
                method=method,
                path=path,
                headers=headers,
                body=body,
                deadline=deadline,
                max_bytes=max_bytes,
            )
        except _EmptyResponse as error:
            raise self._closed_error(forwarded, target, pod, port) from error.error
        except ssl.SSLError as error:
            raise Unreachable(
                f"the TLS handshake with pod {pod} port {port} failed",
                evidence={"reason": bound_message(str(error))},
                fix="check whether the port speaks TLS",
            ) from error
        finally:
            forwarded.close()

    def connect(self, target: HttpTarget, timeout: float) -> ForwardedSocket:
        """Open a raw TCP stream to a pod port (for TLS and gRPC handshake probes)."""
        pod, port = resolve_pod_port(self.client, target)
        if not self._open_lock.acquire(timeout=timeout):
            raise RequestTimeout(
                "another port-forward stream is still opening",
                evidence={"target": str(target), "timeout_s": timeout},
            )
        try:
            forward, proxy_thread = self._open(target.namespace, pod, port, timeout)
        finally:
            self._open_lock.release()
        return ForwardedSocket(forward, port, proxy_thread)

    def _open(
        self, namespace: str, pod: str, port: int, timeout: float
    ) -> tuple[Any, threading.Thread | None]:
        """Open a stream and return it with its forwarding thread. The caller owns `_open_lock`."""
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward"
        before = set(threading.enumerate())
        self.client.count_request("GET", path)
        # The official helper connects without a timeout, so it runs in a thread that is given
        # up on at the deadline. NOTE: a thread given up on stays blocked until the OS times the
        # connection out.
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        future = executor.submit(
            portforward,
            self._core.connect_get_namespaced_pod_portforward,
            pod,
            namespace,
            ports=str(port),
        )
        executor.shutdown(wait=False)
        try:
            forward = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError as error:
            raise RequestTimeout(
                "the port-forward stream did not open within the timeout",
                evidence={"pod": f"{namespace}/{pod}", "port": port, "timeout_s": timeout},
            ) from error
        except ApiException as error:
            raise _stream_error(error, "GET", path) from error
        # Streams open one at a time under the lock, so the one new forwarding thread is ours.
        started = [
            thread
            for thread in threading.enumerate()
            if thread not in before and thread.name.startswith(PROXY_THREAD_PREFIX)
        ]
        return forward, started[0] if started else None

    @staticmethod
    def _closed_error(
        sock: ForwardedSocket, target: HttpTarget, pod: str, port: int
    ) -> ClusterError:
        # The kubelet reports a failed dial on the error channel just before it closes the data
        # channel; give that message a moment to arrive.
        for _ in range(20):
            if sock.error:
                break
            time.sleep(0.01)
        message = sock.error or ""
        evidence = {"pod": f"{target.namespace}/{pod}", "port": port}
        if message:
            evidence["message"] = bound_message(message)
        if "refused" in message.lower():
            return ConnectionRefused(
                f"port {port} of pod {pod} refuses connections", evidence=evidence
            )
        return Unreachable(
            f"the port-forward stream to pod {pod} port {port} closed without a response",
            evidence=evidence,
            fix="check that the container listens on that port and speaks HTTP",
        )


def _stream_error(error: ApiException, method: str, path: str) -> ClusterError:
    """Translate a failed WebSocket upgrade of the official client into our exceptions."""
    reason = str(error.reason or "")
    # The official client reports a failed handshake with status 0 and the handshake status
    # in the reason text, e.g. "Handshake status 403 Forbidden".
    for code in (401, 403, 404, 429, 500, 502, 503):
        if f"status {code}" in reason:
            return error_for_status(code, (error.body or "").encode(), method=method, path=path)
    lowered = reason.lower()
    if "refused" in lowered:
        return Unreachable(
            "the API server refused the port-forward connection",
            evidence={"reason": bound_message(reason)},
        )
    return Unreachable(
        "the port-forward stream could not be opened",
        evidence={"request": f"{method} {path}", "reason": bound_message(reason)},
    )


def resolve_pod_port(client: ClusterClient, target: HttpTarget) -> tuple[str, int]:
    """Find the pod and container port number a target points at.

    A pod with a named port costs one read of the pod. A Service costs two reads: the Service,
    and its Endpoints, whose ports carry the resolved numbers.
    """
    if target.kind == "pod":
        if isinstance(target.port, int):
            return target.name, target.port
        pod = client.get("pods", target.name, namespace=target.namespace)
        return target.name, container_port(pod, target.port)
    service = client.get("services", target.name, namespace=target.namespace)
    service_port = _service_port(service, target.port)
    endpoints = client.get("endpoints", target.name, namespace=target.namespace)
    for subset in endpoints.get("subsets") or []:
        ports = subset.get("ports") or []
        number = _endpoint_port(ports, service_port)
        for address in subset.get("addresses") or []:
            ref = address.get("targetRef") or {}
            if ref.get("kind") == "Pod" and ref.get("name") and number is not None:
                return str(ref["name"]), number
    raise Unreachable(
        f"Service {target.name} has no ready pod to forward to",
        evidence={"target": str(target)},
        fix="check that the Service's pods are running and ready",
    )


def container_port(pod: Mapping[str, Any], name: str) -> int:
    """Return the number of the container port called `name` in a pod object."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name and isinstance(port.get("containerPort"), int):
                return int(port["containerPort"])
    raise InvalidResponse(
        f"pod {(pod.get('metadata') or {}).get('name')} declares no container port named {name}",
        evidence={"port": name},
        fix="use the port number, or check the port names in the pod spec",
    )


def _service_port(service: Mapping[str, Any], port: int | str) -> Mapping[str, Any]:
    ports = (service.get("spec") or {}).get("ports") or []
    for entry in ports:
        if entry.get("name") == port or entry.get("port") == port:
            return dict(entry)
    names = ", ".join(f"{p.get('name')}:{p.get('port')}" for p in ports)
    raise InvalidResponse(
        f"Service {(service.get('metadata') or {}).get('name')} has no port {port}",
        evidence={"ports": names or "(none)"},
        fix="use one of the Service's port names or numbers",
    )


def _endpoint_port(ports: list[Mapping[str, Any]], service_port: Mapping[str, Any]) -> int | None:
    target_port = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target_port, int):
        return target_port
    for entry in ports:
        if entry.get("name") == service_port.get("name") and isinstance(entry.get("port"), int):
            return int(entry["port"])
    if len(ports) == 1 and isinstance(ports[0].get("port"), int):
        return int(ports[0]["port"])
    return None


# --- direct -----------------------------------------------------------------------------


class DirectTransport:
    """Plain HTTP to Service DNS names and pod IPs; works only from inside the cluster.

    Named ports are resolved with one API read of the Service or pod.
    """

    name = "direct"

    def __init__(
        self,
        client: ClusterClient,
        *,
        cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
        **_: Any,
    ) -> None:
        self.client = client
        self.cluster_domain = cluster_domain

    def address(self, target: HttpTarget) -> tuple[str, int]:
        """Return the host and port number a target is reached at from inside the cluster."""
        if target.kind == "service":
            host = f"{target.name}.{target.namespace}.svc.{self.cluster_domain}"
            if isinstance(target.port, int):
                return host, target.port
            service = self.client.get("services", target.name, namespace=target.namespace)
            return host, int(_service_port(service, target.port)["port"])
        if target.ip and isinstance(target.port, int):
            return target.ip, target.port
        pod = self.client.get("pods", target.name, namespace=target.namespace)
        ip = target.ip or (pod.get("status") or {}).get("podIP")
        if not ip:
            raise Unreachable(
                f"pod {target.name} has no IP address yet",
                evidence={"target": str(target)},
                fix="wait until the pod is scheduled and running",
            )
        port = target.port if isinstance(target.port, int) else container_port(pod, target.port)
        return str(ip), port

    def connect(self, target: HttpTarget, timeout: float) -> socket.socket:
        """Open a TCP connection to the target (for TLS and gRPC handshake probes)."""
        host, port = self.address(target)
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except ConnectionRefusedError as error:
            raise ConnectionRefused(
                f"port {port} of {target.kind} {target.name} refuses connections",
                evidence={"address": f"{host}:{port}"},
            ) from error
        except socket.gaierror as error:
            raise Unreachable(
                f"{host} does not resolve",
                evidence={"reason": str(error)},
                fix="direct access works only inside the cluster; use --access proxy from outside",
            ) from error
        except TimeoutError as error:
            raise RequestTimeout(
                f"connecting to {host}:{port} timed out", evidence={"timeout_s": timeout}
            ) from error
        except OSError as error:
            raise Unreachable(
                f"{host}:{port} cannot be reached", evidence={"reason": bound_message(str(error))}
            ) from error

    def request(
        self,
        target: HttpTarget,
        path: str,
        *,
        method: str = "GET",
        timeout: float,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> HttpResponse:
        """Send the request straight to the target (see `Transport.request`)."""
        deadline = time.monotonic() + timeout
        host, port = self.address(target)
        sock: Any = self.connect(target, max(deadline - time.monotonic(), 0.001))
        try:
            if target.scheme == "https":
                sock = wrap_tls(sock, host)
            return http_exchange(
                sock,
                host=f"{host}:{port}",
                method=method,
                path=path,
                headers=headers,
                body=body,
                deadline=deadline,
                max_bytes=max_bytes,
            )
        except _EmptyResponse as error:
            raise Unreachable(
                f"{host}:{port} closed the connection without a response",
                evidence={"reason": bound_message(str(error))},
                fix="check that the port speaks HTTP (not gRPC or TLS)",
            ) from error.error
        except ssl.SSLError as error:
            raise Unreachable(
                f"the TLS handshake with {host}:{port} failed",
                evidence={"reason": bound_message(str(error))},
                fix="check whether the port speaks TLS",
            ) from error
        finally:
            sock.close()


TransportFactory = Callable[..., Transport]

# Transport names as the `--access` option spells them.
TRANSPORTS: dict[str, TransportFactory] = {
    ApiProxyTransport.name: ApiProxyTransport,
    PortForwardTransport.name: PortForwardTransport,
    DirectTransport.name: DirectTransport,
}


def make_transport(
    name: str, client: ClusterClient, settings: Settings | None = None, **options: Any
) -> Transport:
    """Create the transport registered under `name` (`proxy`, `port-forward`, `direct`).

    `auto` picks `direct` inside the cluster and `proxy` outside, as `--access auto` does.
    """
    if name == "auto":
        name = DirectTransport.name if client.in_cluster else ApiProxyTransport.name
    try:
        factory = TRANSPORTS[name]
    except KeyError:
        known = ", ".join(sorted([*TRANSPORTS, "auto"]))
        raise ValueError(f"unknown transport {name!r}; known: {known}") from None
    return factory(client, **options)
