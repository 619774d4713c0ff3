"""Frontend, datastores and exporters: real nginx, PostgreSQL, Redis and exporters where installed,
and the simulated stand-ins that replace them otherwise."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lsconform.sandbox.pods import MissingBinaryError, PodGroup, start_pods
from lsconform.sandbox.pods.binaries import BINARIES, REQUIRE_REAL_ENV, find_binary, require_real

try:
    from .test_pods_support import CRI_LINE, families, get, log_files, make_plan, refuses
except ImportError:
    from test_pods_support import (  # type: ignore[no-redef]
        CRI_LINE,
        families,
        get,
        log_files,
        make_plan,
        refuses,
    )

ALL_SIMULATED = {key: None for key in BINARIES}


def need(key: str) -> str:
    """Return a real binary's path, or skip (fail under LSCONFORM_SANDBOX_REQUIRE_REAL=1)."""
    path = find_binary(key)
    if path is None:
        message = f"{key} is not installed (Debian package {BINARIES[key].package})"
        if require_real():
            pytest.fail(message)
        pytest.skip(message)
    return path


class Stack:
    def __init__(self, workdir: Path, group: PodGroup, plans: dict[str, dict[str, Any]]) -> None:
        self.workdir = workdir
        self.group = group
        self.plans = plans

    def ip(self, name: str) -> str:
        return str(self.plans[name]["ip"])


def _stack_plans(workdir: Path, *, faulty: bool = False) -> dict[str, dict[str, Any]]:
    exporter_faults = ["exporter-down"] if faulty else []
    frontend_faults = ["nginx-status-missing"] if faulty else []
    return {
        "frontend": make_plan(workdir, "langsmith-frontend-5d-f1r2t", "frontend", "frontend",
                              [("frontend", 8080)], faults=frontend_faults),
        "postgres": make_plan(workdir, "langsmith-postgres-0", "postgres", "postgres",
                              [("postgres", 5432)]),
        "insights-postgres": make_plan(workdir, "langsmith-standalone-insights-postgres-0",
                                       "postgres", "standalone-insights-postgres",
                                       [("postgres", 5432)], container="postgres"),
        "redis": make_plan(workdir, "langsmith-redis-0", "redis", "redis", [("redis", 6379)]),
        "pg-exporter": make_plan(
            workdir, "langsmith-observability-postgres-exporter-7c-a1s2d", "postgres-exporter",
            "", [("http", 9187)], namespace="langsmith-observability",
            container="prometheus-postgres-exporter", faults=exporter_faults,
            env={"DATA_SOURCE_URI": "langsmith-postgres.langsmith.svc.cluster.local:5432/postgres"},
        ),
        "redis-exporter": make_plan(
            workdir, "langsmith-observability-redis-exporter-6b-z9x8c", "redis-exporter", "",
            [("http", 9121)], namespace="langsmith-observability",
            container="prometheus-redis-exporter",
        ),
    }  # fmt: skip


def _start(
    tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: Any
) -> tuple[Path, dict[str, dict[str, Any]], PodGroup]:
    workdir = tmp_path_factory.mktemp(name)
    plans = _stack_plans(workdir, faulty=kwargs.pop("faulty", False))
    group = start_pods(list(plans.values()), workdir, frozenset(), **kwargs)
    return workdir, plans, group


@pytest.fixture(scope="module", name="real")
def real_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    for key in ("nginx", "postgres", "redis-server", "postgres_exporter", "redis_exporter"):
        need(key)
    workdir, plans, group = _start(tmp_path_factory, "pods-real")
    try:
        yield Stack(workdir, group, plans)
    finally:
        group.stop()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir, plans, group = _start(tmp_path_factory, "pods-simulated", binaries=ALL_SIMULATED)
    try:
        yield Stack(workdir, group, plans)
    finally:
        group.stop()


@pytest.fixture(scope="module", params=["real", "simulated"])
def stack(request: pytest.FixtureRequest) -> Stack:
    """The same checks against real binaries and against the stand-ins."""
    result: Stack = request.getfixturevalue(request.param)
    return result


# Reports ----------------------------------------------------------------------------------


def test_real_backends_reported(real: Stack) -> None:
    for role in ("frontend", "postgres", "redis", "postgres-exporter", "redis-exporter"):
        assert real.group.backends[role] == "real", role
        assert Path(real.group.binaries[role]).is_file(), role
    for key, plan in real.plans.items():
        entry = real.group.status[f"{plan['namespace']}/{plan['name']}"]
        assert all(c["started"] for c in entry.values()), (key, entry)


def test_simulated_backends_reported(simulated: Stack) -> None:
    for role in ("frontend", "postgres", "redis", "postgres-exporter", "redis-exporter"):
        assert simulated.group.backends[role] == "simulated", role
    assert simulated.group.binaries == {}
    for plan in simulated.plans.values():
        entry = simulated.group.status[f"{plan['namespace']}/{plan['name']}"]
        assert all(c["started"] for c in entry.values()), entry


def test_require_real_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_REAL_ENV, "1")
    plans = [
        make_plan(tmp_path, "langsmith-frontend-1-a", "frontend", "frontend", [("frontend", 8080)])
    ]
    with pytest.raises(MissingBinaryError, match=r"install the Debian package nginx-light"):
        start_pods(plans, tmp_path, frozenset(), binaries={"nginx": str(tmp_path / "no-nginx")})


# Frontend ---------------------------------------------------------------------------------


def test_frontend_health(stack: Stack) -> None:
    assert get(stack.ip("frontend"), 8080, "/health")[0] == 200


def test_nginx_status_from_localhost(stack: Stack) -> None:
    status, _headers, body = get(stack.ip("frontend"), 8080, "/nginx_status", source="127.0.0.1")
    assert status == 200
    lines = body.decode().splitlines()
    assert lines[0].startswith("Active connections: ")
    assert lines[1] == "server accepts handled requests"
    assert len(lines[2].split()) == 3
    assert lines[3].startswith("Reading: ")


def test_nginx_status_denied_to_other_clients(stack: Stack) -> None:
    status, headers, _body = get(stack.ip("frontend"), 8080, "/nginx_status", source="127.0.0.2")
    assert status == 403
    assert headers["content-type"].startswith("text/html")


def test_frontend_spa_fallback(stack: Stack) -> None:
    status, headers, body = get(stack.ip("frontend"), 8080, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b'<div id="root"></div>' in body


def _access_records(plan: dict[str, Any], request_line: str) -> list[dict[str, Any]]:
    """Read the frontend's stdout records, waiting (bounded) until `request_line` shows up.

    nginx writes the access log line after it sends the response, and the sandbox copies it to
    the node log file from another thread, so the line can trail the response by a moment.
    """
    deadline = time.monotonic() + 5.0
    while True:
        records = []
        for line in (log_files(plan) / "0.log").read_text().splitlines():
            match = CRI_LINE.match(line)
            assert match, line
            if match.group(1) == "stdout":
                records.append(json.loads(match.group(3)))
        if any(r["request"] == request_line for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_frontend_access_log_is_json(stack: Stack) -> None:
    get(stack.ip("frontend"), 8080, "/projects?tab=1", source="127.0.0.2")
    records = _access_records(stack.plans["frontend"], "GET /projects?tab=1 HTTP/1.1")
    request = [r for r in records if r["request"] == "GET /projects?tab=1 HTTP/1.1"]
    assert request
    assert list(request[-1]) == [
        "remote_addr", "remote_user", "time_local", "request", "status", "body_bytes_sent",
        "http_referer", "http_user_agent", "cache_status",
    ]  # fmt: skip
    assert request[-1]["status"] == 200
    assert request[-1]["remote_addr"] == "127.0.0.2"
    assert isinstance(request[-1]["body_bytes_sent"], int)
    # /health and /nginx_status are not logged.
    assert not [r for r in records if r["request"].startswith(("GET /health", "GET /nginx_status"))]


# Datastores and exporters -----------------------------------------------------------------


def _postgres_ssl_answer(ip: str, port: int) -> bytes:
    """Send PostgreSQL's SSLRequest and return the one-byte response (N: no TLS, S: TLS)."""
    with socket.create_connection((ip, port), timeout=3.0) as connection:
        connection.sendall(struct.pack("!II", 8, 80877103))
        return connection.recv(1)


def test_postgres_listens_on_every_pod_address(real: Stack) -> None:
    assert _postgres_ssl_answer(real.ip("postgres"), 5432) == b"N"
    assert _postgres_ssl_answer(real.ip("insights-postgres"), 5432) == b"N"


def test_redis_answers_ping(stack: Stack) -> None:
    with socket.create_connection((stack.ip("redis"), 6379), timeout=3.0) as connection:
        connection.sendall(b"PING\r\n")
        assert connection.recv(64) == b"+PONG\r\n"


def test_postgres_exporter_reports_up(stack: Stack) -> None:
    status, _headers, body = get(stack.ip("pg-exporter"), 9187, "/metrics", timeout=15.0)
    assert status == 200
    parsed = families(body)
    assert parsed["pg_up"].samples[0].value == 1
    assert "pg_stat_database_xact_commit" in parsed


def test_redis_exporter_reports_up(stack: Stack) -> None:
    status, _headers, body = get(stack.ip("redis-exporter"), 9121, "/metrics", timeout=15.0)
    assert status == 200
    parsed = families(body)
    assert parsed["redis_up"].samples[0].value == 1
    assert "redis_connected_clients" in parsed


def test_datastore_logs_written(real: Stack) -> None:
    text = (log_files(real.plans["postgres"]) / "0.log").read_text()
    assert "database system is ready to accept connections" in text
    assert " stderr F " in text


# Faults on the frontend and exporters -----------------------------------------------------


@pytest.fixture(scope="module", params=["real", "simulated"])
def broken(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The stack with nginx-status-missing and exporter-down, real and simulated."""
    kwargs: dict[str, Any] = {"faulty": True}
    if request.param == "real":
        for key in ("nginx", "postgres", "postgres_exporter"):
            need(key)
    else:
        kwargs["binaries"] = ALL_SIMULATED
    workdir, plans, group = _start(tmp_path_factory, f"pods-broken-{request.param}", **kwargs)
    try:
        yield Stack(workdir, group, plans)
    finally:
        group.stop()


def test_nginx_status_missing_answers_404(broken: Stack) -> None:
    ip = broken.ip("frontend")
    assert get(ip, 8080, "/nginx_status", source="127.0.0.1")[0] == 404
    assert get(ip, 8080, "/health")[0] == 200
    status, _headers, body = get(ip, 8080, "/")
    assert status == 200
    assert b'<div id="root"></div>' in body


def test_exporter_down_reports_pg_up_zero(broken: Stack) -> None:
    status, _headers, body = get(broken.ip("pg-exporter"), 9187, "/metrics", timeout=15.0)
    assert status == 200
    assert families(body)["pg_up"].samples[0].value == 0
    # PostgreSQL itself is up: only the exporter's target is wrong.
    assert not refuses(broken.ip("postgres"), 5432)


def test_stop_removes_private_postgres_dir(tmp_path: Path) -> None:
    need("postgres")
    plan = make_plan(tmp_path, "langsmith-postgres-0", "postgres", "postgres", [("postgres", 5432)])
    group = start_pods([plan], tmp_path, frozenset())
    link = tmp_path / "run" / plan["name"] / "pgdata"
    private = Path(os.readlink(link)).parent if link.is_symlink() else None
    group.stop()
    assert refuses(plan["ip"], 5432)
    if private is not None:
        assert not private.exists()


def test_nginx_exit_reported_in_status(tmp_path: Path) -> None:
    need("nginx")
    plan = make_plan(tmp_path, "langsmith-frontend-1-busy", "frontend", "frontend",
                     [("frontend", 8080)])  # fmt: skip
    with socket.socket() as blocker:
        blocker.bind((plan["ip"], 8080))
        blocker.listen()
        with start_pods([plan], tmp_path, frozenset()) as group:
            entry = group.status[f"langsmith/{plan['name']}"]["frontend"]
    assert entry["started"] is False
    assert entry["reason"].endswith("nginx exited with code 1")
    log_text = (log_files(plan) / "0.log").read_text()
    assert "Address already in use" in log_text


PARENT_SCRIPT = """
import json, sys, time
from pathlib import Path
from lsconform.sandbox.pods import start_pods
plans = json.loads(Path(sys.argv[1]).read_text())
group = start_pods(plans, Path(sys.argv[2]), frozenset())
pids = [p.pid for p in group.processes] + [group.host.pid]
print(json.dumps(pids), flush=True)
time.sleep(120)
"""


def _group_members(pgids: set[int]) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) in pgids:
            members.append(int(entry.name))
    return members


def test_children_die_with_the_parent(tmp_path: Path) -> None:
    for key in ("nginx", "postgres", "redis-server"):
        need(key)
    plans = [
        make_plan(tmp_path, "langsmith-frontend-1-orphan", "frontend", "frontend",
                  [("frontend", 8080)]),
        make_plan(tmp_path, "langsmith-postgres-0", "postgres", "postgres", [("postgres", 5432)]),
        make_plan(tmp_path, "langsmith-redis-0", "redis", "redis", [("redis", 6379)]),
        make_plan(tmp_path, "langsmith-backend-1-orphan", "langsmith-service", "backend",
                  [("backend", 1984)]),
    ]  # fmt: skip
    plans_file = tmp_path / "plans.json"
    plans_file.write_text(json.dumps(plans))
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, str(plans_file), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert parent.stdout is not None
        pids = set(json.loads(parent.stdout.readline()))
        assert len(pids) == 4
        assert set(_group_members(pids)) >= pids
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 10.0
    while _group_members(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_members(pids) == []
    for plan, port in zip(plans, (8080, 5432, 6379, 1984), strict=True):
        assert refuses(plan["ip"], port)


def test_nginx_in_workdir_with_space(tmp_path: Path) -> None:
    need("nginx")
    workdir = tmp_path / "work dir"
    plan = make_plan(workdir, "langsmith-frontend-1-space", "frontend", "frontend",
                     [("frontend", 8080)])  # fmt: skip
    with start_pods([plan], workdir, frozenset()):
        assert get(plan["ip"], 8080, "/health")[0] == 200
        assert get(plan["ip"], 8080, "/anything")[0] == 200
