"""The bundle's `manifest.json`: every file with its size and origin, and what went wrong.

The manifest lists every other file of the bundle, since it cannot list its own size and
digest. It also records the redactions counted per file and category, the artefacts that could
not be collected with the error that stopped them, and the size limits that truncated a file.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

MANIFEST_PATH = "manifest.json"
MANIFEST_FORMAT = "lsconform-support-bundle"
# Incremented when a field is removed or changes meaning; new fields keep the version.
MANIFEST_VERSION = 1

NO_REDACT_WARNING = (
    "WARNING: this bundle was written with --no-redact. It contains secrets, credentials and "
    "user data exactly as the cluster returned them (except Secret values, which are never "
    "collected). Do not share it outside your organisation."
)


@dataclass
class FileEntry:
    """One file of the bundle. Sizes are in bytes; `original_size` is before truncation."""

    path: str
    size: int
    sha256: str
    source: str
    truncated: bool = False
    original_size: int | None = None
    redactions: dict[str, int] = field(default_factory=dict)


@dataclass
class CollectionError:
    """An artefact that could not be collected, or only in part.

    `kind` is a short class name (`forbidden`, `not-found`, `not-served`, `timeout`,
    `too-large`, `http-error`, `error`, ...). `missing_rule` names the RBAC rule when the API
    returned 403.
    """

    artefact: str
    source: str
    kind: str
    message: str
    missing_rule: str | None = None


@dataclass
class Manifest:
    """Everything `manifest.json` records about one bundle."""

    created: str
    lsconform_version: str
    namespace: str
    release: str | None
    redacted: bool
    format: str
    max_file_bytes: int
    max_total_bytes: int
    files: list[FileEntry] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)
    skipped_for_total_size: list[str] = field(default_factory=list)
    known_secret_values: int = 0
    name_like_values: int = 0
    duration_seconds: float = 0.0

    def add_file(
        self,
        path: str,
        content: bytes,
        source: str,
        *,
        original_size: int | None = None,
        redactions: dict[str, int] | None = None,
    ) -> FileEntry:
        """Record a file of the bundle with its final content."""
        entry = FileEntry(
            path=path,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            source=source,
            truncated=original_size is not None and original_size > len(content),
            original_size=original_size,
            redactions=dict(redactions or {}),
        )
        self.files.append(entry)
        return entry

    def redaction_totals(self) -> dict[str, int]:
        """Return the redactions over all files, by category."""
        totals: dict[str, int] = {}
        for entry in self.files:
            for category, count in entry.redactions.items():
                totals[category] = totals.get(category, 0) + count
        return dict(sorted(totals.items()))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document written as `manifest.json`."""
        document: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "created": self.created,
            "lsconform_version": self.lsconform_version,
            "namespace": self.namespace,
            "release": self.release,
            "archive_format": self.format,
            "redacted": self.redacted,
        }
        if not self.redacted:
            document["warning"] = NO_REDACT_WARNING
        document["limits"] = {
            "max_file_bytes": self.max_file_bytes,
            "max_total_bytes": self.max_total_bytes,
        }
        document["duration_seconds"] = round(self.duration_seconds, 3)
        document["redactions"] = {
            "by_category": self.redaction_totals(),
            "known_secret_values": self.known_secret_values,
            "name_like_values_not_searched": self.name_like_values,
        }
        document["files"] = [asdict(entry) for entry in sorted(self.files, key=_path_of)]
        document["errors"] = [asdict(error) for error in self.errors]
        document["skipped_for_total_size"] = sorted(self.skipped_for_total_size)
        return document


def _path_of(entry: FileEntry) -> str:
    return entry.path
