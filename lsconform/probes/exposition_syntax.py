"""The grammar of the text exposition formats: names, label sets, escapes, types.

Regular expressions and tables shared by the parser, and the slow-path helpers that explain why
a label set does not parse. Sources: "Exposition formats" on prometheus.io (text format 0.0.4)
and the OpenMetrics 1.0 specification.
"""

from __future__ import annotations

import re

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_QUOTED = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_PAIR_SYNTAX = r"[a-zA-Z_][a-zA-Z0-9_]*[ \t]*=[ \t]*" + _QUOTED
# The rest of a label set after its `{`, through the closing `}`, in the lenient 0.0.4 spacing.
LABEL_SET = re.compile(
    r"[ \t]*(?:" + _PAIR_SYNTAX + r"(?:[ \t]*,[ \t]*" + _PAIR_SYNTAX + r")*[ \t]*,?)?[ \t]*\}"
)
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"([^"\\]*(?:\\.[^"\\]*)*)"')
_OM_PAIR_SYNTAX = r"[a-zA-Z_][a-zA-Z0-9_]*=" + _QUOTED
_OM_LABELS = r"(?:" + _OM_PAIR_SYNTAX + r"(?:," + _OM_PAIR_SYNTAX + r")*)?"
# A whole OpenMetrics sample line: name, labels, value, timestamp, exemplar.
OPENMETRICS_SAMPLE = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(" + _OM_LABELS + r")\})? (\S+)(?: (\S+))?"
    r"(?: # \{(" + _OM_LABELS + r")\} (\S+)(?: (\S+))?)?"
)
# Validated fragments between label values, cached by the fast path: `name{label=` before the
# first value and `,label=` between values, each with the lenient 0.0.4 spacing.
HEAD_FRAGMENT = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t]*\{[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"
)
NEXT_FRAGMENT = re.compile(r"[ \t]*,[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*")
_PAIR_START = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*[ \t]*=[ \t]*"')
_ESCAPE = re.compile(r"\\(.)")
LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
TEXT_HELP_ESCAPES = {"\\": "\\", "n": "\n"}
# Spellings of infinity and NaN that Go's strconv.ParseFloat (promtool) and Python's float() both
# accept, in any letter case. A value that overflows to infinity without one of them is invalid.
INF_WORDS = frozenset({"inf", "infinity", "nan"})
MAX_FLOAT = 1.7976931348623157e308  # the largest finite IEEE 754 double
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# OpenMetrics limits an exemplar's label names and values to 128 UTF-8 characters in total.
EXEMPLAR_MAX_CHARS = 128

TEXT_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
OPENMETRICS_TYPES = (
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
    "unknown",
)

# The sample names each family type owns, as suffixes of the family name.
TEXT_SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}
OPENMETRICS_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "unknown": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
}


def decode_escapes(text: str, escapes: dict[str, str]) -> str | None:
    """Decode the escape sequences in `text`, or return None if one is not in `escapes`."""
    if first_bad_escape(text, escapes):
        return None
    return _ESCAPE.sub(lambda match: escapes[match.group(1)], text)


def split_first(text: str) -> tuple[str, str, str]:
    """Split off the first whitespace-separated token, as the text format reads a HELP line."""
    parts = text.split(None, 1)
    if not parts:
        return "", "", ""
    if len(parts) == 1:
        return parts[0], "", ""
    return parts[0], " ", parts[1]


def first_bad_escape(text: str, escapes: dict[str, str]) -> str:
    """Return the first invalid escape sequence in `text` (`\\q`, or `\\` at the end), or ''."""
    index = text.find("\\")
    while index >= 0:
        following = text[index + 1 : index + 2]
        if following not in escapes:
            return "\\" + following
        index = text.find("\\", index + 2)
    return ""


def diagnose_label_set(line: str, start: int) -> tuple[str, str]:
    """Name the rule and the cause for a label set that `LABEL_SET` does not match."""
    position = start
    length = len(line)
    seen_names: set[str] = set()
    while True:
        while position < length and line[position] in " \t":
            position += 1
        if position >= length:
            return "label-set-malformed", "the label set has no closing }"
        if line[position] == "}":
            return "label-set-malformed", "the label set cannot be parsed"
        name_match = LABEL_NAME.match(line, position)
        if name_match is None:
            bad = line[position : position + 20]
            return "label-name-invalid", f"invalid label name at {bad!r}"
        name = name_match.group()
        position = name_match.end()
        while position < length and line[position] in " \t":
            position += 1
        if position >= length or line[position] != "=":
            return "label-set-malformed", f"label {name} has no `=` after its name"
        position += 1
        while position < length and line[position] in " \t":
            position += 1
        if position >= length or line[position] != '"':
            return "label-set-malformed", f"the value of label {name} is not in double quotes"
        value_end = _end_of_quoted(line, position)
        if value_end < 0:
            return "label-value-unescaped", (
                f"the value of label {name} has no closing double quote"
            )
        seen_names.add(name)
        position = value_end
        while position < length and line[position] in " \t":
            position += 1
        if position < length and line[position] == ",":
            position += 1
            continue
        if position < length and line[position] == "}":
            return "label-set-malformed", "the label set cannot be parsed"
        if position >= length:
            return "label-set-malformed", "the label set has no closing }"
        if _PAIR_START.match(line, position):
            return "label-set-malformed", (
                f"label {name} is not followed by a comma before the next label"
            )
        value = line[name_match.end() : value_end].split("=", 1)[-1].strip()
        return "label-value-unescaped", (
            f"the value of label {name} ({value}) is followed by "
            f"{line[position : position + 20]!r}; an unescaped double quote inside the value "
            "ends it early"
        )


def _end_of_quoted(line: str, quote: int) -> int:
    """Return the index after the closing quote of the string opening at `quote`, or -1."""
    index = quote + 1
    length = len(line)
    while index < length:
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char == '"':
            return index + 1
        index += 1
    return -1
