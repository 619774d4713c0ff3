"""Container logs from CRI log files, the way the kubelet serves `pods/<name>/log`.

A CRI log line is `<RFC3339Nano time> <stdout|stderr> <tags> <message>`, where the tag `P` marks a
partial line (the runtime split a long line) and `F` a full one. The kubelet strips that prefix,
joins partial pieces, and with `timestamps=true` writes the time in front of each line. Everything
here works on bytes, so a message that is not UTF-8 passes through unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lsconform.sandbox.apiserver.status import bad_request

# A log file larger than this is read from its end only, so one huge file cannot exhaust memory.
MAX_LOG_READ_BYTES = 64 * 1024 * 1024
# How often `follow=true` looks for new lines, in seconds.
FOLLOW_POLL_SECONDS = 0.1
# `follow=true` ends after this many seconds even while the client stays connected, so that no
# stream outlives a test. A real kubelet streams until the container exits.
FOLLOW_MAX_SECONDS = 600.0


class LogLine:
    """One logical log line. Its time is parsed only when a filter or `timestamps` needs it,
    because parsing dominates the cost of reading a large file."""

    __slots__ = ("_nanos", "message", "raw_time")

    def __init__(self, raw_time: str, message: bytes) -> None:
        self.raw_time = raw_time
        self.message = message
        """The message with its line end (a partial line at the end of the file has none)."""
        self._nanos: int | None = None

    @property
    def nanos(self) -> int:
        """The time in nanoseconds since the Unix epoch."""
        if self._nanos is None:
            self._nanos = parse_timestamp(self.raw_time)
        return self._nanos

    @property
    def timestamp(self) -> str:
        """The time as the kubelet prints it (RFC3339Nano, trailing zeros of the fraction cut)."""
        return format_timestamp(self.nanos)

    def __repr__(self) -> str:
        return f"LogLine({self.raw_time!r}, {self.message!r})"


@dataclass(frozen=True)
class LogOptions:
    """The query parameters of a `pods/log` request, parsed and checked."""

    container: str = ""
    previous: bool = False
    follow: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_nanos: int | None = None
    limit_bytes: int | None = None


def _bool(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes", "t")


def _non_negative_int(name: str, value: str | None, minimum: int = 0) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"invalid value for {name}: {value!r} is not an integer") from None
    if number < minimum:
        raise bad_request(f"{name}: Invalid value: {number}: must be greater than {minimum - 1}")
    return number


def parse_log_options(query: dict[str, str], now: float | None = None) -> LogOptions:
    """Build LogOptions from the request query; raise a 400 ApiError for an invalid value."""
    since_seconds = _non_negative_int("sinceSeconds", query.get("sinceSeconds"), minimum=1)
    since_time = query.get("sinceTime")
    if since_seconds is not None and since_time:
        raise bad_request("at most one of sinceTime or sinceSeconds may be specified")
    since_nanos = None
    if since_seconds is not None:
        since_nanos = int(((now if now is not None else time.time()) - since_seconds) * 1e9)
    elif since_time:
        try:
            since_nanos = parse_timestamp(since_time)
        except ValueError:
            message = f"invalid value for sinceTime: {since_time!r} is not RFC3339"
            raise bad_request(message) from None
    return LogOptions(
        container=query.get("container", ""),
        previous=_bool(query.get("previous")),
        follow=_bool(query.get("follow")),
        timestamps=_bool(query.get("timestamps")),
        tail_lines=_non_negative_int("tailLines", query.get("tailLines")),
        since_nanos=since_nanos,
        limit_bytes=_non_negative_int("limitBytes", query.get("limitBytes"), minimum=1),
    )


def parse_timestamp(text: str) -> int:
    """Parse an RFC3339 time with up to nine fractional digits into Unix nanoseconds."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        body, offset = text[:-1], "+00:00"
    else:
        body, offset = text[:-6], text[-6:]
    fraction = ""
    if "." in body:
        body, fraction = body.split(".", 1)
        if not fraction.isdigit() or len(fraction) > 9:
            raise ValueError(f"invalid fraction in {text!r}")
    moment = datetime.fromisoformat(body + offset)
    return int(moment.timestamp()) * 1_000_000_000 + int(fraction.ljust(9, "0") or "0")


def format_timestamp(nanos: int) -> str:
    """Format Unix nanoseconds like Go's time.RFC3339Nano in UTC (fraction without trailing 0s)."""
    seconds, fraction = divmod(nanos, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:09d}".rstrip("0")
    return f"{moment}.{digits}Z" if digits else f"{moment}Z"


_CRI_TIME = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def parse_cri_line(raw: bytes) -> tuple[str, bool, bytes] | None:
    """Split one CRI line into (RFC3339 time, partial?, message); None if malformed."""
    fields = raw.split(b" ", 3)
    if len(fields) < 3 or not _CRI_TIME.match(fields[0]):
        return None
    if fields[1] not in (b"stdout", b"stderr"):
        return None
    partial = b"P" in fields[2].split(b":")
    message = fields[3] if len(fields) > 3 else b""
    return fields[0].decode("ascii"), partial, message


def read_log_lines(data: bytes) -> Iterator[LogLine]:
    """Yield the logical lines of CRI log content, partial pieces joined, malformed lines skipped.

    A joined line carries the time of its first piece.
    """
    pending: list[bytes] = []
    pending_time = ""
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parsed = parse_cri_line(raw)
        if parsed is None:
            continue
        raw_time, partial, message = parsed
        if not pending:
            pending_time = raw_time
        pending.append(message)
        if not partial:
            yield LogLine(pending_time, b"".join(pending) + b"\n")
            pending = []
    if pending:
        yield LogLine(pending_time, b"".join(pending))


def read_file_tail(path: Path, max_bytes: int = MAX_LOG_READ_BYTES) -> tuple[bytes, int]:
    """Read a file, or only its last `max_bytes` bytes (from the first whole line) if larger.

    Returns the content and the file offset where it ends.
    """
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        start = max(0, size - max_bytes)
        handle.seek(start)
        chunk = handle.read(size - start)
    end = start + len(chunk)
    if start == 0:
        return chunk, end
    cut = chunk.find(b"\n")
    return (chunk[cut + 1 :] if cut >= 0 else b""), end


def read_last_lines(path: Path, lines: int, block_bytes: int = 256 * 1024) -> tuple[bytes, int]:
    """Read from the end of a CRI file until it contains more than `lines` full (`F`) lines.

    The extra full line guarantees that the last `lines` logical lines start inside what is
    returned, even when partial pieces are joined. Returns the content, starting at a line
    boundary, and the file offset where it ends. Reads at most MAX_LOG_READ_BYTES.
    """
    with path.open("rb") as handle:
        handle.seek(0, 2)
        end = handle.tell()
        start = end
        data = b""
        while start > 0 and end - start < MAX_LOG_READ_BYTES:
            start = max(0, start - block_bytes)
            handle.seek(start)
            data = handle.read(end - start)
            if _full_line_count(data) > lines:
                break
    if start > 0:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""
    return data, end


def _full_line_count(data: bytes) -> int:
    """Count the lines tagged full (`F`), less one for a first line that may be cut."""
    count = 0
    for raw in data.split(b"\n"):
        fields = raw.split(b" ", 3)
        if len(fields) >= 3 and b"P" not in fields[2].split(b":"):
            count += 1
    return count - 1


def render_lines(lines: Iterator[LogLine] | list[LogLine], options: LogOptions) -> bytes:
    """Filter by sinceTime and tailLines, then render with optional timestamps."""
    selected: Iterator[LogLine] | list[LogLine] = lines
    if options.since_nanos is not None:
        since = options.since_nanos
        selected = [line for line in selected if line.nanos >= since]
    if options.tail_lines is not None:
        selected = list(deque(selected, maxlen=options.tail_lines)) if options.tail_lines else []
    return b"".join(format_line(line, options.timestamps) for line in selected)


def format_line(line: LogLine, timestamps: bool) -> bytes:
    if timestamps:
        return line.timestamp.encode() + b" " + line.message
    return line.message


async def follow_file(
    path: Path, offset: int, options: LogOptions, stop: asyncio.Event, newer_exists: Path | None
) -> AsyncIterator[bytes]:
    """Yield rendered lines appended to `path` after byte `offset`.

    Ends when `stop` is set, when FOLLOW_MAX_SECONDS pass, or once a newer restart file appears
    (the followed container has exited, which ends a kubelet's follow as well).
    `newer_exists` is the directory to watch for such a file.
    """
    deadline = time.monotonic() + FOLLOW_MAX_SECONDS
    buffered = b""
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read(MAX_LOG_READ_BYTES)
        except OSError:
            return
        offset += len(chunk)
        buffered += chunk
        complete, _, buffered = buffered.rpartition(b"\n")
        if complete:
            rendered = b"".join(
                format_line(line, options.timestamps)
                for line in read_log_lines(complete + b"\n")
                if options.since_nanos is None or line.nanos >= options.since_nanos
            )
            if rendered:
                yield rendered
        if not chunk and newer_exists is not None and _has_newer_restart(newer_exists, path):
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), FOLLOW_POLL_SECONDS)


def _has_newer_restart(log_dir: Path, current: Path) -> bool:
    try:
        current_number = int(current.stem)
    except ValueError:
        return False
    for path in log_dir.glob("*.log"):
        if path.stem.isdigit() and int(path.stem) > current_number:
            return True
    return False
