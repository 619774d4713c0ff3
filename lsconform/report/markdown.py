"""report.md: a short Markdown report for a CI job summary, failures first.

The GitHub Actions runner rejects a step summary larger than 1024 KiB (its error reads
"$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k"). The report stays
far below that: rendering stops adding rows at `MAX_MARKDOWN_BYTES` and ends the table with the
number of rows left out, so a run with hundreds of failures still gets a summary that renders.
report.html and report.json keep everything.

Text from the report is escaped so that a summary or a target can neither break a table (a `|`
or a line break) nor inject Markdown or HTML into the page.
"""

from __future__ import annotations

import re
from typing import Any

from lsconform.report import overview

# 64 KiB: 1/16 of the runner's step summary limit, which leaves room for whatever else the step
# appends and keeps the summary short enough to read.
MAX_MARKDOWN_BYTES = 64 * 1024
# Room kept back for the lines that count the rows left out and for the closing note.
RESERVED_BYTES = 1024
# A table cell shows at most this many characters of a cause or a fix.
MAX_CELL_CHARACTERS = 300

STATUS_MARK = {
    "fail": "❌ fail",
    "error": "⚠️ error",
    "warn": "🟡 warn",
    "skip": "⏭️ skip",
    "pass": "✅ pass",
}
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")


def escape_cell(text: Any, limit: int = MAX_CELL_CHARACTERS) -> str:
    """Escape `text` for a Markdown table cell: one line, cut to `limit`, no active syntax."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[:limit] + "…"
    value = value.replace("&", "&amp;")
    return _SPECIAL.sub(r"\\\1", value)


class _Budget:
    """Lines of the report, with the number of UTF-8 bytes still available."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.left = limit - RESERVED_BYTES

    def add(self, line: str) -> bool:
        """Append `line` if it fits; return whether it did."""
        size = len(line.encode("utf-8")) + 1
        if size > self.left:
            return False
        self.lines.append(line)
        self.left -= size
        return True

    def add_rows(self, header: list[str], rows: list[str], what: str) -> None:
        """Append a table, stopping at the budget with a line naming the rows left out."""
        if not rows:
            return
        for line in header:
            if not self.add(line):
                self.lines.append(f"{len(rows)} {what} not shown (report size limit).")
                return
        for index, row in enumerate(rows):
            if not self.add(row):
                self.lines.append("")
                self.lines.append(
                    f"**{len(rows) - index} more {what} not shown** (report size limit); "
                    "report.html and report.json list them all."
                )
                return
        self.add("")


def render_markdown(document: dict[str, Any], limit: int = MAX_MARKDOWN_BYTES) -> str:
    """Render a report.json document as Markdown of at most `limit` UTF-8 bytes."""
    results = overview.results_of(document)
    budget = _Budget(limit)
    verdict = overview.verdict(document)
    budget.add(f"## lsconform: {verdict}")
    budget.add("")
    budget.add(
        f"{escape_cell(overview.count_line(document))} in {_seconds(document.get('duration'))}. "
        f"{escape_cell(overview.release_line(document), limit=500)}."
    )
    budget.add("")
    problem = document.get("discovery_problem")
    if problem:
        budget.add(f"**Discovery:** {escape_cell(problem, limit=500)}")
        budget.add("")
    _add_problems(budget, results)
    _add_regressions(budget, document.get("regressions"))
    _add_matrix(budget, results)
    _add_skips(budget, results)
    budget.lines.append(
        "<sub>Full details with evidence: report.html and report.json "
        f"(report schema {escape_cell(document.get('schema_version', '?'))}).</sub>"
    )
    return "\n".join(budget.lines) + "\n"


def _add_problems(budget: _Budget, results: list[dict[str, Any]]) -> None:
    found = overview.problems(results)
    if not found:
        budget.add("No failures, errors or warnings.")
        budget.add("")
        return
    budget.add(f"### Needs attention ({len(found)})")
    budget.add("")
    rows = [
        f"| {STATUS_MARK.get(str(r.get('status')), escape_cell(r.get('status')))} "
        f"| {escape_cell(r.get('check_id', ''))} | {escape_cell(r.get('target', ''))} "
        f"| {escape_cell(r.get('summary', ''))} | {escape_cell(r.get('remedy', ''))} |"
        for r in found
    ]
    header = ["| status | check | target | cause | fix |", "| --- | --- | --- | --- | --- |"]
    budget.add_rows(header, rows, "results that need attention")


def _add_regressions(budget: _Budget, regressions: Any) -> None:
    if not regressions:
        return
    items = [item for item in regressions if isinstance(item, dict)]
    budget.add(f"### Regressions against the baseline ({len(items)})")
    budget.add("")
    rows = [
        "| "
        + " | ".join(
            escape_cell(item.get(key, ""))
            for key in ("kind", "check_id", "target", "before", "after", "detail")
        )
        + " |"
        for item in items
    ]
    header = [
        "| kind | check | target | before | after | detail |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    budget.add_rows(header, rows, "regressions")


def _add_matrix(budget: _Budget, results: list[dict[str, Any]]) -> None:
    if not results:
        return
    matrix = overview.build_matrix(results)
    budget.add("### Status by component and area")
    budget.add("")
    header = [
        "| component | " + " | ".join(matrix.areas) + " |",
        "| --- |" + " :---: |" * len(matrix.areas),
    ]
    rows = []
    for component in matrix.components:
        cells = []
        for area in matrix.areas:
            cell = matrix.cells.get((component, area))
            cells.append("·" if cell is None else _mark(cell))
        rows.append(f"| {escape_cell(component)} | " + " | ".join(cells) + " |")
    budget.add_rows(header, rows, "components")


def _mark(cell: overview.Cell) -> str:
    symbol = STATUS_MARK[cell.status].split(" ", 1)[0] if cell.status in STATUS_MARK else ""
    return f"{symbol} {escape_cell(cell.label)}".strip()


def _add_skips(budget: _Budget, results: list[dict[str, Any]]) -> None:
    reasons = overview.skip_reasons(results)
    if not reasons:
        return
    total = sum(count for _, count in reasons)
    budget.add(f"<details><summary>{total} not applicable (skipped)</summary>")
    budget.add("")
    rows = [f"| {count} | {escape_cell(reason)} |" for reason, count in reasons]
    budget.add_rows(["| results | reason |", "| ---: | --- |"], rows, "skip reasons")
    budget.lines.append("</details>")
    budget.lines.append("")


def _seconds(value: Any) -> str:
    try:
        return f"{float(value):.1f} s"
    except (TypeError, ValueError):
        return "? s"
