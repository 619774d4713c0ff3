"""A strict, incremental parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text.

Feed it bytes as they arrive and close it to get an Exposition. It reports every problem it
finds with its line instead of stopping at the first, so one run shows everything a user has to
fix. The line loop is written for speed: plain `str` methods and caches of validated text for the
common shapes, regular expressions only for the rest, tuples instead of objects for samples, and
shared tuples for label pairs that repeat. The grammar itself is in `exposition_syntax`.

The formats, as implemented here:
- Prometheus text format 0.0.4, as documented in "Exposition formats" on prometheus.io and as
  `promtool check metrics` (Prometheus 2.42) parses it: runs of spaces or tabs between tokens,
  comments other than HELP and TYPE ignored, blank lines allowed, timestamps in integer
  milliseconds.
- OpenMetrics 1.0 (the OpenMetrics specification, text format): single spaces, only HELP, TYPE,
  UNIT and EOF comments, no blank lines, `# EOF` at the end, timestamps in seconds, exemplars.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from lsconform.probes.exposition_lint import lint_families
from lsconform.probes.exposition_model import (
    Exposition,
    ExpositionFormat,
    Family,
    Labels,
    SampleRow,
    Severity,
)
from lsconform.probes.exposition_rules import ProblemSink
from lsconform.probes.exposition_syntax import (
    EXEMPLAR_MAX_CHARS,
    HEAD_FRAGMENT,
    INF_WORDS,
    INT64_MAX,
    INT64_MIN,
    LABEL_ESCAPES,
    LABEL_PAIR,
    LABEL_SET,
    MAX_FLOAT,
    METRIC_NAME,
    NEXT_FRAGMENT,
    OPENMETRICS_SAMPLE,
    OPENMETRICS_SUFFIXES,
    OPENMETRICS_TYPES,
    TEXT_HELP_ESCAPES,
    TEXT_SUFFIXES,
    TEXT_TYPES,
    decode_escapes,
    diagnose_label_set,
    first_bad_escape,
    split_first,
)

log = logging.getLogger(__name__)

# Input is decoded and parsed in blocks of about this many bytes, cut at line ends, so the parser
# never holds a decoded copy of a whole large payload.
BLOCK_BYTES = 1 << 20

# A line still without its line feed after this many bytes is reported and skipped. Real
# expositions have lines of a few hundred bytes, so this only bounds what a broken writer costs.
MAX_LINE_BYTES = 16 << 20

# The caches stop growing past this many fragments, so hostile input with endless distinct
# label names costs speed, not memory.
_MAX_CACHED_FRAGMENTS = 100_000

# route: the family a sample name belongs to, the append method of its sample list, the set of
# label sets seen for that name (to find duplicate series) and the name string shared by samples.
_Route = tuple[Family, Callable[[SampleRow], None], "set[Labels]", str]


@dataclass(slots=True)
class _FamilyState:
    """Parser state of one family beyond its Family record."""

    entered: bool = False
    last_line: int = 0
    redeclared_at: int = 0


class ExpositionParser:
    """Parses an exposition fed in chunks; `close()` lints it and returns the Exposition.

    >>> parser = ExpositionParser(ExpositionFormat.PROMETHEUS_TEXT)
    >>> parser.feed(b"# HELP up Whether the target is up.\\n# TYPE up gauge\\nup 1\\n")
    >>> parser.close().families["up"].samples
    [('up', (), 1.0, None, 3)]
    """

    def __init__(
        self,
        format: ExpositionFormat,
        *,
        content_type: str | None = None,
        sink: ProblemSink | None = None,
    ) -> None:
        self.format = format
        self.content_type = content_type
        self._openmetrics = format is ExpositionFormat.OPENMETRICS
        self._suffixes = OPENMETRICS_SUFFIXES if self._openmetrics else TEXT_SUFFIXES
        self._default_type = "unknown" if self._openmetrics else "untyped"
        self._sink = sink or ProblemSink()
        self._families: dict[str, Family] = {}
        self._states: dict[str, _FamilyState] = {}
        self._routes: dict[str, _Route] = {}
        self._seen: dict[str, tuple[Family, set[Labels]]] = {}
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        self._heads: dict[str, tuple[str, str]] = {}
        self._next_labels: dict[str, str] = {}
        self._shared_names: dict[str, str] = {}
        self._current: Family | None = None
        # The partial last line, kept as the chunks it arrived in so that a long line fed in
        # small chunks is joined once, not copied on every feed.
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._skipping_long_line = False
        self._byte_count = 0
        self._line_count = 0
        self._eof_line = 0
        self._after_eof_reported = False
        self._carriage_return_reported = False
        self._closed = False

    # Input handling -------------------------------------------------------------------------

    def feed(self, data: bytes | str) -> None:
        """Parse every complete line in `data`; a trailing partial line waits for more input."""
        if self._closed:
            raise ValueError("feed() called after close()")
        if isinstance(data, str):
            self._feed_text(data)
            return
        self._byte_count += len(data)
        if self._skipping_long_line:
            data = self._skip_rest_of_long_line(data)
        last_newline = data.rfind(b"\n")
        if last_newline < 0:
            self._keep_pending(data)
            return
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            last_newline += self._pending_bytes
            self._pending = []
            self._pending_bytes = 0
        start = 0
        while start <= last_newline:
            end = data.rfind(b"\n", start, start + BLOCK_BYTES) + 1
            if end <= start:
                end = data.find(b"\n", start) + 1
            self._parse_block_bytes(data[start:end])
            start = end
        self._keep_pending(data[last_newline + 1 :])

    def _feed_text(self, text: str) -> None:
        if self._pending or self._skipping_long_line:
            # A partial line is waiting as bytes, so continue in bytes.
            self.feed(text.encode())
            return
        start, length = 0, len(text)
        while start < length:
            end = text.rfind("\n", start, start + BLOCK_BYTES) + 1
            if end <= start:
                end = text.find("\n", start) + 1 or length
            block = text[start:end]
            self._byte_count += len(block) if block.isascii() else len(block.encode())
            if block.endswith("\n"):
                self._parse_block_text(block)
            else:
                self._keep_pending(block.encode())
            start = end

    def _keep_pending(self, data: bytes) -> None:
        """Add the start of a line to the pending partial line, or skip a line over the limit."""
        if not data:
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes <= MAX_LINE_BYTES:
            return
        line_no = self._line_count + 1
        self._sink.add(
            "line-too-long",
            line_no,
            self._pending[0][:200].decode("utf-8", "replace"),
            f"line {line_no} is longer than {MAX_LINE_BYTES} bytes; lsconform skipped it",
        )
        self._skipping_long_line = True
        self._pending = []
        self._pending_bytes = 0

    def _skip_rest_of_long_line(self, data: bytes) -> bytes:
        newline = data.find(b"\n")
        if newline < 0:
            return b""
        self._skipping_long_line = False
        self._line_count += 1
        return data[newline + 1 :]

    def _parse_block_bytes(self, block: bytes) -> None:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            self._parse_lines(self._decode_lines_reporting(block), self._line_count)
            return
        self._parse_block_text(text)

    def _parse_block_text(self, text: str) -> None:
        lines = text.split("\n")
        lines.pop()  # The block ends with a line feed, so the last item is empty.
        if "\r" in text:
            lines = self._strip_carriage_returns(lines)
        self._parse_lines(lines, self._line_count)

    def _decode_lines_reporting(self, block: bytes) -> list[str]:
        """Decode a block line by line, reporting each line that is not valid UTF-8."""
        lines: list[str] = []
        raw_lines = block.split(b"\n")
        raw_lines.pop()
        for offset, raw in enumerate(raw_lines, start=self._line_count + 1):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                text = raw.decode("utf-8", "replace")
                bad = raw[error.start : error.start + 4]
                self._sink.add(
                    "invalid-utf8",
                    offset,
                    text,
                    f"line {offset} has bytes that are not valid UTF-8 at column "
                    f"{error.start + 1} ({bad!r}); Prometheus rejects the whole scrape",
                )
                lines.append(text)
        if any(line.endswith("\r") for line in lines):
            lines = self._strip_carriage_returns(lines)
        return lines

    def _strip_carriage_returns(self, lines: list[str]) -> list[str]:
        stripped = []
        for offset, line in enumerate(lines, start=self._line_count + 1):
            if line.endswith("\r"):
                if not self._carriage_return_reported:
                    self._carriage_return_reported = True
                    self._sink.add(
                        "carriage-return",
                        offset,
                        line,
                        f"line {offset} ends with CR LF; the exposition formats end lines "
                        "with a line feed only",
                    )
                line = line[:-1]
            stripped.append(line)
        return stripped

    # Line loop ----------------------------------------------------------------------------

    def _parse_lines(self, lines: list[str], line_no: int) -> None:
        """Parse complete lines; `line_no` is the number of the line before the first one.

        The fast path handles a sample line with no backslash: every `"` then delimits a label
        value, so `line.split('"')` yields the text before the first value (`name{label=`),
        the values, the separators between them (`,label=`) and the tail (`} value [ts]`).
        Separators seen before are looked up in caches that hold only validated text, so a
        line is checked without a regular expression. Anything else (escapes, odd spacing,
        errors) goes through `_sample_slowly`, which parses with regular expressions and names
        the problem.
        """
        if self._openmetrics:
            self._parse_lines_slowly(lines, line_no)
            return
        routes = self._routes
        current = self._current
        heads = self._heads
        next_label = self._next_labels.__getitem__
        share_pair = self._pairs.setdefault
        max_float = MAX_FLOAT
        labels: Labels
        for line in lines:
            line_no += 1
            if not line:
                continue
            head = line[0]
            if head == "#":
                self._comment(line, line_no)
                current = self._current
                continue
            if head == " " or head == "\t":
                line = line.lstrip(" \t")
                if not line:
                    continue
            if '"' in line:
                parts = line.split('"')
                first = heads.get(parts[0])
                tail = parts[-1]
                if first is None or not len(parts) & 1 or tail[:1] != "}" or "\\" in line:
                    self._sample_slowly(line, line_no)
                    current = self._current
                    continue
                name = first[0]
                try:
                    pairs = list(zip(map(next_label, parts[2:-1:2]), parts[3::2], strict=True))
                except KeyError:
                    self._sample_slowly(line, line_no)
                    current = self._current
                    continue
                pairs.append((first[1], parts[1]))
                if len(pairs) > 1:
                    pairs.sort()
                    if len(dict(pairs)) != len(pairs):
                        self._report_duplicate_label(pairs, line, line_no)
                        continue
                labels = tuple(map(share_pair, pairs, pairs))
                parts = tail[1:].split()
                count = len(parts)
                if count == 1:
                    value_text = parts[0]
                    timestamp_text = None
                elif count == 2:
                    value_text, timestamp_text = parts
                else:
                    self._report_sample_shape(line, line_no, parts)
                    continue
            elif "{" in line:
                self._sample_slowly(line, line_no)
                current = self._current
                continue
            else:
                parts = line.split()
                count = len(parts)
                if count == 2:
                    name, value_text = parts
                    timestamp_text = None
                elif count == 3:
                    name, value_text, timestamp_text = parts
                else:
                    self._report_sample_shape(line, line_no, parts[1:])
                    continue
                labels = ()
            try:
                value = float(value_text)
            except ValueError:
                self._report_value(value_text, line, line_no)
                continue
            if "_" in value_text or (
                not -max_float <= value <= max_float and not self._is_special(value_text)
            ):
                self._report_value(value_text, line, line_no)
                continue
            timestamp: int | float | None = None
            if timestamp_text is not None:
                timestamp = self._parse_timestamp(timestamp_text, line, line_no)
                if timestamp is None:
                    continue
            route = routes.get(name)
            if route is None or route[0] is not current:
                route = self._route(name, route, line, line_no)
                if route is None:
                    continue
                current = route[0]
            family, append, seen, shared_name = route
            size = len(seen)
            seen.add(labels)
            if len(seen) == size:
                self._report_duplicate_series(family, line, line_no)
            append((shared_name, labels, value, timestamp, line_no))
        self._line_count = line_no

    def _sample_slowly(self, line: str, line_no: int) -> None:
        """Parse a text-format sample line with regular expressions, reporting what is wrong.

        `line` has no leading whitespace. Label-name fragments that prove valid are cached for
        the fast path in `_parse_lines`.
        """
        brace = line.find("{")
        if brace < 0:
            parts = line.split()
            if len(parts) not in (2, 3):
                self._report_sample_shape(line, line_no, parts[1:])
                return
            name, value_text = parts[0], parts[1]
            timestamp_text = parts[2] if len(parts) == 3 else None
            labels: Labels = ()
        else:
            match = LABEL_SET.match(line, brace + 1)
            if match is None:
                self._report_label_set(line, line_no, brace)
                return
            name = line[:brace]
            end = match.end()
            parsed = self._labels_from_text(line[brace + 1 : end - 1], line, line_no)
            if parsed is None:
                return
            labels = parsed
            self._cache_label_fragments(line)
            parts = line[end:].split()
            if len(parts) not in (1, 2):
                self._report_sample_shape(line, line_no, parts)
                return
            value_text = parts[0]
            timestamp_text = parts[1] if len(parts) == 2 else None
        value = self._parse_value(value_text, line, line_no)
        if value is None:
            return
        timestamp: int | float | None = None
        if timestamp_text is not None:
            timestamp = self._parse_timestamp(timestamp_text, line, line_no)
            if timestamp is None:
                return
        self._add_sample(name, labels, value, timestamp, line, line_no)

    def _cache_label_fragments(self, line: str) -> None:
        """Remember the valid `name{label=` and `,label=` fragments of a line that parsed."""
        if "\\" in line or len(self._next_labels) + len(self._heads) > _MAX_CACHED_FRAGMENTS:
            return
        parts = line.split('"')
        if not len(parts) & 1 or len(parts) < 3:
            return
        head = HEAD_FRAGMENT.fullmatch(parts[0])
        if head is None or head.group(2).startswith("__"):
            return
        for fragment in parts[2:-1:2]:
            label = NEXT_FRAGMENT.fullmatch(fragment)
            if label is None or label.group(1).startswith("__"):
                return
            self._next_labels[fragment] = label.group(1)
        name = head.group(1)
        self._heads[parts[0]] = (self._shared_names.setdefault(name, name), head.group(2))

    def _parse_lines_slowly(self, lines: list[str], line_no: int) -> None:
        """Parse OpenMetrics lines one by one."""
        for line in lines:
            line_no += 1
            if self._eof_line:
                self._report_after_eof(line, line_no)
            elif not line:
                self._sink.add("blank-line", line_no, line, f"line {line_no} is blank")
            elif line[0] == "#":
                self._comment(line, line_no)
            else:
                self._openmetrics_sample(line, line_no)
        self._line_count = line_no

    def _report_after_eof(self, line: str, line_no: int) -> None:
        if self._after_eof_reported:
            return
        self._after_eof_reported = True
        self._sink.add(
            "content-after-eof",
            line_no,
            line,
            f"line {line_no} follows the `# EOF` line {self._eof_line}",
        )

    # OpenMetrics sample lines -----------------------------------------------------------

    def _openmetrics_sample(self, line: str, line_no: int) -> None:
        match = OPENMETRICS_SAMPLE.fullmatch(line)
        if match is None:
            self._diagnose_openmetrics_sample(line, line_no)
            return
        name, label_text, value_text, timestamp_text = match.group(1, 2, 3, 4)
        labels = self._labels_from_text(label_text or "", line, line_no)
        if labels is None:
            return
        value = self._parse_value(value_text, line, line_no)
        if value is None:
            return
        timestamp: int | float | None = None
        if timestamp_text is not None:
            timestamp = self._parse_timestamp(timestamp_text, line, line_no)
            if timestamp is None:
                return
        if match.group(6) is not None and not self._exemplar_is_valid(match, line, line_no):
            return
        self._add_sample(name, labels, value, timestamp, line, line_no)

    def _diagnose_openmetrics_sample(self, line: str, line_no: int) -> None:
        """Explain why a line is not an OpenMetrics sample, using the lenient parser's view."""
        before = self._sink.counts.copy()
        lenient = ExpositionParser(ExpositionFormat.PROMETHEUS_TEXT, sink=self._sink)
        lenient._parse_lines([line], line_no - 1)
        if self._sink.counts != before:
            return  # The lenient parser already reported what is wrong.
        if " # " in line:
            self._sink.add(
                "exemplar-invalid",
                line_no,
                line,
                f"line {line_no} has an invalid exemplar",
            )
            return
        self._sink.add(
            "whitespace-invalid",
            line_no,
            line,
            f"line {line_no} separates tokens with spaces or tabs that OpenMetrics does not allow",
        )

    def _exemplar_is_valid(self, match: re.Match[str], line: str, line_no: int) -> bool:
        labels = self._labels_from_text(match.group(5), line, line_no)
        if labels is None:
            return False
        size = sum(len(name) + len(value) for name, value in labels)
        if size > EXEMPLAR_MAX_CHARS:
            self._sink.add(
                "exemplar-invalid",
                line_no,
                line,
                f"line {line_no} has an exemplar with {size} characters of labels, more than "
                f"the {EXEMPLAR_MAX_CHARS} OpenMetrics allows",
            )
            return False
        if self._parse_value(match.group(6), line, line_no) is None:
            return False
        timestamp_text = match.group(7)
        return (
            timestamp_text is None
            or self._parse_timestamp(timestamp_text, line, line_no) is not None
        )

    def _labels_from_text(self, label_text: str, line: str, line_no: int) -> Labels | None:
        pairs = LABEL_PAIR.findall(label_text)
        if "\\" in label_text or "__" in label_text:
            checked = self._check_pairs(pairs, line, line_no)
            if checked is None:
                return None
            pairs = checked
        pairs.sort()
        if len(dict(pairs)) != len(pairs):
            self._report_duplicate_label(pairs, line, line_no)
            return None
        share_pair = self._pairs.setdefault
        return tuple(map(share_pair, pairs, pairs))

    def _add_sample(
        self,
        name: str,
        labels: Labels,
        value: float,
        timestamp: int | float | None,
        line: str,
        line_no: int,
    ) -> None:
        route = self._routes.get(name)
        if route is None or route[0] is not self._current:
            route = self._route(name, route, line, line_no)
            if route is None:
                return
        family, append, seen, shared_name = route
        size = len(seen)
        seen.add(labels)
        if len(seen) == size:
            self._report_duplicate_series(family, line, line_no)
        append((shared_name, labels, value, timestamp, line_no))

    # Values --------------------------------------------------------------------------------

    @staticmethod
    def _is_special(text: str) -> bool:
        """Tell whether an infinite or NaN value was spelled as such, not reached by overflow."""
        return text.lstrip("+-").lower() in INF_WORDS

    def _parse_value(self, text: str, line: str, line_no: int) -> float | None:
        try:
            value = float(text)
        except ValueError:
            self._report_value(text, line, line_no)
            return None
        if "_" in text or (not -MAX_FLOAT <= value <= MAX_FLOAT and not self._is_special(text)):
            self._report_value(text, line, line_no)
            return None
        return value

    def _report_value(self, text: str, line: str, line_no: int) -> None:
        self._sink.add(
            "value-invalid",
            line_no,
            line,
            f"line {line_no} has the value {text!r}, which is not a float the exposition "
            "formats accept",
        )

    def _parse_timestamp(self, text: str, line: str, line_no: int) -> int | float | None:
        if self._openmetrics:
            timestamp = self._parse_value(text, line, line_no)
            return timestamp
        try:
            if "_" in text:
                raise ValueError(text)
            milliseconds = int(text)
        except ValueError:
            self._sink.add(
                "timestamp-invalid",
                line_no,
                line,
                f"line {line_no} has the timestamp {text!r}; the text format 0.0.4 wants "
                "integer milliseconds",
            )
            return None
        if not INT64_MIN <= milliseconds <= INT64_MAX:
            self._sink.add(
                "timestamp-invalid",
                line_no,
                line,
                f"line {line_no} has the timestamp {text}, outside the 64-bit integer range",
            )
            return None
        return milliseconds

    # Label sets ------------------------------------------------------------------------------

    def _check_pairs(
        self, pairs: list[tuple[str, str]], line: str, line_no: int
    ) -> list[tuple[str, str]] | None:
        """Decode escapes and check reserved names; report and return None when invalid."""
        checked = []
        for name, value in pairs:
            if name.startswith("__"):
                if name == "__name__":
                    self._sink.add(
                        "label-name-reserved",
                        line_no,
                        line,
                        f"line {line_no} sets the label __name__, which only the metric name "
                        "may set",
                        severity=Severity.ERROR,
                    )
                    return None
                self._sink.add(
                    "label-name-reserved",
                    line_no,
                    line,
                    f"line {line_no} has the label {name}; names starting with __ are reserved",
                )
            if "\\" in value:
                decoded = decode_escapes(value, LABEL_ESCAPES)
                if decoded is None:
                    self._sink.add(
                        "label-value-escape",
                        line_no,
                        line,
                        f"line {line_no}: the value of label {name} has an invalid escape "
                        f"sequence ({first_bad_escape(value, LABEL_ESCAPES)})",
                    )
                    return None
                value = decoded
            checked.append((name, value))
        return checked

    def _report_duplicate_label(
        self, pairs: list[tuple[str, str]], line: str, line_no: int
    ) -> None:
        names = [name for name, _ in pairs]
        repeated = sorted({name for name in names if names.count(name) > 1})
        self._sink.add(
            "label-name-duplicate",
            line_no,
            line,
            f"line {line_no} sets the label {', '.join(repeated)} more than once",
        )

    def _report_label_set(self, line: str, line_no: int, brace: int) -> None:
        rule, cause = diagnose_label_set(line, brace + 1)
        self._sink.add(rule, line_no, line, f"line {line_no}: {cause}")

    def _report_sample_shape(self, line: str, line_no: int, tokens: list[str]) -> None:
        if not tokens:
            cause = f"line {line_no} has no sample value"
        elif len(tokens) > 2:
            cause = f"line {line_no} has text after the timestamp: {' '.join(tokens[2:])!r}"
        else:
            cause = f"line {line_no} is not a sample line"
        self._sink.add("sample-malformed", line_no, line, cause)

    # Families ------------------------------------------------------------------------------

    def _route(self, name: str, route: _Route | None, line: str, line_no: int) -> _Route | None:
        """Find or create the family of sample `name` and make it the current family."""
        if route is not None:
            self._enter(route[0], line_no, line)
            return route
        shared_name = name.rstrip(" \t")
        if not METRIC_NAME.fullmatch(shared_name):
            self._report_metric_name(shared_name, line, line_no)
            return None
        route = self._routes.get(shared_name)
        if route is None:
            family = self._families.get(shared_name)
            if family is None:
                family = self._new_family(shared_name, line_no)
            else:
                self._report_name_mismatch(family, shared_name, line, line_no)
            route = self._make_route(family, shared_name)
            self._routes[shared_name] = route
        self._routes[name] = route
        self._enter(route[0], line_no, line)
        return route

    def _make_route(self, family: Family, sample_name: str) -> _Route:
        entry = self._seen.get(sample_name)
        if entry is None or entry[0] is not family:
            entry = (family, set())
            self._seen[sample_name] = entry
        return (family, family.samples.append, entry[1], sample_name)

    def _new_family(self, name: str, line_no: int) -> Family:
        family = Family(name=name, type=self._default_type, first_line=line_no)
        self._families[name] = family
        self._states[name] = _FamilyState()
        self._routes[name] = self._make_route(family, name)
        return family

    def _enter(self, family: Family, line_no: int, line: str, *, report: bool = True) -> None:
        """Make `family` current, reporting when it had been left for another family."""
        current = self._current
        if family is current:
            return
        if current is not None:
            self._states[current.name].last_line = _last_line(current)
        state = self._states[family.name]
        if state.entered and report:
            self._sink.add(
                "family-not-contiguous",
                line_no,
                line,
                f"family {family.name} continues at line {line_no} after other families; "
                f"its earlier lines end at line {state.last_line}",
                family=family.name,
                severity=Severity.ERROR if self._openmetrics else None,
            )
        state.entered = True
        self._current = family

    def _report_metric_name(self, name: str, line: str, line_no: int) -> None:
        if not name:
            self._sink.add(
                "metric-name-invalid",
                line_no,
                line,
                f"line {line_no} has no metric name",
            )
            return
        if " " in name or "\t" in name:
            self._sink.add(
                "sample-malformed",
                line_no,
                line,
                f"line {line_no} has text between the metric name and the label set",
            )
            return
        self._sink.add(
            "metric-name-invalid",
            line_no,
            line,
            f"line {line_no} has the invalid metric name {name!r}",
        )

    def _report_name_mismatch(self, family: Family, name: str, line: str, line_no: int) -> None:
        owned = ", ".join(family.name + suffix for suffix in self._suffixes.get(family.type, ("",)))
        self._sink.add(
            "sample-name-mismatch",
            line_no,
            line,
            f"sample {name} on line {line_no} does not fit {family.type} family {family.name}, "
            f"whose samples are named {owned}",
            family=family.name,
            severity=Severity.ERROR if self._openmetrics else None,
        )

    def _report_duplicate_series(self, family: Family, line: str, line_no: int) -> None:
        self._sink.add(
            "series-duplicate",
            line_no,
            line,
            f"line {line_no} repeats a series of family {family.name} that an earlier line "
            "already set",
            family=family.name,
        )

    # Comments and metadata ----------------------------------------------------------------

    def _comment(self, line: str, line_no: int) -> None:
        if self._openmetrics:
            self._openmetrics_comment(line, line_no)
            return
        rest = line[1:].lstrip(" \t")
        keyword = rest[:4]
        if keyword not in ("HELP", "TYPE") or rest[4:5] not in ("", " ", "\t"):
            return  # The text format ignores other comments.
        tokens = rest[4:].lstrip(" \t")
        if keyword == "HELP":
            name, _, text = split_first(tokens)
            self._help(name, text, line, line_no)
        else:
            words = tokens.split()
            name = words[0] if words else ""
            self._type(name, " ".join(words[1:]), line, line_no)

    def _openmetrics_comment(self, line: str, line_no: int) -> None:
        if line == "# EOF":
            self._eof_line = line_no
            return
        keyword = line[:7]
        body = line[7:]
        if keyword == "# HELP ":
            name, _, text = body.partition(" ")
            self._help(name, text, line, line_no)
        elif keyword == "# TYPE ":
            name, _, type_name = body.partition(" ")
            self._type(name, type_name, line, line_no)
        elif keyword == "# UNIT ":
            name, _, unit = body.partition(" ")
            self._unit(name, unit, line, line_no)
        elif line.rstrip() == "# EOF":
            self._eof_line = line_no
            self._sink.add(
                "whitespace-invalid",
                line_no,
                line,
                f"line {line_no} has text after `# EOF`",
            )
        else:
            self._sink.add(
                "comment-invalid",
                line_no,
                line,
                f"line {line_no} is a comment other than HELP, TYPE, UNIT or EOF",
            )

    def _help(self, name: str, text: str, line: str, line_no: int) -> None:
        family = self._metadata_family(name, "HELP", line, line_no)
        if family is None:
            return
        if "\\" in text:
            escapes = dict(LABEL_ESCAPES) if self._openmetrics else TEXT_HELP_ESCAPES
            decoded = decode_escapes(text, escapes)
            if decoded is None:
                self._sink.add(
                    "help-escape",
                    line_no,
                    line,
                    f"line {line_no}: the HELP text of {name} has an invalid escape sequence "
                    f"({first_bad_escape(text, escapes)})",
                    family=name,
                )
            else:
                text = decoded
        if family.help_line == 0:
            family.help = text
            family.help_line = line_no

    def _type(self, name: str, type_name: str, line: str, line_no: int) -> None:
        if not type_name and METRIC_NAME.fullmatch(name):
            self._sink.add(
                "metadata-malformed",
                line_no,
                line,
                f"line {line_no} is a TYPE line for {name} without a type",
                family=name,
            )
            return
        family = self._metadata_family(name, "TYPE", line, line_no)
        if family is None:
            return
        known = OPENMETRICS_TYPES if self._openmetrics else TEXT_TYPES
        if type_name not in known:
            self._sink.add(
                "type-unknown",
                line_no,
                line,
                f"line {line_no} declares {name} with the unknown type {type_name!r}",
                family=name,
            )
            return
        if family.type_line or family.samples:
            return  # A repeated or late TYPE line was reported; the first one stands.
        family.type = type_name
        family.type_line = line_no
        for suffix in self._suffixes[type_name]:
            sample_name = name + suffix
            if sample_name not in self._families or sample_name == name:
                self._routes[sample_name] = self._make_route(family, sample_name)
        if "" not in self._suffixes[type_name]:
            # Samples named like the family itself do not belong to it, so `_route` reports them.
            self._routes.pop(name, None)

    def _unit(self, name: str, unit: str, line: str, line_no: int) -> None:
        family = self._metadata_family(name, "UNIT", line, line_no)
        if family is None or family.unit_line:
            return
        family.unit = unit
        family.unit_line = line_no
        if unit and not name.endswith("_" + unit):
            self._sink.add(
                "unit-mismatch",
                line_no,
                line,
                f"family {name} declares the unit {unit!r} but its name does not end with _{unit}",
                family=name,
            )

    def _metadata_family(self, name: str, keyword: str, line: str, line_no: int) -> Family | None:
        """Find or create the family a metadata line names, reporting when it comes too late."""
        if not name:
            self._sink.add(
                "metadata-malformed",
                line_no,
                line,
                f"line {line_no} is a {keyword} line without a metric name",
            )
            return None
        if not METRIC_NAME.fullmatch(name):
            self._sink.add(
                "metric-name-invalid",
                line_no,
                line,
                f"line {line_no} names the invalid metric {name!r} in its {keyword} line",
            )
            return None
        family = self._families.get(name)
        if family is None:
            family = self._new_family(name, line_no)
            self._enter(family, line_no, line)
            return family
        state = self._states[name]
        already = {"HELP": family.help_line, "TYPE": family.type_line, "UNIT": family.unit_line}
        if already[keyword]:
            self._report_redeclared(family, state, keyword, line, line_no)
            self._enter(family, line_no, line, report=False)
        elif family.samples:
            rule = {"HELP": "help-after-samples", "TYPE": "type-after-samples"}.get(
                keyword, "unit-after-samples"
            )
            self._sink.add(
                rule,
                line_no,
                line,
                f"line {line_no} is the {keyword} line of {name}, but its samples start at "
                f"line {family.samples[0][4]}",
                family=name,
                severity=Severity.ERROR if self._openmetrics else None,
            )
            self._enter(family, line_no, line, report=False)
        else:
            self._enter(family, line_no, line)
        return family

    def _report_redeclared(
        self, family: Family, state: _FamilyState, keyword: str, line: str, line_no: int
    ) -> None:
        last_sample = family.samples[-1][4] if family.samples else 0
        if state.redeclared_at and state.redeclared_at > last_sample:
            return  # Reported already for this repeated block of metadata.
        state.redeclared_at = line_no
        first = min(n for n in (family.help_line, family.type_line, family.unit_line) if n)
        self._sink.add(
            "family-redeclared",
            line_no,
            line,
            f"family {family.name} is declared twice (lines {first} and {line_no}); strict "
            "parsers reject the whole payload",
            family=family.name,
        )

    # Closing -------------------------------------------------------------------------------

    def close(self) -> Exposition:
        """Parse what is left, lint every family and return the Exposition."""
        if self._closed:
            raise ValueError("close() called twice")
        if self._pending and not self._skipping_long_line:
            pending = b"".join(self._pending)
            self._pending = []
            self._parse_block_bytes(pending + b"\n")
            self._sink.add(
                "final-newline-missing",
                self._line_count,
                pending[:200].decode("utf-8", "replace"),
                f"the last line ({self._line_count}) has no line feed; strict parsers read the "
                "payload as truncated",
            )
        self._closed = True
        if self._openmetrics and not self._eof_line:
            self._sink.add(
                "eof-missing",
                0,
                "",
                "the OpenMetrics payload does not end with `# EOF`",
            )
        series_count = 0
        for family, seen in self._seen.values():
            family.series_count += len(seen)
            series_count += len(seen)
        families = self._families
        lint_families(families.values(), self.format, self._sink)
        log.debug(
            "parsed %d lines, %d families, %d series", self._line_count, len(families), series_count
        )
        return Exposition(
            format=self.format,
            content_type=self.content_type,
            families=families,
            problems=self._sink.sorted_problems(),
            problem_counts=dict(self._sink.counts),
            severity_counts=dict(self._sink.severity_counts),
            byte_count=self._byte_count,
            line_count=self._line_count,
            sample_count=sum(len(family.samples) for family in families.values()),
            series_count=series_count,
        )


def _last_line(family: Family) -> int:
    lines = [family.help_line, family.type_line, family.unit_line]
    if family.samples:
        lines.append(family.samples[-1][4])
    return max(lines)
