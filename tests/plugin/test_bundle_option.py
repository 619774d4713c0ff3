"""--support-bundle on a suite run: the archive holds the run's report and opens with tar."""

from __future__ import annotations

import json
import tarfile

import pytest


def test_suite_run_writes_bundle(pytester: pytest.Pytester) -> None:
    bundle = pytester.path / "bundle.tar.gz"
    result = pytester.runpytest_subprocess(
        "--sandbox",
        "-m",
        "release",
        f"--support-bundle={bundle}",
        f"--report-dir={pytester.path / 'report'}",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"Support bundle: {bundle} (*files*redaction on)"])
    with tarfile.open(bundle) as archive:
        names = archive.getnames()
        manifest_name = next(name for name in names if name.endswith("/manifest.json"))
        manifest = json.load(archive.extractfile(manifest_name))  # type: ignore[arg-type]
        report_name = next(name for name in names if name.endswith("report.json"))
        report = json.load(archive.extractfile(report_name))  # type: ignore[arg-type]
    assert manifest["files"]
    assert report["summary"]["pass"] > 10
    assert {r["check_id"] for r in report["results"]} >= {"release.revision", "release.workload"}
