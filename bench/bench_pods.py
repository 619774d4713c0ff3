"""Benchmark: start and stop the pods of a default-sized release (26 pods).

    .venv/bin/python bench/bench_pods.py              # 5 rounds, real binaries where installed
    .venv/bin/python bench/bench_pods.py --simulated  # stand-ins for every real binary

The plans mirror the default profile. They have 2 backend, 3 platform-backend and 3 ingest-queue
pods, and one each of playground, ace-backend, queue, frontend and ClickHouse. There are three
PostgreSQL and three Redis pods (the release's, insights' and polly's), the insights and polly
api-server and queue, the OTel collector and both exporters.

The reference is one Python interpreter that imports what the pod host imports (aiohttp,
prometheus_client, the OpenTelemetry SDK and both OTLP exporters), measured in the same process.
Compare the ratio of the start time to that reference across machines, not the seconds.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsconform.sandbox.pods import start_pods
from lsconform.sandbox.pods.binaries import BINARIES

HOST_IMPORTS = (
    "import aiohttp, prometheus_client, opentelemetry.sdk.trace, "
    "opentelemetry.exporter.otlp.proto.http.trace_exporter, "
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"
)

PODS: tuple[tuple[str, str, str, tuple[tuple[str, int], ...], int], ...] = (
    ("backend", "langsmith-service", "backend", (("backend", 1984),), 2),
    ("platform-backend", "langsmith-service", "platform-backend", (("platform", 1986),), 3),
    ("ingest-queue", "langsmith-service", "ingest-queue", (("ingest-queue", 1989),), 3),
    ("playground", "langsmith-service", "playground", (("playground", 1988),), 1),
    ("ace-backend", "langsmith-service", "ace-backend", (("ace", 1987),), 1),
    ("queue", "langsmith-service", "queue", (("queue", 8080),), 1),
    ("frontend", "frontend", "frontend", (("frontend", 8080),), 1),
    ("clickhouse", "clickhouse", "clickhouse", (("ch", 8123), ("ch-native", 9000),
                                                ("ch-metrics", 9363)), 1),
    ("postgres", "postgres", "postgres", (("postgres", 5432),), 3),
    ("redis", "redis", "redis", (("redis", 6379),), 3),
    ("insights-api-server", "langsmith-service", "standalone-insights-api-server",
     (("api-server", 8000),), 1),
    ("insights-queue", "langsmith-service", "standalone-insights-queue", (("queue", 8000),), 1),
    ("polly-api-server", "langsmith-service", "standalone-polly-api-server",
     (("api-server", 8000),), 1),
    ("polly-queue", "langsmith-service", "standalone-polly-queue", (("queue", 8000),), 1),
    ("collector", "otel-collector", "", (("otlp-grpc", 4317), ("otlp-http", 4318)), 1),
    ("postgres-exporter", "postgres-exporter", "", (("http", 9187),), 1),
    ("redis-exporter", "redis-exporter", "", (("http", 9121),), 1),
)  # fmt: skip


def build_plans(workdir: Path, round_index: int) -> list[dict[str, Any]]:
    """Build the default-sized plans, on addresses of their own for each round."""
    plans = []
    counter = 0
    for short, role, component, ports, replicas in PODS:
        for replica in range(replicas):
            counter += 1
            name = f"langsmith-{short}-{replica}"
            uid = str(uuid.uuid4())
            container = component or short
            log_dir = workdir / "nodes/node-1/var/log/pods" / f"langsmith_{name}_{uid}" / container
            plans.append(
                {
                    "namespace": "langsmith",
                    "name": name,
                    "uid": uid,
                    "ip": f"127.29.{round_index}.{counter}",
                    "node": "node-1",
                    "release": "langsmith",
                    "component": component,
                    "role": role,
                    "labels": {},
                    "containers": [
                        {
                            "name": container,
                            "container_id": "containerd://" + secrets.token_hex(32),
                            "image": "bench",
                            "restart_count": 0,
                            "ports": [
                                {"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports
                            ],
                            "env": {"OTEL_TRACING_ENABLED": "false"},
                            "log_dir": str(log_dir),
                        }
                    ],
                    "faults": [],
                }
            )
    return plans


def reference_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", HOST_IMPORTS], check=True)
    return time.perf_counter() - started


def one_round(round_index: int, simulated: bool) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-pods-") as directory:
        workdir = Path(directory)
        plans = build_plans(workdir, round_index)
        overrides = {key: None for key in BINARIES} if simulated else None
        started = time.perf_counter()
        group = start_pods(plans, workdir, frozenset(), binaries=overrides)
        up = time.perf_counter() - started
        not_started = sum(
            1 for pod in group.status.values() for c in pod.values() if not c["started"]
        )
        started = time.perf_counter()
        group.stop()
        down = time.perf_counter() - started
    return up, down, not_started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds to run (default 5)")
    parser.add_argument("--simulated", action="store_true", help="use every stand-in")
    options = parser.parse_args()

    one_round(0, options.simulated)  # warm the PostgreSQL template cache and the page cache
    references = [reference_seconds() for _ in range(options.rounds)]
    ups, downs = [], []
    for index in range(1, options.rounds + 1):
        up, down, not_started = one_round(index, options.simulated)
        if not_started:
            print(f"round {index}: {not_started} containers did not start")
        ups.append(up)
        downs.append(down)
    reference = statistics.median(references)
    print(f"pods: {len(build_plans(Path('/nonexistent'), 0))}, rounds: {options.rounds}")
    print(f"reference (one interpreter importing the host's libraries): {reference:.3f} s")
    print(f"start: median {statistics.median(ups):.3f} s, max {max(ups):.3f} s, "
          f"ratio {statistics.median(ups) / reference:.1f}x reference")  # fmt: skip
    print(f"stop:  median {statistics.median(downs):.3f} s, max {max(downs):.3f} s")


if __name__ == "__main__":
    main()
