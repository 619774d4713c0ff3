"""Stand-ins for nginx, PostgreSQL, Redis and their exporters when the real binaries are missing.

They keep the behaviour the suite measures: the frontend's `/health`, the localhost-only
`/nginx_status` with stub_status text and the SPA fallback; a TCP listener for each datastore
(Redis replies to `PING`); and exporter-shaped `/metrics` whose `pg_up`/`redis_up` tell whether the
datastore port accepts connections.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from lsconform.constants import NGINX_STATUS_ALLOWED_CLIENTS, NGINX_STATUS_PATH
from lsconform.sandbox.pods.exposition import TEXT_CONTENT_TYPE
from lsconform.sandbox.pods.services import SimulatedPod

INDEX_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LangSmith</title>'
    '</head><body><div id="root"></div></body></html>\n'
)
# How long an exporter waits for its datastore port before reporting it down (seconds).
PROBE_TIMEOUT_S = 1.0


class SimulatedFrontend(SimulatedPod):
    """The frontend's nginx server block, played by aiohttp (no nginx binary installed)."""

    def __init__(self, plan: dict[str, Any], faults: set[str], workdir: Path) -> None:
        super().__init__(plan, faults, workdir)
        self.accepted = 0
        self.requests = 0
        self.active = 0

    async def start(self) -> None:
        self.open_logs("frontend")
        for port in self.tcp_ports() or [8080]:
            await self.serve_http(port, self.handle)
        self.mark_started()

    def access_log(self, request: web.BaseRequest, status: int, size: int) -> None:
        clog = self.main_log
        if clog is None:
            return
        remote = request.remote or "-"
        time_local = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        line = (
            f'{{"remote_addr":{json.dumps(remote)},"remote_user":"",'
            f'"time_local":"{time_local}",'
            f'"request":{json.dumps(f"{request.method} {request.path_qs} HTTP/1.1")},'
            f'"status":{status},"body_bytes_sent":{size},'
            f'"http_referer":{json.dumps(request.headers.get("Referer", ""))},'
            f'"http_user_agent":{json.dumps(request.headers.get("User-Agent", ""))},'
            f'"cache_status":""}}'
        )
        clog.write(line, "stdout")

    async def handle(self, request: web.BaseRequest) -> web.Response:
        self.accepted += 1
        self.requests += 1
        self.active += 1
        try:
            return self.respond(request)
        finally:
            self.active -= 1

    def respond(self, request: web.BaseRequest) -> web.Response:
        path = request.path
        if path == "/health":
            return web.Response(status=200)
        status_location = "nginx-status-missing" not in self.faults
        if path == NGINX_STATUS_PATH and status_location:
            if request.remote not in NGINX_STATUS_ALLOWED_CLIENTS:
                return _nginx_error(403, "Forbidden")
            return web.Response(text=self.stub_status(), content_type="text/plain")
        if status_location or path in {"/", "/index.html"}:
            response = web.Response(text=INDEX_HTML, content_type="text/html")
            self.access_log(request, 200, len(INDEX_HTML))
            return response
        response = _nginx_error(404, "Not Found")
        self.access_log(request, 404, len(response.text or ""))
        return response

    def stub_status(self) -> str:
        return (
            f"Active connections: {self.active} \n"
            "server accepts handled requests\n"
            f" {self.accepted} {self.accepted} {self.requests} \n"
            f"Reading: 0 Writing: {self.active} Waiting: 0 \n"
        )


def _nginx_error(status: int, reason: str) -> web.Response:
    body = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return web.Response(status=status, text=body, content_type="text/html")


class SimulatedDatastore(SimulatedPod):
    """A PostgreSQL or Redis pod played by a TCP listener (Redis replies to PING)."""

    async def start(self) -> None:
        kind = str(self.plan.get("role"))
        self.open_logs(kind)
        for port in self.tcp_ports():
            await self.serve_tcp(port, self.handle)
        clog = self.main_log
        if clog is not None:
            if kind == "postgres":
                clog.write("LOG:  database system is ready to accept connections", "stderr")
            else:
                clog.write("1:M * Ready to accept connections tcp", "stdout")
        self.mark_started("running (simulated)")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await asyncio.wait_for(reader.read(4096), timeout=5.0)
            if self.plan.get("role") == "redis" and b"PING" in data.upper():
                writer.write(b"+PONG\r\n")
                await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


async def port_open(host: str, port: int) -> bool:
    """Tell whether a TCP connection to host:port succeeds within `PROBE_TIMEOUT_S`."""
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout=PROBE_TIMEOUT_S
        )
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


class SimulatedExporter(SimulatedPod):
    """postgres_exporter or redis_exporter played by aiohttp, probing the datastore port."""

    def __init__(
        self, plan: dict[str, Any], faults: set[str], workdir: Path, target: tuple[str, int]
    ) -> None:
        super().__init__(plan, faults, workdir)
        self.target = target
        self.scrapes = 0

    async def start(self) -> None:
        self.open_logs(str(self.plan.get("role")))
        default = 9187 if self.plan.get("role") == "postgres-exporter" else 9121
        for port in self.tcp_ports() or [default]:
            await self.serve_http(port, self.handle)
        clog = self.main_log
        if clog is not None:
            clog.write(f'level=info msg="Listening on address" address={self.ip}', "stderr")
        self.mark_started("running (simulated)")

    async def handle(self, request: web.BaseRequest) -> web.Response:
        if request.path != "/metrics":
            return web.Response(text="<html><body>Exporter</body></html>", content_type="text/html")
        self.scrapes += 1
        up = 1 if await port_open(*self.target) else 0
        prefix = "pg" if self.plan.get("role") == "postgres-exporter" else "redis"
        lines = [
            f"# HELP {prefix}_up Whether the last scrape could reach the datastore.",
            f"# TYPE {prefix}_up gauge",
            f"{prefix}_up {up}",
        ]
        if prefix == "pg":
            lines += [
                "# HELP pg_exporter_last_scrape_duration_seconds Duration of the last scrape.",
                "# TYPE pg_exporter_last_scrape_duration_seconds gauge",
                "pg_exporter_last_scrape_duration_seconds 0.004",
            ]
            if up:
                lines += [
                    "# HELP pg_stat_database_xact_commit Transactions committed.",
                    "# TYPE pg_stat_database_xact_commit counter",
                    'pg_stat_database_xact_commit{datid="5",datname="postgres"} '
                    f"{self.scrapes * 3}",
                ]
        elif up:
            lines += [
                "# HELP redis_connected_clients Connected clients.",
                "# TYPE redis_connected_clients gauge",
                "redis_connected_clients 1",
            ]
        body = ("\n".join(lines) + "\n").encode("utf-8")
        return web.Response(body=body, headers={"Content-Type": TEXT_CONTENT_TYPE})
