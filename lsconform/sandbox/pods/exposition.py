"""Prometheus expositions of the simulated services, healthy and with the exposition faults.

A LangSmith service keeps its own `CollectorRegistry` (one per pod, never the global one) with the
families the official LangSmith dashboards query. The faults rewrite the rendered text the way
broken exporters do: a family declared twice, an unescaped quote in a label value, histogram
buckets that are not cumulative and lack `+Inf`, or the `langsmith_http_*` families missing.
"""

from __future__ import annotations

import random
import re
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    Summary,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

# The Prometheus text format 0.0.4 media type, which every scraper accepts; prometheus_client
# 0.26 advertises version 1.0.0 by default, which older scrapers do not know.
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)


class GoRuntimeCollector(Collector):
    """A few `go_*` families, as the Go client library adds them to platform-backend (Go)."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def collect(self) -> list[GaugeMetricFamily | SummaryMetricFamily | InfoMetricFamily]:
        uptime = time.monotonic() - self._start
        goroutines = GaugeMetricFamily("go_goroutines", "Goroutines that currently exist.")
        goroutines.add_metric([], 40 + int(uptime) % 7)
        threads = GaugeMetricFamily("go_threads", "OS threads created.")
        threads.add_metric([], 12)
        gc = SummaryMetricFamily("go_gc_duration_seconds", "Pause durations of garbage collection.")
        gc.add_metric([], count_value=int(uptime // 5), sum_value=0.0004 * (uptime // 5))
        info = InfoMetricFamily("go", "Information about the Go environment.")
        info.add_metric([], {"version": "go1.24.4"})
        return [goroutines, threads, gc, info]


class ServiceMetrics:
    """The metric families of one LangSmith service pod, in a registry of its own."""

    def __init__(self, app_name: str, *, with_pg_pool: bool, with_go_runtime: bool) -> None:
        self.app_name = app_name
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry

        self.requests = Counter(
            "langsmith_http_requests",
            "HTTP requests served, by path, method and status.",
            ["app_name", "method", "path", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "langsmith_http_requests_latency_seconds",
            "Time spent serving HTTP requests, in seconds.",
            ["app_name", "path"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "langsmith_http_requests_in_progress",
            "HTTP requests being served right now.",
            ["app_name", "method"],
            registry=registry,
        )
        self.size = Histogram(
            "langsmith_http_requests_size_bytes",
            "Size of HTTP request bodies, in bytes.",
            ["app_name", "path"],
            buckets=SIZE_BUCKETS,
            registry=registry,
        )

        self.pg_pool_used: Summary | None = None
        self.pg_pool_idle: Summary | None = None
        if with_pg_pool:
            self.pg_pool_used = Summary(
                "langsmith_pg_pool_used",
                "Connections of the Postgres pool in use, sampled per request.",
                registry=registry,
            )
            self.pg_pool_idle = Summary(
                "langsmith_pg_pool_idle",
                "Idle connections of the Postgres pool, sampled per request.",
                registry=registry,
            )

        ProcessCollector(registry=registry)
        if with_go_runtime:
            registry.register(GoRuntimeCollector())

    def observe(self, method: str, path: str, status: int, seconds: float, size: int) -> None:
        """Count one served request in every family that moves with traffic."""
        self.requests.labels(self.app_name, method, path, str(status)).inc()
        self.latency.labels(self.app_name, path).observe(seconds)
        self.size.labels(self.app_name, path).observe(size)
        if self.pg_pool_used is not None and self.pg_pool_idle is not None:
            used = random.randint(1, 6)
            self.pg_pool_used.observe(used)
            self.pg_pool_idle.observe(10 - used)

    def render(self, faults: frozenset[str] | set[str]) -> bytes:
        """Render the exposition, rewritten by the exposition faults in `faults`."""
        text = generate_latest(self.registry).decode("utf-8")
        if "metrics-families-missing" in faults:
            text = drop_families(text, "langsmith_http_")
        if "histogram-broken" in faults:
            text = break_histogram(text, "langsmith_http_requests_latency_seconds")
        if "metrics-malformed" in faults:
            text = malform(text, self.app_name)
        return text.encode("utf-8")


# Fault rewrites ---------------------------------------------------------------------------

_HELP = re.compile(r"^# HELP (\S+) ")


def split_families(text: str) -> list[tuple[str, list[str]]]:
    """Split an exposition into (family name, lines) blocks, each starting at its HELP line."""
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        match = _HELP.match(line)
        if match or not blocks:
            blocks.append((match.group(1) if match else "", []))
        blocks[-1][1].append(line)
    return blocks


def join_families(blocks: list[tuple[str, list[str]]]) -> str:
    return "".join(line + "\n" for _, lines in blocks for line in lines)


def drop_families(text: str, prefix: str) -> str:
    """Remove every family whose name starts with `prefix`."""
    return join_families([b for b in split_families(text) if not b[0].startswith(prefix)])


def break_histogram(text: str, family: str) -> str:
    """Replace a histogram's buckets by per-bucket counts that decrease, and drop `le="+Inf"`.

    This is the shape of an exporter that writes each bucket's own count instead of the running
    total: `histogram_quantile` returns nonsense and strict parsers reject the family.
    """
    blocks = split_families(text)
    for _name, lines in blocks:
        if _name != family:
            continue
        without_inf = [line for line in lines if 'le="+Inf"' not in line]
        rewritten = []
        countdown = 40
        for line in without_inf:
            if line.startswith(f"{family}_bucket"):
                if f'le="{LATENCY_BUCKETS[0]}"' in line:
                    countdown = 40
                labels = line[: line.rindex(" ")]
                rewritten.append(f"{labels} {float(countdown)}")
                countdown //= 2
                continue
            rewritten.append(line)
        lines[:] = rewritten
    return join_families(blocks)


def malform(text: str, app_name: str) -> str:
    """Declare one family a second time, apart from its first block, and add a bad label value.

    The duplicate HELP/TYPE pair makes strict parsers (promtool, Prometheus 3) reject the payload;
    the unquoted `"` inside a label value breaks every parser at that line.
    """
    family = "langsmith_http_requests_in_progress"
    duplicate = [
        f"# HELP {family} HTTP requests being served right now.",
        f"# TYPE {family} gauge",
        f'{family}{{app_name="{app_name}",method="PATCH"}} 0.0',
    ]
    bad_label = f'langsmith_feedback_total{{key="rating 5" stars",app_name="{app_name}"}} 3.0'
    return text + "\n".join(duplicate) + "\n" + bad_label + "\n"


# ClickHouse -------------------------------------------------------------------------------

# Names come from the ClickHouse dashboard of the LangSmith observability chart, plus a few that
# ClickHouse servers also report (the Query gauge, MaxPartCountForPartition, error codes). The
# HELP texts are our own short descriptions.
CLICKHOUSE_METRICS = (
    "BackgroundBufferFlushSchedulePoolTask", "BackgroundDistributedSchedulePoolTask",
    "BackgroundFetchesPoolTask", "BackgroundMessageBrokerSchedulePoolTask",
    "BackgroundMovePoolTask", "BackgroundPoolTask", "BackgroundSchedulePoolTask",
    "DiskSpaceReservedForMerge", "DistributedFilesToInsert", "DistributedSend",
    "EphemeralNode", "HTTPConnection", "MemoryTracking", "PartsCommitted", "PartsCompact",
    "PartsDeleteOnDestroy", "PartsDeleting", "PartsInMemory", "PartsOutdated",
    "PartsPreCommitted", "PartsTemporary", "PartsWide", "Query", "QueryPreempted",
    "ReadonlyReplica", "Revision", "TCPConnection", "VersionInteger", "ZooKeeperRequest",
    "ZooKeeperSession", "ZooKeeperWatch",
)  # fmt: skip
CLICKHOUSE_EVENTS = (
    "CannotRemoveEphemeralNode", "CompressedReadBufferBlocks", "CompressedReadBufferBytes",
    "DelayedInserts", "DelayedInsertsMilliseconds", "DistributedConnectionFailAtAll",
    "DistributedConnectionFailTry", "DistributedDelayedInserts",
    "DistributedDelayedInsertsMilliseconds", "DistributedRejectedInserts",
    "DistributedSyncInsertionTimeoutExceeded", "FailedInsertQuery", "FailedQuery",
    "FailedSelectQuery", "FileOpen", "InsertQuery", "InsertQueryTimeMicroseconds",
    "InsertedBytes", "InsertedRows", "MarkCacheHits", "MarkCacheMisses", "Merge",
    "MergeTreeDataWriterBlocks", "MergeTreeDataWriterCompressedBytes",
    "MergeTreeDataWriterRows", "MergeTreeDataWriterUncompressedBytes", "MergedRows",
    "MergedUncompressedBytes", "MergesTimeMilliseconds", "Query", "QueryMemoryLimitExceeded",
    "QueryTimeMicroseconds", "ReadBackoff", "ReadBufferFromFileDescriptorRead",
    "ReadBufferFromFileDescriptorReadBytes", "ReadBufferFromFileDescriptorReadFailed",
    "ReadCompressedBytes", "RejectedInserts", "ReplicatedDataLoss",
    "ReplicatedPartFailedFetches", "ReplicatedPartFetches", "ReplicatedPartFetchesOfMerged",
    "ReplicatedPartMerges", "Seek", "SelectQuery", "SelectQueryTimeMicroseconds",
    "SelectedBytes", "SelectedMarks", "SelectedParts", "SelectedRanges", "SelectedRows",
    "SlowRead", "UncompressedCacheHits", "UncompressedCacheMisses",
    "WriteBufferFromFileDescriptorWrite", "WriteBufferFromFileDescriptorWriteBytes",
    "ZooKeeperBytesReceived", "ZooKeeperBytesSent", "ZooKeeperCheck", "ZooKeeperClose",
    "ZooKeeperCreate", "ZooKeeperExists", "ZooKeeperGet", "ZooKeeperHardwareExceptions",
    "ZooKeeperInit", "ZooKeeperList", "ZooKeeperMulti", "ZooKeeperRemove", "ZooKeeperSet",
    "ZooKeeperTransactions", "ZooKeeperUserExceptions", "ZooKeeperWatchResponse",
)  # fmt: skip
CLICKHOUSE_ASYNC_METRICS = (
    "NumberOfDatabases",
    "NumberOfTables",
    "Uptime",
    "MaxPartCountForPartition",
)
CLICKHOUSE_ERRORS = (
    "UNKNOWN_TABLE",
    "NO_SUCH_COLUMN_IN_TABLE",
    "TIMEOUT_EXCEEDED",
    "MEMORY_LIMIT_EXCEEDED",
)
CLICKHOUSE_VERSION_INTEGER = 25012001


def _help(name: str) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()
    return f"Simulated ClickHouse value of {words}."


class ClickHouseMetrics:
    """The exposition of ClickHouse's built-in Prometheus handler (`/metrics` on port 9363).

    ClickHouse writes every family with `# HELP` and `# TYPE` lines, gauges for `Metrics` and
    `AsyncMetrics`, counters without the `_total` suffix for `ProfileEvents` and `ErrorMetric`.
    Counters here grow with uptime and with the queries the simulated server serves.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.queries = 0
        self.tcp_connections = 0

    def _value(self, group: str, name: str, uptime: float) -> float:
        if group == "Metrics":
            fixed = {
                "TCPConnection": float(self.tcp_connections),
                "Revision": 54500.0,
                "VersionInteger": float(CLICKHOUSE_VERSION_INTEGER),
                "MemoryTracking": 412_000_000.0 + 1000 * (int(uptime) % 97),
                "Query": 1.0,
                "HTTPConnection": 1.0,
            }
            return fixed.get(name, 0.0)
        if group == "AsyncMetrics":
            fixed = {"Uptime": round(uptime, 3), "NumberOfDatabases": 4.0, "NumberOfTables": 62.0}
            return fixed.get(name, 3.0)
        if group == "ProfileEvents":
            if name in {"Query", "SelectQuery"}:
                return float(self.queries + int(uptime // 2))
            if name.startswith(("ZooKeeper", "Replicated", "Distributed", "Failed", "Rejected")):
                return 0.0
            return float(int(uptime * 13) + len(name))
        return 0.0

    def render(self) -> bytes:
        """Render the exposition in ClickHouse's layout."""
        uptime = time.monotonic() - self.started
        out: list[str] = []
        groups = (
            ("Metrics", "gauge", CLICKHOUSE_METRICS),
            ("ProfileEvents", "counter", CLICKHOUSE_EVENTS),
            ("AsyncMetrics", "gauge", CLICKHOUSE_ASYNC_METRICS),
        )
        for group, kind, names in groups:
            for name in names:
                key = f"ClickHouse{group}_{name}"
                out.append(f"# HELP {key} {_help(name)}")
                out.append(f"# TYPE {key} {kind}")
                out.append(f"{key} {self._value(group, name, uptime):g}")
        for code in CLICKHOUSE_ERRORS:
            key = f"ClickHouseErrorMetric_{code}"
            out.append(f"# HELP {key} Errors with code {code} since the server started.")
            out.append(f"# TYPE {key} counter")
            out.append(f"{key} {1 if code == 'UNKNOWN_TABLE' else 0}")
        out.append(
            "# HELP ClickHouseErrorMetric_ALL Errors of every code since the server started."
        )
        out.append("# TYPE ClickHouseErrorMetric_ALL counter")
        out.append("ClickHouseErrorMetric_ALL 1")
        return ("\n".join(out) + "\n").encode("utf-8")
