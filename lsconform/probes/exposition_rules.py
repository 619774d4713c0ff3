"""The catalogue of exposition rules and the sink that records problems against them.

Each rule has a stable id (used in reports, in `expected.yaml` of the test corpus and in
docs/exposition-lint.md), a default severity, a title and the fix a user should apply. The parser
and the linter give each problem its own cause, naming the values involved.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsconform.probes.exposition_model import (
    MAX_PROBLEM_TEXT,
    MAX_PROBLEMS_PER_RULE,
    Problem,
    Severity,
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: its id, default severity, a short title and the fix for its problems."""

    id: str
    severity: Severity
    title: str
    fix: str


_E, _W, _C = Severity.ERROR, Severity.WARNING, Severity.CONVENTION

_RULE_LIST = (
    # How the payload is served and encoded.
    Rule(
        "content-type-missing",
        _W,
        "response has no Content-Type",
        "serve `text/plain; version=0.0.4; charset=utf-8` or "
        "`application/openmetrics-text; version=1.0.0; charset=utf-8`, or set "
        "`fallback_scrape_protocol: PrometheusText0.0.4` on the Prometheus 3 scrape job",
    ),
    Rule(
        "content-type-unsupported",
        _W,
        "Content-Type is not an exposition media type",
        "serve `text/plain; version=0.0.4; charset=utf-8` or "
        "`application/openmetrics-text; version=1.0.0; charset=utf-8`; Prometheus 3 rejects "
        "other types unless the scrape job sets `fallback_scrape_protocol`",
    ),
    Rule(
        "invalid-utf8",
        _E,
        "bytes that are not valid UTF-8",
        "encode every HELP text and label value as UTF-8, and clean or drop values taken from "
        "user input (Host headers, names) before using them as labels",
    ),
    Rule(
        "line-too-long",
        _E,
        "a line longer than the parser's limit",
        "split the data into more series; a single line this long is almost always a broken "
        "writer or a label value holding a whole document",
    ),
    Rule(
        "carriage-return",
        _E,
        "lines end with CR LF",
        "end lines with a single line feed (\\n); the exposition formats do not allow \\r",
    ),
    Rule(
        "final-newline-missing",
        _E,
        "the last line has no line feed",
        "end the payload with a line feed; strict parsers treat a missing one as a truncated "
        "payload",
    ),
    # Sample lines.
    Rule(
        "metric-name-invalid",
        _E,
        "invalid metric name",
        "use metric names matching [a-zA-Z_:][a-zA-Z0-9_:]*",
    ),
    Rule(
        "sample-malformed",
        _E,
        "sample line does not have the shape `name{labels} value [ts]`",
        "write each sample as the metric name, an optional label set, one value and an optional "
        "timestamp, separated by spaces",
    ),
    Rule(
        "value-invalid",
        _E,
        "sample value is not a number",
        "write the value as a decimal float, `NaN`, `+Inf` or `-Inf`",
    ),
    Rule(
        "timestamp-invalid",
        _E,
        "sample timestamp is not valid for the format",
        "write timestamps as integer milliseconds since the epoch (Prometheus text) or as "
        "seconds (OpenMetrics), or leave them out and let the scraper stamp the sample",
    ),
    Rule(
        "label-set-malformed",
        _E,
        "label set cannot be parsed",
        'write labels as {name="value",other="value"} with every value in double quotes',
    ),
    Rule(
        "label-value-unescaped",
        _E,
        "a double quote inside a label value is not escaped",
        'escape `\\` as `\\\\`, `"` as `\\"` and a line feed as `\\n` in label values; better, '
        "keep user-controlled strings out of label values",
    ),
    Rule(
        "label-value-escape",
        _E,
        "label value has an invalid escape sequence",
        'use only the escapes `\\\\`, `\\"` and `\\n` in label values',
    ),
    Rule(
        "label-name-invalid",
        _E,
        "invalid label name",
        "use label names matching [a-zA-Z_][a-zA-Z0-9_]*",
    ),
    Rule(
        "label-name-duplicate",
        _E,
        "a label name appears twice in one label set",
        "give each label name one value per series",
    ),
    Rule(
        "label-name-reserved",
        _W,
        "label name starts with `__`, which Prometheus reserves",
        "rename the label; names starting with `__` are reserved for Prometheus's own use and "
        "`__name__` may not appear in an exposition at all",
    ),
    Rule(
        "exemplar-invalid",
        _E,
        "exemplar cannot be parsed or is too long",
        'write exemplars as `# {trace_id="..."} value [timestamp]` after the sample value, '
        "with at most 128 UTF-8 characters of label names and values",
    ),
    Rule(
        "whitespace-invalid",
        _E,
        "OpenMetrics allows exactly one space between tokens",
        "separate tokens with a single space and start every line in column 1",
    ),
    # Metadata and family structure.
    Rule(
        "metadata-malformed",
        _E,
        "HELP, TYPE or UNIT line is incomplete",
        "write `# HELP <name> <text>`, `# TYPE <name> <type>` and (OpenMetrics) "
        "`# UNIT <name> <unit>`",
    ),
    Rule(
        "help-escape",
        _E,
        "HELP text has an invalid escape sequence",
        'use only the escapes `\\\\` and `\\n` in HELP text (OpenMetrics also allows `\\"`)',
    ),
    Rule(
        "type-unknown",
        _E,
        "TYPE line names an unknown type",
        "use counter, gauge, histogram, summary or untyped (Prometheus text), or counter, "
        "gauge, histogram, gaugehistogram, summary, info, stateset or unknown (OpenMetrics), "
        "in lower case",
    ),
    Rule(
        "type-after-samples",
        _E,
        "TYPE line comes after samples of its family",
        "put the HELP and TYPE lines of a family before its first sample",
    ),
    Rule(
        "unit-after-samples",
        _E,
        "UNIT line comes after samples of its family",
        "put the UNIT line with the HELP and TYPE lines, before the family's first sample",
    ),
    Rule(
        "family-redeclared",
        _E,
        "a family's HELP or TYPE line appears twice",
        "write one HELP and one TYPE line per family and keep all its samples together; in a "
        "Python multiprocess setup, do not register metrics on the registry that holds the "
        "multiprocess collector",
    ),
    Rule(
        "help-after-samples",
        _W,
        "HELP line comes after samples of its family",
        "put the HELP and TYPE lines of a family before its first sample",
    ),
    Rule(
        "family-not-contiguous",
        _W,
        "samples of one family are split by another family",
        "write all samples of a family together, right after its HELP and TYPE lines",
    ),
    Rule(
        "sample-name-mismatch",
        _W,
        "sample name does not fit the declared family type",
        "name samples by the family's type: `<name>` for gauges and untyped, `<name>_bucket`, "
        "`_sum` and `_count` for histograms, `<name>`, `_sum` and `_count` for summaries, and "
        "`<name>_total` for OpenMetrics counters",
    ),
    Rule(
        "unit-mismatch",
        _E,
        "the family name does not end with its OpenMetrics UNIT",
        "name the family `<name>_<unit>` or remove the UNIT line",
    ),
    Rule(
        "eof-missing",
        _E,
        "OpenMetrics payload does not end with `# EOF`",
        "end an OpenMetrics payload with the line `# EOF`, or serve it as "
        "`text/plain; version=0.0.4`",
    ),
    Rule(
        "content-after-eof",
        _E,
        "lines follow `# EOF`",
        "write nothing after the `# EOF` line",
    ),
    Rule(
        "blank-line",
        _E,
        "OpenMetrics does not allow blank lines",
        "remove blank lines, or serve the payload as `text/plain; version=0.0.4`",
    ),
    Rule(
        "comment-invalid",
        _E,
        "OpenMetrics allows only HELP, TYPE, UNIT and EOF comments",
        "remove other comment lines, or serve the payload as `text/plain; version=0.0.4`",
    ),
    # Series and values.
    Rule(
        "series-duplicate",
        _W,
        "the same series appears twice",
        "emit each combination of metric name and labels once per scrape; Prometheus keeps the "
        "first sample and counts the rest as duplicates",
    ),
    Rule(
        "counter-negative",
        _W,
        "counter has a negative value",
        "counters start at 0 and only increase; use a gauge for values that go down",
    ),
    # Histograms and summaries.
    Rule(
        "histogram-le-missing",
        _W,
        "histogram bucket has no `le` label",
        'give every `_bucket` sample an `le` label holding its upper bound, and `le="+Inf"` '
        "for the last one",
    ),
    Rule(
        "histogram-le-invalid",
        _E,
        "histogram `le` label is not a number",
        'write bucket bounds as floats, and the last one as `le="+Inf"`',
    ),
    Rule(
        "histogram-not-cumulative",
        _W,
        "histogram bucket counts decrease as `le` grows",
        "make bucket counts cumulative: each bucket counts every observation up to its bound, "
        "so counts never decrease from one bucket to the next",
    ),
    Rule(
        "histogram-inf-missing",
        _W,
        'histogram has no le="+Inf" bucket',
        'add a bucket with le="+Inf" whose count equals `_count`',
    ),
    Rule(
        "histogram-count-mismatch",
        _W,
        'the le="+Inf" bucket differs from `_count`',
        'make the le="+Inf" bucket count every observation, so it equals `_count`',
    ),
    Rule(
        "histogram-sum-count-missing",
        _W,
        "histogram series lacks `_sum` or `_count`",
        "emit `_sum` and `_count` for every label set that has buckets",
    ),
    Rule(
        "summary-quantile-invalid",
        _E,
        "summary `quantile` label is not a number in [0, 1]",
        'write quantiles as floats between 0 and 1, such as quantile="0.99"',
    ),
    Rule(
        "summary-sum-count-missing",
        _W,
        "summary series lacks `_sum` or `_count`",
        "emit `_sum` and `_count` for every label set of a summary",
    ),
    # Conventions that `promtool check metrics` reports.
    Rule(
        "help-missing",
        _C,
        "family has no HELP text",
        "add `# HELP <name> <what it measures>` before the family's samples",
    ),
    Rule(
        "name-unit-not-base",
        _C,
        "metric name uses a scaled or non-base unit",
        "name and measure the metric in the base unit (seconds, bytes, meters, grams, joules, "
        "...) and convert the values, e.g. `_seconds` instead of `_milliseconds`",
    ),
    Rule(
        "name-unit-abbreviated",
        _C,
        "metric name abbreviates a unit",
        "spell units out in full: `_seconds` not `_s` or `_sec`, `_bytes` not `_b` or `_kb`",
    ),
    Rule(
        "counter-total-suffix",
        _C,
        "counter name does not end with `_total`",
        "name counters `<name>_total`",
    ),
    Rule(
        "total-suffix-non-counter",
        _C,
        "a family that is not a counter ends with `_total`",
        "drop the `_total` suffix, or declare the family as a counter if it only increases",
    ),
    Rule(
        "name-reserved-suffix",
        _C,
        "name ends with `_bucket`, `_count` or `_sum` outside a histogram or summary",
        "rename the family; these suffixes belong to histogram and summary samples",
    ),
    Rule(
        "label-le-reserved",
        _C,
        "a family that is not a histogram has an `le` label",
        "rename the label; `le` marks histogram bucket bounds",
    ),
    Rule(
        "label-quantile-reserved",
        _C,
        "a family that is not a summary has a `quantile` label",
        "rename the label; `quantile` marks summary quantiles",
    ),
    Rule(
        "name-type-in-name",
        _C,
        "metric name contains its type",
        "drop the type word (counter, gauge, histogram, summary) from the name",
    ),
    Rule(
        "name-colon",
        _C,
        "metric name contains `:`",
        "use `_` in exported metric names; colons are reserved for recording rules",
    ),
    Rule(
        "name-camel-case",
        _C,
        "metric name is camelCase",
        "write metric names in snake_case",
    ),
    Rule(
        "label-camel-case",
        _C,
        "label name is camelCase",
        "write label names in snake_case",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULE_LIST}


def cut_text(text: str) -> str:
    """Cut an offending line to MAX_PROBLEM_TEXT characters for quoting in a problem."""
    if len(text) <= MAX_PROBLEM_TEXT:
        return text
    return text[:MAX_PROBLEM_TEXT] + "…"


class ProblemSink:
    """Collects problems, keeping at most MAX_PROBLEMS_PER_RULE of each rule but counting all."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.counts: dict[str, int] = {}
        self.severity_counts: dict[Severity, int] = {}

    def add(
        self,
        rule_id: str,
        line: int,
        text: str,
        cause: str,
        *,
        family: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        """Record one problem of rule `rule_id`; `severity` overrides the rule's default."""
        rule = RULES[rule_id]
        level = severity or rule.severity
        count = self.counts.get(rule_id, 0) + 1
        self.counts[rule_id] = count
        self.severity_counts[level] = self.severity_counts.get(level, 0) + 1
        if count > MAX_PROBLEMS_PER_RULE:
            return
        self.problems.append(Problem(rule_id, level, line, cut_text(text), cause, rule.fix, family))

    def sorted_problems(self) -> list[Problem]:
        """Return the kept problems in line order, payload-wide problems (line 0) first."""
        return sorted(self.problems, key=lambda problem: problem.line)
