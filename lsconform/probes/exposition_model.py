"""The records the exposition parser produces: formats, families, samples, problems, results.

A sample is a plain tuple, not an object, because a large scrape holds hundreds of thousands of
them and a tuple costs a fraction of the memory and time of an instance:

    (name, labels, value, timestamp, line)

`name` is the sample's metric name (`http_requests_total`, `latency_seconds_bucket`), `labels`
a tuple of `(label name, label value)` pairs sorted by label name with escapes already decoded,
`value` a float, `timestamp` the sample's own timestamp or None (milliseconds since the epoch as
an int in the Prometheus text format, seconds as a float in OpenMetrics), `line` the 1-based line
number in the exposition.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]
SampleRow = tuple[str, Labels, float, "int | float | None", int]

# Indexes into a SampleRow, for readers that prefer names to positions.
SAMPLE_NAME, SAMPLE_LABELS, SAMPLE_VALUE, SAMPLE_TIMESTAMP, SAMPLE_LINE = range(5)

# A quoted offending line is cut to this many characters: enough to show a label set, short
# enough that a report stays readable when a hostile line is megabytes long.
MAX_PROBLEM_TEXT = 200

# At most this many problems of one rule are kept with their lines; the rest are only counted in
# `Exposition.problem_counts`, so a 50 MB payload with an error on every line stays small.
MAX_PROBLEMS_PER_RULE = 25


class ExpositionFormat(str, enum.Enum):
    """A text exposition format the parser reads."""

    PROMETHEUS_TEXT = "prometheus-text-0.0.4"
    OPENMETRICS = "openmetrics-text-1.0.0"


class Severity(str, enum.Enum):
    """How bad a problem is.

    `error`: the payload breaks the format, and a strict parser (promtool, Prometheus for most
    rules) rejects the whole scrape. `warning`: the payload parses, but its data is wrong or will
    be misread (buckets that are not cumulative, duplicate series). `convention`: a naming or
    metadata convention that `promtool check metrics` reports.
    """

    ERROR = "error"
    WARNING = "warning"
    CONVENTION = "convention"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of the parser or the linter, tied to a line where there is one.

    `line` is 1-based, or 0 when the problem belongs to the whole payload (its Content-Type, a
    missing `# EOF`). `text` is the offending line, cut to MAX_PROBLEM_TEXT characters. `cause`
    names what is wrong with the values involved, `fix` what to change.
    """

    rule: str
    severity: Severity
    line: int
    text: str
    cause: str
    fix: str
    family: str | None = None

    @property
    def message(self) -> str:
        """The cause and the fix as one message."""
        return f"{self.cause}. Fix: {self.fix}"

    def to_dict(self) -> dict[str, object]:
        """Return the problem as a JSON-ready mapping."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "line": self.line,
            "text": self.text,
            "family": self.family,
            "cause": self.cause,
            "fix": self.fix,
        }


@dataclass(slots=True, eq=False)
class Family:
    """A metric family: its metadata lines and its samples.

    `type` is the declared type, or `untyped` (Prometheus text) or `unknown` (OpenMetrics) when
    no TYPE line names the family. `help` and `unit` are None when their line is absent. The
    `*_line` fields are the 1-based lines of the metadata, 0 when absent.
    """

    name: str
    type: str
    help: str | None = None
    unit: str | None = None
    samples: list[SampleRow] = field(default_factory=list)
    first_line: int = 0
    help_line: int = 0
    type_line: int = 0
    unit_line: int = 0
    series_count: int = 0

    @property
    def sample_count(self) -> int:
        """Number of samples in the family, duplicates included."""
        return len(self.samples)


@dataclass(slots=True, eq=False)
class Exposition:
    """The result of parsing and linting one exposition.

    `families` maps each family name to its Family in the order the families first appear.
    `byte_count` counts the input bytes, `line_count` its lines, `sample_count` every sample line
    that parsed, `series_count` the distinct series among them. `problems` keeps up to
    MAX_PROBLEMS_PER_RULE problems of each rule in line order; `problem_counts` (by rule) and
    `severity_counts` count all of them.
    """

    format: ExpositionFormat
    content_type: str | None
    families: dict[str, Family]
    problems: list[Problem]
    problem_counts: dict[str, int]
    severity_counts: dict[Severity, int]
    byte_count: int
    line_count: int
    sample_count: int
    series_count: int

    @property
    def family_count(self) -> int:
        """Number of families that have at least one sample."""
        return sum(1 for family in self.families.values() if family.samples)

    @property
    def error_count(self) -> int:
        """Number of problems of severity error, including those not kept in `problems`."""
        return self.severity_counts.get(Severity.ERROR, 0)

    @property
    def is_valid(self) -> bool:
        """Whether no problem of severity error was found, so a strict scraper accepts it."""
        return self.error_count == 0
