"""Support bundles: one redacted archive with everything LangSmith support requests.

`write_bundle(client, namespace_or_release, path, ...)` collects, redacts, writes and verifies a
bundle and returns a `BundleSummary`. The layout of the archive is documented in
docs/support-bundle.md.
"""

from lsconform.bundle.collect import DEFAULT_CONCURRENCY, DEFAULT_MAX_FILE_BYTES
from lsconform.bundle.manifest import NO_REDACT_WARNING
from lsconform.bundle.redact import Pattern, Redactor, load_patterns, parse_pattern
from lsconform.bundle.writer import (
    DEFAULT_MAX_TOTAL_BYTES,
    BundleLeakError,
    BundleSummary,
    write_bundle,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_TOTAL_BYTES",
    "NO_REDACT_WARNING",
    "BundleLeakError",
    "BundleSummary",
    "Pattern",
    "Redactor",
    "load_patterns",
    "parse_pattern",
    "write_bundle",
]
