"""report.json validates against the JSON Schema shipped in lsconform/report/schema/.

Real reports come from the sandbox runs in conftest.py: every profile and every fault (grouped).
Hand-built documents cover what those runs cannot produce: no release, and regressions.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lsconform.report.baseline import compare
from lsconform.report.json_report import SCHEMA_VERSION, build_report
from lsconform.results import Area, CheckResult, Status
from lsconform.settings import Settings
from tests.report.conftest import NO_REPORT_FAULTS, RUNS, SuiteRuns

# The sandbox runs are shared through a session fixture: keep these tests on one xdist worker
# (`--dist loadgroup`) so that the runs happen once.
pytestmark = pytest.mark.xdist_group("report-suite-runs")

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "lsconform/report/schema/report.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def problems(validator: jsonschema.Draft202012Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message[:300]}"
        for error in validator.iter_errors(document)
    ]


def test_runs_cover_every_profile_and_fault() -> None:
    from lsconform.sandbox.faults import FAULTS

    profiles = {profile for profile, _ in RUNS.values()}
    faults = [fault for _, group in RUNS.values() for fault in group]
    assert profiles == {
        "default",
        "tracing-off",
        "fullname-override",
        "external-datastores",
        "control-plane",
    }
    assert sorted(set(faults)) == sorted(faults), "a fault appears in two runs"
    assert set(faults) | NO_REPORT_FAULTS == {fault.name for fault in FAULTS}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_sandbox_report_validates(
    suite_runs: SuiteRuns, validator: jsonschema.Draft202012Validator, name: str
) -> None:
    run = suite_runs.get(name)
    document = run.report()
    assert problems(validator, document) == []
    assert document["schema_version"] == SCHEMA_VERSION
    assert dt.datetime.fromisoformat(document["generated_at"]).tzinfo is not None
    profile, faults = RUNS[name]
    assert document["target"]["sandbox"] == {"profile": profile, "faults": list(faults)}
    # Every run has faults, so every run has results that are not a pass.
    statuses = {record["status"] for record in document["results"]}
    assert statuses & {"fail", "error", "warn"}, run.output[-3000:]
    assert run.exit_status in (0, 1), run.output[-3000:]


def result(status: Status, target: str = "backend/pod-a:1984/metrics") -> CheckResult:
    return CheckResult(
        check_id="metrics.reachable",
        area=Area.METRICS,
        component="backend",
        target=target,
        status=status,
        summary="" if status is Status.PASS else "port 1984 refuses connections",
        remedy="" if status is Status.PASS else "check the backend container",
        evidence={"status_code": 503, "lines": ["a" * 900]},
        duration=0.25,
    )


def document_for(results: list[CheckResult], **fields: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "release": None,
        "results": results,
        "settings": Settings(namespace="langsmith"),
        "duration": 1.5,
        "discovery_problem": "no Helm release Secret and no labelled workload in langsmith",
    }
    options.update(fields)
    return build_report(**options)


def test_report_without_release_validates(validator: jsonschema.Draft202012Validator) -> None:
    document = document_for([])
    assert document["release"] is None
    assert problems(validator, document) == []


def test_regressions_validate(validator: jsonschema.Draft202012Validator) -> None:
    before = document_for([result(Status.PASS)])
    after = document_for([result(Status.FAIL)])
    after["regressions"] = [regression.to_dict() for regression in compare(before, after)]
    assert len(after["regressions"]) == 1
    assert problems(validator, after) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["results"][0].update(status="broken"), "results/0/status"),
        (lambda d: d["results"][0].update(remedy=""), "results/0/remedy"),
        (lambda d: d["results"][0].pop("check_id"), "results/0"),
        (lambda d: d.update(schema_version="2.0"), "schema_version"),
        (lambda d: d["summary"].update(fail=-1), "summary/fail"),
        (lambda d: d.update(regressions=[{"kind": "check"}]), "regressions/0"),
        (lambda d: d.update(unexpected=True), ""),
    ],
)
def test_schema_rejects_invalid_document(
    validator: jsonschema.Draft202012Validator, change: Any, where: str
) -> None:
    document = document_for([result(Status.FAIL)])
    assert problems(validator, document) == []
    change(document)
    found = problems(validator, document)
    assert found
    assert any(problem.startswith(f"{where}:") for problem in found), found
