"""Decoding Helm 3 release records stored in Secrets and ConfigMaps.

Helm's `secret` storage driver (the default) stores each revision in a Secret named
`sh.helm.release.v1.<release>.v<revision>` with labels `owner=helm`, `name`, `status` and
`version`. Its `data.release` is base64 (Helm's encoding) of gzip of the release JSON, and the
API base64-encodes Secret data again: read through the API it is base64, base64, gunzip, JSON.
The `configmap` driver stores the same single-base64 payload in a ConfigMap. Helm also reads
records that are not gzipped, so this module accepts plain JSON after the base64 layers.

A payload that cannot be decoded yields a `DecodeProblem` instead of an exception, so one
corrupt revision never stops discovery.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lsconform.constants import HELM_SECRET_TYPE

GZIP_MAGIC = b"\x1f\x8b"
# A Secret holds at most 1 MiB (the Kubernetes limit on Secret size). Release JSON compresses
# about tenfold (an estimate), so 64 MiB unzipped bounds a gzip bomb without rejecting real records.
MAX_DECOMPRESSED = 64 * 1024 * 1024


@dataclass(frozen=True)
class DecodeProblem:
    """The reason a stored release record could not be read."""

    object_name: str
    reason: str


@dataclass
class HelmRecord:
    """One stored revision of a Helm release, decoded or with the reason it could not be.

    `name`, `revision` and `status` come from the decoded JSON when there is one, otherwise from
    the storage object's labels. `payload` is the release JSON (None when undecodable).
    """

    object_name: str
    storage: str  # "secret" or "configmap"
    name: str
    revision: int
    status: str
    payload: dict[str, Any] | None = None
    problem: DecodeProblem | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def chart_name(self) -> str | None:
        """The chart's name (`chart.metadata.name`), when the record is decoded."""
        chart = (self.payload or {}).get("chart")
        metadata = chart.get("metadata") if isinstance(chart, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return str(name) if name else None


def decode_payload(text: str, *, layers: int) -> dict[str, Any]:
    """Decode a `data.release` value: `layers` rounds of base64, gunzip if gzipped, JSON.

    Raises ValueError naming the layer that failed.
    """
    data = text.encode("ascii", errors="strict") if text.isascii() else None
    if data is None:
        raise ValueError("the payload contains non-ASCII characters, so it is not base64")
    for layer in range(1, layers + 1):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"base64 layer {layer} of {layers} is invalid: {error}") from error
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(data)
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"the release record is not JSON: {error}") from error
    if not isinstance(payload, dict):
        raise ValueError("the release record is JSON but not an object")
    return payload


def _gunzip(data: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        out = decompressor.decompress(data, MAX_DECOMPRESSED)
    except zlib.error as error:
        raise ValueError(f"the gzip layer is corrupt: {error}") from error
    if decompressor.unconsumed_tail:
        raise ValueError(f"the release record is larger than {MAX_DECOMPRESSED} bytes unzipped")
    if not decompressor.eof:
        raise ValueError("the gzip layer is truncated")
    return out


def record_from_object(obj: Mapping[str, Any]) -> HelmRecord:
    """Decode a Helm storage object (a Secret, or a ConfigMap of the configmap driver)."""
    metadata = obj.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    object_name = str(metadata.get("name", ""))
    is_secret = obj.get("kind") == "Secret"
    record = HelmRecord(
        object_name=object_name,
        storage="secret" if is_secret else "configmap",
        name=labels.get("name", ""),
        revision=_int(labels.get("version")),
        status=labels.get("status", "unknown"),
        labels=labels,
    )
    if is_secret and obj.get("type") not in (None, HELM_SECRET_TYPE):
        record.problem = DecodeProblem(
            object_name, f"Secret type is {obj.get('type')!r}, not {HELM_SECRET_TYPE!r}"
        )
        return record
    raw = (obj.get("data") or {}).get("release")
    if not isinstance(raw, str) or not raw:
        record.problem = DecodeProblem(object_name, "data.release is missing or empty")
        return record
    try:
        payload = decode_payload(raw, layers=2 if is_secret else 1)
    except ValueError as error:
        record.problem = DecodeProblem(object_name, str(error))
        return record
    record.payload = payload
    record.name = str(payload.get("name") or record.name)
    record.revision = _int(payload.get("version")) or record.revision
    info = payload.get("info")
    record.status = str((info.get("status") if isinstance(info, dict) else None) or record.status)
    return record


def encode_payload(payload: Mapping[str, Any], *, layers: int, gzip: bool = True) -> str:
    """Encode a release record as Helm stores it (the inverse of `decode_payload`)."""
    data = json.dumps(payload).encode()
    if gzip:
        compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
        data = compressor.compress(data) + compressor.flush()
    for _ in range(layers):
        data = base64.b64encode(data)
    return data.decode("ascii")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
