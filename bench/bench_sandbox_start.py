"""Benchmark: how long the sandbox takes from launch to ready, and to build its state.

    .venv/bin/python bench/bench_sandbox_start.py            # 3 rounds of the default profile
    .venv/bin/python bench/bench_sandbox_start.py --rounds 5 --profile large

Each round starts `python -m lsconform.sandbox` through `lsconform.sandbox.Sandbox`, waits for
the ready file and stops it. The reference, measured in the same process, is one interpreter
that imports what the sandbox process imports and exits: the start-up costs a fixed multiple of
that on any machine. The state-building part (no process started) is also timed for backend
replicas 1 and 20 and for the ~50-pod `large` profile.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsconform.sandbox import Sandbox
from lsconform.sandbox.orchestrator import Options, build

SANDBOX_IMPORTS = (
    "import lsconform.sandbox.orchestrator, lsconform.sandbox.apiserver.server, "
    "lsconform.sandbox.pods"
)


def reference_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", SANDBOX_IMPORTS], check=True)
    return time.perf_counter() - started


def start_seconds(profile: str) -> tuple[float, float, int]:
    """Seconds from launch to ready (outside), the child's own start-up figure, pod count."""
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as workdir:
        started = time.perf_counter()
        sandbox = Sandbox(profile=profile, workdir=Path(workdir))
        try:
            sandbox.start()
            elapsed = time.perf_counter() - started
            return elapsed, float(sandbox.ready["startup_seconds"]), len(sandbox.ready["pods"])
        finally:
            sandbox.stop()


def build_seconds(profile: str, values: str | None) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-state-") as workdir:
        values_path = None
        if values:
            values_path = Path(workdir) / "values.yaml"
            values_path.write_text(values)
        started = time.perf_counter()
        built = build(Options(profile=profile, values=values_path), Path(workdir) / "wd")
        elapsed = time.perf_counter() - started
        built.builder.close()
        return elapsed, len(built.state.plans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()

    reference = statistics.median(reference_seconds() for _ in range(args.rounds))
    runs = [start_seconds(args.profile) for _ in range(args.rounds)]
    outside = statistics.median(r[0] for r in runs)
    inside = statistics.median(r[1] for r in runs)
    pods = runs[0][2]
    print(f"reference (interpreter + sandbox imports): {reference:.2f} s")
    print(
        f"profile {args.profile} ({pods} pods): launch to ready {outside:.2f} s "
        f"(median of {args.rounds}; {outside / reference:.1f}x reference), "
        f"child start-up {inside:.2f} s"
    )
    for label, profile, values in (
        ("backend replicas 1", "default", "backend: {deployment: {replicas: 1}}\n"),
        ("backend replicas 20", "default", "backend: {deployment: {replicas: 20}}\n"),
        ("profile large", "large", None),
    ):
        seconds, count = build_seconds(profile, values)
        print(f"state build, {label}: {seconds:.3f} s for {count} pods")


if __name__ == "__main__":
    main()
