"""The pods played by real binaries: nginx, PostgreSQL, Redis and the two exporters.

Each server's stdout and stderr become CRI lines in its pods' node log files. A server counts as
started once a process of its group holds the listening socket of the pod's port.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsconform.sandbox.pods import datastores, nginx
from lsconform.sandbox.pods.binaries import ROLE_BINARY
from lsconform.sandbox.pods.crilog import ContainerLog, log_mode
from lsconform.sandbox.pods.plans import pod_key
from lsconform.sandbox.pods.processes import ManagedProcess, wait_for_port
from lsconform.sandbox.pods.records import effective_restart_count, write_previous_run

if TYPE_CHECKING:
    from lsconform.sandbox.pods.group import PodGroup

log = logging.getLogger(__name__)

# Bounded wait for a real server's port to open (seconds).
PORT_READY_TIMEOUT_S = 20.0
# Real servers to wait for: (plan, address, port, process).
Waits = list[tuple[dict[str, Any], str, int, ManagedProcess]]


# Logs of real processes ------------------------------------------------------------------


def _open_logs(
    group: PodGroup, plan: Mapping[str, Any], faults: set[str], service: str
) -> ContainerLog | None:
    """Open the node logs of a pod played by a real process; return its main container's log."""
    main: ContainerLog | None = None
    for index, container in enumerate(plan.get("containers") or []):
        own = faults if index == 0 else set()
        restart = effective_restart_count(dict(container), own)
        clog = ContainerLog(plan, container, log_mode(own), restart)
        clog.open()
        write_previous_run(clog, service, "crashloop" in own)
        group.logs.append(clog)
        main = main or clog
    return main


def _sink(logs: list[ContainerLog | None]) -> Callable[[str, str], None]:
    def write(stream: str, line: str) -> None:
        for clog in logs:
            if clog is not None:
                clog.write(line, stream)

    return write


def set_status(group: PodGroup, plan: Mapping[str, Any], started: bool, reason: str) -> None:
    group.status[pod_key(plan)] = {
        str(c["name"]): {"started": started, "reason": reason} for c in plan.get("containers") or []
    }


# Real processes ---------------------------------------------------------------------------


def _first_port(plan: Mapping[str, Any], default: int) -> int:
    return datastores.datastore_port(plan, default)


def start_real(
    group: PodGroup,
    plans: list[dict[str, Any]],
    pod_faults: dict[str, set[str]],
    found: Mapping[str, str | None],
    waits: Waits,
) -> None:
    """Start the real binaries of every role that has one."""
    by_role: dict[str, list[dict[str, Any]]] = {}
    for plan in plans:
        by_role.setdefault(str(plan.get("role")), []).append(plan)

    nginx_binary = found.get("nginx")
    if nginx_binary:
        for plan in by_role.get("frontend", []):
            _start_nginx(group, plan, pod_faults[pod_key(plan)], nginx_binary, waits)

    postgres_binary = found.get("postgres")
    if postgres_binary and by_role.get("postgres"):
        _start_postgres(group, by_role["postgres"], pod_faults, postgres_binary, waits)

    redis_binary = found.get("redis-server")
    if redis_binary:
        for plan in by_role.get("redis", []):
            _start_redis(group, plan, pod_faults[pod_key(plan)], redis_binary, waits)

    for role in ("postgres-exporter", "redis-exporter"):
        exporter_binary = found.get(ROLE_BINARY[role])
        if not exporter_binary:
            continue
        for plan in by_role.get(role, []):
            faults = pod_faults[pod_key(plan)]
            target = exporter_target(plans, plan, role.removesuffix("-exporter"), faults)
            _start_exporter(group, plan, faults, exporter_binary, target, waits)


def _start_nginx(
    group: PodGroup, plan: dict[str, Any], faults: set[str], binary: str, waits: Waits
) -> None:
    port = _first_port(plan, 8080)
    run_dir = group.workdir / "run" / str(plan["name"])
    status_location = "nginx-status-missing" not in faults
    config = nginx.prepare(run_dir, str(plan["ip"]), port, status_location=status_location)
    main = _open_logs(group, plan, faults, "frontend")
    argv = nginx.command(binary, run_dir, config)
    process = ManagedProcess(f"nginx {plan['name']}", argv, sink=_sink([main]), cwd=run_dir)
    group.processes.append(process)
    waits.append((plan, str(plan["ip"]), port, process))


def _start_redis(
    group: PodGroup, plan: dict[str, Any], faults: set[str], binary: str, waits: Waits
) -> None:
    port = _first_port(plan, 6379)
    run_dir = group.workdir / "run" / str(plan["name"])
    main = _open_logs(group, plan, faults, "redis")
    argv = datastores.redis_command(binary, str(plan["ip"]), port, run_dir)
    process = ManagedProcess(f"redis {plan['name']}", argv, sink=_sink([main]), cwd=run_dir)
    group.processes.append(process)
    waits.append((plan, str(plan["ip"]), port, process))


def _start_exporter(
    group: PodGroup,
    plan: dict[str, Any],
    faults: set[str],
    binary: str,
    target: tuple[str, int],
    waits: Waits,
) -> None:
    role = str(plan["role"])
    port = _first_port(plan, 9187 if role == "postgres-exporter" else 9121)
    main = _open_logs(group, plan, faults, role)
    argv, env = _exporter_command(role, binary, str(plan["ip"]), port, target)
    process = ManagedProcess(f"{role} {plan['name']}", argv, sink=_sink([main]), env=env)
    group.processes.append(process)
    waits.append((plan, str(plan["ip"]), port, process))


def _start_postgres(
    group: PodGroup,
    plans: list[dict[str, Any]],
    pod_faults: dict[str, set[str]],
    binary: str,
    waits: Waits,
) -> None:
    """Start one PostgreSQL server listening on the address of every postgres pod."""
    ordered = sorted(plans, key=lambda p: (p["namespace"], p["name"]))
    run_dir = group.workdir / "run" / str(ordered[0]["name"])
    instance = datastores.PostgresInstance(binary, run_dir)
    group.cleanups.append(instance.cleanup)
    port = _first_port(ordered[0], 5432)
    logs = [_open_logs(group, plan, pod_faults[pod_key(plan)], "postgres") for plan in ordered]
    argv = instance.command([str(p["ip"]) for p in ordered], port)
    process = ManagedProcess("postgres", argv, sink=_sink(logs), user=instance.user, cwd=Path("/"))
    group.processes.append(process)
    for plan in ordered:
        waits.append((plan, str(plan["ip"]), _first_port(plan, port), process))


def exporter_target(
    plans: list[dict[str, Any]], exporter: Mapping[str, Any], role: str, faults: set[str]
) -> tuple[str, int]:
    """Return the datastore address an exporter scrapes (a closed port under `exporter-down`)."""
    datastore = datastores.find_datastore(plans, role, exporter)
    default = 5432 if role == "postgres" else 6379
    ip = str(datastore["ip"]) if datastore else "127.0.0.1"
    if datastore is None or "exporter-down" in faults:
        return ip, datastores.closed_port(ip)
    return ip, datastores.datastore_port(datastore, default)


def _exporter_command(
    role: str, binary: str, ip: str, port: int, target: tuple[str, int]
) -> tuple[list[str], dict[str, str]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if role == "postgres-exporter":
        env["DATA_SOURCE_NAME"] = (
            f"postgresql://postgres@{target[0]}:{target[1]}/postgres?sslmode=disable"
            "&connect_timeout=2"
        )
        return [binary, f"--web.listen-address={ip}:{port}"], env
    argv = [
        binary,
        "-web.listen-address",
        f"{ip}:{port}",
        "-redis.addr",
        f"redis://{target[0]}:{target[1]}",
    ]
    return argv, env


def await_real(group: PodGroup, waits: Waits) -> None:
    """Wait (bounded) for each real server's port and record started or the reason it is not."""
    results: dict[str, tuple[bool, str]] = {}

    def check(plan: dict[str, Any], ip: str, port: int, process: ManagedProcess) -> None:
        ok = wait_for_port(ip, port, PORT_READY_TIMEOUT_S, process)
        if ok:
            results[pod_key(plan)] = (True, f"running ({process.argv[0]}, pid {process.pid})")
        elif not process.is_running():
            code = process.process.returncode
            results[pod_key(plan)] = (False, f"{process.argv[0]} exited with code {code}")
        else:
            reason = (
                f"{process.argv[0]} did not listen on {ip}:{port} within {PORT_READY_TIMEOUT_S:g} s"
            )
            results[pod_key(plan)] = (False, reason)

    threads = [threading.Thread(target=check, args=w, daemon=True) for w in waits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for plan, _ip, _port, _process in waits:
        started, reason = results[pod_key(plan)]
        if not started:
            log.error("pod %s did not start: %s", pod_key(plan), reason)
        set_status(group, plan, started, reason)
