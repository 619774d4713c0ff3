"""Tell what kind of body an HTTP endpoint returned before anyone judges it as metrics.

A status path can answer 200 with the wrong thing: the frontend's single-page app answers every
unknown path with its HTML index, nginx's `/nginx_status` answers with stub_status text rather
than a Prometheus exposition, an API answers with JSON. A check classifies the body first, so
its message can say "this is HTML" instead of "parse error on line 1".
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass

# Only this many leading bytes are inspected for the shape of the body; JSON is parsed whole up
# to MAX_JSON_BYTES so that a truncated or huge body is not mistaken for JSON.
SNIFF_BYTES = 64 * 1024
MAX_JSON_BYTES = 4 * 1024 * 1024

# A sample line: a metric name, an optional label set, then something that starts like a number.
_SAMPLE_LINE = re.compile(
    r"[a-zA-Z_:][a-zA-Z0-9_:]*(?:[ \t]*\{.*\})?[ \t]+[-+]?(?:[0-9.]|Inf|inf|NaN|nan)"
)
_HTML_MARKERS = ("<!doctype html", "<html", "<head", "<body", "<script", "<div")
_GZIP_MAGIC = b"\x1f\x8b"


class BodyKind(str, enum.Enum):
    """What an HTTP body is."""

    PROMETHEUS_TEXT = "prometheus-text"
    OPENMETRICS = "openmetrics"
    STUB_STATUS = "stub-status"
    HTML = "html"
    JSON = "json"
    EMPTY = "empty"
    BINARY = "binary"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class BodyClass:
    """The kind of a body and the observation that decided it, in one line."""

    kind: BodyKind
    reason: str

    @property
    def is_exposition(self) -> bool:
        """Whether the body is Prometheus text or OpenMetrics."""
        return self.kind in (BodyKind.PROMETHEUS_TEXT, BodyKind.OPENMETRICS)


def classify_body(body: bytes | str, content_type: str | None = None) -> BodyClass:
    """Classify `body` by its content; `content_type` only separates OpenMetrics from text.

    The Content-Type header is not trusted for the kind itself, because the failures this
    module exists for (an HTML page served as text/plain, exposition served as text/html) are
    exactly those where header and body disagree.
    """
    raw = body.encode() if isinstance(body, str) else body
    head = raw[:SNIFF_BYTES]
    if not head.strip():
        return BodyClass(BodyKind.EMPTY, "the body is empty")
    if head.startswith(_GZIP_MAGIC):
        return BodyClass(BodyKind.BINARY, "the body is gzip-compressed and was not decoded")
    if b"\x00" in head:
        return BodyClass(BodyKind.BINARY, "the body contains NUL bytes (protobuf or binary)")
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    lowered = text[:2048].lower()
    if text.startswith("<") and any(marker in lowered for marker in _HTML_MARKERS):
        return BodyClass(BodyKind.HTML, f"the body is an HTML page starting {text[:40]!r}")
    if text[:1] in ("{", "[") and _is_json(raw):
        return BodyClass(BodyKind.JSON, "the body is a JSON document")
    if text.startswith("Active connections:"):
        return BodyClass(BodyKind.STUB_STATUS, "the body starts with 'Active connections:'")
    if _looks_like_exposition(text):
        if _is_openmetrics(raw, content_type):
            return BodyClass(BodyKind.OPENMETRICS, "the body is exposition ending in # EOF")
        return BodyClass(BodyKind.PROMETHEUS_TEXT, "the body has exposition lines")
    return BodyClass(BodyKind.OTHER, f"the body starts {text[:40]!r}")


def _is_json(raw: bytes) -> bool:
    if len(raw) > MAX_JSON_BYTES:
        return False
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def _looks_like_exposition(text: str) -> bool:
    """Whether the first meaningful line is a HELP/TYPE comment or a sample line."""
    for line in text.splitlines()[:50]:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            words = stripped[1:].split()
            if words and words[0] in ("HELP", "TYPE", "UNIT", "EOF"):
                return True
            continue
        return _SAMPLE_LINE.match(stripped) is not None
    return False


def _is_openmetrics(raw: bytes, content_type: str | None) -> bool:
    if content_type and "openmetrics" in content_type.lower():
        return True
    return raw.rstrip().endswith(b"\n# EOF") or raw.strip() == b"# EOF"
