"""Simulated pods served from the host process: LangSmith services, ClickHouse and others.

Each simulated pod binds its container ports on its own loopback address, writes its container
logs in CRI format, and (for LangSmith services) serves the health, metrics and KEDA endpoints of
the chart and exports spans. Servers are aiohttp low-level servers, one per pod and port.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from opentelemetry.trace import SpanKind

from lsconform.sandbox.pods.canaries import canary_records, canary_text_lines
from lsconform.sandbox.pods.crilog import ContainerLog, log_mode
from lsconform.sandbox.pods.exposition import (
    TEXT_CONTENT_TYPE,
    ClickHouseMetrics,
    ServiceMetrics,
)
from lsconform.sandbox.pods.plans import component_metrics, health_port, main_env
from lsconform.sandbox.pods.records import (
    HEARTBEAT_INTERVAL_S,
    effective_restart_count,
    write_json,
    write_previous_run,
)
from lsconform.sandbox.pods.tracing import ExportTarget, build_provider, load_dns, resolve_target

log = logging.getLogger(__name__)

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

HEALTH_PATHS = frozenset({"/health", "/ok", "/readyz", "/healthz", "/livez"})
# Delay before the backend's /metrics responds under the `metrics-timeout` fault (seconds).
METRICS_TIMEOUT_DELAY_S = 30.0
# How long a pod keeps polling for `dns.json` before tracing gives up (seconds).
DNS_WAIT_S = 120.0
SPA_PAGE = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LangSmith</title>'
    b'</head><body><div id="root"></div></body></html>\n'
)
# Largest request body a simulated service reads (bytes); the rest is left unread.
MAX_BODY_BYTES = 1024 * 1024


class SimulatedPod:
    """Common parts: plan, faults, container logs, listeners and per-container status."""

    def __init__(self, plan: dict[str, Any], faults: set[str], workdir: Path) -> None:
        self.plan = plan
        self.faults = faults
        self.workdir = workdir
        self.ip = str(plan["ip"])
        self.name = str(plan["name"])
        self.namespace = str(plan["namespace"])
        self.component = str(plan.get("component") or "")
        self.logs: dict[str, ContainerLog] = {}
        self.status: dict[str, dict[str, Any]] = {}
        self.runners: list[web.BaseRunner] = []
        self.servers: list[asyncio.AbstractServer] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.closed_ports: list[int] = []

    @property
    def main_log(self) -> ContainerLog | None:
        containers = self.plan.get("containers") or []
        return self.logs.get(containers[0]["name"]) if containers else None

    def open_logs(self, service: str) -> None:
        """Open every container's node log, writing the previous run where there was one."""
        for index, container in enumerate(self.plan.get("containers") or []):
            faults = self.faults if index == 0 else set()
            restart = effective_restart_count(container, faults)
            clog = ContainerLog(self.plan, container, log_mode(faults), restart)
            clog.open()
            write_previous_run(clog, service, "crashloop" in faults)
            self.logs[container["name"]] = clog
            self.status[container["name"]] = {"started": False, "reason": "not started yet"}

    def tcp_ports(self) -> list[int]:
        ports = []
        for container in self.plan.get("containers") or []:
            for port in container.get("ports") or []:
                if str(port.get("protocol", "TCP")).upper() == "TCP":
                    ports.append(int(port["containerPort"]))
        return ports

    async def serve_http(self, port: int, handler: Handler) -> None:
        server = web.Server(handler, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host=self.ip, port=port, reuse_address=True)
        await site.start()
        self.runners.append(runner)

    async def serve_tcp(self, port: int, client: Callable[..., Awaitable[None]]) -> None:
        server = await asyncio.start_server(client, host=self.ip, port=port, reuse_address=True)
        self.servers.append(server)

    def mark_started(self, reason: str = "running") -> None:
        for name in self.status:
            self.status[name] = {"started": True, "reason": reason}

    def mark_failed(self, reason: str) -> None:
        for name in self.status:
            self.status[name] = {"started": False, "reason": reason}

    def every(self, interval: float, action: Callable[[], None]) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval * random.uniform(0.8, 1.2))
                action()

        self.tasks.append(asyncio.create_task(loop()))

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop listening and close the logs (open requests are dropped)."""
        for task in self.tasks:
            task.cancel()
        for server in self.servers:
            server.close()
        for runner in self.runners:
            await runner.cleanup()
        for clog in self.logs.values():
            clog.close()


def _json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


class LangSmithService(SimulatedPod):
    """A LangSmith HTTP service (backend, platform-backend, queue, ...)."""

    def __init__(self, plan: dict[str, Any], faults: set[str], workdir: Path) -> None:
        super().__init__(plan, faults, workdir)
        self.app_name = self.component or "langsmith"
        self.service_name = f"langsmith-{self.app_name}"
        self.metrics: ServiceMetrics | None = None
        if component_metrics(self.component):
            self.metrics = ServiceMetrics(
                self.app_name,
                with_pg_pool=self.component == "backend",
                with_go_runtime=self.component == "platform-backend",
            )
        self.tracer: Any = None
        self.trace_target: ExportTarget | None = None
        self.exporter: Any = None
        self.provider: Any = None
        self.started_at = time.monotonic()

    async def start(self) -> None:
        self.open_logs(self.service_name)
        clog = self.main_log
        if clog is not None:
            write_json(clog, "info", "starting service", service=self.service_name, pod=self.name)

        ports = self.tcp_ports()
        if not ports and health_port(self.component):
            ports = [int(health_port(self.component) or 0)]
        for port in ports:
            if "backend-metrics-down" in self.faults and self.component == "backend":
                self.closed_ports.append(port)
                continue
            await self.serve_http(port, self.handle)

        if clog is not None:
            if self.component in {"backend", "queue"}:
                self.log_canaries(clog)
            write_json(clog, "info", "application startup complete", ports=ports)
        reason = "running"
        if self.closed_ports:
            reason = f"running, not listening on {self.closed_ports} (backend-metrics-down)"
        self.mark_started(reason)

        if self.metrics is not None:
            # prometheus_client leaves out families without samples. One request served now
            # puts every family the dashboards query into the first scrape.
            self.metrics.in_progress.labels(self.app_name, "GET").set(0)
            self.serve_internal_request()
        self.every(HEARTBEAT_INTERVAL_S, self.heartbeat)
        if main_env(self.plan).get("OTEL_TRACING_ENABLED", "").lower() == "true":
            self.tasks.append(asyncio.create_task(self.setup_tracing()))

    @staticmethod
    def log_canaries(clog: ContainerLog) -> None:
        for record in canary_records():
            level = str(record.pop("level"))
            msg = str(record.pop("msg"))
            write_json(clog, level, msg, **record)
        for stream, text in canary_text_lines():
            clog.write(text, stream)

    # Tracing ----------------------------------------------------------------------------

    async def setup_tracing(self) -> None:
        deadline = time.monotonic() + DNS_WAIT_S
        dns = load_dns(self.workdir)
        while dns is None and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            dns = load_dns(self.workdir)
        env = main_env(self.plan)
        target = resolve_target(env, dns or {})
        self.trace_target = target
        if target.error:
            while True:
                self.log_error(f"failed to export spans: {target.error}")
                await asyncio.sleep(30)
        self.provider, self.exporter = build_provider(
            target,
            service_name=self.service_name,
            pod=self.name,
            namespace=self.namespace,
            environment=env.get("OTEL_ENVIRONMENT", ""),
            report=self.log_error,
        )
        self.tracer = self.provider.get_tracer("langsmith.sandbox")
        clog = self.main_log
        if clog is not None:
            write_json(
                clog,
                "info",
                "OpenTelemetry tracing enabled",
                exporter=target.exporter,
                endpoint=target.configured,
            )

    def log_error(self, message: str) -> None:
        clog = self.main_log
        if clog is not None:
            write_json(clog, "error", message)

    def record_span(self, method: str, route: str, status: int, start_ns: int) -> None:
        if self.tracer is None:
            return
        span = self.tracer.start_span(
            f"{method} {route}",
            kind=SpanKind.SERVER,
            start_time=start_ns,
            attributes={
                "http.request.method": method,
                "http.route": route,
                "http.response.status_code": status,
                "k8s.pod.name": self.name,
            },
        )
        span.end()

    # Requests ---------------------------------------------------------------------------

    def heartbeat(self) -> None:
        clog = self.main_log
        uptime = round(time.monotonic() - self.started_at, 1)
        if clog is not None:
            write_json(clog, "info", "heartbeat", service=self.service_name, uptime_s=uptime)
        self.serve_internal_request()

    def serve_internal_request(self) -> None:
        """Count and trace one request that no client sent, as background work would."""
        method, route = ("POST", "/runs/batch") if self.metrics else ("GET", "/internal/poll")
        start_ns = time.time_ns()
        seconds = random.uniform(0.004, 0.08)
        if self.metrics is not None:
            self.metrics.observe(method, route, 202, seconds, random.randint(200, 8000))
        self.record_span(method, route, 202, start_ns)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        start = time.perf_counter()
        start_ns = time.time_ns()
        method = request.method
        if self.metrics is not None:
            self.metrics.in_progress.labels(self.app_name, method).inc()
        route = "unmatched"
        status = 500
        body = b""
        try:
            body = await request.content.read(MAX_BODY_BYTES) if request.can_read_body else b""
            route, response = await self.route(request)
            status = response.status
            return response
        finally:
            elapsed = time.perf_counter() - start
            if self.metrics is not None:
                self.metrics.in_progress.labels(self.app_name, method).dec()
                self.metrics.observe(method, route, status, elapsed, len(body))
            clog = self.main_log
            if clog is not None:
                write_json(
                    clog,
                    "info",
                    "request served",
                    method=method,
                    path=request.path,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            self.record_span(method, route, status, start_ns)

    async def route(self, request: web.BaseRequest) -> tuple[str, web.Response]:
        path = request.path
        if path in HEALTH_PATHS:
            data: dict[str, Any] = {"status": "ok"}
            if "check_db" in request.query:
                data["check_db"] = request.query["check_db"]
            return path, _json_response(data)
        if path == "/metrics" and self.metrics is not None:
            return path, await self.metrics_response(request)
        if path.startswith("/metrics/queue/") and self.component == "backend":
            return "/metrics/queue/{queue}", _json_response({"queued": random.randint(0, 3)})
        if path in {"/info", "/api/v1/info"}:
            return path, _json_response({"version": "0.17.12rc1", "service": self.service_name})
        if request.method == "POST" and path in {"/runs/batch", "/runs/multipart", "/runs"}:
            return path, _json_response({"status": "accepted"}, status=202)
        return route_not_found()

    async def metrics_response(self, request: web.BaseRequest) -> web.Response:
        assert self.metrics is not None
        if request.query.get("format") == "json" and self.component == "platform-backend":
            pending = {
                "ingestion_queue": {"pending": random.randint(0, 5)},
                "feedback_queue": {"pending": random.randint(0, 2)},
                "adhoc_queue": {"pending": 0},
            }
            return _json_response(pending)
        if "metrics-timeout" in self.faults:
            await asyncio.sleep(METRICS_TIMEOUT_DELAY_S)
        if "metrics-html" in self.faults:
            # What a catch-all route (an SPA fallback or a proxy error page) returns in place
            # of the exposition.
            return web.Response(body=SPA_PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
        body = self.metrics.render(self.faults)
        return web.Response(body=body, headers={"Content-Type": TEXT_CONTENT_TYPE})

    async def stop(self) -> None:
        clog = self.main_log
        if clog is not None:
            write_json(clog, "info", "received SIGTERM, shutting down")
        await super().stop()


def route_not_found() -> tuple[str, web.Response]:
    return "unmatched", _json_response({"detail": "Not Found"}, status=404)


class ClickHouse(SimulatedPod):
    """ClickHouse: `/ping` on 8123, a native-protocol listener on 9000, metrics on 9363."""

    def __init__(self, plan: dict[str, Any], faults: set[str], workdir: Path) -> None:
        super().__init__(plan, faults, workdir)
        self.metrics = ClickHouseMetrics()

    def text_log(self, level: str, source: str, message: str) -> None:
        clog = self.main_log
        if clog is None:
            return
        now = time.time()
        stamp = time.strftime("%Y.%m.%d %H:%M:%S", time.localtime(now))
        micros = int(now % 1 * 1_000_000)
        clog.write(f"{stamp}.{micros:06d} [ 1 ] {{}} <{level}> {source}: {message}", "stderr")

    async def start(self) -> None:
        self.open_logs("clickhouse")
        self.text_log("Information", "Application", "Starting ClickHouse 25.12.1.1")
        ports = self.tcp_ports() or [8123, 9000, 9363]
        for port in ports:
            if port == 9363:
                if "clickhouse-metrics-off" in self.faults:
                    self.closed_ports.append(port)
                    continue
                await self.serve_http(port, self.handle_metrics)
                self.text_log(
                    "Information", "Application", f"Listening for Prometheus: {self.ip}:{port}"
                )
            elif port == 9000:
                await self.serve_tcp(port, self.handle_native)
            else:
                await self.serve_http(port, self.handle_http)
        self.text_log("Information", "Application", "Ready for connections.")
        self.mark_started()

    async def handle_http(self, request: web.BaseRequest) -> web.Response:
        if request.path in {"/", "/ping", "/replicas_status"} and "query" not in request.query:
            return web.Response(text="Ok.\n")
        if "query" in request.query or request.method == "POST":
            self.metrics.queries += 1
            return web.Response(text="1\n")
        return web.Response(status=404, text="There is no handle " + request.path + "\n")

    async def handle_metrics(self, request: web.BaseRequest) -> web.Response:
        if request.path != "/metrics":
            return web.Response(status=404, text="There is no handle " + request.path + "\n")
        return web.Response(body=self.metrics.render(), headers={"Content-Type": TEXT_CONTENT_TYPE})

    async def handle_native(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.metrics.tcp_connections += 1
        try:
            await asyncio.wait_for(reader.read(4096), timeout=5.0)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            self.metrics.tcp_connections -= 1
            writer.close()


class GenericPod(SimulatedPod):
    """Any other pod: HTTP health endpoints on each container port, and a few log lines."""

    async def start(self) -> None:
        self.open_logs(self.component or self.name)
        clog = self.main_log
        for port in self.tcp_ports():
            await self.serve_http(port, self.handle)
        if clog is not None:
            write_json(clog, "info", "started", pod=self.name, ports=self.tcp_ports())
        self.mark_started()
        self.every(HEARTBEAT_INTERVAL_S, self.heartbeat)

    def heartbeat(self) -> None:
        clog = self.main_log
        if clog is not None:
            write_json(clog, "info", "heartbeat", pod=self.name)

    async def handle(self, request: web.BaseRequest) -> web.Response:
        if request.path in HEALTH_PATHS or request.path == "/":
            return _json_response({"status": "ok"})
        return _json_response({"detail": "Not Found"}, status=404)
