"""`lsconform report diff` and `lsconform report show` on saved report.json files."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lsconform.cli import main
from lsconform.report.json_report import build_report
from lsconform.results import Area, CheckResult, Status
from lsconform.settings import Settings

RELEASE = SimpleNamespace(
    name="langsmith",
    namespace="langsmith",
    revision=4,
    status="deployed",
    chart_name="langsmith",
    chart_version="0.17.0",
    app_version="0.17.12",
    fullname="langsmith",
    source="secret",
    components=[],
)


def check(status: Status, pod: str, missing: list[str] | None = None) -> CheckResult:
    return CheckResult(
        check_id="metrics.families",
        area=Area.METRICS,
        component="backend",
        target=f"backend/{pod}:1984/metrics",
        status=status,
        summary="" if status is Status.PASS else "langsmith_http_requests_total is missing",
        remedy="" if status is Status.PASS else "upgrade the backend image",
        evidence={"missing": missing or []},
    )


def save(path: Path, results: list[CheckResult], **extra: Any) -> Path:
    document = build_report(
        release=RELEASE,
        results=results,
        settings=Settings(namespace="langsmith"),
        duration=4.2,
        discovery_problem=None,
    )
    document.update(extra)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_diff_lists_regressions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Pod names differ between the runs, as after a rollout; the targets still match.
    old = save(tmp_path / "old.json", [check(Status.PASS, "langsmith-backend-5f7c9-xk2vq")])
    new = save(
        tmp_path / "new.json",
        [check(Status.FAIL, "langsmith-backend-6d8f4-bz4wq", ["langsmith_http_requests_total"])],
    )
    status = main(["report", "diff", str(old), str(new)])
    output = capsys.readouterr().out
    assert status == 1
    assert f"2 regressions from {old} to {new}:" in output
    assert "REGRESSION check metrics.families backend/langsmith-backend-*:1984/metrics" in output
    assert "pass -> fail" in output
    assert "metric family langsmith_http_requests_total disappeared" in output


def test_diff_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = save(tmp_path / "old.json", [check(Status.PASS, "langsmith-backend-5f7c9-xk2vq")])
    new = save(tmp_path / "new.json", [check(Status.FAIL, "langsmith-backend-5f7c9-xk2vq")])
    status = main(["report", "diff", "-o", "json", str(old), str(new)])
    listed = json.loads(capsys.readouterr().out)
    assert status == 1
    assert [item["kind"] for item in listed] == ["check"]
    assert listed[0]["after"] == "fail"


def test_diff_without_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = save(tmp_path / "old.json", [check(Status.FAIL, "langsmith-backend-5f7c9-xk2vq")])
    new = save(tmp_path / "new.json", [check(Status.PASS, "langsmith-backend-5f7c9-xk2vq")])
    status = main(["report", "diff", str(old), str(new)])
    assert status == 0
    assert capsys.readouterr().out.strip() == f"No regression from {old} to {new}."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read report"),
        ("{not json", "cannot read report"),
        (b"\xff\xfe\x00binary", "cannot read report"),
        ('{"results": []}', "is not an lsconform report.json"),
        ('{"schema_version": "2.0", "results": []}', "this lsconform reads 1.x"),
        ('{"schema_version": "1.0", "results": [{"status": "fail"}]}', "invalid report"),
    ],
)
def test_unreadable_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any, message: str
) -> None:
    good = save(tmp_path / "good.json", [check(Status.PASS, "langsmith-backend-5f7c9-xk2vq")])
    bad = tmp_path / "bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content is not None:
        bad.write_text(content, encoding="utf-8")
    for argv in (["diff", str(good), str(bad)], ["show", str(bad)]):
        assert main(["report", *argv]) == 2
        error = capsys.readouterr().err
        assert message in error, error


def test_show_renders_saved_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    regression = {
        "kind": "check",
        "check_id": "metrics.families",
        "target": "backend/langsmith-backend-*:1984/metrics",
        "before": "pass",
        "after": "fail",
        "detail": "langsmith_http_requests_total is missing",
    }
    saved = save(
        tmp_path / "report.json",
        [check(Status.FAIL, "langsmith-backend-5f7c9-xk2vq"), check(Status.PASS, "other-0")],
        regressions=[regression],
    )
    status = main(["report", "show", "--color=never", "--width=120", str(saved)])
    output = capsys.readouterr().out
    assert status == 0
    assert "lsconform health report" in output
    assert "Release langsmith in namespace langsmith · revision 4 (deployed)" in output
    assert "chart langsmith-0.17.0" in output
    assert "FAIL  metrics.families backend/langsmith-backend-5f7c9-xk2vq:1984/metrics" in output
    assert "fix: upgrade the backend image" in output
    assert "1 fail, 1 pass in 4.2 s" in output
    assert "1 regressions from the baseline" in output
    assert "\x1b[" not in output


def test_show_report_without_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = build_report(
        release=None,
        results=[],
        settings=Settings(namespace="langsmith"),
        duration=0.5,
        discovery_problem="no LangSmith release in namespace langsmith",
    )
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(document), encoding="utf-8")
    assert main(["report", "show", "--color=never", str(saved)]) == 0
    output = capsys.readouterr().out
    assert "No LangSmith release: no LangSmith release in namespace langsmith" in output
