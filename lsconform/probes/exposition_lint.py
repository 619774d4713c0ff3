"""Family-level rules, run once a whole exposition has been parsed.

Two groups of rules live here. The naming and metadata conventions are the ones
`promtool check metrics` (Prometheus 2.42) reports, rewritten from its documented behaviour:
they apply to every family that has samples. The structure rules check what the exposition
formats require of histograms, summaries and counters, which promtool does not check. Buckets
must be cumulative and end with `le="+Inf"` equal to `_count`, `_sum` and `_count` must be
present, quantiles valid and counters not negative.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from itertools import chain, pairwise
from operator import itemgetter

from lsconform.probes.exposition_model import (
    ExpositionFormat,
    Family,
    Labels,
    SampleRow,
    Severity,
)
from lsconform.probes.exposition_rules import ProblemSink

# Base units a metric name may carry, and the base unit each other unit should be converted to.
_BASE_UNITS = {
    "amperes": "amperes",
    "bytes": "bytes",
    "candela": "candela",
    "grams": "grams",
    "celsius": "celsius",
    "kelvin": "kelvin",
    "kelvins": "kelvins",
    "meters": "meters",
    "metres": "metres",
    "moles": "moles",
    "seconds": "seconds",
    "joules": "joules",
    "minutes": "seconds",
    "hours": "seconds",
    "days": "seconds",
    "fahrenheit": "celsius",
    "rankine": "kelvin",
    "inches": "meters",
    "yards": "meters",
    "miles": "meters",
    "bits": "bytes",
    "calories": "joules",
    "pounds": "grams",
    "ounces": "grams",
}
# SI and binary prefixes that make a unit non-base (`milliseconds`, `kilobytes`). promtool 2.42
# spells the binary prefix for 2**20 "mibi"; both spellings are listed so that lsconform reports
# at least what promtool reports.
_UNIT_PREFIXES = (
    "pico",
    "nano",
    "micro",
    "milli",
    "centi",
    "deci",
    "deca",
    "hecto",
    "kilo",
    "kibi",
    "mega",
    "mebi",
    "mibi",
    "giga",
    "gibi",
    "tera",
    "tebi",
    "peta",
    "pebi",
)
_SCALED_UNITS = {
    prefix + unit: base
    for unit, base in _BASE_UNITS.items()
    for prefix in (*_UNIT_PREFIXES, "")
    if prefix + unit != base
}
_UNIT_ABBREVIATIONS = (
    "s",
    "ms",
    "us",
    "ns",
    "sec",
    "b",
    "kb",
    "mb",
    "gb",
    "tb",
    "pb",
    "m",
    "h",
    "d",
)
_TYPE_WORDS = ("counter", "gauge", "histogram", "summary", "gauge_histogram")
_CAMEL_CASE = re.compile(r"[a-z][A-Z]")

_HISTOGRAM_TYPES = ("histogram", "gaugehistogram")
_Report = Callable[[str, str], None]
_UNTYPED = ("untyped", "unknown")


def lint_families(families: Iterable[Family], format: ExpositionFormat, sink: ProblemSink) -> None:
    """Run every family-level rule on each family that has samples."""
    for family in families:
        if not family.samples:
            continue
        label_names = _label_names(family.samples)
        _lint_conventions(family, label_names, format, sink)
        if family.type in _HISTOGRAM_TYPES:
            _lint_histogram(family, format, sink)
        elif family.type == "summary":
            _lint_summary(family, sink)
        elif family.type == "counter":
            _lint_counter(family, sink)


def _label_names(samples: list[SampleRow]) -> set[str]:
    pairs = set(chain.from_iterable(map(itemgetter(1), samples)))
    return {name for name, _ in pairs}


def _first_line(family: Family) -> int:
    return family.samples[0][4]


def _first_line_text(family: Family) -> str:
    return _sample_text(family.samples[0])


def _sample_text(sample: SampleRow) -> str:
    """Rebuild a sample line from its parts, for quoting in a problem."""
    name, labels, value, timestamp, _ = sample
    label_text = ",".join(f'{key}="{_escape(text)}"' for key, text in labels)
    text = (
        f"{name}{{{label_text}}} {_format_value(value)}"
        if labels
        else (f"{name} {_format_value(value)}")
    )
    return text if timestamp is None else f"{text} {timestamp}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


# Conventions ----------------------------------------------------------------------------------


def _lint_conventions(
    family: Family, label_names: set[str], format: ExpositionFormat, sink: ProblemSink
) -> None:
    name = family.name
    line = _first_line(family)
    text = _first_line_text(family)

    def report(rule: str, cause: str) -> None:
        sink.add(rule, line, text, cause, family=name)

    if not family.help:
        report("help-missing", f"family {name} has no HELP text")
    scaled = _scaled_unit(name)
    if scaled:
        report(
            "name-unit-not-base",
            f"{name} uses the unit {scaled[0]}; use the base unit {scaled[1]}",
        )
    abbreviations = _abbreviations(name)
    if abbreviations:
        report(
            "name-unit-abbreviated",
            f"{name} contains the abbreviated unit {', '.join(abbreviations)}",
        )
    _lint_type_suffixes(family, label_names, format, report)
    lowered = name.lower()
    for word in _TYPE_WORDS:
        if f"_{word}_" in lowered or lowered.endswith(f"_{word}"):
            report("name-type-in-name", f"{name} contains the type word {word!r}")
    if ":" in name:
        report("name-colon", f"{name} contains ':'")
    if _CAMEL_CASE.search(name):
        report("name-camel-case", f"{name} is written in camelCase")
    camel_labels = sorted(label for label in label_names if _CAMEL_CASE.search(label))
    if camel_labels:
        report(
            "label-camel-case",
            f"{name} has camelCase label names: {', '.join(camel_labels)}",
        )


def _lint_type_suffixes(
    family: Family, label_names: set[str], format: ExpositionFormat, report: _Report
) -> None:
    name, kind = family.name, family.type
    if kind == "counter" and format is ExpositionFormat.PROMETHEUS_TEXT:
        if not name.endswith("_total"):
            report("counter-total-suffix", f"counter {name} does not end with _total")
    elif kind not in _UNTYPED and kind != "counter" and name.endswith("_total"):
        report("total-suffix-non-counter", f"{kind} {name} ends with _total")
    if kind in _UNTYPED:
        return
    is_histogram = kind in _HISTOGRAM_TYPES
    if not is_histogram and name.endswith("_bucket"):
        report("name-reserved-suffix", f"{kind} {name} ends with _bucket")
    for suffix in ("_count", "_sum"):
        if not is_histogram and kind != "summary" and name.endswith(suffix):
            report("name-reserved-suffix", f"{kind} {name} ends with {suffix}")
    if not is_histogram and "le" in label_names:
        report("label-le-reserved", f"{kind} {name} has an le label")
    if kind != "summary" and "quantile" in label_names:
        report("label-quantile-reserved", f"{kind} {name} has a quantile label")


def _scaled_unit(name: str) -> tuple[str, str] | None:
    for word in name.split("_"):
        base = _SCALED_UNITS.get(word)
        if base is not None:
            return word, base
    return None


def _abbreviations(name: str) -> list[str]:
    lowered = name.lower()
    return [
        short
        for short in _UNIT_ABBREVIATIONS
        if f"_{short}_" in lowered or lowered.endswith(f"_{short}")
    ]


# Histograms and summaries ---------------------------------------------------------------------


class _BucketGroup:
    """The samples of one histogram or summary series (one label set without `le` or
    `quantile`): its buckets as (bound, le text, count, line), `_count`, `_sum` and the first
    sample seen."""

    __slots__ = ("buckets", "count", "first", "sum")

    def __init__(self, first: SampleRow) -> None:
        self.buckets: list[tuple[float, str, float, int]] = []
        self.count: SampleRow | None = None
        self.sum: SampleRow | None = None
        self.first = first


def _without(labels: Labels, label: str) -> tuple[Labels, str | None]:
    """Split `labels` into the pairs other than `label`, and that label's value."""
    for index, (key, value) in enumerate(labels):
        if key == label:
            return labels[:index] + labels[index + 1 :], value
    return labels, None


def _lint_histogram(family: Family, format: ExpositionFormat, sink: ProblemSink) -> None:
    name = family.name
    gauge = family.type == "gaugehistogram"
    bucket_name = name + "_bucket"
    count_name = name + ("_gcount" if gauge else "_count")
    sum_name = name + ("_gsum" if gauge else "_sum")
    groups: dict[Labels, _BucketGroup] = {}
    for sample in family.samples:
        sample_name, labels = sample[0], sample[1]
        if sample_name == bucket_name:
            key, le = _without(labels, "le")
            group = groups.get(key)
            if group is None:
                group = groups[key] = _BucketGroup(sample)
            bound = _bucket_bound(family, sample, le, sink)
            if bound is not None:
                group.buckets.append((bound, le or "", sample[2], sample[4]))
        elif sample_name in (count_name, sum_name):
            group = groups.get(labels)
            if group is None:
                group = groups[labels] = _BucketGroup(sample)
            if sample_name == count_name:
                group.count = sample
            else:
                group.sum = sample
    incomplete = []
    for group in groups.values():
        _check_buckets(family, group, sink)
        if (group.count is None or group.sum is None) and group.buckets:
            incomplete.append(group)
    if incomplete:
        first_missing = incomplete[0]
        absent = [
            part
            for part, sample in (("_sum", first_missing.sum), ("_count", first_missing.count))
            if sample is None
        ]
        sink.add(
            "histogram-sum-count-missing",
            first_missing.first[4],
            _sample_text(first_missing.first),
            f"histogram {name} has {len(incomplete)} series without {' or '.join(absent)}",
            family=name,
        )


def _bucket_bound(
    family: Family, sample: SampleRow, le: str | None, sink: ProblemSink
) -> float | None:
    if le is None:
        sink.add(
            "histogram-le-missing",
            sample[4],
            _sample_text(sample),
            f"bucket of histogram {family.name} on line {sample[4]} has no le label",
            family=family.name,
        )
        return None
    try:
        bound = float(le)
    except ValueError:
        bound = math.nan
    if math.isnan(bound) or "_" in le:
        sink.add(
            "histogram-le-invalid",
            sample[4],
            _sample_text(sample),
            f"bucket of histogram {family.name} on line {sample[4]} has le={le!r}, "
            "which is not a number",
            family=family.name,
        )
        return None
    return bound


def _check_buckets(family: Family, group: _BucketGroup, sink: ProblemSink) -> None:
    name = family.name
    buckets = sorted(group.buckets, key=itemgetter(0))
    if not buckets and group.count is None:
        return
    for previous, bucket in pairwise(buckets):
        if bucket[2] < previous[2]:
            bucket_counts = " > ".join(
                f"le={le}: {_format_value(count)}" for _, le, count, _ in buckets[:6]
            )
            sink.add(
                "histogram-not-cumulative",
                bucket[3],
                _sample_text(group.first),
                f"histogram {name}: bucket counts decrease as le grows ({bucket_counts}); buckets "
                "must be cumulative",
                family=name,
            )
            break
    infinite = [bucket for bucket in buckets if bucket[0] == math.inf]
    canonical = [bucket for bucket in infinite if bucket[1] == "+Inf"]
    if not canonical:
        line = buckets[-1][3] if buckets else group.first[4]
        spelled = f' (found le="{infinite[0][1]}", write it as "+Inf")' if infinite else ""
        count_text = f" and equal _count={_format_value(group.count[2])}" if group.count else ""
        sink.add(
            "histogram-inf-missing",
            line,
            _sample_text(group.first),
            f'histogram {name} has no le="+Inf" bucket{spelled}; it must exist{count_text}',
            family=name,
        )
    if infinite and group.count is not None and infinite[-1][2] != group.count[2]:
        sink.add(
            "histogram-count-mismatch",
            group.count[4],
            _sample_text(group.count),
            f'histogram {name}: the le="+Inf" bucket counts {_format_value(infinite[-1][2])} '
            f"but _count is {_format_value(group.count[2])}",
            family=name,
        )


def _lint_summary(family: Family, sink: ProblemSink) -> None:
    name = family.name
    count_name, sum_name = name + "_count", name + "_sum"
    groups: dict[Labels, _BucketGroup] = {}
    for sample in family.samples:
        sample_name, labels = sample[0], sample[1]
        if sample_name == name:
            key, quantile = _without(labels, "quantile")
            _check_quantile(family, sample, quantile, sink)
            groups.setdefault(key, _BucketGroup(sample))
        elif sample_name in (count_name, sum_name):
            group = groups.setdefault(labels, _BucketGroup(sample))
            if sample_name == count_name:
                group.count = sample
            else:
                group.sum = sample
    incomplete = [group for group in groups.values() if group.count is None or group.sum is None]
    if incomplete:
        first = incomplete[0]
        absent = [
            part
            for part, sample in (("_sum", first.sum), ("_count", first.count))
            if sample is None
        ]
        sink.add(
            "summary-sum-count-missing",
            first.first[4],
            _sample_text(first.first),
            f"summary {name} has {len(incomplete)} series without {' or '.join(absent)}",
            family=name,
        )


def _check_quantile(
    family: Family, sample: SampleRow, quantile: str | None, sink: ProblemSink
) -> None:
    if quantile is None:
        return
    try:
        value = float(quantile)
    except ValueError:
        value = math.nan
    if math.isnan(value) or "_" in quantile:
        sink.add(
            "summary-quantile-invalid",
            sample[4],
            _sample_text(sample),
            f"summary {family.name} on line {sample[4]} has quantile={quantile!r}, which is "
            "not a number",
            family=family.name,
        )
    elif not 0 <= value <= 1:
        sink.add(
            "summary-quantile-invalid",
            sample[4],
            _sample_text(sample),
            f"summary {family.name} on line {sample[4]} has quantile={quantile}, outside [0, 1]",
            family=family.name,
            severity=Severity.WARNING,
        )


def _lint_counter(family: Family, sink: ProblemSink) -> None:
    if min(map(itemgetter(2), family.samples)) >= 0:
        return
    for sample in family.samples:
        if sample[2] < 0 and not sample[0].endswith("_created"):
            sink.add(
                "counter-negative",
                sample[4],
                _sample_text(sample),
                f"counter {family.name} is {_format_value(sample[2])} on line {sample[4]}",
                family=family.name,
            )
            return
