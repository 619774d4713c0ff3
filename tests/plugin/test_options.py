"""Options of the plugin: valid and invalid spellings, conflicts, and runs without a target."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--probe-timeout", "soon"], "--probe-timeout: invalid value 'soon'"),
        (["--probe-timeout", "0"], "--probe-timeout: invalid value '0'; expected seconds above 0"),
        (["--scrape-interval", "-1"], "--scrape-interval: invalid value '-1'"),
        (["--access", "tunnel"], "--access: invalid value 'tunnel'; expected one of auto, proxy"),
        (["--fail-on", "warn,never"], "--fail-on: invalid value 'never'"),
        (["--fail-on", ","], "--fail-on: empty value"),
        (["--namespace", "Lang_Smith"], "--namespace: invalid value 'Lang_Smith'"),
        (["--namespace", "a" * 64], "--namespace: invalid value"),
    ],
)
def test_invalid_option_value(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_namespace_and_sandbox_conflict(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--namespace", "langsmith", "--sandbox")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--namespace and --sandbox conflict*"])


def test_sandbox_fault_needs_sandbox(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--sandbox-fault", "exporter-down")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sandbox-fault needs --sandbox*"])


def test_missing_kubeconfig_file(pytester: pytest.Pytester) -> None:
    missing = pytester.path / "nowhere" / "config"
    result = pytester.runpytest("--namespace", "langsmith", "--kubeconfig", str(missing))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--kubeconfig: file not found: {missing}*"])


def test_checks_skip_without_target(pytester: pytest.Pytester) -> None:
    from lsconform.plugin import CHECKS_DIR

    result = pytester.runpytest_subprocess(str(CHECKS_DIR), "-rs")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*lsconform checks need a target: run `pytest --namespace*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) > 0
    assert "passed" not in outcomes
    assert "failed" not in outcomes


def test_options_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*lsconform: LangSmith telemetry conformance*",
            "*--namespace=NAMESPACE*",
            "*--probe-timeout=PROBE_TIMEOUT*",
            "*--sandbox-fault=SANDBOX_FAULT*",
        ]
    )


def test_area_markers_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    for area in ("release", "metrics", "logs", "traces"):
        result.stdout.fnmatch_lines([f"@pytest.mark.{area}: lsconform {area} checks"])
