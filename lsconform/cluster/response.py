"""The HTTP response record shared by the API client and the transports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpResponse:
    """One HTTP response, read up to a size cap.

    `headers` has lower-case names. `body` holds at most the cap's bytes; `truncated` is true
    when the server sent more. `elapsed` is the seconds from sending the request to the end of
    reading.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    elapsed: float = 0.0
    truncated: bool = False

    @property
    def content_type(self) -> str:
        """The Content-Type header, or an empty string."""
        return self.headers.get("content-type", "")

    def text(self) -> str:
        """Decode the body as UTF-8, replacing invalid bytes."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Parse the body as JSON (raises ValueError when it is not)."""
        return json.loads(self.body)
