"""Reading collector span counters and Tempo/Jaeger answers."""

from __future__ import annotations

import json

import pytest

from lsconform.probes.otlp_evidence import (
    BackendError,
    backend_services,
    detect_backend,
    find_traces,
    parse_span_counters,
)

RECENT = """\
# HELP otelcol_receiver_accepted_spans_total Number of spans pushed into the pipeline.
# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{receiver="otlp",service_name="otelcol",transport="grpc"} 5
otelcol_receiver_accepted_spans_total{receiver="otlp",service_name="otelcol",transport="http"} 7
otelcol_receiver_refused_spans_total{receiver="otlp",transport="http"} 1
otelcol_exporter_sent_spans_total{exporter="otlphttp/traces"} 12
otelcol_exporter_send_failed_spans_total{exporter="otlphttp/traces"} 0
otelcol_exporter_sent_metric_points_total{exporter="otlphttp/metrics"} 99
"""

OLD = """\
# TYPE otelcol_receiver_accepted_spans counter
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 3
otelcol_exporter_sent_spans{exporter="otlp"} 3
"""


def test_counters_with_total_suffix() -> None:
    counters = parse_span_counters(RECENT)
    assert counters.accepted == 12
    assert counters.by_transport == {"grpc": 5, "http": 7}
    assert counters.refused == 1
    assert counters.sent == 12
    assert counters.send_failed == 0
    assert "otelcol_receiver_accepted_spans" in counters.found


def test_counters_without_total_suffix() -> None:
    counters = parse_span_counters(OLD)
    assert counters.accepted == 3
    assert counters.sent == 3


def test_counters_moved_and_garbage() -> None:
    before = parse_span_counters(OLD)
    after = parse_span_counters(RECENT)
    assert after.moved_since(before)["accepted"] == 9
    garbage = parse_span_counters("otelcol_receiver_accepted_spans_total{ NaNx\n\xff\x00 junk")
    assert garbage.accepted == 0
    assert garbage.found == frozenset()


def _fetcher(routes: dict[str, tuple[int, bytes]]):
    def fetch(path: str) -> tuple[int, bytes]:
        for prefix, answer in routes.items():
            if path.startswith(prefix):
                return answer
        return 404, b"not found"

    return fetch


def test_detect_tempo_and_jaeger() -> None:
    assert detect_backend(_fetcher({"/api/echo": (200, b"echo")})) == "tempo"
    assert detect_backend(_fetcher({"/api/services": (200, b'{"data": []}')})) == "jaeger"
    with pytest.raises(BackendError, match="neither Tempo"):
        detect_backend(_fetcher({}))


def test_tempo_search_filters_by_start() -> None:
    traces = {
        "traces": [
            {"traceID": "aa", "startTimeUnixNano": str(1_000 * 10**9)},
            {"traceID": "bb", "startTimeUnixNano": str(2_000 * 10**9)},
        ]
    }
    fetch = _fetcher(
        {
            "/api/search/tag": (200, b'{"tagValues": ["langsmith-backend"]}'),
            "/api/search": (200, json.dumps(traces).encode()),
        }
    )
    assert backend_services(fetch, "tempo") == ["langsmith-backend"]
    hit = find_traces(fetch, "tempo", "langsmith-backend", since_s=1_500)
    assert hit.trace_ids == ("bb",)


def test_jaeger_search() -> None:
    data = {"data": [{"traceID": "cc", "spans": [{"startTime": 3_000 * 10**6}]}]}
    fetch = _fetcher(
        {
            "/api/services": (200, b'{"data": ["queue"]}'),
            "/api/traces": (200, json.dumps(data).encode()),
        }
    )
    assert backend_services(fetch, "jaeger") == ["queue"]
    assert find_traces(fetch, "jaeger", "queue", since_s=2_000).trace_ids == ("cc",)
    assert find_traces(fetch, "jaeger", "queue", since_s=4_000).trace_ids == ()


@pytest.mark.parametrize(
    ("answer", "message"),
    [((500, b"boom"), "HTTP 500"), ((200, b"<html>"), "invalid JSON")],
)
def test_backend_errors(answer: tuple[int, bytes], message: str) -> None:
    with pytest.raises(BackendError, match=message):
        find_traces(_fetcher({"/api/search": answer}), "tempo", "x", since_s=0)
