"""Helm release storage: decoding the release Secrets into revisions."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any


@dataclass
class HelmRevision:
    """One revision of a Helm release, decoded from its storage Secret."""

    name: str
    revision: int
    status: str
    chart: str
    chart_version: str
    app_version: str
    updated: str
    description: str
    values: dict[str, Any]


def decode_helm_release(data: str) -> dict[str, Any]:
    """Decode the `release` value of a Helm storage Secret as the API returns it.

    Helm base64-encodes gzipped JSON, and the API base64-encodes Secret data again; Helm also
    accepts JSON that was not gzipped. Raises ValueError when the payload cannot be decoded.
    """
    try:
        payload = base64.b64decode(base64.b64decode(data, validate=True), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"the Helm release payload is not base64: {error}") from error
    if payload[:2] == b"\x1f\x8b":
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"the Helm release payload is not valid gzip: {error}") from error
    try:
        release = json.loads(payload)
    except ValueError as error:
        raise ValueError(f"the Helm release payload is not JSON: {error}") from error
    if not isinstance(release, dict):
        raise ValueError("the Helm release payload is not a JSON object")
    return release


def latest_deployed(history: list[HelmRevision]) -> HelmRevision:
    """Return the last deployed revision, or the last revision when none is deployed."""
    deployed = [revision for revision in history if revision.status == "deployed"]
    return (deployed or history)[-1]


def revision_summary(revision: HelmRevision) -> dict[str, Any]:
    """Return one row of the release history as a JSON object."""
    return {
        "revision": revision.revision,
        "updated": revision.updated,
        "status": revision.status,
        "chart": f"{revision.chart}-{revision.chart_version}",
        "app_version": revision.app_version,
        "description": revision.description,
    }
