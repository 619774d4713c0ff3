"""Benchmark: a full suite run against the default sandbox, without and with API latency.

    .venv/bin/python bench/bench_full_run.py                  # 0 and 100 ms, 3 rounds each
    .venv/bin/python bench/bench_full_run.py --latency 0 50 100 --rounds 5 --areas "metrics"

For each injected latency a sandbox is started once, then `pytest --namespace ...` runs against
it `--rounds` times in a subprocess; the figure is the median wall time of the runs. The 0 ms run
is the reference: the target is that 100 ms of latency on every API request makes a run at most
1.5 times slower, which holds only when requests overlap instead of queueing test by test.
The script exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsconform.sandbox import Sandbox

TARGET_RATIO = 1.5


def time_run(sandbox: Sandbox, areas: str, report_dir: Path) -> float:
    command = [
        sys.executable, "-m", "pytest", f"--namespace={sandbox.namespace}",
        f"--kubeconfig={sandbox.kubeconfig}", f"--report-dir={report_dir}", "-q",
        "-p", "no:cacheprovider", "-p", "no:randomly",
    ]
    if areas:
        command += ["-m", areas]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if completed.returncode not in (0, 1):
        print(completed.stdout[-2000:], completed.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"pytest exited {completed.returncode}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=int, nargs="+", default=[0, 100],
                        help="injected API latency per request, in milliseconds")
    parser.add_argument("--rounds", type=int, default=3, help="runs per latency")
    parser.add_argument("--areas", default="", help="a -m expression, such as 'metrics'")
    args = parser.parse_args()

    medians: dict[int, float] = {}
    for latency in args.latency:
        with tempfile.TemporaryDirectory() as workdir, Sandbox(
            profile="default", latency_ms=latency, workdir=Path(workdir) / "sandbox"
        ) as sandbox:
            times = [
                time_run(sandbox, args.areas, Path(workdir) / f"report-{index}")
                for index in range(args.rounds)
            ]
        medians[latency] = statistics.median(times)
        print(f"latency {latency:4d} ms: median {medians[latency]:.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")

    reference = medians.get(0)
    if reference is None:
        return 0
    failed = False
    for latency, median in medians.items():
        ratio = median / reference
        print(f"latency {latency:4d} ms: {ratio:.2f}x the 0 ms run")
        if latency == 100 and ratio > TARGET_RATIO:
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
