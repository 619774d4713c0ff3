"""JUnit XML from `--junitxml` carries each check's id, component and remedy as properties."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.report.conftest import LARGEST_RUN, SuiteRuns

# The sandbox runs are shared through a session fixture: keep these tests on one xdist worker
# (`--dist loadgroup`) so that the runs happen once.
pytestmark = pytest.mark.xdist_group("report-suite-runs")


def properties(testcase: ET.Element) -> dict[str, str]:
    return {str(prop.get("name")): str(prop.get("value")) for prop in testcase.iter("property")}


def test_junit_has_check_properties(suite_runs: SuiteRuns) -> None:
    run = suite_runs.get(LARGEST_RUN)
    tree = ET.parse(run.junit_xml)  # noqa: S314 (the XML is this test's own run output)
    testcases = list(tree.getroot().iter("testcase"))
    failed = [case for case in testcases if case.find("failure") is not None]
    assert failed, run.output[-3000:]

    for case in failed:
        found = properties(case)
        assert found.get("check_id"), case.attrib
        assert found.get("component"), case.attrib
        assert found.get("remedy"), case.attrib

    # A warning-severity failure does not fail its test, so compare with the status property.
    document = run.report()
    failing_ids = {r["check_id"] for r in document["results"] if r["status"] == "fail"}
    assert {properties(case)["check_id"] for case in failed} <= failing_ids
    marked_failing = {
        properties(case)["check_id"]
        for case in testcases
        if properties(case).get("status") == "fail"
    }
    assert marked_failing == failing_ids
    with_check = [case for case in testcases if "check_id" in properties(case)]
    assert len(with_check) == len(document["results"])
