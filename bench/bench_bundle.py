"""Benchmark: support bundle time against the sandbox, by pod count and API latency.

    .venv/bin/python bench/bench_bundle.py                     # small, default, large; 0 and 50 ms
    .venv/bin/python bench/bench_bundle.py --latency 0 --rounds 1 --sizes default

Sizes: `small` is the default profile with every replica count at 1 and the agent features off,
`default` is the default profile, `large` is the profile scaled to about 50 pods. For each size
and injected API latency the sandbox starts once, one warm-up bundle is written, then `--rounds`
bundles are timed (collection, redaction, writing and the verification scan). The reference is
measured in the same process against the same API server: one list of every pod in the
namespace, the smallest request that carries all pods. The target is that with 50 ms latency
the ~50-pod bundle takes less than 4 times the small one, because requests run concurrently.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsconform.bundle import write_bundle
from lsconform.cluster.client import ClusterClient
from lsconform.sandbox import Sandbox

SMALL_VALUES = """\
backend: {deployment: {replicas: 1}}
platformBackend: {deployment: {replicas: 1}}
ingestQueue: {deployment: {replicas: 1}}
queue: {deployment: {replicas: 1}}
insights: {enabled: false}
polly: {enabled: false}
"""
PROFILES = {"small": "default", "default": "default", "large": "large"}


def measure(size: str, latency_ms: int, rounds: int) -> dict[str, float]:
    """Start a sandbox of `size` with `latency_ms` and time bundles against it."""
    with tempfile.TemporaryDirectory(prefix="lsconform-bench-") as folder:
        values = None
        if size == "small":
            values = Path(folder) / "values.yaml"
            values.write_text(SMALL_VALUES)
        with (
            Sandbox(profile=PROFILES[size], values=values, latency_ms=latency_ms) as sandbox,
            ClusterClient.from_kubeconfig(sandbox.kubeconfig) as client,
        ):
            pods = len(client.list("pods", namespace=sandbox.namespace))
            reference = _time(lambda: client.list("pods", namespace=sandbox.namespace))
            write_bundle(client, sandbox.namespace, Path(folder) / "warmup.tar.gz")
            times = []
            before = client.request_count
            for index in range(rounds):
                target = Path(folder) / f"bundle-{index}.tar.gz"
                started = time.perf_counter()
                write_bundle(client, sandbox.namespace, target)
                times.append(time.perf_counter() - started)
            requests = (client.request_count - before) / rounds
            size_bytes = target.stat().st_size
    return {
        "pods": pods,
        "reference": reference,
        "median": statistics.median(times),
        "max": max(times),
        "requests": requests,
        "bytes": size_bytes,
    }


def _time(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(PROFILES), default=list(PROFILES))
    parser.add_argument("--latency", nargs="+", type=int, default=[0, 50], help="milliseconds")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[tuple[str, int], dict[str, float]] = {}
    print(
        "| size | pods | latency | reference | bundle median (max) | / reference | requests "
        "| archive |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for latency in args.latency:
        for size in args.sizes:
            row = measure(size, latency, args.rounds)
            results[(size, latency)] = row
            print(
                f"| {size} | {row['pods']:.0f} | {latency} ms | {row['reference'] * 1000:.0f} ms "
                f"| {row['median']:.2f} s ({row['max']:.2f} s) "
                f"| {row['median'] / row['reference']:.0f}x | {row['requests']:.0f} "
                f"| {row['bytes'] / 1024:.0f} KiB |",
                flush=True,
            )
    for latency in args.latency:
        small, large = results.get(("small", latency)), results.get(("large", latency))
        default = results.get(("default", latency))
        if small and large:
            print(
                f"latency {latency} ms: large / small = {large['median'] / small['median']:.2f}x "
                f"for {large['pods'] / small['pods']:.1f}x the pods"
            )
        if default and large:
            print(
                f"latency {latency} ms: large / default = "
                f"{large['median'] / default['median']:.2f}x "
                f"for {large['pods'] / default['pods']:.1f}x the pods"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
