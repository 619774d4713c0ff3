"""Benchmark: API requests and time of release discovery for 1 and 20 backend replicas.

    .venv/bin/python bench/bench_discovery.py                # replicas 1 and 20, 5 rounds each
    .venv/bin/python bench/bench_discovery.py --replicas 1 5 50 --rounds 3

For each replica count the bundled sandbox starts with `backend.deployment.replicas` set to that
count, and `discover()` runs `--rounds` times after one warm-up run. The figure that matters is
the request count: discovery lists each resource type once, so it must not change with the
number of pods. Time is reported as a ratio to a reference measured in the same process against
the same API server: one list of every pod in the namespace (the smallest request that carries
all pods).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsconform.cluster.client import ClusterClient
from lsconform.discovery import discover
from lsconform.sandbox import Sandbox


def measure(replicas: int, rounds: int) -> dict[str, float]:
    """Start a sandbox with `replicas` backend pods and time discovery against it."""
    with tempfile.TemporaryDirectory(prefix="lsconform-bench-") as folder:
        values = Path(folder) / "values.yaml"
        values.write_text(f"backend:\n  deployment:\n    replicas: {replicas}\n")
        with (
            Sandbox(profile="default", values=values) as sandbox,
            ClusterClient.from_kubeconfig(sandbox.kubeconfig) as client,
        ):
            discover(client, sandbox.namespace)
            requests: set[int] = set()
            durations = []
            for _ in range(rounds):
                started = time.perf_counter()
                discovery = discover(client, sandbox.namespace)
                durations.append(time.perf_counter() - started)
                requests.add(discovery.requests)
            references = []
            for _ in range(rounds):
                started = time.perf_counter()
                pods = client.list("pods", namespace=sandbox.namespace)
                references.append(time.perf_counter() - started)
            assert discovery.release is not None
            backend = discovery.release.component("backend")
            assert backend is not None
    if len(requests) != 1:
        raise SystemExit(f"request count varied between rounds: {sorted(requests)}")
    discovery_median = statistics.median(durations)
    reference_median = statistics.median(references)
    return {
        "replicas": replicas,
        "backend_pods": len(backend.pods),
        "pods": len(pods),
        "requests": requests.pop(),
        "discovery_s": discovery_median,
        "reference_s": reference_median,
        "ratio": discovery_median / reference_median,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = [measure(count, args.rounds) for count in args.replicas]
    print(
        "| backend replicas | pods in namespace | API requests | discovery, median | "
        "one pod list, median | ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['replicas']} | {row['pods']} | {row['requests']} | "
            f"{row['discovery_s'] * 1000:.0f} ms | {row['reference_s'] * 1000:.1f} ms | "
            f"{row['ratio']:.1f}x |"
        )
    counts = {row["requests"] for row in rows}
    if len(counts) != 1:
        print(f"FAIL: request count grows with pods: {sorted(counts)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
