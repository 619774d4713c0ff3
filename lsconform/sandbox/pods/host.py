"""The host process: one asyncio loop that plays every simulated pod.

Run as `python -m lsconform.sandbox.pods.host SPEC.json`. The spec lists the pods with their
faults and, for simulated exporters, the datastore address to probe. Once every pod has bound its
ports (or failed to), the host prints one JSON line `{"event": "ready", "status": {...}}` on
stdout. It stops on SIGTERM or SIGINT, and dies with its parent (PR_SET_PDEATHSIG, set by the
parent when it starts the host).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import prometheus_client

from lsconform.sandbox.pods.fallbacks import (
    SimulatedDatastore,
    SimulatedExporter,
    SimulatedFrontend,
)
from lsconform.sandbox.pods.plans import pod_key
from lsconform.sandbox.pods.services import ClickHouse, GenericPod, LangSmithService, SimulatedPod

log = logging.getLogger("lsconform.sandbox.pods.host")

# How long the host waits for its pods to stop before it exits anyway (seconds).
STOP_GRACE_S = 2.0


def make_pod(entry: dict[str, Any], workdir: Path) -> SimulatedPod:
    """Build the simulated pod for one spec entry."""
    plan = entry["plan"]
    faults = set(entry.get("faults") or ())
    role = plan.get("role")
    if role == "langsmith-service":
        return LangSmithService(plan, faults, workdir)
    if role == "clickhouse":
        return ClickHouse(plan, faults, workdir)
    if role == "frontend":
        return SimulatedFrontend(plan, faults, workdir)
    if role in {"postgres", "redis"}:
        return SimulatedDatastore(plan, faults, workdir)
    if role in {"postgres-exporter", "redis-exporter"}:
        host, port = entry["target"]
        return SimulatedExporter(plan, faults, workdir, (str(host), int(port)))
    return GenericPod(plan, faults, workdir)


async def start_pod(pod: SimulatedPod) -> None:
    try:
        await pod.start()
    except OSError as error:
        log.error("pod %s failed to start: %s", pod.name, error)
        pod.mark_failed(f"failed to bind {pod.ip}: {error.strerror or error}")


async def run(spec: dict[str, Any]) -> None:
    workdir = Path(spec["workdir"])
    pods = [make_pod(entry, workdir) for entry in spec["pods"]]
    await asyncio.gather(*(start_pod(pod) for pod in pods))
    status = {pod_key(pod.plan): pod.status for pod in pods}
    sys.stdout.write(json.dumps({"event": "ready", "status": status}) + "\n")
    sys.stdout.flush()

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("stopping %d simulated pods", len(pods))
    try:
        await asyncio.wait_for(
            asyncio.gather(*(pod.stop() for pod in pods), return_exceptions=True), STOP_GRACE_S
        )
    except asyncio.TimeoutError:
        log.warning("simulated pods did not stop within %.1f s; exiting anyway", STOP_GRACE_S)


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # LangSmith's services do not expose `_created` series; keep the expositions alike.
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    asyncio.run(run(spec))
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit without running the OpenTelemetry atexit hooks: they flush exporters that may wait
    # seconds for an unreachable collector, and nothing is left to keep.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
