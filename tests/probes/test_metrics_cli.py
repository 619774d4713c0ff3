"""`lsconform metrics lint`: output and exit status, through the real command-line entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from lsconform.cli import main

CORPUS = Path(__file__).parent / "corpus"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def lint(*args: str) -> int:
    return main(["metrics", "lint", *args])


def test_clean_file_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "good-histogram.prom"
    assert lint(str(path)) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith(f"16 lines, {path.stat().st_size} bytes")
    assert "no problems; prometheus-text-0.0.4, 1 families, 14 samples, 14 series" in out


def test_error_exits_one_with_line_and_fix(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "c23-family-declared-twice.prom"
    assert lint(str(path)) == 1
    out = capsys.readouterr().out
    assert f"{path}:4: error: family-redeclared: family ls_queue_depth is declared twice" in out
    assert "    | # HELP ls_queue_depth Jobs waiting\n" in out
    assert "    fix: write one HELP and one TYPE line per family" in out
    assert "1 problem (1 error)" in out


def test_warnings_exit_three(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(str(CORPUS / "c26-buckets-not-cumulative.prom")) == 3
    out = capsys.readouterr().out
    assert "warning: histogram-not-cumulative" in out
    assert "1 problem (1 warning)" in out


def test_conventions_exit_three(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(str(CORPUS / "conv-help-missing.prom")) == 3
    out = capsys.readouterr().out
    assert "convention: help-missing: family ls_workers has no HELP text" in out
    assert "2 problems (2 convention)" in out


def test_missing_file_exits_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "absent.prom"
    assert lint(str(missing)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"cannot read {missing}: No such file or directory" in captured.err


def test_reads_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    body = (CORPUS / "c25-unescaped-quote.prom").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(body)))
    assert lint("-") == 1
    out = capsys.readouterr().out
    assert "<stdin>:3: error: label-value-unescaped" in out


def test_stdin_is_the_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"# HELP up x\nup 1\n")))
    assert lint() == 0
    assert "<stdin>: no problems" in capsys.readouterr().out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(str(CORPUS / "c26-inf-bucket-missing.prom"), "-o", "json") == 3
    report = json.loads(capsys.readouterr().out)
    assert report["exit_status"] == 3
    assert report["valid"] is True
    assert report["format"] == "prometheus-text-0.0.4"
    assert report["problem_counts"] == {"histogram-inf-missing": 1}
    [problem] = report["problems"]
    assert problem["rule"] == "histogram-inf-missing"
    assert problem["severity"] == "warning"
    assert problem["line"] == 5
    assert problem["family"] == "ls_request_seconds"
    assert problem["title"] == 'histogram has no le="+Inf" bucket'
    assert report["stats"]["samples"] == 5


def test_content_type_selects_openmetrics(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CORPUS / "good-openmetrics.om")
    assert lint(path, "--content-type", OPENMETRICS) == 0
    assert "openmetrics-text-1.0.0" in capsys.readouterr().out
    assert lint(path) == 1


def test_blank_content_type_is_a_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(str(CORPUS / "c27-no-content-type.prom"), "--content-type", "") == 3
    out = capsys.readouterr().out
    assert "warning: content-type-missing: the response has no Content-Type" in out


def test_capped_problems_are_counted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "many.prom"
    path.write_text("# HELP x h\n# TYPE x gauge\n" + "x bad\n" * 30)
    assert lint(str(path)) == 1
    out = capsys.readouterr().out
    assert f"{path}: 5 more value-invalid problems not shown" in out
    assert "30 problems (30 error)" in out


def test_metrics_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics"]) == 2
    assert "lint" in capsys.readouterr().err


def test_invalid_output_format_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        lint("-o", "yaml")
    assert exit_info.value.code == 2
    assert "invalid choice: 'yaml'" in capsys.readouterr().err
