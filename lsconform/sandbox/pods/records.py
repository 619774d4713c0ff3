"""Log records the simulated containers write: structured JSON lines and earlier runs' files."""

from __future__ import annotations

import json
import time
from typing import Any

from lsconform.sandbox.pods.crilog import ContainerLog

# How often a simulated container writes a heartbeat line and serves one request of its own
# (seconds), so that logs, counters and spans move even when nobody calls the pod.
HEARTBEAT_INTERVAL_S = 5.0


def iso_now(now: float | None = None) -> str:
    """Return a UTC time (default: now) as RFC 3339 with milliseconds."""
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def json_record(level: str, msg: str, *, at: float | None = None, **fields: Any) -> str:
    """Format one structured log line as LangSmith's Python services write them."""
    record = {"level": level, "msg": msg, "time": iso_now(at), **fields}
    return json.dumps(record, default=str, separators=(",", ":"))


def write_json(log: ContainerLog, level: str, msg: str, **fields: Any) -> None:
    """Write a structured record, errors and warnings to stderr and the rest to stdout."""
    stream = "stderr" if level in {"error", "warning", "critical"} else "stdout"
    log.write(json_record(level, msg, **fields), stream)


CRASH_TRACEBACK = (
    "Traceback (most recent call last):",
    '  File "/code/smith-backend/app/main.py", line 212, in <module>',
    "    asyncio.run(serve())",
    '  File "/usr/local/lib/python3.11/asyncio/runners.py", line 190, in run',
    "    return runner.run(main)",
    '  File "/code/smith-backend/app/db.py", line 58, in connect',
    '    raise ConnectionError(f"cannot connect to postgres at {host}:{port}")',
    "ConnectionError: cannot connect to postgres at langsmith-postgres:5432",
)


def previous_run_records(service: str, crashed: bool, started: float) -> list[tuple[str, str]]:
    """Return the (stream, message) records of a container's previous run, begun at `started`.

    A crashed run ends in a Python traceback on stderr and an exit line; otherwise the run ended
    with a clean shutdown after SIGTERM.
    """
    records = [
        ("stdout", json_record("info", "starting service", at=started, service=service)),
        (
            "stdout",
            json_record("info", "application startup complete", at=started, service=service),
        ),
    ]
    if crashed:
        records.append(("stderr", json_record("error", "unhandled exception, exiting", at=started)))
        records.extend(("stderr", line) for line in CRASH_TRACEBACK)
        records.append(
            ("stderr", json_record("critical", "process exited", at=started, exit_code=1))
        )
    else:
        records.append(
            ("stdout", json_record("info", "received SIGTERM, shutting down", at=started))
        )
        records.append(("stdout", json_record("info", "process exited", at=started, exit_code=0)))
    return records


# The previous run of a restarted container began this long before the current one (seconds).
PREVIOUS_RUN_AGE_S = 600.0


def write_previous_run(log: ContainerLog, service: str, crashed: bool) -> None:
    """Write the previous run's file of a restarted container (nothing when it never restarted)."""
    if log.restart_count < 1:
        return
    started = time.time() - PREVIOUS_RUN_AGE_S
    log.write_previous(previous_run_records(service, crashed, started), int(started * 1e9))


def effective_restart_count(container: dict[str, Any], faults: set[str]) -> int:
    """Return the restart number whose file is current: at least 1 for a crash-looping pod."""
    count = int(container.get("restart_count") or 0)
    if "crashloop" in faults:
        return max(count, 1)
    return count
