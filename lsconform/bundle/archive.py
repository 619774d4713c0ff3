"""Writing the bundle archive: tar.gz or zip, byte-for-byte reproducible.

Given the same files and the same timestamp, both writers produce identical bytes: members are
sorted by path, owner and group are 0 with empty names, modes are fixed, and every timestamp
(member times and the gzip header) is the bundle's creation time. The archive is written to a
temporary file beside the target and renamed into place, so a failed run never leaves a
half-written archive under the final name.
"""

from __future__ import annotations

import enum
import gzip
import io
import os
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

FILE_MODE = 0o644
DIR_MODE = 0o755
# The zip format cannot store dates before 1980-01-01.
ZIP_EPOCH = 315532800


class ArchiveFormat(str, enum.Enum):
    """Container format of a bundle."""

    TAR_GZ = "tar.gz"
    ZIP = "zip"

    @property
    def suffix(self) -> str:
        """The file name suffix, with its leading dot."""
        return f".{self.value}"


def _directories(paths: Iterable[str]) -> list[str]:
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            found.add("/".join(parts[:depth]))
    return sorted(found)


def _tar_bytes(root: str, files: dict[str, bytes], mtime: int) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in _directories(f"{root}/{path}" for path in files):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, DIR_MODE, mtime
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size, info.mode, info.mtime = len(files[path]), FILE_MODE, mtime
            tar.addfile(info, io.BytesIO(files[path]))
    compressed = io.BytesIO()
    # filename="" and a fixed mtime keep the gzip header free of run-specific bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=mtime) as stream:
        stream.write(raw.getvalue())
    return compressed.getvalue()


def _zip_bytes(root: str, files: dict[str, bytes], mtime: int) -> bytes:
    date_time = time.gmtime(max(mtime, ZIP_EPOCH))[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for directory in _directories(f"{root}/{path}" for path in files):
            info = zipfile.ZipInfo(f"{directory}/", date_time=date_time)
            info.external_attr = (0o040000 | DIR_MODE) << 16
            archive.writestr(info, b"")
        for path in sorted(files):
            info = zipfile.ZipInfo(f"{root}/{path}", date_time=date_time)
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path])
    return buffer.getvalue()


def archive_bytes(root: str, files: dict[str, bytes], fmt: ArchiveFormat, mtime: int) -> bytes:
    """Return the archive holding `files` (relative paths) under the top folder `root`."""
    if fmt is ArchiveFormat.ZIP:
        return _zip_bytes(root, files, mtime)
    return _tar_bytes(root, files, mtime)


def write_archive(
    target: Path, root: str, files: dict[str, bytes], fmt: ArchiveFormat, mtime: int
) -> int:
    """Write the archive to `target` atomically and return its size in bytes."""
    data = archive_bytes(root, files, fmt, mtime)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".bundle-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        # A bundle may hold sensitive operational data even when redacted: owner-only access.
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(data)


def read_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield `(member name, content)` for every regular file in a tar.gz or zip bundle."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, archive.read(info)
        return
    with tarfile.open(path, mode="r:*") as tar:
        for member in tar:
            if member.isfile():
                stream = tar.extractfile(member)
                if stream is not None:
                    yield member.name, stream.read()
