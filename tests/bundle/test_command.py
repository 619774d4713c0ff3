"""The `lsconform bundle` command: output, exit status, options."""

from __future__ import annotations

import json
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lsconform.bundle.manifest import NO_REDACT_WARNING
from lsconform.cli import main

from . import apicluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[apicluster.ApiCluster]:
    with apicluster.api_cluster(tmp_path / "work") as running:
        yield running


def _manifest(path: Path) -> dict[str, object]:
    with tarfile.open(path) as archive:
        member = next(name for name in archive.getnames() if name.endswith("/manifest.json"))
        stream = archive.extractfile(member)
        assert stream is not None
        document: dict[str, object] = json.load(stream)
        return document


def test_command_writes_bundle(
    cluster: apicluster.ApiCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "support.tar.gz"
    status = main(
        [
            "bundle",
            "--namespace",
            apicluster.NAMESPACE,
            "--kubeconfig",
            str(cluster.kubeconfig),
            str(target),
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0
    assert f"bundle written: {target}" in out
    assert "verification:" in out
    assert "secret-field" in out
    assert NO_REDACT_WARNING not in err
    assert _manifest(target)["redacted"] is True


def test_command_no_redact_warns(
    cluster: apicluster.ApiCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "raw.tar.gz"
    status = main(
        [
            "bundle",
            "-n",
            apicluster.NAMESPACE,
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--no-redact",
            str(target),
        ]
    )
    _, err = capsys.readouterr()
    assert status == 0
    assert "WARNING: this bundle was written with --no-redact" in " ".join(err.split())
    assert _manifest(target)["warning"] == NO_REDACT_WARNING


def test_command_zip_into_folder(
    cluster: apicluster.ApiCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "bundle",
            "-n",
            apicluster.NAMESPACE,
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--bundle-format",
            "zip",
            str(tmp_path),
        ]
    )
    assert status == 0
    written = list(tmp_path.glob("lsconform-bundle-langsmith-*.zip"))
    assert len(written) == 1
    assert zipfile.is_zipfile(written[0])


def test_command_patterns_file(
    cluster: apicluster.ApiCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patterns = tmp_path / "patterns.txt"
    patterns.write_text("# internal hosts\nhost::langsmith-redis(?=:6379)\n")
    target = tmp_path / "b.tar.gz"
    status = main(
        [
            "bundle",
            "-n",
            apicluster.NAMESPACE,
            "--kubeconfig",
            str(cluster.kubeconfig),
            "--redact-patterns-file",
            str(patterns),
            str(target),
        ]
    )
    out, _ = capsys.readouterr()
    assert status == 0
    assert "custom:host 1" in out


def test_command_bad_pattern(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bundle", "-n", "langsmith", "--redact-pattern", "broken::(", str(tmp_path)])
    _, err = capsys.readouterr()
    assert status == 2
    assert "invalid redaction pattern 'broken::('" in err


def test_command_missing_kubeconfig(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "kubeconfig"
    status = main(["bundle", "-n", "langsmith", "--kubeconfig", str(missing), str(tmp_path)])
    _, err = capsys.readouterr()
    assert status == 2
    assert "the kubeconfig file does not exist" in err
    assert list(tmp_path.iterdir()) == []


def test_command_rejects_bad_size(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bundle", "-n", "langsmith", "--max-file-size", "0"])
    assert exit_info.value.code == 2
    assert "invalid number '0': must be at least 1" in capsys.readouterr().err
