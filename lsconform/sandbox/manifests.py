"""Load rendered chart output (`--manifests`) and user values (`--values`) for the sandbox.

A manifests file is what `helm template` prints: YAML documents separated by `---` lines, each
usually preceded by a `# Source: <chart>/templates/<file>` comment. Documents annotated with
`helm.sh/hook` are hooks: Helm keeps them out of the release manifest and stores them in the
release's `hooks` list instead.

Rules for bad input. Each raises `ManifestError` naming the file, the document number and the
fix, except the one marked "skipped":
- a file that is not UTF-8, not YAML, larger than `MAX_MANIFEST_BYTES`, or holds no object;
- a document that is not a mapping, or lacks `apiVersion`, `kind` or `metadata.name`;
- an object of a kind the sandbox does not serve: skipped, logged and listed in `skipped`;
- a workload without container ports is kept (the chart's own operator declares none); its pods
  simply serve nothing.
Objects that pass these checks but miss a field their kind needs fail later, when the state
builder lays them out; the orchestrator turns that failure into a `ManifestError` too.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lsconform.constants import LABEL_HELM_CHART, LABEL_INSTANCE, LABEL_VERSION
from lsconform.sandbox.chart import Document

logger = logging.getLogger(__name__)

# Rendered output of the whole chart is about 200 KiB; 32 MiB leaves room for big values files
# while keeping a mistaken path (a disk image, a log) from filling memory.
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
MAX_VALUES_BYTES = 8 * 1024 * 1024

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)
_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$", re.MULTILINE)
_CHART_LABEL = re.compile(r"^(?P<name>.+?)-(?P<version>\d+\.\d+\.\d+.*)$")


class ManifestError(ValueError):
    """The manifests or values file cannot be used; the message names the cause and the fix."""


@dataclass
class Manifests:
    """The documents of one manifests file, and what the sandbox learnt from their labels."""

    documents: list[Document]
    release: str
    namespace: str
    chart_name: str
    chart_version: str
    app_version: str
    skipped: list[str] = field(default_factory=list)

    @property
    def resources(self) -> list[Document]:
        """The non-hook documents (the release manifest)."""
        return [d for d in self.documents if not d.is_hook]

    @property
    def hooks(self) -> list[Document]:
        return [d for d in self.documents if d.is_hook]


def _read_text(path: Path, limit: int, what: str) -> str:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ManifestError(f"cannot read {what} {path}: {error.strerror}") from error
    if size > limit:
        raise ManifestError(
            f"{what} {path} is {size} bytes, larger than the {limit} bytes the sandbox accepts"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ManifestError(
            f"{what} {path} is not UTF-8 text (invalid byte at offset {error.start}); "
            "pass the output of `helm template` or a values YAML file"
        ) from error
    except OSError as error:
        raise ManifestError(f"cannot read {what} {path}: {error.strerror}") from error


def load_values(path: Path) -> dict[str, Any]:
    """Read a Helm values file: a YAML mapping (an empty file means no values)."""
    text = _read_text(path, MAX_VALUES_BYTES, "values file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ManifestError(
            f"values file {path} is not valid YAML: {_yaml_problem(error)}"
        ) from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ManifestError(
            f"values file {path} must hold a YAML mapping at the top level, "
            f"found {type(data).__name__}"
        )
    return data


def load_manifests(path: Path, known_kinds: Iterable[tuple[str, str]]) -> Manifests:
    """Read a manifests file; `known_kinds` are the (apiVersion, kind) pairs the sandbox serves."""
    text = _read_text(path, MAX_MANIFEST_BYTES, "manifests file")
    return parse_manifests(text, str(path), known_kinds)


def parse_manifests(text: str, origin: str, known_kinds: Iterable[tuple[str, str]]) -> Manifests:
    """Parse `helm template` output from a string; `origin` names it in error messages."""
    known = set(known_kinds)
    documents: list[Document] = []
    skipped: list[str] = []
    for number, chunk in enumerate(_SEPARATOR.split(text), start=1):
        source_match = _SOURCE.search(chunk)
        source = source_match.group(1) if source_match else ""
        obj = _parse_document(chunk, origin, number)
        if obj is None:
            continue
        where = f"{origin} document {number}" + (f" ({source})" if source else "")
        _check_object(obj, where)
        api_version, kind = obj["apiVersion"], obj["kind"]
        if (api_version, kind) not in known:
            label = f"{kind} {obj['metadata']['name']} ({api_version})"
            logger.warning("skipped %s from %s: the sandbox does not serve this kind", label, where)
            skipped.append(label)
            continue
        documents.append(Document(source or f"{origin}#{number}", obj))
    if not documents:
        raise ManifestError(
            f"manifests file {origin} contains no Kubernetes object the sandbox can serve; "
            "pass the output of `helm template <release> <chart> -n <namespace>`"
        )
    return _describe(documents, skipped, origin)


def _parse_document(chunk: str, origin: str, number: int) -> dict[str, Any] | None:
    try:
        obj = yaml.safe_load(chunk)
    except yaml.YAMLError as error:
        raise ManifestError(
            f"{origin} document {number} is not valid YAML: {_yaml_problem(error)}"
        ) from error
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ManifestError(
            f"{origin} document {number} is a {type(obj).__name__}, not a Kubernetes object "
            "(a mapping with apiVersion, kind and metadata)"
        )
    return obj


def _check_object(obj: Mapping[str, Any], where: str) -> None:
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj.get(key):
            raise ManifestError(f"{where} has no {key}; every Kubernetes object needs one")
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise ManifestError(
            f"{where} ({obj['kind']}) has no metadata.name; a rendered object always has one"
        )
    for key in ("labels", "annotations"):
        if metadata.get(key) is not None and not isinstance(metadata.get(key), dict):
            raise ManifestError(f"{where} has metadata.{key} that is not a mapping")


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)


def _describe(documents: list[Document], skipped: list[str], origin: str) -> Manifests:
    """Work out release, namespace and chart from the objects' labels (the most common value)."""
    releases: Counter[str] = Counter()
    namespaces: Counter[str] = Counter()
    charts: Counter[str] = Counter()
    app_versions: Counter[str] = Counter()
    for document in documents:
        metadata = document.obj["metadata"]
        labels = metadata.get("labels") or {}
        if labels.get(LABEL_INSTANCE):
            releases[str(labels[LABEL_INSTANCE])] += 1
        if metadata.get("namespace"):
            namespaces[str(metadata["namespace"])] += 1
        if labels.get(LABEL_HELM_CHART):
            charts[str(labels[LABEL_HELM_CHART])] += 1
        if labels.get(LABEL_VERSION):
            app_versions[str(labels[LABEL_VERSION])] += 1
    if not releases:
        raise ManifestError(
            f"no object in {origin} has the label {LABEL_INSTANCE}, so the release name is "
            "unknown; pass chart output rendered by Helm"
        )
    chart_label = charts.most_common(1)[0][0] if charts else "langsmith-0.0.0"
    match = _CHART_LABEL.match(chart_label)
    chart_name, chart_version = (
        (match.group("name"), match.group("version")) if match else (chart_label, "0.0.0")
    )
    return Manifests(
        documents=documents,
        release=releases.most_common(1)[0][0],
        namespace=namespaces.most_common(1)[0][0] if namespaces else "default",
        chart_name=chart_name,
        chart_version=chart_version,
        app_version=app_versions.most_common(1)[0][0] if app_versions else "",
        skipped=skipped,
    )


# libyaml's emitter is about ten times faster than the pure-Python one, and the Helm release
# Secrets need every object dumped once per release.
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(obj: Any) -> str:
    text: str = yaml.dump(obj, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)
    return text


def manifest_text(documents: Iterable[Document]) -> str:
    """Join documents the way Helm stores a release manifest: `---`, `# Source:`, the YAML."""
    parts = []
    for document in documents:
        body = _dump(document.obj)
        parts.append(f"---\n# Source: {document.source}\n{body}")
    return "".join(parts)


def document_yaml(document: Document) -> str:
    return _dump(document.obj)
