"""Assembling a support bundle: collect, render, redact, cap, write, verify.

`write_bundle` is the one entry point; the `lsconform bundle` command and the pytest plugin's
`--support-bundle` option both call it. Redaction happens in memory before anything is written.
First every parsed object is redacted field by field, which also teaches the redactor the secret
values it removed. Then every file's text goes through the patterns and the search for known
values. After the archive is written it is read back and scanned for every secret value
the run saw; a bundle in which one survived is deleted and `BundleLeakError` is raised.
"""

from __future__ import annotations

import json
import logging
import platform
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from lsconform import __version__
from lsconform.bundle.archive import ArchiveFormat, write_archive
from lsconform.bundle.collect import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_FILE_BYTES,
    Artefact,
    Collection,
    Collector,
    Progress,
)
from lsconform.bundle.manifest import MANIFEST_PATH, NO_REDACT_WARNING, Manifest
from lsconform.bundle.redact import (
    MIN_KNOWN_SECRET_LENGTH,
    Pattern,
    Redactor,
    is_secret_field,
    parse_pattern,
)
from lsconform.bundle.render import describe_pod, render_events, render_summary, sort_events
from lsconform.bundle.verify import VerificationResult, scan_members, verify_bundle
from lsconform.cluster.client import ClusterClient
from lsconform.constants import LABEL_VERSION
from lsconform.results import CheckResult

logger = logging.getLogger(__name__)

# All files together are cut at this size (bytes, before compression). Files are kept in order
# of priority (resources, Helm, events first; logs last) and the rest is listed in the manifest.
DEFAULT_MAX_TOTAL_BYTES = 512 * 1024 * 1024
WARNING_PATH = "WARNING-NOT-REDACTED.txt"
TRUNCATION_NOTE = "\n[lsconform: cut at the bundle's per-file cap of {cap} bytes]\n"


class BundleLeakError(Exception):
    """The verification scan found a secret value in the written bundle (which was deleted)."""


@dataclass(frozen=True)
class BundleSummary:
    """Result of one bundle run. Sizes are in bytes, durations in seconds."""

    path: Path
    format: str
    namespace: str
    release: str | None
    files: int
    size: int
    errors: int
    redacted: bool
    redactions: dict[str, int]
    secrets_checked: int
    duration: float
    warnings: tuple[str, ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)


# libyaml's emitter is many times faster than PyYAML's pure-Python one; both write the same YAML.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _BlockDumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """YAML dumper that writes multi-line strings as literal blocks, never folded."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not value.startswith(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """Serialise to YAML without folding long lines, so that no value is split in two."""
    return yaml.dump(
        data,
        Dumper=_BlockDumper,
        width=2**31 - 1,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )


def _serialise(artefact: Artefact) -> str:
    if artefact.text is not None:
        return artefact.text
    if artefact.path.endswith(".json"):
        return json.dumps(artefact.data, indent=2, ensure_ascii=False, default=str) + "\n"
    return dump_yaml(artefact.data)


def _default_target(namespace: str, fmt: ArchiveFormat, created: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created))
    return Path(f"lsconform-bundle-{namespace}-{stamp}{fmt.suffix}")


def _resolve_target(
    path: Path | str | None, namespace: str, fmt: ArchiveFormat, created: float
) -> Path:
    if path is None:
        return _default_target(namespace, fmt, created)
    target = Path(path)
    if target.is_dir():
        return target / _default_target(namespace, fmt, created)
    return target


def _namespace_and_release(target: Any) -> tuple[str, str | None]:
    """Accept a namespace name or a discovered release (anything with `namespace` and `name`)."""
    if isinstance(target, str):
        return target, None
    namespace = getattr(target, "namespace", None)
    if not isinstance(namespace, str):
        raise TypeError("write_bundle needs a namespace name or a release with a namespace")
    name = getattr(target, "name", None)
    return namespace, name if isinstance(name, str) else None


def _read_report(report: str | bytes | Path | None) -> str | None:
    if report is None:
        return None
    if isinstance(report, Path):
        return report.read_text(encoding="utf-8", errors="replace")
    if isinstance(report, bytes):
        return report.decode("utf-8", errors="replace")
    return report


def looks_random(value: str) -> bool:
    """Tell whether a value looks like a generated credential rather than a word or a name.

    Such values are remembered from Secrets whatever their key is called. Names such as
    `langsmith` or `postgres` are not, because removing them everywhere would destroy the
    pod and Service names a bundle is for.
    """
    if len(value) < 16 or any(char.isspace() for char in value):
        return False
    classes = sum(
        bool(re.search(pattern, value))
        for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    return classes >= 3


def _is_url_without_password(value: str) -> bool:
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return not parts.password and not parts.query


def _derived_artefacts(
    collector: Collector,
    results: Sequence[CheckResult] | None,
    report_json: str | None,
    report_html: str | None,
    redactor: Redactor | None,
) -> list[Artefact]:
    """Render the summary, events, pod descriptions, versions and the health report.

    Pods are redacted field by field before they are described, so an env value is removed
    by its name even where no pattern would recognise it.
    """
    objects = collector.objects
    namespace = collector.namespace
    listed = f"GET /api/v1/namespaces/{namespace}/..."
    artefacts = [
        Artefact(
            "resources/summary.txt",
            f"{listed} (rendered)",
            text=render_summary(objects),
            priority=0,
        ),
    ]
    events = objects.get("events")
    if events is not None:
        artefacts.append(
            Artefact(
                "events.txt",
                f"GET /api/v1/namespaces/{namespace}/events (sorted by time)",
                text=render_events(events),
                priority=0,
            )
        )
    for pod in objects.get("pods", []):
        name = pod.get("metadata", {}).get("name", "")
        if redactor is not None:
            pod = redactor.redact_object(pod, f"describe/{name}.txt")
        artefacts.append(
            Artefact(
                f"describe/{name}.txt",
                f"pod {name} and its events (rendered)",
                text=describe_pod(pod, sort_events(events or [])),
                priority=2,
            )
        )
    artefacts.append(
        Artefact(
            "versions.json",
            "GET /version, Helm releases, pod labels",
            data=_versions(collector),
            priority=0,
        )
    )
    if report_json is not None:
        artefacts.append(_report_artefact(report_json))
    elif results is not None:
        artefacts.append(
            Artefact(
                "report/results.json",
                "lsconform run",
                data=[result.to_dict() for result in results],
                priority=0,
            )
        )
    if report_html is not None:
        artefacts.append(
            Artefact("report/report.html", "lsconform run", text=report_html, priority=0)
        )
    return artefacts


def _report_artefact(report_json: str) -> Artefact:
    """Keep the JSON report as parsed data, so that it is redacted field by field."""
    try:
        data = json.loads(report_json)
    except ValueError:
        return Artefact(
            "report/report.json", "lsconform run (not valid JSON)", text=report_json, priority=0
        )
    return Artefact("report/report.json", "lsconform run", data=data, priority=0)


def _versions(collector: Collector) -> dict[str, Any]:
    app_versions = sorted(
        {
            str(pod.get("metadata", {}).get("labels", {}).get(LABEL_VERSION))
            for pod in collector.objects.get("pods", [])
            if pod.get("metadata", {}).get("labels", {}).get(LABEL_VERSION)
        }
    )
    server = collector.server_version
    return {
        "lsconform": __version__,
        "python": platform.python_version(),
        "kubernetes": {
            "gitVersion": server.get("gitVersion"),
            "platform": server.get("platform"),
            "buildDate": server.get("buildDate"),
        },
        "releases": {
            name: {
                "chart": revision.chart,
                "chart_version": revision.chart_version,
                "app_version": revision.app_version,
                "revision": revision.revision,
                "status": revision.status,
            }
            for name, revision in sorted(collector.helm_releases.items())
        },
        "pod_app_versions": app_versions,
    }


def _redact_all(
    artefacts: list[Artefact], redactor: Redactor, secret_values: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Redact every artefact: structured objects first (learning values), then all text."""
    for key, value in secret_values:
        if _is_url_without_password(value):
            continue  # an address such as redis://host:6379 is needed for diagnosis
        if is_secret_field(key) or looks_random(value):
            redactor.remember(value, "secret-value")
    for artefact in artefacts:
        if artefact.text is None:
            artefact.data = redactor.redact_object(artefact.data, artefact.path)
    texts: dict[str, str] = {}
    for artefact in artefacts:
        texts[artefact.path] = redactor.redact_text(_serialise(artefact), artefact.path)
    return texts


def _cut(content: bytes, cap: int) -> bytes:
    note = TRUNCATION_NOTE.format(cap=cap).encode()
    cut = content[: max(cap - len(note), 0)]
    newline = cut.rfind(b"\n")
    if newline > len(cut) // 2:
        cut = cut[: newline + 1]
    return cut.decode("utf-8", errors="ignore").encode("utf-8") + note


def write_bundle(
    client: ClusterClient,
    release_or_namespace: Any,
    path: Path | str | None = None,
    *,
    results: Sequence[CheckResult] | None = None,
    report_json: str | bytes | Path | None = None,
    report_html: str | bytes | Path | None = None,
    redact: bool = True,
    fmt: str | ArchiveFormat = ArchiveFormat.TAR_GZ,
    extra_patterns: Iterable[Pattern | str] = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    since_seconds: int | None = None,
    progress: Progress | None = None,
    release: str | None = None,
) -> BundleSummary:
    """Collect, redact, write and verify a support bundle; return what was written.

    `release_or_namespace` is a namespace name or a discovered release; `release` names the
    Helm release when a namespace holds several. `extra_patterns` are `Pattern`s or strings in
    the `[name::]regex` form (a ValueError names an invalid one). `path` is the archive
    file, a folder to put it in, or None for `./lsconform-bundle-<namespace>-<time>.<fmt>`.
    Raises BundleLeakError, after deleting the archive, when a secret value survived.
    """
    patterns = [parse_pattern(p) if isinstance(p, str) else p for p in extra_patterns]
    started = time.monotonic()
    created = time.time()
    archive_format = ArchiveFormat(fmt)
    namespace, found_release = _namespace_and_release(release_or_namespace)
    release = release or found_release
    target = _resolve_target(path, namespace, archive_format, created)
    options: dict[str, Any] = {}
    if since_seconds is not None:
        options["since_seconds"] = since_seconds
    collector = Collector(
        client,
        namespace,
        release=release,
        concurrency=concurrency,
        max_file_bytes=max_file_bytes,
        progress=progress,
        **options,
    )
    collection = collector.collect()
    redactor = Redactor(extra_patterns=patterns) if redact else None
    artefacts = collection.artefacts + _derived_artefacts(
        collector, results, _read_report(report_json), _read_report(report_html), redactor
    )
    artefacts.sort(key=lambda artefact: (artefact.priority, artefact.path))
    if redactor is not None:
        texts = _redact_all(artefacts, redactor, collection.secret_values)
    else:
        texts = {artefact.path: _serialise(artefact) for artefact in artefacts}

    manifest = Manifest(
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        lsconform_version=__version__,
        namespace=namespace,
        release=collection.release,
        redacted=redact,
        format=archive_format.value,
        max_file_bytes=max_file_bytes,
        max_total_bytes=max_total_bytes,
        errors=list(collection.errors),
    )
    files = _apply_caps(artefacts, texts, manifest, redactor, max_file_bytes, max_total_bytes)
    if not redact:
        files[WARNING_PATH] = (NO_REDACT_WARNING + "\n").encode()
        manifest.add_file(WARNING_PATH, files[WARNING_PATH], "lsconform")
    secrets = _secrets_to_check(redactor, collection)
    manifest.known_secret_values = len(secrets)
    manifest.name_like_values = redactor.skipped_names if redactor else 0
    manifest.duration_seconds = time.monotonic() - started
    document = manifest.to_dict()
    manifest_text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if redactor is not None:
        manifest_text = redactor.redact_text(manifest_text, MANIFEST_PATH)
    files[MANIFEST_PATH] = manifest_text.encode("utf-8")

    root = target.name.removesuffix(archive_format.suffix) or "lsconform-bundle"
    if redact:
        _check(scan_members(files.items(), secrets), target, before_write=True)
    size = write_archive(target, root, files, archive_format, int(created))
    if redact:
        _check(verify_bundle(target, secrets), target, before_write=False)
    warnings = (NO_REDACT_WARNING,) if not redact else ()
    return BundleSummary(
        path=target,
        format=archive_format.value,
        namespace=namespace,
        release=collection.release,
        files=len(files),
        size=size,
        errors=len(manifest.errors),
        redacted=redact,
        redactions=manifest.redaction_totals(),
        secrets_checked=len(secrets),
        duration=time.monotonic() - started,
        warnings=warnings,
        manifest=json.loads(manifest_text),
    )


def _apply_caps(
    artefacts: list[Artefact],
    texts: Mapping[str, str],
    manifest: Manifest,
    redactor: Redactor | None,
    max_file_bytes: int,
    max_total_bytes: int,
) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for artefact in artefacts:
        content = texts[artefact.path].encode("utf-8")
        original = artefact.original_size
        if len(content) > max_file_bytes:
            original = max(original or 0, len(content))
            content = _cut(content, max_file_bytes)
        if total + len(content) > max_total_bytes:
            manifest.skipped_for_total_size.append(artefact.path)
            continue
        total += len(content)
        files[artefact.path] = content
        counts = redactor.counts.for_file(artefact.path) if redactor else {}
        manifest.add_file(
            artefact.path, content, artefact.source, original_size=original, redactions=counts
        )
    return files


def _secrets_to_check(redactor: Redactor | None, collection: Collection) -> list[str]:
    if redactor is None:
        return []
    values = set(redactor.known_secrets)
    return sorted(value for value in values if len(value) >= MIN_KNOWN_SECRET_LENGTH)


def _check(result: VerificationResult, target: Path, *, before_write: bool) -> None:
    if result.clean:
        logger.info(
            "verification scan: %d secret values, %d files, none found",
            result.values_checked,
            result.members,
        )
        return
    if not before_write:
        target.unlink(missing_ok=True)
    where = "before writing" if before_write else "in the written archive (deleted)"
    raise BundleLeakError(
        f"the verification scan found {len(result.survivors)} secret value(s) {where}:\n"
        f"{result.describe()}\n"
        "Fix: add a redaction pattern for that content (--redact-pattern) and report the case "
        "to the lsconform maintainers with the file name and category (never the value)"
    )
