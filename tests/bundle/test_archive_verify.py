"""Archive writer (tar.gz, zip), reading back, and the verification scan."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lsconform.bundle.archive import ArchiveFormat, archive_bytes, read_members, write_archive
from lsconform.bundle.verify import scan_members, verify_bundle

FILES = {
    "manifest.json": b'{"files": []}\n',
    "logs/langsmith-backend-1_backend_current.log": b"2026-12-04T20:00:00Z stdout F ok\n",
    "resources/pods.yaml": b"kind: List\n",
}
MTIME = 1_796_500_000


@pytest.mark.parametrize("fmt", list(ArchiveFormat))
def test_archive_deterministic(fmt: ArchiveFormat) -> None:
    first = archive_bytes("bundle", FILES, fmt, MTIME)
    second = archive_bytes("bundle", dict(reversed(list(FILES.items()))), fmt, MTIME)
    assert first == second


@pytest.mark.parametrize("fmt", list(ArchiveFormat))
def test_archive_round_trip(tmp_path: Path, fmt: ArchiveFormat) -> None:
    target = tmp_path / f"bundle{fmt.suffix}"
    size = write_archive(target, "bundle", FILES, fmt, MTIME)
    assert target.stat().st_size == size
    assert target.stat().st_mode & 0o777 == 0o600
    members = dict(read_members(target))
    assert members == {f"bundle/{path}": content for path, content in FILES.items()}
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


@pytest.mark.skipif(shutil.which("tar") is None, reason="the tar command is not installed")
def test_tar_lists_archive(tmp_path: Path) -> None:
    target = tmp_path / "bundle.tar.gz"
    write_archive(target, "bundle", FILES, ArchiveFormat.TAR_GZ, MTIME)
    listing = subprocess.run(
        ["tar", "-tzf", str(target)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "bundle/resources/pods.yaml" in listing
    assert "bundle/logs/" in listing


def test_zip_lists_archive(tmp_path: Path) -> None:
    target = tmp_path / "bundle.zip"
    write_archive(target, "bundle", FILES, ArchiveFormat.ZIP, MTIME)
    if shutil.which("unzip"):
        listing = subprocess.run(
            ["unzip", "-l", str(target)], capture_output=True, text=True, check=True
        ).stdout
    else:
        # Python's own zipfile CLI lists the same central directory that `unzip -l` reads.
        listing = subprocess.run(
            ["python3", "-m", "zipfile", "-l", str(target)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert "bundle/resources/pods.yaml" in listing


SECRET = "CANARY-verify-0123456789"


@pytest.mark.parametrize(
    ("content", "form"),
    [
        (f"plain {SECRET} text".encode(), "plain"),
        (json.dumps({"v": f'say "{SECRET}"\n'}).encode(), "plain"),
        (json.dumps(json.dumps({"k": SECRET + '"'})).encode(), "plain"),
        (b"data: " + base64.b64encode(b"x" + SECRET.encode() + b"y"), "base64"),
        (b"data: " + base64.b64encode(b"xy" + SECRET.encode()), "base64"),
    ],
)
def test_scan_finds_forms(content: bytes, form: str) -> None:
    result = scan_members([("bundle/file", content)], [SECRET])
    assert not result.clean
    assert result.survivors[0].form == form
    assert SECRET not in result.describe()


def test_scan_encoded_forms() -> None:
    secret = 'p@ss/w"rd&<more>'
    members = [
        ("a", json.dumps(secret).encode()),
        ("b", b"url=" + b"p%40ss%2Fw%22rd%26%3Cmore%3E"),
        ("c", b"<td>p@ss/w&quot;rd&amp;&lt;more&gt;</td>"),
    ]
    result = scan_members(members, [secret])
    assert sorted(survivor.member for survivor in result.survivors) == ["a", "b", "c"]


def test_scan_clean(tmp_path: Path) -> None:
    target = tmp_path / "bundle.zip"
    write_archive(target, "bundle", FILES, ArchiveFormat.ZIP, MTIME)
    result = verify_bundle(target, [SECRET])
    assert result.clean
    assert result.members == len(FILES)
    assert result.values_checked == 1


def test_verify_written_leak(tmp_path: Path) -> None:
    target = tmp_path / "bundle.tar.gz"
    leaky = {**FILES, "logs/x.log": f"token {SECRET}".encode()}
    write_archive(target, "bundle", leaky, ArchiveFormat.TAR_GZ, MTIME)
    result = verify_bundle(target, [SECRET, "another-secret-value"])
    assert [survivor.member for survivor in result.survivors] == ["bundle/logs/x.log"]
