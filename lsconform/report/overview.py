"""Views of a report.json document shared by the HTML and Markdown reports.

Both renderers start from the document that `json_report.build_report` returns (or a saved
report.json), so a saved report renders exactly like a fresh one. The helpers here are the
shared views: the status matrix of components by areas, the results that need attention in the order
a reader should see them, the skip reasons and the verdict line.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

# Most serious first: the order of the matrix cells' colours and of the problem list.
STATUS_ORDER = ("fail", "error", "warn", "skip", "pass")
AREAS = ("release", "metrics", "logs", "traces")
PROBLEM_STATUSES = ("fail", "error", "warn")


@dataclass(frozen=True)
class Cell:
    """One matrix cell: the worst status of a component's results in one area, with counts."""

    status: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def label(self) -> str:
        """`pass`, or the worst status with how many of the cell's results have it (`fail 1/3`)."""
        if self.status == "pass":
            return "pass"
        return f"{self.status} {self.counts[self.status]}/{self.total}"


@dataclass(frozen=True)
class Matrix:
    """Status by component (rows) and area (columns); a missing cell means no result there."""

    components: list[str]
    areas: list[str]
    cells: dict[tuple[str, str], Cell]


def results_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the document's result records, skipping entries that are not mappings."""
    return [record for record in document.get("results") or [] if isinstance(record, dict)]


def worst(statuses: list[str]) -> str:
    """Return the most serious status in `statuses` (`pass` when empty)."""
    for status in STATUS_ORDER:
        if status in statuses:
            return status
    return "pass"


def build_matrix(results: list[dict[str, Any]]) -> Matrix:
    """Group results by component and area into the overview matrix."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for record in results:
        key = (str(record.get("component") or "-"), str(record.get("area", "")))
        grouped.setdefault(key, []).append(str(record.get("status", "")))
    present = {area for _, area in grouped}
    areas = [area for area in AREAS if area in present]
    areas += sorted(present - set(AREAS))
    cells = {
        key: Cell(worst(statuses), dict(Counter(statuses))) for key, statuses in grouped.items()
    }
    components = sorted({component for component, _ in grouped})
    return Matrix(components, areas, cells)


def problems(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return fail, error and warn results, most serious first, then in report order."""
    found = [r for r in results if r.get("status") in PROBLEM_STATUSES]
    return sorted(found, key=lambda r: PROBLEM_STATUSES.index(r["status"]))


def skip_reasons(results: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Return each distinct skip reason with its count, most frequent first."""
    reasons = Counter(str(r.get("summary", "")) for r in results if r.get("status") == "skip")
    return sorted(reasons.items(), key=lambda item: (-item[1], item[0]))


def counts(document: dict[str, Any]) -> dict[str, int]:
    """Return the number of results per status, counted from the records themselves."""
    found = Counter(str(r.get("status", "")) for r in results_of(document))
    return {status: found.get(status, 0) for status in ("pass", "warn", "fail", "error", "skip")}


def verdict(document: dict[str, Any]) -> str:
    """Return the headline: the worst status that occurred, as one upper-case word."""
    by_status = counts(document)
    if document.get("regressions"):
        return "REGRESSED"
    if by_status["fail"]:
        return "FAILED"
    if by_status["error"]:
        return "UNDECIDED"
    if by_status["warn"]:
        return "WARNINGS"
    if document.get("release") is None:
        return "NO RELEASE"
    return "HEALTHY"


def count_line(document: dict[str, Any]) -> str:
    """Return `3 fail, 1 error, 200 pass` with the statuses that occurred, most serious first."""
    by_status = counts(document)
    parts = [f"{by_status[s]} {s}" for s in STATUS_ORDER if by_status.get(s)]
    return ", ".join(parts) or "no results"


def release_line(document: dict[str, Any]) -> str:
    """Describe the release in one line, or give the reason there is none."""
    facts = document.get("release")
    if not isinstance(facts, dict):
        return f"No LangSmith release: {document.get('discovery_problem') or 'not discovered'}"
    chart = f"{facts.get('chart_name', 'langsmith')}-{facts.get('chart_version', '?')}"
    return (
        f"Release {facts.get('name', '?')} in namespace {facts.get('namespace', '?')}, "
        f"revision {facts.get('revision', '?')} ({facts.get('status', '?')}), chart {chart}, "
        f"app {facts.get('app_version', '?')}"
    )


def slowest(results: list[dict[str, Any]], limit: int = 10) -> list[dict[str, Any]]:
    """Return the `limit` results that took longest."""
    return sorted(results, key=lambda r: -float(r.get("duration") or 0.0))[:limit]


def time_by_area(results: list[dict[str, Any]]) -> list[tuple[str, float, int]]:
    """Return (area, seconds, number of results) per area, in the matrix's area order."""
    seconds: dict[str, float] = {}
    numbers: Counter[str] = Counter()
    for record in results:
        area = str(record.get("area", ""))
        seconds[area] = seconds.get(area, 0.0) + float(record.get("duration") or 0.0)
        numbers[area] += 1
    order = [a for a in AREAS if a in seconds] + sorted(set(seconds) - set(AREAS))
    return [(area, seconds[area], numbers[area]) for area in order]


def evidence_text(value: Any) -> str:
    """Render one evidence value as text: a string as it is, a list of strings one per line,
    anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        return repr(value)
