"""Container log files as a kubelet lays them out, and the content of their lines.

The kubelet writes each container's stdout and stderr to
`/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log` and links
`/var/log/containers/<pod>_<namespace>_<container>-<container id>.log` to it. The line format
depends on the runtime:

- CRI (containerd, CRI-O): `<RFC 3339 time> <stream> <tag> <message>`, where the tag is `F` for
  a full line or `P` for a part of a line the runtime split (containerd splits at 16 KiB);
  the parts that follow up to the next `F` belong to the same line.
- Docker JSON (dockershim, `json-file` driver): `{"log": "...\\n", "stream": ..., "time": ...}`,
  where a `log` value without a trailing newline is a part of a longer line.

Everything here works on bytes, because container output is whatever the process wrote: invalid
UTF-8 is decoded with replacement characters and counted, and over-long lines are cut to
`MAX_LINE_BYTES` and counted, so that no input makes a parser crash or hold a 10 MB string.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

# A line longer than this is cut before it is decoded or parsed as JSON. Runtimes split lines at
# 16 KiB, so joined partial lines rarely exceed 1 MiB; a longer one is kept as its first MiB.
MAX_LINE_BYTES = 1024 * 1024
# How many error lines and traceback lines a summary keeps as evidence.
MAX_KEPT_ERRORS = 5
MAX_TRACEBACK_LINES = 12

_CRI_STREAMS = (b"stdout", b"stderr")
_CRI_TIME = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


class LineFormat(str, enum.Enum):
    """The on-disk format of a container log line."""

    CRI = "cri"
    DOCKER_JSON = "docker-json"
    UNKNOWN = "unknown"


class RuntimeKind(str, enum.Enum):
    """A container runtime, as `node.status.nodeInfo.containerRuntimeVersion` names it."""

    CONTAINERD = "containerd"
    CRIO = "cri-o"
    DOCKER = "docker"
    UNKNOWN = "unknown"


def runtime_kind(runtime_version: str) -> RuntimeKind:
    """Classify a runtime version string such as `containerd://1.7.13` or `cri-o://1.29.1`."""
    scheme = runtime_version.partition("://")[0].strip().lower()
    if scheme == "containerd":
        return RuntimeKind.CONTAINERD
    if scheme in ("cri-o", "crio"):
        return RuntimeKind.CRIO
    if scheme == "docker":
        return RuntimeKind.DOCKER
    return RuntimeKind.UNKNOWN


def expected_format(kind: RuntimeKind) -> LineFormat:
    """Return the line format a runtime writes: Docker JSON for dockershim, CRI otherwise.

    A Kubernetes node that runs Docker through cri-dockerd also writes Docker JSON files.
    """
    if kind is RuntimeKind.DOCKER:
        return LineFormat.DOCKER_JSON
    if kind in (RuntimeKind.CONTAINERD, RuntimeKind.CRIO):
        return LineFormat.CRI
    return LineFormat.UNKNOWN


@dataclass(frozen=True)
class RawLine:
    """One physical line of a node log file, parsed but not yet joined with its parts."""

    format: LineFormat
    time: str
    stream: str
    partial: bool
    message: bytes
    truncated: bool = False


def parse_cri_line(line: bytes) -> RawLine | None:
    """Parse one CRI line (without its newline); return None when it is not CRI."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    time, stream, tags = parts[0], parts[1], parts[2]
    if stream not in _CRI_STREAMS or not _CRI_TIME.match(time):
        return None
    # The tag field may carry more tags after a colon. The first is F (full) or P (partial).
    first_tag = tags.split(b":", 1)[0]
    if first_tag not in (b"F", b"P"):
        return None
    message = parts[3] if len(parts) == 4 else b""
    return RawLine(
        LineFormat.CRI, time.decode("ascii"), stream.decode("ascii"), first_tag == b"P", message
    )


def parse_docker_json_line(line: bytes) -> RawLine | None:
    """Parse one Docker `json-file` line; return None when it is not one."""
    stripped = line.strip()
    if not stripped.startswith(b"{") or b'"log"' not in stripped:
        return None
    try:
        record = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("log"), str):
        return None
    text: str = record["log"]
    partial = not text.endswith("\n")
    message = text[:-1] if not partial else text
    return RawLine(
        LineFormat.DOCKER_JSON,
        str(record.get("time", "")),
        str(record.get("stream", "")),
        partial,
        message.encode("utf-8", "surrogatepass"),
    )


def parse_raw_line(line: bytes) -> RawLine | None:
    """Parse a line in whichever of the two runtime formats it is in."""
    return parse_cri_line(line) or parse_docker_json_line(line)


def detect_format(lines: Iterable[bytes], sample: int = 20) -> LineFormat:
    """Return the format most of the first `sample` non-empty lines are in."""
    counts = {LineFormat.CRI: 0, LineFormat.DOCKER_JSON: 0, LineFormat.UNKNOWN: 0}
    seen = 0
    for line in lines:
        if not line.strip():
            continue
        parsed = parse_raw_line(line[:MAX_LINE_BYTES])
        counts[parsed.format if parsed else LineFormat.UNKNOWN] += 1
        seen += 1
        if seen >= sample:
            break
    if seen == 0:
        return LineFormat.UNKNOWN
    return max(counts, key=lambda fmt: counts[fmt])


@dataclass(frozen=True)
class LogRecord:
    """One logical line: partial parts joined, decoded, with what was wrong with it."""

    time: str
    stream: str
    text: str
    invalid_utf8: bool = False
    truncated: bool = False


def split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Split file content into complete lines and an unterminated tail.

    A file that is being written or rotated while it is read often ends in the middle of a line.
    That tail is returned apart, so that callers do not parse half a record.
    """
    if not data:
        return [], b""
    lines = data.split(b"\n")
    tail = lines.pop()
    return lines, tail


def decode(message: bytes) -> tuple[str, bool]:
    """Decode container output as UTF-8 with invalid bytes replaced, and flag whether any were."""
    try:
        return message.decode("utf-8"), False
    except UnicodeDecodeError:
        return message.decode("utf-8", "replace"), True


def join_partials(lines: Iterable[RawLine]) -> list[LogRecord]:
    """Join partial lines (CRI `P`, Docker JSON without newline) into logical records.

    Parts are joined per stream, because stdout and stderr parts may interleave. A part left
    open at the end of the input is returned as a record of its own.
    """
    records: list[LogRecord] = []
    pending: dict[str, tuple[str, bytearray, bool]] = {}
    for line in lines:
        time, buffer, truncated = pending.pop(line.stream, (line.time, bytearray(), False))
        room = MAX_LINE_BYTES - len(buffer)
        if len(line.message) > room or line.truncated:
            truncated = True
        buffer += line.message[: max(room, 0)]
        if line.partial:
            pending[line.stream] = (time, buffer, truncated)
            continue
        records.append(_record(time, line.stream, bytes(buffer), truncated))
    for stream, (time, buffer, truncated) in pending.items():
        records.append(_record(time, stream, bytes(buffer), truncated))
    return records


def _record(time: str, stream: str, message: bytes, truncated: bool) -> LogRecord:
    text, invalid = decode(message)
    return LogRecord(time, stream, text, invalid, truncated)


def parse_node_file(data: bytes, *, starts_mid_file: bool = False) -> ParsedFile:
    """Parse the content (or a tail) of a node log file.

    `starts_mid_file` says that `data` was read from an offset, so its first line is probably
    cut and is skipped.
    """
    lines, tail = split_lines(data)
    if starts_mid_file and lines:
        lines = lines[1:]
    parsed: list[RawLine] = []
    unparsed = 0
    long_lines = 0
    for line in lines:
        if not line:
            continue
        if len(line) > MAX_LINE_BYTES:
            long_lines += 1
        raw = parse_raw_line(_cut_for_parsing(line))
        if raw is None:
            unparsed += 1
            continue
        if len(line) > MAX_LINE_BYTES:
            raw = dataclasses.replace(raw, truncated=True)
        parsed.append(raw)
    formats = {raw.format for raw in parsed}
    if len(formats) == 1:
        fmt = formats.pop()
    elif formats:
        fmt = max(formats, key=lambda f: sum(1 for raw in parsed if raw.format is f))
    else:
        fmt = LineFormat.UNKNOWN
    return ParsedFile(
        format=fmt,
        records=join_partials(parsed),
        unparsed_lines=unparsed,
        long_lines=long_lines,
        incomplete_tail=len(tail),
        bytes_read=len(data),
        last_time=parsed[-1].time if parsed else "",
    )


def _cut_for_parsing(line: bytes) -> bytes:
    """Cut an over-long line so that its prefix still parses.

    A cut CRI line keeps its prefix and the start of its message. A cut Docker JSON line no
    longer parses as JSON, so its `log` value is salvaged as a partial line.
    """
    if len(line) <= MAX_LINE_BYTES:
        return line
    head = line[:MAX_LINE_BYTES]
    start = _DOCKER_LOG_START.match(head)
    if start:
        text = head[start.end() :].split(b'"', 1)[0]
        return json.dumps({"log": text.decode("utf-8", "replace") + "\n"}).encode()
    return head


_DOCKER_LOG_START = re.compile(rb'^\{\s*"log"\s*:\s*"')


@dataclass
class ParsedFile:
    """A node log file (or the part of it that was read), parsed."""

    format: LineFormat
    records: list[LogRecord]
    unparsed_lines: int = 0
    long_lines: int = 0
    incomplete_tail: int = 0
    bytes_read: int = 0
    last_time: str = ""


# ---------------------------------------------------------------------------------------------
# What the messages say: structured lines, levels, tracebacks.

_LEVEL_KEYS = ("level", "levelname", "severity", "log.level", "lvl", "loglevel", "severity_text")
_ERROR_LEVELS = frozenset({"error", "err", "critical", "crit", "fatal", "panic", "alert", "emerg"})
_TEXT_LEVEL = re.compile(
    r"(?:^|[\s\[|:])(DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)(?:$|[\s\]|:])"
)
_TRACEBACK_START = "Traceback (most recent call last):"
_GO_PANIC = re.compile(r"^(panic: |fatal error: )")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b.*")


def parse_structured(text: str) -> dict[str, object] | None:
    """Parse a message that is a JSON object; return None for anything else."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def record_level(text: str, structured: dict[str, object] | None) -> str:
    """Return the lower-case level of a message, from its JSON fields or its text, or ''."""
    if structured is not None:
        for key in _LEVEL_KEYS:
            value = _lookup(structured, key)
            if isinstance(value, str) and value:
                return value.lower()
        return ""
    match = _TEXT_LEVEL.search(text[:200])
    return match.group(1).lower() if match else ""


def _lookup(mapping: dict[str, object], dotted: str) -> object:
    if dotted in mapping:
        return mapping[dotted]
    current: object = mapping
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def is_error_level(level: str) -> bool:
    """Say whether a level names an error or worse (ERROR, CRITICAL, FATAL and their spellings)."""
    return level in _ERROR_LEVELS


@dataclass
class LogSummary:
    """Counts, levels and the last errors of a stretch of container output, bounded for evidence."""

    lines: int = 0
    structured_lines: int = 0
    error_lines: int = 0
    invalid_utf8_lines: int = 0
    truncated_lines: int = 0
    last_time: str = ""
    last_errors: list[str] = field(default_factory=list)
    traceback: list[str] = field(default_factory=list)
    levels: dict[str, int] = field(default_factory=dict)

    @property
    def error_share(self) -> float:
        """Share of lines at level ERROR or worse, from 0 to 1."""
        return self.error_lines / self.lines if self.lines else 0.0

    def to_evidence(self) -> dict[str, Any]:
        """Convert to a plain evidence mapping."""
        return {
            "lines": self.lines,
            "structured_lines": self.structured_lines,
            "error_lines": self.error_lines,
            "error_share": round(self.error_share, 4),
            "invalid_utf8_lines": self.invalid_utf8_lines,
            "truncated_lines": self.truncated_lines,
            "levels": dict(self.levels),
            "last_errors": list(self.last_errors),
            "traceback": list(self.traceback),
        }


def summarise(records: Sequence[LogRecord]) -> LogSummary:
    """Count lines, structured lines and error levels, and keep the last traceback."""
    summary = LogSummary()
    traceback: list[str] = []
    in_traceback = False
    for record in records:
        summary.lines += 1
        summary.invalid_utf8_lines += record.invalid_utf8
        summary.truncated_lines += record.truncated
        if record.time:
            summary.last_time = record.time
        structured = parse_structured(record.text)
        summary.structured_lines += structured is not None
        level = record_level(record.text, structured)
        if level:
            summary.levels[level] = summary.levels.get(level, 0) + 1
        if is_error_level(level):
            summary.error_lines += 1
            _keep_last(summary.last_errors, _short(record.text), MAX_KEPT_ERRORS)
        in_traceback, traceback = _follow_traceback(record.text, in_traceback, traceback)
        if traceback and not in_traceback:
            summary.traceback = traceback
            traceback = []
    if traceback:
        summary.traceback = traceback
    return summary


def _follow_traceback(text: str, active: bool, lines: list[str]) -> tuple[bool, list[str]]:
    """Track a Python traceback or Go panic across records; return (still open, lines so far)."""
    line = text.rstrip()
    if line.startswith(_TRACEBACK_START) or _GO_PANIC.match(line):
        return True, [_short(line)]
    if not active:
        return False, lines
    _keep_last(lines, _short(line), MAX_TRACEBACK_LINES)
    # A Python traceback ends with the unindented `ExceptionType: message` line.
    if _EXCEPTION_LINE.match(line) and not line.startswith((" ", "\t")):
        return False, lines
    if not line:
        return False, lines
    return True, lines


def _keep_last(items: list[str], item: str, limit: int) -> None:
    items.append(item)
    del items[:-limit]


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def records_from_api(data: bytes, *, timestamps: bool) -> list[LogRecord]:
    """Turn a `pods/log` response body into records.

    With `timestamps=true` the API prefixes each line with its RFC 3339 time and a space; the
    runtime's partial lines are already joined by the kubelet.
    """
    lines, tail = split_lines(data)
    if tail:
        lines.append(tail)
    records = []
    for line in lines:
        time = ""
        if timestamps:
            head, _, rest = line.partition(b" ")
            if _CRI_TIME.match(head):
                time, line = head.decode("ascii"), rest
        cut = len(line) > MAX_LINE_BYTES
        text, invalid = decode(line[:MAX_LINE_BYTES])
        records.append(LogRecord(time, "", text, invalid, cut))
    return records


def parse_time(value: str) -> datetime | None:
    """Parse an RFC 3339 time with up to nanoseconds (Python keeps microseconds)."""
    match = re.match(
        r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", value.strip()
    )
    if not match:
        return None
    base, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone == "Z" else zone
    try:
        return datetime.fromisoformat(f"{base}.{micro}{zone}").astimezone(timezone.utc)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# The kubelet's directory listing (`/api/v1/nodes/<node>/proxy/logs/<dir>/`).


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        for name, value in attrs:
            if name == "href" and value:
                self.hrefs.append(value)


@dataclass(frozen=True)
class ListingEntry:
    """One entry of a kubelet directory listing; directories end with `/` in the listing."""

    name: str
    is_dir: bool


def parse_listing(body: bytes) -> list[ListingEntry]:
    """Parse the kubelet's file server listing: one `<a href="name">name</a>` per entry.

    The kubelet serves /var/log with Go's `http.FileServer`, which lists a directory as a `<pre>`
    of links, URL-escapes the names and appends `/` to directory names.
    """
    from urllib.parse import unquote

    collector = _LinkCollector()
    collector.feed(body.decode("utf-8", "replace"))
    entries = []
    for href in collector.hrefs:
        name = unquote(href)
        if name.startswith("./"):
            name = name[2:]
        if not name or name in ("../", "..") or "/" in name.rstrip("/"):
            continue
        entries.append(ListingEntry(name.rstrip("/"), name.endswith("/")))
    return entries


def looks_like_listing(body: bytes) -> bool:
    """Say whether a response body is a directory listing rather than file content."""
    head = body[:512].lstrip().lower()
    return head.startswith(b"<pre>") or head.startswith(b"<!doctype html") or head == b""


_RESTART_FILE = re.compile(r"^(\d+)\.log$")
_ROTATED_FILE = re.compile(r"^(\d+)\.log\.\d{8}-\d{6}(\.gz)?$")


def restart_files(names: Iterable[str]) -> dict[int, str]:
    """Map restart numbers to their current log file names (`0.log` → 0)."""
    found = {}
    for name in names:
        match = _RESTART_FILE.match(name)
        if match:
            found[int(match.group(1))] = name
    return found


def rotated_files(names: Iterable[str]) -> list[str]:
    """Return the names of files the kubelet rotated away (`0.log.20261204-200000[.gz]`)."""
    return sorted(name for name in names if _ROTATED_FILE.match(name))


def pod_log_dir(namespace: str, pod: str, uid: str) -> str:
    """Return the node directory of a pod's logs, relative to /var/log."""
    return f"pods/{namespace}_{pod}_{uid}"


def container_link_name(pod: str, namespace: str, container: str, container_id: str) -> str:
    """Return the name of a container's link in /var/log/containers.

    `container_id` may carry the runtime scheme (`containerd://<id>`), which the name omits.
    """
    bare_id = container_id.partition("://")[2] or container_id
    return f"{pod}_{namespace}_{container}-{bare_id}.log"
