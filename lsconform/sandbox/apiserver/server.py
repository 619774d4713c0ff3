"""The API server: an aiohttp application on loopback that serves a `Store` like Kubernetes.

`ApiServer(store, settings).start()` runs the server on its own thread and event loop and returns
once it listens; `stop()` ends every open stream and closes the socket. Each request passes, in
order: bearer-token authentication (401), injected latency, injected errors (500 or 429), RBAC
(403), then the handler. The audit log gets one JSON line per request once its status is known.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import random
import secrets
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import yaml
from aiohttp import web

from lsconform.sandbox.apiserver import discovery
from lsconform.sandbox.apiserver.nodelogs import handle_node_proxy
from lsconform.sandbox.apiserver.podlog import handle_pod_log
from lsconform.sandbox.apiserver.portforward import SPDY_UNSUPPORTED, handle_portforward
from lsconform.sandbox.apiserver.proxy import Proxy
from lsconform.sandbox.apiserver.rbac import DEFAULT_USER, Authorizer
from lsconform.sandbox.apiserver.requestinfo import RequestInfo, parse_request
from lsconform.sandbox.apiserver.resources import (
    handle_get,
    handle_list,
    handle_watch,
    json_response,
)
from lsconform.sandbox.apiserver.status import (
    ApiError,
    bad_request,
    internal_error,
    method_not_allowed,
    resource_not_found,
    too_many_requests,
    unauthorized,
)
from lsconform.sandbox.apiserver.store import ResourceType, Store
from lsconform.sandbox.apiserver.tls import ServingCertificate, make_certificate

logger = logging.getLogger(__name__)

# Paths any client may read without a token, as the built-in `system:public-info-viewer`
# ClusterRole allows on a real cluster.
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
# Injected errors never hit these, so that readiness waits stay deterministic.
ERROR_EXEMPT_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
RETRY_AFTER_SECONDS = 1
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# How long stop() lets requests in flight finish; streams end at once because stop() signals them.
SHUTDOWN_GRACE_SECONDS = 1.0
CLOSE_GRACE_SECONDS = 0.05
TOKEN_USER_NAME = DEFAULT_USER


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Listening address, TLS, credentials and injected faults of the API server."""

    workdir: Path
    """Directory for the audit log, the certificate and the kubeconfig."""
    host: str = "127.0.0.1"
    port: int = 0
    """TCP port; 0 picks a free one."""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    tls: bool = True
    """Serve HTTPS with a self-signed certificate (plain HTTP when False)."""
    user: str = TOKEN_USER_NAME
    """The user the token authenticates as (named in audit records and 403 messages)."""
    latency_ms: int = 0
    """Delay added before every request is handled, in milliseconds."""
    error_rate: float = 0.0
    """Share of requests (0 to 1) that get an injected 500 or 429 instead of their response."""
    error_seed: int | None = None
    """Seed of the injected-error random generator, for reproducible runs."""
    rbac_role_yaml: str | None = None
    """Role and ClusterRole YAML to enforce for the user; None allows everything."""
    proxy_source_address: str = "127.0.0.2"
    portforward_source_address: str = "127.0.0.1"

    @property
    def audit_path(self) -> Path:
        return self.workdir / "audit.jsonl"


INFO_KEY = web.RequestKey("info", RequestInfo)
USER_KEY = web.RequestKey("user", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiServer:
    """A Kubernetes API server over `store`, on its own thread (see the module docstring)."""

    def __init__(self, store: Store, settings: ServerSettings) -> None:
        self.store = store
        self.settings = settings
        self.authorizer = (
            Authorizer.from_yaml(settings.rbac_role_yaml, settings.user)
            if settings.rbac_role_yaml is not None
            else None
        )
        self.certificate: ServingCertificate | None = None
        self.port = settings.port
        self._random = random.Random(settings.error_seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._proxy = Proxy(store, settings.proxy_source_address)
        self._audit: TextIO | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None

    # Lifecycle.

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls else "http"
        return f"{scheme}://{self.settings.host}:{self.port}"

    def start(self) -> ApiServer:
        if self.settings.tls:
            self.certificate = make_certificate(self.settings.workdir / "pki", self.settings.host)
        self.settings.workdir.mkdir(parents=True, exist_ok=True)
        self._audit = self.settings.audit_path.open("a", encoding="utf-8")
        self._thread = threading.Thread(target=self._run, name="sandbox-apiserver", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError(f"the API server did not start within {START_TIMEOUT_SECONDS} s")
        if self._start_error is not None:
            raise RuntimeError(f"the API server failed to start: {self._start_error}")
        logger.info("API server listening on %s", self.url)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(STOP_TIMEOUT_SECONDS)
        except Exception:
            logger.exception("API server shutdown failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT_SECONDS)
        self._loop = self._thread = None
        if self._audit is not None:
            self._audit.close()
            self._audit = None
        logger.info("API server stopped")

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:
            self._start_error = error
            self._started.set()
            loop.close()
            return
        self._started.set()
        loop.run_forever()
        loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        app.on_response_prepare.append(self._audit_response)
        # handler_cancellation ends a watch, log follow or proxy stream as soon as its client
        # disconnects, instead of when it next writes or times out.
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
            handler_cancellation=True,
        )
        await self._runner.setup()
        ssl_context = None
        if self.certificate is not None:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(self.certificate.cert_path, self.certificate.key_path)
        site = web.TCPSite(
            self._runner, self.settings.host, self.settings.port, ssl_context=ssl_context
        )
        await site.start()
        server = site._server
        if server is not None and hasattr(server, "sockets") and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        await self._proxy.close()
        if self._runner is None:
            return
        server = self._runner.server
        connections = list(server.connections) if server is not None else []
        transports = [c.transport for c in connections if c.transport is not None]
        await self._runner.cleanup()
        # A TLS close waits for the client's close_notify, which an idle client holding its
        # connection never sends: give it a moment, then drop what is still open.
        await asyncio.sleep(CLOSE_GRACE_SECONDS)
        for transport in transports:
            transport.abort()

    # Kubeconfig.

    def kubeconfig(self, namespace: str = "default", name: str = "lsconform-sandbox") -> str:
        """Return a kubeconfig (YAML) whose current context reaches this server as the user."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.certificate is not None:
            ca = base64.b64encode(self.certificate.cert_pem()).decode()
            cluster["certificate-authority-data"] = ca
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": name, "user": {"token": self.settings.token}}],
            "contexts": [
                {
                    "name": name,
                    "context": {"cluster": name, "user": name, "namespace": namespace},
                }
            ],
            "current-context": name,
            "preferences": {},
        }
        return yaml.safe_dump(config, sort_keys=False)

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """Write the kubeconfig to `path` (mode 0600, because it contains the token)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.kubeconfig(namespace), encoding="utf-8")
        path.chmod(0o600)
        return path

    # Request pipeline.

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        info = parse_request(request.method, request.raw_path.split("?", 1)[0], _is_watch(request))
        request[INFO_KEY] = info
        request[USER_KEY] = ""
        try:
            self._authenticate(request)
            if self.settings.latency_ms > 0:
                await asyncio.sleep(self.settings.latency_ms / 1000)
            self._inject_error(request)
            if self.authorizer is not None and info.is_resource:
                self.authorizer.check(info, _rbac_verb(info))
            return await handler(request)
        except ApiError as error:
            logger.debug(
                "%s %s failed: %d %s: %s",
                request.method,
                request.path,
                error.code,
                error.reason,
                error.message,
            )
            return _error_response(error)
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as error:
            logger.exception("request %s %s failed", request.method, request.path)
            return _error_response(internal_error(f"{type(error).__name__}: {error}"))

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.settings.token.encode()
        ):
            request[USER_KEY] = self.settings.user
            return
        if request.path in PUBLIC_PATHS:
            request[USER_KEY] = "system:anonymous"
            return
        raise unauthorized()

    def _inject_error(self, request: web.Request) -> None:
        if self.settings.error_rate <= 0 or request.path in ERROR_EXEMPT_PATHS:
            return
        if self._random.random() >= self.settings.error_rate:
            return
        if self._random.random() < 0.5:
            raise too_many_requests(RETRY_AFTER_SECONDS)
        raise internal_error("injected by the sandbox (error rate knob)")

    async def _audit_response(self, request: web.Request, response: web.StreamResponse) -> None:
        if self._audit is None:
            return
        info = request.get(INFO_KEY)
        record = {
            "time": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "status": response.status,
            "verb": info.verb if info is not None else "",
            "user": request.get(USER_KEY, ""),
            "userAgent": request.headers.get("User-Agent", ""),
        }
        if info is not None and info.is_resource:
            record.update(
                {
                    "resource": info.resource,
                    "subresource": info.subresource,
                    "namespace": info.namespace,
                    "name": info.name,
                    "apiGroup": info.group,
                }
            )
        self._audit.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._audit.flush()

    # Routing.

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        info = request[INFO_KEY]
        if not info.is_resource:
            return self._non_resource(request)
        resource = self._find_type(info)
        if info.subresource:
            return await self._subresource(request, info, resource)
        if request.method not in ("GET", "HEAD"):
            raise method_not_allowed()
        assert self._stopping is not None
        if info.verb == "watch":
            return await handle_watch(self.store, request, info, resource, self._stopping)
        if info.name:
            return await handle_get(self.store, request, info, resource)
        return await handle_list(self.store, request, info, resource)

    def _find_type(self, info: RequestInfo) -> ResourceType:
        for resource in self.store.resource_types():
            if (
                resource.plural == info.resource
                and resource.group == info.group
                and resource.version == info.version
            ):
                return resource
        raise resource_not_found()

    async def _subresource(
        self, request: web.Request, info: RequestInfo, resource: ResourceType
    ) -> web.StreamResponse:
        assert self._stopping is not None
        if info.subresource not in resource.subresources:
            raise resource_not_found()
        key = (info.resource, info.subresource)
        if key == ("services", "proxy") or key == ("pods", "proxy"):
            return await self._proxy.handle(request, info)
        if key == ("pods", "portforward") and request.method == "POST":
            raise bad_request(SPDY_UNSUPPORTED)
        if key == ("nodes", "proxy"):
            if request.method != "GET":
                raise method_not_allowed()
            return await handle_node_proxy(self.store, request, info)
        if request.method != "GET":
            raise method_not_allowed()
        if key == ("pods", "log"):
            return await handle_pod_log(self.store, request, info, self._stopping)
        if key == ("pods", "portforward"):
            return await handle_portforward(
                self.store,
                request,
                info,
                self.settings.portforward_source_address,
                self._stopping,
            )
        return await handle_get(self.store, request, info, resource)

    def _non_resource(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise method_not_allowed()
        path = request.path.rstrip("/") or "/"
        types = self.store.resource_types()
        groups = discovery.group_versions(types)
        if path == "/version":
            return json_response(dict(discovery.VERSION_INFO))
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/api":
            return json_response(discovery.api_versions(f"{self.settings.host}:{self.port}"))
        if path == "/apis":
            return json_response(discovery.api_group_list(types))
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2 and parts[1] in groups.get("", []):
            return json_response(discovery.api_resource_list("", parts[1], types))
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in groups and parts[1]:
            return json_response(discovery.api_group_document(parts[1], groups[parts[1]]))
        if parts[0] == "apis" and len(parts) == 3 and parts[2] in groups.get(parts[1], []):
            return json_response(discovery.api_resource_list(parts[1], parts[2], types))
        # Like a real server: /openapi/v2, /openapi/v3 and unknown paths are a plain 404.
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")

    def __repr__(self) -> str:
        return f"ApiServer(url={self.url!r})"


def _is_watch(request: web.Request) -> bool:
    return request.query.get("watch", "").lower() in ("1", "true")


def _rbac_verb(info: RequestInfo) -> str:
    # Opening a port-forward needs `create` on pods/portforward: kubectl's SPDY request is a
    # POST, and Kubernetes 1.35 also requires `create` for the WebSocket GET upgrade.
    if info.subresource == "portforward":
        return "create"
    return info.verb


def _error_response(error: ApiError) -> web.Response:
    response = json_response(error.status(), status=error.code)
    for key, value in error.headers.items():
        response.headers[key] = value
    return response
