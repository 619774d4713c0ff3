"""report.html: self-contained, escaped, and rendered by a real browser (headless Chromium).

The browser test opens the report of the run with the most faults, keeps a screenshot under
tests/artifacts/ and reads the DOM Chromium built, so it proves what a person would see: the
status matrix and every result that needs attention.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from lsconform.report.html import render_html
from lsconform.report.json_report import build_report
from lsconform.results import Area, CheckResult, Status
from lsconform.settings import Settings
from tests.report.conftest import LARGEST_RUN, SuiteRuns

# The sandbox runs are shared through a session fixture: keep these tests on one xdist worker
# (`--dist loadgroup`) so that the runs happen once.
pytestmark = pytest.mark.xdist_group("report-suite-runs")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "report-html"
INSTALL_SCRIPT = ROOT / "scripts" / "install-system-deps.sh"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class PageParser(HTMLParser):
    """Collect what the tests look for: matrix cells, problem articles, external references."""

    def __init__(self) -> None:
        super().__init__()
        self.matrix_cells: list[dict[str, str]] = []
        self.matrix_rows = 0
        self.problems: list[dict[str, str]] = []
        self.external: list[str] = []
        self.scripts = 0
        self._in_matrix = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "table" and values.get("id") == "status-matrix":
            self._in_matrix = True
        if self._in_matrix and tag == "tr":
            self.matrix_rows += 1
        if self._in_matrix and tag == "td" and "data-status" in values:
            self.matrix_cells.append(values)
        if tag == "article" and "problem" in values.get("class", ""):
            self.problems.append(values)
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            if values.get(name):
                self.external.append(values[name])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_matrix = False


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    return parser


def hostile_result() -> CheckResult:
    return CheckResult(
        check_id="metrics.content_type",
        area=Area.METRICS,
        component="backend<b>",
        target='backend/pod"><script>alert(1)</script>',
        status=Status.FAIL,
        summary="the endpoint answered <html><body onload=alert(2)>",
        remedy="serve text/plain & fix it",
        evidence={"body": "<img src=http://example.invalid/x.png>", "lines": ["</pre><script>"]},
    )


def test_html_escapes_report_text() -> None:
    document = build_report(
        release=None,
        results=[hostile_result()],
        settings=Settings(namespace="langsmith"),
        duration=1.0,
        discovery_problem="<i>none</i>",
    )
    page = render_html(document)
    parsed = parse(page)
    assert parsed.scripts == 0
    assert parsed.external == []
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "serve text/plain &amp; fix it" in page
    assert len(parsed.problems) == 1
    assert parsed.problems[0]["data-target"] == 'backend/pod"><script>alert(1)</script>'


def test_html_without_results_says_so() -> None:
    document = build_report(
        release=None,
        results=[],
        settings=Settings(namespace="langsmith"),
        duration=0.1,
        discovery_problem="no release",
    )
    page = render_html(document)
    assert "No check produced a result." in page
    assert "No LangSmith release: no release" in page


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary, installed through the project's system dependency script if absent."""
    if not Path(CHROMIUM).exists():
        subprocess.run(["bash", str(INSTALL_SCRIPT)], timeout=900, check=False)
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install the Debian package chromium "
            "(scripts/install-system-deps.sh does, as root)"
        )
    return CHROMIUM


def run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_chromium_renders_matrix_and_failures(
    suite_runs: SuiteRuns, chromium: str, tmp_path: Path
) -> None:
    run = suite_runs.get(LARGEST_RUN)
    document: dict[str, Any] = run.report()
    page = run.report_dir / "report.html"
    assert page.is_file(), run.output[-3000:]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(page, ARTIFACTS / "report.html")
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)

    shot = run_chromium(
        chromium,
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1280,3000",
        page.as_uri(),
    )
    assert screenshot.is_file(), shot.stderr[-3000:]
    assert screenshot.stat().st_size > 10_000
    dumped = run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-3000:]
    dom = parse(dumped.stdout)

    components = {record["component"] for record in document["results"]}
    # One header row plus one row per component.
    assert dom.matrix_rows == len(components) + 1
    assert {cell["data-status"] for cell in dom.matrix_cells} >= {"pass", "fail"}
    expected = sorted(
        (record["check_id"], record["target"])
        for record in document["results"]
        if record["status"] in ("fail", "error", "warn")
    )
    shown = sorted((article["data-check-id"], article["data-target"]) for article in dom.problems)
    assert shown == expected
    assert any(status == "fail" for status in (r["status"] for r in document["results"]))
    assert dom.scripts == 0


def test_html_lists_regressions() -> None:
    document = build_report(
        release=None,
        results=[hostile_result()],
        settings=Settings(namespace="langsmith"),
        duration=1.0,
        discovery_problem=None,
    )
    document["regressions"] = [
        {
            "kind": "family",
            "check_id": "metrics.families",
            "target": "backend/langsmith-backend-*:1984/metrics",
            "before": "present",
            "after": "missing",
            "detail": "metric family langsmith_http_requests_total disappeared",
        }
    ]
    page = render_html(document)
    assert '<span class="verdict REGRESSED">REGRESSED</span>' in page
    assert "Regressions against the baseline (1)" in page
    assert "<td>metric family langsmith_http_requests_total disappeared</td>" in page
