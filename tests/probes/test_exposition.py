"""The exposition parser, linter and the helpers the metrics checks call."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lsconform.probes.exposition import (
    MAX_PROBLEM_TEXT,
    MAX_PROBLEMS_PER_RULE,
    OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_TEXT_CONTENT_TYPE,
    RULES,
    ExpositionFormat,
    ExpositionParser,
    Severity,
    counter_values,
    counters_decreased,
    exposition_stats,
    format_for_content_type,
    missing_families,
    parse_exposition,
    parser_for_content_type,
    series_by_family,
)
from lsconform.probes.exposition_parser import MAX_LINE_BYTES

CORPUS = Path(__file__).parent / "corpus"
DOC = Path(__file__).parents[2] / "docs" / "exposition-lint.md"
TEXT = PROMETHEUS_TEXT_CONTENT_TYPE


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def rules_of(body: bytes | str, content_type: str | None = TEXT) -> list[str]:
    return [problem.rule for problem in parse_exposition(body, content_type).problems]


# Parsing ---------------------------------------------------------------------------------------


def test_histogram_family_parsed() -> None:
    exposition = parse_exposition(corpus("good-histogram.prom"), TEXT)
    family = exposition.families["langsmith_http_requests_latency_seconds"]
    assert family.type == "histogram"
    assert family.help == "HTTP request latency."
    assert (family.help_line, family.type_line) == (1, 2)
    assert family.sample_count == 14
    assert family.series_count == 14
    first = family.samples[0]
    assert first == (
        "langsmith_http_requests_latency_seconds_bucket",
        (("app_name", "backend"), ("le", "0.005"), ("path", "/runs/batch")),
        2.0,
        None,
        3,
    )
    assert exposition.is_valid
    assert exposition.problems == []
    assert (exposition.line_count, exposition.sample_count, exposition.family_count) == (16, 14, 1)
    assert exposition.byte_count == len(corpus("good-histogram.prom"))


def test_escapes_decoded_and_spacing_accepted() -> None:
    exposition = parse_exposition(corpus("good-escapes-and-spacing.prom"), TEXT)
    family = exposition.families["langsmith_feedback_total"]
    assert family.help == (
        'Feedback received, with a "quoted" word and a backslash \\ and a line\nbreak.'
    )
    keys = [dict(sample[1])["key"] for sample in family.samples]
    assert keys == [
        'rating 5" stars',
        "path C:\\temp",
        "two\nlines",
        "spaced",
        "tabbed",
        "braces {} and # inside",
        "old",
    ]
    timestamps = [sample[3] for sample in family.samples]
    assert timestamps[-2:] == [1765000000000, -1000]
    assert exposition.problems == []


def test_special_values() -> None:
    family = parse_exposition(corpus("good-special-values.prom"), TEXT).families[
        "ls_queue_oldest_job_age_seconds"
    ]
    values = [sample[2] for sample in family.samples]
    assert values[0] != values[0]  # NaN
    assert values[1:] == [float("inf"), float("-inf"), 1500.0, 0.25, 0.0]


def test_labels_sorted_and_shared() -> None:
    exposition = parse_exposition(b'x{b="2",a="1"} 1\nx{a="1",b="3"} 2\n# HELP x h\n', TEXT)
    first, second = exposition.families["x"].samples
    assert first[1] == (("a", "1"), ("b", "2"))
    # Equal label pairs are one shared tuple, which keeps large scrapes small.
    assert first[1][0] is second[1][0]


def test_fast_path_finds_duplicate_label() -> None:
    # The first two lines fill the fragment caches, so the third takes the fast path.
    body = b'x{a="1",b="2"} 1\nx{b="3",a="4"} 1\nx{a="5",a="6"} 1\nx{a="7",b="8"} 1\n'
    exposition = parse_exposition(b"# HELP x h\n# TYPE x gauge\n" + body, TEXT)
    [problem] = exposition.problems
    assert problem.rule == "label-name-duplicate"
    assert problem.line == 5
    assert "sets the label a more than once" in problem.cause
    assert exposition.sample_count == 3


def test_fast_path_matches_slow_path() -> None:
    line = b'x{a="1",b="two words",c="}{"} 1.5 1765000000000\n'
    exposition = parse_exposition(b"# HELP x h\n# TYPE x gauge\n" + line * 2, TEXT)
    first, second = exposition.families["x"].samples
    assert first[:4] == second[:4]
    assert first[1] == (("a", "1"), ("b", "two words"), ("c", "}{"))
    assert [problem.rule for problem in exposition.problems] == ["series-duplicate"]


def test_openmetrics_parsed() -> None:
    exposition = parse_exposition(corpus("good-openmetrics.om"), OPENMETRICS_CONTENT_TYPE)
    assert exposition.format is ExpositionFormat.OPENMETRICS
    assert exposition.problems == []
    runs = exposition.families["langsmith_runs_ingested"]
    assert runs.type == "counter"
    assert [sample[0] for sample in runs.samples] == [
        "langsmith_runs_ingested_total",
        "langsmith_runs_ingested_created",
    ]
    latency = exposition.families["langsmith_http_requests_latency_seconds"]
    assert latency.unit == "seconds"
    depth = exposition.families["ls_queue_depth"].samples[0]
    assert depth[3] == 1765000000.5


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
def test_chunked_feed_matches_whole(chunk_size: int) -> None:
    body = corpus("good-escapes-and-spacing.prom") + "é_ignored 1\n".encode()
    body = body.replace(b"ws1", "wé1".encode())
    whole = parse_exposition(body, TEXT)
    parser = parser_for_content_type(TEXT)
    for start in range(0, len(body), chunk_size):
        parser.feed(body[start : start + chunk_size])
    chunked = parser.close()
    assert chunked.families.keys() == whole.families.keys()
    for name, family in whole.families.items():
        assert chunked.families[name].samples == family.samples
    assert chunked.problems == whole.problems
    assert chunked.byte_count == whole.byte_count == len(body)


def test_str_input_matches_bytes() -> None:
    body = corpus("good-prometheus-client.prom")
    from_bytes = parse_exposition(body, TEXT)
    from_text = parse_exposition(body.decode(), TEXT)
    assert from_text.sample_count == from_bytes.sample_count
    assert from_text.byte_count == from_bytes.byte_count
    assert from_text.problems == from_bytes.problems == []


def test_feed_after_close_raises() -> None:
    parser = ExpositionParser(ExpositionFormat.PROMETHEUS_TEXT)
    parser.close()
    with pytest.raises(ValueError, match="after close"):
        parser.feed(b"x 1\n")


# Problems --------------------------------------------------------------------------------------


def test_family_declared_twice_names_both_lines() -> None:
    [problem] = parse_exposition(corpus("c23-family-declared-twice.prom"), TEXT).problems
    assert problem.rule == "family-redeclared"
    assert problem.severity is Severity.ERROR
    assert problem.line == 4
    assert "ls_queue_depth is declared twice (lines 1 and 4)" in problem.cause
    assert "strict parsers reject the whole payload" in problem.cause
    assert problem.text == "# HELP ls_queue_depth Jobs waiting"
    assert "one HELP and one TYPE line per family" in problem.message


def test_unescaped_quote_points_at_line() -> None:
    [problem] = parse_exposition(corpus("c25-unescaped-quote.prom"), TEXT).problems
    assert problem.rule == "label-value-unescaped"
    assert problem.line == 3
    assert 'label key ("rating 5")' in problem.cause
    assert "unescaped double quote" in problem.cause


def test_invalid_utf8_line_and_column() -> None:
    [problem] = parse_exposition(corpus("c25-invalid-utf8-label.prom"), TEXT).problems
    assert problem.rule == "invalid-utf8"
    assert problem.line == 3
    assert "column 39" in problem.cause
    assert "\ufffd" in problem.text


def test_buckets_not_cumulative_shows_counts() -> None:
    [problem] = parse_exposition(corpus("c26-buckets-not-cumulative.prom"), TEXT).problems
    assert problem.rule == "histogram-not-cumulative"
    assert "le=0.1: 40 > le=0.5: 12 > le=1: 3" in problem.cause
    assert problem.family == "ls_request_seconds"


def test_inf_bucket_missing_names_count() -> None:
    [problem] = parse_exposition(corpus("c26-inf-bucket-missing.prom"), TEXT).problems
    assert 'no le="+Inf" bucket' in problem.cause
    assert "equal _count=55" in problem.cause


def test_inf_bucket_spelled_without_sign() -> None:
    [problem] = parse_exposition(corpus("c26-inf-spelled-without-sign.prom"), TEXT).problems
    assert 'found le="Inf", write it as "+Inf"' in problem.cause


def test_inf_bucket_differs_from_count() -> None:
    [problem] = parse_exposition(corpus("c26-inf-bucket-not-count.prom"), TEXT).problems
    assert problem.rule == "histogram-count-mismatch"
    assert "counts 52 but _count is 55" in problem.cause


def test_not_contiguous_names_both_places() -> None:
    problems = parse_exposition(corpus("beyond-family-not-contiguous.prom"), TEXT).problems
    [problem] = problems
    assert problem.line == 7
    assert "continues at line 7" in problem.cause
    assert "end at line 3" in problem.cause


def test_content_type_problems() -> None:
    assert rules_of(b"up 1\n# HELP up h\n", None)[0] == "content-type-missing"
    html = parse_exposition(corpus("c27-text-html-content-type.prom"), "text/html; charset=utf-8")
    [problem] = html.problems
    assert problem.rule == "content-type-unsupported"
    assert problem.line == 0
    assert "Prometheus 3 rejects the scrape" in problem.cause
    assert html.is_valid


@pytest.mark.parametrize(
    ("content_type", "expected_format", "rules"),
    [
        ("text/plain; version=0.0.4; charset=utf-8", ExpositionFormat.PROMETHEUS_TEXT, []),
        ("text/plain", ExpositionFormat.PROMETHEUS_TEXT, []),
        ("TEXT/PLAIN; Version=0.0.4", ExpositionFormat.PROMETHEUS_TEXT, []),
        ("application/openmetrics-text; version=1.0.0", ExpositionFormat.OPENMETRICS, []),
        ("application/openmetrics-text", ExpositionFormat.OPENMETRICS, []),
        (
            "application/openmetrics-text; version=2.0.0",
            ExpositionFormat.OPENMETRICS,
            ["content-type-unsupported"],
        ),
        ("text/plain; version=9.9", ExpositionFormat.PROMETHEUS_TEXT, ["content-type-unsupported"]),
        (
            "text/plain; charset=latin-1",
            ExpositionFormat.PROMETHEUS_TEXT,
            ["content-type-unsupported"],
        ),
        ("application/json", ExpositionFormat.PROMETHEUS_TEXT, ["content-type-unsupported"]),
        ("", ExpositionFormat.PROMETHEUS_TEXT, ["content-type-missing"]),
        ("  ", ExpositionFormat.PROMETHEUS_TEXT, ["content-type-missing"]),
        (None, ExpositionFormat.PROMETHEUS_TEXT, ["content-type-missing"]),
    ],
)
def test_format_for_content_type(
    content_type: str | None, expected_format: ExpositionFormat, rules: list[str]
) -> None:
    chosen, problems = format_for_content_type(content_type)
    assert chosen is expected_format
    assert [rule for rule, _ in problems] == rules


def test_problem_text_is_bounded() -> None:
    long_value = "v" * 5000
    body = f'# HELP x h\n# TYPE x gauge\nx{{a="{long_value}\\q"}} 1\n'
    [problem] = parse_exposition(body, TEXT).problems
    assert problem.rule == "label-value-escape"
    assert len(problem.text) <= MAX_PROBLEM_TEXT + 1


def test_problems_per_rule_capped_but_counted() -> None:
    body = "# HELP x h\n# TYPE x gauge\n" + "x bad\n" * 1000
    exposition = parse_exposition(body, TEXT)
    assert len(exposition.problems) == MAX_PROBLEMS_PER_RULE
    assert exposition.problem_counts == {"value-invalid": 1000}
    assert exposition.error_count == 1000


def test_line_without_newline_beyond_limit() -> None:
    parser = parser_for_content_type(TEXT)
    parser.feed(b"# HELP x h\n# TYPE x gauge\nx 1\n")
    chunk = b"y" * (1 << 20)
    for _ in range(MAX_LINE_BYTES // len(chunk) + 1):
        parser.feed(chunk)
    parser.feed(b" 1\nx 2\n")
    exposition = parser.close()
    assert [problem.rule for problem in exposition.problems] == [
        "line-too-long",
        "series-duplicate",
    ]
    assert exposition.problems[0].line == 4
    assert exposition.problems[1].line == 5


def test_crlf_reported_once() -> None:
    body = b'# HELP x h\r\n# TYPE x gauge\r\nx 1\r\nx{a="b"} 2\r\n'
    exposition = parse_exposition(body, TEXT)
    assert [problem.rule for problem in exposition.problems] == ["carriage-return"]
    assert exposition.sample_count == 2


def test_openmetrics_interleaving_is_error() -> None:
    exposition = parse_exposition(corpus("om-interleaved-families.om"), OPENMETRICS_CONTENT_TYPE)
    [problem] = exposition.problems
    assert problem.severity is Severity.ERROR
    as_text = parse_exposition(corpus("om-interleaved-families.om"), TEXT)
    assert as_text.problems[0].severity is Severity.WARNING


def test_exemplar_too_long() -> None:
    trace = "a" * 130
    body = f'# TYPE c counter\n# HELP c h\nc_total 1 # {{trace_id="{trace}"}} 1\n# EOF\n'
    [problem] = parse_exposition(body, OPENMETRICS_CONTENT_TYPE).problems
    assert problem.rule == "exemplar-invalid"
    assert "138 characters" in problem.cause


def test_every_rule_documented() -> None:
    text = DOC.read_text()
    for rule in RULES:
        assert f"| `{rule}` |" in text, f"rule {rule} has no row in docs/exposition-lint.md"


def test_every_rule_has_a_fix() -> None:
    for rule in RULES.values():
        assert rule.fix
        assert rule.title


# Helpers for the metrics checks ----------------------------------------------------------------


def test_series_by_family_and_stats() -> None:
    exposition = parse_exposition(corpus("c30-unbounded-label.prom"), TEXT)
    assert series_by_family(exposition) == {
        "langsmith_llm_tokens_total": 2000,
        "langsmith_http_requests_in_progress": 1,
    }
    stats = exposition_stats(exposition, top=1)
    assert stats.top_families == (("langsmith_llm_tokens_total", 2000),)
    assert stats.series_count == 2001
    assert stats.family_count == 2
    assert stats.byte_count == len(corpus("c30-unbounded-label.prom"))
    assert stats.to_dict()["top_families"] == [["langsmith_llm_tokens_total", 2000]]


def test_counters_decreased_between_scrapes() -> None:
    before = counter_values(parse_exposition(corpus("good-counter.prom"), TEXT))
    lowered = corpus("good-counter.prom").replace(b"} 88311", b"} 100")
    after = counter_values(parse_exposition(lowered, TEXT))
    [decrease] = counters_decreased(before, after)
    assert decrease.family == "langsmith_http_requests_total"
    assert dict(decrease.labels)["status"] == "202"
    assert (decrease.before, decrease.after) == (88311.0, 100.0)
    assert "went from 88311 to 100" in decrease.describe()
    assert counters_decreased(before, before) == []


def test_counter_values_cover_histograms_not_gauges() -> None:
    body = corpus("good-histogram.prom") + corpus("good-gauge.prom")
    values = counter_values(parse_exposition(body, TEXT))
    names = {name for name, _ in values}
    assert names == {
        "langsmith_http_requests_latency_seconds_bucket",
        "langsmith_http_requests_latency_seconds_sum",
        "langsmith_http_requests_latency_seconds_count",
    }


def test_counter_values_openmetrics_keyed_by_family() -> None:
    values = counter_values(
        parse_exposition(corpus("good-openmetrics.om"), OPENMETRICS_CONTENT_TYPE)
    )
    assert values[("langsmith_runs_ingested", (("app_name", "backend"),))] == 88311.0


def test_missing_families() -> None:
    exposition = parse_exposition(corpus("good-prometheus-client.prom"), TEXT)
    expected = [
        "langsmith_http_requests_total",
        "langsmith_http_requests_latency_seconds",
        "langsmith_http_requests_in_progress",
        "langsmith_pg_pool_used",
        "langsmith_http_requests_size_bytes",
    ]
    assert missing_families(exposition, expected) == ["langsmith_http_requests_size_bytes"]


def test_histogram_present_only_with_buckets() -> None:
    declared_only = parse_exposition(
        b"# HELP h_seconds h\n# TYPE h_seconds histogram\nh_seconds_sum 1\nh_seconds_count 1\n",
        TEXT,
    )
    assert missing_families(declared_only, ["h_seconds"]) == ["h_seconds"]
    untyped_buckets = parse_exposition(b'h_seconds_bucket{le="+Inf"} 1\n', TEXT)
    assert missing_families(untyped_buckets, ["h_seconds"]) == []


# Robustness ------------------------------------------------------------------------------------

MUTATION_BYTES = b'{}",=\\ \t\n#_aZ09.+-eInfNa\xff\xc3\r:'
CORPUS_BODIES = [path.read_bytes() for path in sorted(CORPUS.iterdir()) if path.suffix != ".yaml"]


def mutated(rng: random.Random) -> bytes:
    """Return a corpus file with a few bytes inserted, deleted or replaced."""
    data = bytearray(rng.choice(CORPUS_BODIES))
    for _ in range(rng.randint(1, 5)):
        position = rng.randint(0, len(data))
        choice = rng.random()
        if choice < 0.5 or not data:
            data[position:position] = bytes([rng.choice(MUTATION_BYTES)])
        elif choice < 0.75:
            del data[position : position + rng.randint(1, 3)]
        else:
            data[min(position, len(data) - 1)] = rng.choice(MUTATION_BYTES)
    return bytes(data)


def test_mutated_input_never_raises() -> None:
    rng = random.Random(11)
    for _ in range(400):
        body = mutated(rng)
        content_type = rng.choice([TEXT, OPENMETRICS_CONTENT_TYPE, None, "text/html"])
        exposition = parse_exposition(body, content_type)
        assert exposition.line_count == body.count(b"\n") + (
            not body.endswith(b"\n") and bool(body)
        )
        for problem in exposition.problems:
            assert problem.rule in RULES
            assert len(problem.text) <= MAX_PROBLEM_TEXT + 1


def test_random_chunks_match_whole_input() -> None:
    rng = random.Random(12)
    for _ in range(150):
        body = mutated(rng)
        content_type = rng.choice([TEXT, OPENMETRICS_CONTENT_TYPE])
        whole = parse_exposition(body, content_type)
        parser = parser_for_content_type(content_type)
        position = 0
        while position < len(body):
            size = rng.randint(1, 40)
            parser.feed(body[position : position + size])
            position += size
        chunked = parser.close()
        assert chunked.problems == whole.problems
        assert repr(list(chunked.families.values())) == repr(list(whole.families.values()))
