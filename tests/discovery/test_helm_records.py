"""Helm release records: decoding layers, tolerated forms and typed problems."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from lsconform.discovery.helm import (
    MAX_DECOMPRESSED,
    decode_payload,
    encode_payload,
    record_from_object,
)

PAYLOAD = {
    "name": "ls",
    "version": 3,
    "info": {"status": "deployed"},
    "chart": {"metadata": {"name": "langsmith", "version": "0.17.0-rc.12"}},
}


def secret(data: str, **labels: str) -> dict[str, object]:
    return {
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": "sh.helm.release.v1.ls.v3",
            "labels": {
                "owner": "helm",
                "name": "ls",
                "version": "3",
                "status": "deployed",
                **labels,
            },
        },
        "data": {"release": data},
    }


def test_secret_payload_round_trip() -> None:
    record = record_from_object(secret(encode_payload(PAYLOAD, layers=2)))
    assert record.problem is None
    assert record.payload == PAYLOAD
    assert record.chart_name == "langsmith"
    assert (record.name, record.revision, record.status) == ("ls", 3, "deployed")
    assert record.storage == "secret"


def test_layers_are_base64_base64_gzip_json() -> None:
    inner = base64.b64encode(gzip.compress(json.dumps(PAYLOAD).encode()))
    outer = base64.b64encode(inner).decode()
    assert decode_payload(outer, layers=2) == PAYLOAD


def test_plain_json_without_gzip_is_accepted() -> None:
    record = record_from_object(secret(encode_payload(PAYLOAD, layers=2, gzip=False)))
    assert record.payload == PAYLOAD


def test_configmap_storage_has_one_base64_layer() -> None:
    configmap = {
        "kind": "ConfigMap",
        "metadata": {"name": "ls.v3", "labels": {"owner": "helm"}},
        "data": {"release": encode_payload(PAYLOAD, layers=1)},
    }
    record = record_from_object(configmap)
    assert record.storage == "configmap"
    assert record.payload == PAYLOAD


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("%%%not base64%%%", "base64 layer 1 of 2 is invalid"),
        (base64.b64encode(b"@@@").decode(), "base64 layer 2 of 2 is invalid"),
        (
            base64.b64encode(
                base64.b64encode(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff")
            ).decode(),
            "the gzip layer is corrupt",
        ),
        (
            base64.b64encode(base64.b64encode(gzip.compress(b"{}", mtime=0)[:-10])).decode(),
            "the gzip layer is truncated",
        ),
        (
            base64.b64encode(base64.b64encode(gzip.compress(b"not json", mtime=0))).decode(),
            "the release record is not JSON",
        ),
        (base64.b64encode(base64.b64encode(b"[1, 2]")).decode(), "JSON but not an object"),
        ("", "data.release is missing or empty"),
        ("ünïcode", "non-ASCII"),
    ],
)
def test_corrupt_payload_is_typed_problem(data: str, reason: str) -> None:
    record = record_from_object(secret(data))
    assert record.payload is None
    assert record.problem is not None
    assert reason in record.problem.reason
    assert record.problem.object_name == "sh.helm.release.v1.ls.v3"
    # Labels still name the release and revision.
    assert (record.name, record.revision, record.status) == ("ls", 3, "deployed")


def test_gzip_bomb_is_bounded() -> None:
    bomb = gzip.compress(b"{" + b" " * (MAX_DECOMPRESSED + 10) + b"}")
    data = base64.b64encode(base64.b64encode(bomb)).decode()
    record = record_from_object(secret(data))
    assert record.problem is not None
    assert "larger than" in record.problem.reason


def test_wrong_secret_type_is_problem() -> None:
    obj = secret(encode_payload(PAYLOAD, layers=2))
    obj["type"] = "Opaque"
    record = record_from_object(obj)
    assert record.problem is not None
    assert "Secret type is 'Opaque'" in record.problem.reason
