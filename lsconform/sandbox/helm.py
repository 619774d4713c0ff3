"""Helm 3 release storage: the `sh.helm.release.v1.<release>.v<revision>` Secrets.

Helm's `secret` storage driver (the default) writes one Secret per revision in the release
namespace. Its `data.release` holds Helm's encoding of the release, base64(gzip(JSON)), and the
Kubernetes API base64-encodes Secret data once more, so a client reads base64, base64, gunzip,
JSON. The labels are owner=helm, name, status and version, and the type is helm.sh/release.v1.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lsconform.constants import HELM_SECRET_PREFIX, HELM_SECRET_TYPE
from lsconform.sandbox.chart import Document
from lsconform.sandbox.manifests import document_yaml, manifest_text

JsonObject = dict[str, Any]

# Helm's release statuses (pkg/release/status.go in Helm 3).
STATUSES = (
    "unknown",
    "deployed",
    "uninstalled",
    "superseded",
    "failed",
    "uninstalling",
    "pending-install",
    "pending-upgrade",
    "pending-rollback",
)


@dataclass(frozen=True)
class ChartMeta:
    name: str
    version: str
    app_version: str
    description: str = "LangSmith self-hosted"


@dataclass(frozen=True)
class Revision:
    """One stored revision of a release."""

    number: int
    status: str
    description: str
    deployed_at: str
    """RFC 3339 time with nanoseconds, as Helm writes it."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """User-supplied values of this revision (what `helm get values` prints)."""
    corrupt: bool = False
    """Store a payload no client can decode (for the helm-secret-corrupt fault)."""


def encode_release(payload: Mapping[str, Any]) -> str:
    """Helm's own encoding of a release: base64 of gzip of the JSON."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def decode_release(helm_encoded: str) -> JsonObject:
    """Reverse `encode_release` (accepting un-gzipped JSON as Helm does)."""
    data = base64.b64decode(helm_encoded)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    decoded: JsonObject = json.loads(data)
    return decoded


def hook_entry(document: Document, last_run: str) -> JsonObject:
    """Return one element of the release's `hooks` list, as Helm stores it."""
    annotations = document.obj["metadata"].get("annotations") or {}
    events = [e.strip() for e in str(annotations.get("helm.sh/hook", "")).split(",") if e.strip()]
    policies = [
        p.strip()
        for p in str(annotations.get("helm.sh/hook-delete-policy", "")).split(",")
        if p.strip()
    ]
    return {
        "name": document.obj["metadata"]["name"],
        "kind": document.obj["kind"],
        "path": document.source,
        "manifest": document_yaml(document),
        "events": events,
        "last_run": {"started_at": last_run, "completed_at": last_run, "phase": "Succeeded"},
        "weight": int(str(annotations.get("helm.sh/hook-weight", "0")) or 0),
        "delete_policies": policies,
    }


def release_payload(
    *,
    release: str,
    namespace: str,
    chart: ChartMeta,
    chart_values: Mapping[str, Any],
    revision: Revision,
    first_deployed: str,
    documents: Iterable[Document],
    notes: str,
    manifest: str | None = None,
) -> JsonObject:
    """Return the JSON Helm stores for one revision; `manifest` saves rendering it again."""
    docs = list(documents)
    resources = [d for d in docs if not d.is_hook]
    hooks = [hook_entry(d, revision.deployed_at) for d in docs if d.is_hook]
    if manifest is None:
        manifest = manifest_text(resources)
    return {
        "name": release,
        "info": {
            "first_deployed": first_deployed,
            "last_deployed": revision.deployed_at,
            "deleted": "",
            "description": revision.description,
            "status": revision.status,
            "notes": notes,
        },
        "chart": {
            "metadata": {
                "name": chart.name,
                "version": chart.version,
                "description": chart.description,
                "apiVersion": "v2",
                "appVersion": chart.app_version,
                "type": "application",
            },
            "lock": None,
            "templates": [],
            "values": dict(chart_values),
            "schema": None,
            "files": [],
        },
        "config": dict(revision.config),
        "manifest": manifest,
        "hooks": hooks,
        "version": revision.number,
        "namespace": namespace,
    }


def secret_name(release: str, revision: int) -> str:
    return f"{HELM_SECRET_PREFIX}{release}.v{revision}"


def release_secret(
    payload: Mapping[str, Any], *, corrupt: bool = False, created_unix: int = 0
) -> JsonObject:
    """Return the Secret Helm's storage driver writes for one revision.

    With `corrupt`, `data.release` is valid base64 of bytes that are neither gzip nor JSON, the
    way a truncated or hand-edited Secret looks.
    """
    release = str(payload["name"])
    revision = int(payload["version"])
    status = str(payload["info"]["status"])
    if status not in STATUSES:
        raise ValueError(f"invalid Helm release status {status!r}; expected one of {STATUSES}")
    helm_encoded = (
        base64.b64encode(b"\x1f\x8b\x08\x00truncated-release").decode()
        if corrupt
        else encode_release(payload)
    )
    labels = {
        "owner": "helm",
        "name": release,
        "status": status,
        "version": str(revision),
    }
    if created_unix:
        labels["createdAt"] = str(created_unix)
        labels["modifiedAt"] = str(created_unix)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": HELM_SECRET_TYPE,
        "metadata": {
            "name": secret_name(release, revision),
            "namespace": str(payload["namespace"]),
            "labels": labels,
        },
        # The API serves Secret data base64-encoded, on top of Helm's own base64.
        "data": {"release": base64.b64encode(helm_encoded.encode()).decode()},
    }


def decode_secret(secret: Mapping[str, Any]) -> JsonObject:
    """Decode a release Secret as a client reads it from the API (for tests and tools)."""
    helm_encoded = base64.b64decode(secret["data"]["release"]).decode()
    return decode_release(helm_encoded)
