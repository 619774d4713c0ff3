"""Prometheus and OpenMetrics expositions: parse, lint, and compare what the metrics checks need.

`parse_exposition(body, content_type)` picks the format from the Content-Type the endpoint sent,
parses and lints the body, and returns an Exposition with its families, counts and problems.
The helpers below turn an Exposition into the evidence the metrics checks report: series per
family, payload statistics, counter values to compare two scrapes, expected families present.

>>> exposition = parse_exposition(
...     b"# HELP up Whether the target is up.\\n# TYPE up gauge\\nup 1\\n",
...     "text/plain; version=0.0.4; charset=utf-8",
... )
>>> exposition.is_valid, exposition.sample_count, exposition.problems
(True, 1, [])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lsconform.probes.exposition_model import (
    MAX_PROBLEM_TEXT,
    MAX_PROBLEMS_PER_RULE,
    SAMPLE_LABELS,
    SAMPLE_LINE,
    SAMPLE_NAME,
    SAMPLE_TIMESTAMP,
    SAMPLE_VALUE,
    Exposition,
    ExpositionFormat,
    Family,
    Labels,
    Problem,
    SampleRow,
    Severity,
)
from lsconform.probes.exposition_parser import ExpositionParser
from lsconform.probes.exposition_rules import RULES, ProblemSink, Rule

__all__ = [
    "MAX_PROBLEMS_PER_RULE",
    "MAX_PROBLEM_TEXT",
    "OPENMETRICS_CONTENT_TYPE",
    "PROMETHEUS_TEXT_CONTENT_TYPE",
    "RULES",
    "SAMPLE_LABELS",
    "SAMPLE_LINE",
    "SAMPLE_NAME",
    "SAMPLE_TIMESTAMP",
    "SAMPLE_VALUE",
    "CounterDecrease",
    "Exposition",
    "ExpositionFormat",
    "ExpositionParser",
    "ExpositionStats",
    "Family",
    "Labels",
    "Problem",
    "Rule",
    "SampleRow",
    "Severity",
    "counter_values",
    "counters_decreased",
    "exposition_stats",
    "format_for_content_type",
    "missing_families",
    "parse_exposition",
    "parser_for_content_type",
    "series_by_family",
]

PROMETHEUS_TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

# Versions of each media type that Prometheus reads as the format named.
_TEXT_VERSIONS = (None, "0.0.4")
_OPENMETRICS_VERSIONS = (None, "0.0.1", "1.0.0")


def format_for_content_type(
    content_type: str | None,
) -> tuple[ExpositionFormat, list[tuple[str, str]]]:
    """Choose the format for a Content-Type header value, with the problems the value has.

    Each problem is a `(rule id, cause)` pair. A missing, blank or unsupported header is a
    problem and selects the text format 0.0.4, which is what Prometheus 2 falls back to;
    Prometheus 3 fails such a scrape unless its job sets `fallback_scrape_protocol`.
    """
    if content_type is None or not content_type.strip():
        return ExpositionFormat.PROMETHEUS_TEXT, [
            (
                "content-type-missing",
                "the response has no Content-Type; Prometheus 2 reads it as text format 0.0.4, "
                "Prometheus 3 rejects the scrape",
            )
        ]
    media_type, parameters = _parse_media_type(content_type)
    version = parameters.get("version")
    problems: list[tuple[str, str]] = []
    charset = parameters.get("charset")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        problems.append(
            (
                "content-type-unsupported",
                f"the Content-Type {content_type!r} declares charset {charset}; the exposition "
                "formats are UTF-8",
            )
        )
    if media_type == "application/openmetrics-text":
        if version not in _OPENMETRICS_VERSIONS:
            problems.append(
                (
                    "content-type-unsupported",
                    f"the Content-Type {content_type!r} names OpenMetrics version {version}, which "
                    "lsconform does not know; it parsed the body as OpenMetrics 1.0.0",
                )
            )
        return ExpositionFormat.OPENMETRICS, problems
    if media_type == "text/plain":
        if version not in _TEXT_VERSIONS:
            problems.append(
                (
                    "content-type-unsupported",
                    f"the Content-Type {content_type!r} names text format version {version}; "
                    "lsconform parsed the body as version 0.0.4",
                )
            )
        return ExpositionFormat.PROMETHEUS_TEXT, problems
    problems.append(
        (
            "content-type-unsupported",
            f"the Content-Type {content_type!r} is not an exposition media type; Prometheus 2 "
            "reads the body as text format 0.0.4, Prometheus 3 rejects the scrape",
        )
    )
    return ExpositionFormat.PROMETHEUS_TEXT, problems


def _parse_media_type(content_type: str) -> tuple[str, dict[str, str]]:
    media_type, *parameter_texts = content_type.split(";")
    parameters = {}
    for text in parameter_texts:
        key, _, value = text.partition("=")
        parameters[key.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), parameters


def parse_exposition(body: bytes | str, content_type: str | None) -> Exposition:
    """Parse and lint one exposition in the format its Content-Type names.

    Pass the Content-Type header exactly as received, or None when the response had none; the
    value is judged like Prometheus would (see `format_for_content_type`). To lint a body whose
    format is known and whose header does not matter, pass PROMETHEUS_TEXT_CONTENT_TYPE or
    OPENMETRICS_CONTENT_TYPE.
    """
    parser = parser_for_content_type(content_type)
    parser.feed(body)
    return parser.close()


def parser_for_content_type(content_type: str | None) -> ExpositionParser:
    """Return an incremental parser for the format `content_type` names, with the header's
    problems already recorded; feed it chunks of the body and close it."""
    format, content_problems = format_for_content_type(content_type)
    sink = ProblemSink()
    for rule, cause in content_problems:
        sink.add(rule, 0, content_type or "", cause)
    return ExpositionParser(format, content_type=content_type, sink=sink)


# Evidence for the metrics checks --------------------------------------------------------------


def series_by_family(exposition: Exposition) -> dict[str, int]:
    """Return the number of distinct series of each family that has samples."""
    return {
        name: family.series_count for name, family in exposition.families.items() if family.samples
    }


@dataclass(frozen=True, slots=True)
class ExpositionStats:
    """Size of one exposition. `byte_count` is in bytes; `top_families` pairs each of the
    families with the most series with its series count, largest first."""

    byte_count: int
    line_count: int
    sample_count: int
    series_count: int
    family_count: int
    top_families: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict[str, object]:
        """Return the statistics as a JSON-ready mapping."""
        return {
            "bytes": self.byte_count,
            "lines": self.line_count,
            "samples": self.sample_count,
            "series": self.series_count,
            "families": self.family_count,
            "top_families": [list(item) for item in self.top_families],
        }


def exposition_stats(exposition: Exposition, top: int = 10) -> ExpositionStats:
    """Summarise an exposition's size, with the `top` families by series count."""
    counts = series_by_family(exposition)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ExpositionStats(
        byte_count=exposition.byte_count,
        line_count=exposition.line_count,
        sample_count=exposition.sample_count,
        series_count=exposition.series_count,
        family_count=len(counts),
        top_families=tuple(ranked[:top]),
    )


def counter_values(exposition: Exposition) -> dict[tuple[str, Labels], float]:
    """Return the value of every counter series, keyed by (family name, labels).

    Counters are the samples of families typed `counter` (their `_created` samples excluded)
    and the `_bucket`, `_count` and `_sum` samples of histograms and summaries, which also only
    grow. A histogram key carries the sample name in place of the family name, so buckets and
    counts stay apart. Families typed `untyped` or `unknown` are left out because nothing
    promises that they only grow.
    """
    values: dict[tuple[str, Labels], float] = {}
    for family in exposition.families.values():
        if family.type == "counter":
            for name, labels, value, _, _ in family.samples:
                if not name.endswith("_created"):
                    values[(family.name, labels)] = value
        elif family.type in ("histogram", "summary"):
            for name, labels, value, _, _ in family.samples:
                if name != family.name and not name.endswith("_created"):
                    values[(name, labels)] = value
    return values


@dataclass(frozen=True, slots=True)
class CounterDecrease:
    """A counter series whose value went down between two scrapes of the same target."""

    family: str
    labels: Labels
    before: float
    after: float

    def describe(self) -> str:
        """Return the series and both values in one line, PromQL style."""
        label_text = ",".join(f'{name}="{value}"' for name, value in self.labels)
        return f"{self.family}{{{label_text}}} went from {self.before:g} to {self.after:g}"


def counters_decreased(
    before: dict[tuple[str, Labels], float], after: dict[tuple[str, Labels], float]
) -> list[CounterDecrease]:
    """Return the counter series present in both scrapes whose value decreased, sorted.

    A decrease means the process restarted between the scrapes, or the scrapes reached
    different pods (a Service address balanced across replicas), or the counter is not one.
    """
    decreases = [
        CounterDecrease(key[0], key[1], old, after[key])
        for key, old in before.items()
        if key in after and after[key] < old
    ]
    return sorted(decreases, key=lambda item: (item.family, item.labels))


def missing_families(exposition: Exposition, expected: Iterable[str]) -> list[str]:
    """Return the expected names not present in the exposition, in the order given.

    A name is present when a family of that name has samples, or a sample has that name
    (`http_requests_total` of an OpenMetrics counter family `http_requests`). A histogram
    counts as present only when it has `_bucket` samples, because its quantiles need them:
    declared-only histograms, or untyped `<name>_bucket` samples with an `le` label, are
    judged by their buckets.
    """
    present = _present_names(exposition)
    return [name for name in expected if name not in present]


def _present_names(exposition: Exposition) -> set[str]:
    present: set[str] = set()
    for family in exposition.families.values():
        if not family.samples:
            continue
        sample_names = {sample[0] for sample in family.samples}
        present.update(sample_names)
        if family.type in ("histogram", "gaugehistogram"):
            if family.name + "_bucket" in sample_names:
                present.add(family.name)
            continue
        present.add(family.name)
        if family.name.endswith("_bucket") and _has_le(family.samples):
            present.add(family.name[: -len("_bucket")])
    return present


def _has_le(samples: list[SampleRow]) -> bool:
    return any(name == "le" for sample in samples for name, _ in sample[1])
