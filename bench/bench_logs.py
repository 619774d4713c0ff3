"""Benchmark: what the log checks add to a run against the default sandbox profile.

    .venv/bin/python bench/bench_logs.py              # 5 rounds after one warm-up round
    .venv/bin/python bench/bench_logs.py --rounds 10

Starts one sandbox (profile default), then in this process times, per round:

- the reference: `discover()` of the release, the step every run starts with;
- the log checks: a fresh `LogEvidence` (API logs, kubelet listings and file reads, collector
  discovery) and the three log checks for every container, with the suite's default
  concurrency. They run again with one request at a time, to show the gain of concurrency.

The time of the log checks is what they add to a full run, because they share nothing with the
other checks. Absolute numbers depend on the machine; compare the ratio to the reference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsconform.assess import logs
from lsconform.cluster.client import ClusterClient
from lsconform.discovery import discover
from lsconform.sandbox import Sandbox
from lsconform.settings import Settings


def run_log_checks(release: Any, client: ClusterClient, settings: Settings) -> int:
    """Run the three log checks for every container; return how many results they gave."""
    evidence = logs.LogEvidence(release, client, settings)
    try:
        count = 0
        for target in logs.log_targets(release):
            for check in logs.CHECKS.values():
                check(evidence, target)
                count += 1
        return count
    finally:
        evidence.close()


def timed(action: Callable[[], Any], rounds: int) -> list[float]:
    action()
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    args = parser.parse_args()
    with Sandbox(profile="default") as sandbox:
        client = ClusterClient.from_kubeconfig(sandbox.kubeconfig)
        release = discover(client, sandbox.namespace).release
        settings = Settings(namespace=sandbox.namespace)
        sequential = Settings(namespace=sandbox.namespace, concurrency=1)
        containers = len(logs.log_targets(release))
        reference = timed(lambda: discover(client, sandbox.namespace), args.rounds)
        parallel = timed(lambda: run_log_checks(release, client, settings), args.rounds)
        one_by_one = timed(lambda: run_log_checks(release, client, sequential), args.rounds)
    ref = statistics.median(reference)
    rows = {
        "reference: discover()": reference,
        f"log checks, concurrency {settings.concurrency}": parallel,
        "log checks, concurrency 1": one_by_one,
    }
    print(f"{containers} containers, {3 * containers} log results per run, {args.rounds} rounds")
    print("| run | median | max | median / reference |")
    print("| --- | --- | --- | --- |")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} s | {max(values):.3f} s | {median / ref:.1f}x |")
    figures = {name: [round(v, 4) for v in values] for name, values in rows.items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
