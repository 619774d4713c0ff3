"""Benchmark: how long the traces checks add to a run against the default sandbox.

    .venv/bin/python bench/bench_traces.py              # 3 rounds, evidence from collector metrics
    .venv/bin/python bench/bench_traces.py --rounds 5 --trace-backend tempo

One sandbox (profile default) is started once. Each round runs two pytest subprocesses against
it: the traces checks (`-m traces checks/test_traces.py`) and a reference run that collects
the same module and runs only `test_tracing_enabled` (plugin start, discovery, one check). The
difference is what the traces area adds to a full run; the ratio to the reference is the figure
to compare across machines. `--traces-wait` stays at its default (8 s): the arrival checks end
as soon as their evidence is in, so the figure shows how far from that bound a healthy run is.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lsconform.sandbox import Sandbox  # noqa: E402

CHECKS = ROOT / "checks" / "test_traces.py"


def run_pytest(sandbox: Sandbox, *args: str) -> tuple[float, dict[str, object]]:
    """Run the checks in a subprocess; return its wall time (seconds) and the report."""
    with tempfile.TemporaryDirectory(prefix="lsconform-bench-traces-") as folder:
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--namespace",
            sandbox.namespace,
            "--kubeconfig",
            str(sandbox.kubeconfig),
            "--report-dir",
            folder,
            *args,
            str(CHECKS),
        ]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=False, timeout=300)
        elapsed = time.perf_counter() - started
        report = json.loads((Path(folder) / "report.json").read_text())
    return elapsed, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--trace-backend",
        choices=("metrics", "tempo", "jaeger"),
        default="metrics",
        help="where the arrival checks look for spans",
    )
    args = parser.parse_args()
    with Sandbox(profile="default") as sandbox:
        collector_ip = next(
            p["ip"] for p in sandbox.ready["pods"] if "collector-gateway" in p["name"]
        )
        extra = []
        if args.trace_backend != "metrics":
            port = 3200 if args.trace_backend == "tempo" else 16686
            extra = ["--trace-backend", f"http://{collector_ip}:{port}"]
        run_pytest(sandbox, "-m", "traces", *extra)  # warm-up
        traces_times, reference_times, arrival = [], [], []
        for _ in range(args.rounds):
            elapsed, report = run_pytest(sandbox, "-m", "traces", *extra)
            traces_times.append(elapsed)
            results = report["results"]  # type: ignore[index]
            statuses = {r["status"] for r in results}  # type: ignore[index]
            assert statuses <= {"pass"}, statuses
            arrival.append(
                sum(
                    r["duration"]
                    for r in results  # type: ignore[index]
                    if r["check_id"] == "traces.arrival"
                )
            )  # type: ignore[index]
            elapsed, _ = run_pytest(sandbox, "-k", "test_tracing_enabled")
            reference_times.append(elapsed)
    traces = statistics.median(traces_times)
    reference = statistics.median(reference_times)
    print(f"evidence from: {args.trace_backend}, rounds: {args.rounds}")
    print(f"reference run (one check): median {reference:.2f} s")
    print(
        f"traces run: median {traces:.2f} s (max {max(traces_times):.2f} s), "
        f"{traces / reference:.2f}x the reference"
    )
    print(
        f"traces area adds: {traces - reference:.2f} s; arrival checks: median "
        f"{statistics.median(arrival):.2f} s for 5 services"
    )


if __name__ == "__main__":
    main()
