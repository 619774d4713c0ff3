"""report.md: failures first, escaped, and far below GitHub's step summary limit."""

from __future__ import annotations

import pytest

from lsconform.report.json_report import build_report
from lsconform.report.markdown import MAX_MARKDOWN_BYTES, escape_cell, render_markdown
from lsconform.results import Area, CheckResult, Status
from lsconform.settings import Settings
from tests.report.conftest import LARGEST_RUN, RUNS, SuiteRuns

# The sandbox runs are shared through a session fixture: keep these tests on one xdist worker
# (`--dist loadgroup`) so that the runs happen once.
pytestmark = pytest.mark.xdist_group("report-suite-runs")

# The GitHub Actions runner rejects a step summary above 1024 KiB.
GITHUB_STEP_SUMMARY_LIMIT = 1024 * 1024


def failing(index: int, summary: str = "port 1984 refuses connections") -> CheckResult:
    return CheckResult(
        check_id="metrics.reachable",
        area=Area.METRICS,
        component=f"component-{index % 7}",
        target=f"backend/langsmith-backend-{index:05d}:1984/metrics",
        status=Status.FAIL,
        summary=summary,
        remedy="check that the backend listens on 1984 " + "and more " * 40,
    )


def document_of(results: list[CheckResult]) -> dict[str, object]:
    return build_report(
        release=None,
        results=results,
        settings=Settings(namespace="langsmith"),
        duration=3.0,
        discovery_problem=None,
    )


def test_markdown_of_every_run_fits(suite_runs: SuiteRuns) -> None:
    for name in sorted(RUNS):
        path = suite_runs.get(name).report_dir / "report.md"
        size = path.stat().st_size
        assert size <= MAX_MARKDOWN_BYTES, (name, size)
        assert size < GITHUB_STEP_SUMMARY_LIMIT


def test_largest_run_lists_failures_first(suite_runs: SuiteRuns) -> None:
    run = suite_runs.get(LARGEST_RUN)
    text = (run.report_dir / "report.md").read_text(encoding="utf-8")
    document = run.report()
    failures = [r for r in document["results"] if r["status"] == "fail"]
    assert text.startswith("## lsconform: FAILED\n")
    assert text.index("### Needs attention") < text.index("### Status by component and area")
    table = text[text.index("### Needs attention") : text.index("### Status by component")]
    first_rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
    assert all("fail" in row for row in first_rows[: len(failures)])
    for record in failures:
        assert escape_cell(record["target"]) in table, record["target"]


def test_markdown_caps_huge_report() -> None:
    results = [failing(index) for index in range(5000)]
    text = render_markdown(document_of(results))
    size = len(text.encode("utf-8"))
    assert size <= MAX_MARKDOWN_BYTES
    assert "more results that need attention not shown**" in text
    assert text.rstrip().endswith("</sub>")


def test_markdown_escapes_cells() -> None:
    summary = "a | b <script>alert(1)</script> `code` [link](http://example.invalid)\nnext"
    text = render_markdown(document_of([failing(1, summary)]))
    row = next(line for line in text.splitlines() if "alert" in line)
    assert "<script>" not in text
    assert "a \\| b \\<script\\>alert(1)\\</script\\>" in row
    assert "\\[link\\](http://example.invalid)" in row
    assert row.count(" | ") == 4  # five cells, the escaped pipe does not split one


def test_markdown_of_healthy_run_says_so() -> None:
    passing = failing(1)
    passing.status = Status.PASS
    text = render_markdown(document_of([passing]))
    assert "No failures, errors or warnings." in text
    assert "| component-1 | ✅ pass |" in text


def test_markdown_lists_regressions() -> None:
    document = document_of([failing(1)])
    document["regressions"] = [
        {
            "kind": "check",
            "check_id": "metrics.reachable",
            "target": "backend/langsmith-backend-*:1984/metrics",
            "before": "pass",
            "after": "fail",
            "detail": "port 1984 refuses connections",
        }
    ]
    text = render_markdown(document)
    assert text.startswith("## lsconform: REGRESSED\n")
    assert "### Regressions against the baseline (1)" in text
    assert "| check | metrics.reachable | backend/langsmith-backend-\\*:1984/metrics |" in text
