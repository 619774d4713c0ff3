"""Benchmark: parse and lint a large exposition, against prometheus_client's parser.

    .venv/bin/python bench/bench_exposition.py            # 50 MB, both parsers, then memory
    .venv/bin/python bench/bench_exposition.py --size-mb 5

The payload is synthetic but shaped like a busy LangSmith backend: histogram families with
four labels and twelve buckets per series, and counter families, all with HELP and TYPE lines.
Both parsers run in this process on the same text, lsconform first (bytes in, parse and lint,
as the metrics checks call it), then `prometheus_client.parser.text_string_to_metric_families`
(str in, every family consumed). The throughput ratio is the figure that matters; absolute
numbers depend on the machine.

Peak memory is measured in a fresh child process that reads the payload from a file and runs
only lsconform, as the maximum resident set size the kernel reports for it (the payload's 50 MB
and the interpreter included).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsconform.probes.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_TEXT_CONTENT_TYPE,
    parse_exposition,
)

BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0")
PATHS = tuple(f"/api/v1/runs/{index}" for index in range(200))


def build_payload(size_bytes: int, seed: int = 7) -> bytes:
    """Build a valid exposition of at least `size_bytes` bytes, the same for the same seed."""
    rng = random.Random(seed)
    chunks: list[str] = []
    total = 0
    family_index = 0
    while total < size_bytes:
        family_index += 1
        chunk = _histogram_family(rng, family_index) + _counter_family(rng, family_index)
        chunks.append(chunk)
        total += len(chunk)
    return "".join(chunks).encode()


def _histogram_family(rng: random.Random, index: int) -> str:
    name = f"langsmith_http_requests_latency_seconds_{index}"
    lines = [f"# HELP {name} Request latency.\n# TYPE {name} histogram\n"]
    for path in rng.sample(PATHS, 40):
        for method in ("GET", "POST"):
            labels = f'app_name="backend",method="{method}",path="{path}",status="200"'
            count = 0
            for bound in BUCKETS:
                count += rng.randint(0, 50)
                lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {count}.0\n')
            count += rng.randint(0, 5)
            lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {count}.0\n')
            lines.append(f"{name}_sum{{{labels}}} {rng.random() * 100}\n")
            lines.append(f"{name}_count{{{labels}}} {count}.0\n")
    return "".join(lines)


def _counter_family(rng: random.Random, index: int) -> str:
    name = f"langsmith_http_requests_{index}_total"
    lines = [f"# HELP {name} Requests served.\n# TYPE {name} counter\n"]
    for path in PATHS:
        lines.append(f'{name}{{app_name="backend",path="{path}"}} {rng.randint(0, 10**6)}.0\n')
    return "".join(lines)


def as_openmetrics(payload: bytes) -> bytes:
    """Rewrite the text payload as OpenMetrics: counter families lose `_total`, `# EOF` ends it."""
    text = re.sub(
        r"# (HELP|TYPE) (langsmith_http_requests_\d+)_total", r"# \1 \2", payload.decode()
    )
    return (text + "# EOF\n").encode()


def run_lsconform(payload: bytes, openmetrics: bool = False) -> tuple[float, int]:
    content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else PROMETHEUS_TEXT_CONTENT_TYPE
    start = time.perf_counter()
    exposition = parse_exposition(payload, content_type)
    elapsed = time.perf_counter() - start
    if exposition.problems:
        raise SystemExit(f"benchmark payload has problems: {exposition.problems[:3]}")
    return elapsed, exposition.sample_count


def run_prometheus_client(text: str, openmetrics: bool = False) -> tuple[float, int]:
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families

    start = time.perf_counter()
    samples = sum(len(family.samples) for family in text_string_to_metric_families(text))
    return time.perf_counter() - start, samples


def peak_rss_mb() -> float:
    """Return the peak resident set size of this process in MB, from /proc (Linux).

    VmHWM belongs to the current address space, so unlike `ru_maxrss` it does not carry the
    parent's peak over the fork and exec that started this process.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def measure_memory(path: Path, openmetrics: bool) -> dict[str, float]:
    """Read the payload from `path` and parse it once; report the peak resident set size."""
    payload = path.read_bytes()
    before = peak_rss_mb()
    run_lsconform(payload, openmetrics)
    return {"rss_before_parse_mb": before, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=50, help="payload size in megabytes")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each parser; best counts")
    parser.add_argument("--memory-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--openmetrics",
        action="store_true",
        help="serve the payload as OpenMetrics and compare with prometheus_client's "
        "OpenMetrics parser",
    )
    parser.add_argument(
        "--skip-reference",
        action="store_true",
        help="time lsconform only (no prometheus_client run)",
    )
    args = parser.parse_args()
    if args.memory_only:
        print(json.dumps(measure_memory(args.memory_only, args.openmetrics)))
        return

    payload = build_payload(args.size_mb * 1_000_000)
    if args.openmetrics:
        payload = as_openmetrics(payload)
    megabytes = len(payload) / 1_000_000
    line_count = payload.count(b"\n")
    print(f"payload: {megabytes:.1f} MB, {line_count} lines; best of {args.repeat} runs")
    text = payload.decode()
    ours: list[float] = []
    reference: list[float] = []
    # The runs alternate so that a burst of load on the machine hits both parsers alike.
    for _ in range(args.repeat):
        elapsed, ours_samples = run_lsconform(payload, args.openmetrics)
        ours.append(elapsed)
        if not args.skip_reference:
            elapsed, reference_samples = run_prometheus_client(text, args.openmetrics)
            reference.append(elapsed)
    best = min(ours)
    print(
        f"lsconform parse+lint : {best:6.2f} s  {megabytes / best:6.1f} MB/s  "
        f"{ours_samples} samples"
    )
    if reference:
        best_reference = min(reference)
        print(
            f"prometheus_client    : {best_reference:6.2f} s  "
            f"{megabytes / best_reference:6.1f} MB/s  {reference_samples} samples"
        )
        print(f"throughput ratio     : {best_reference / best:.2f}x (target >= 3x)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "payload.prom"
        path.write_bytes(payload)
        child = subprocess.run(
            [sys.executable, __file__, "--memory-only", str(path)]
            + (["--openmetrics"] if args.openmetrics else []),
            capture_output=True,
            text=True,
            check=True,
        )
    memory = json.loads(child.stdout)
    print(
        f"peak RSS (child, lsconform only): {memory['peak_rss_mb']:.0f} MB "
        f"(after reading the payload: {memory['rss_before_parse_mb']:.0f} MB; "
        "target < 300 MB)"
    )


if __name__ == "__main__":
    main()
