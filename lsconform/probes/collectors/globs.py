"""The path pattern languages of the log collectors, evaluated on known paths.

Each collector resolves its patterns against a filesystem; lsconform knows which paths a
LangSmith container's logs have on its node, so it asks the reverse question: would this pattern,
as the collector evaluates it, take this path? The semantics follow each collector's own
implementation (sources in docs/logs.md):

- OpenTelemetry Collector `filelog` receiver: `include` patterns are expanded with
  `doublestar.FilepathGlob(pattern, WithFilesOnly())` from github.com/bmatcuk/doublestar/v4 and each
  match is dropped when `doublestar.PathMatch(exclude, match)` is true for an `exclude` pattern.
  `*`, `?` and classes never match `/`; a `**` path component matches zero or more directories;
  `{a,b}` alternatives may contain `/` and nest; dot files are not special.
- Fluent Bit `tail` input: each comma-separated `Path` entry is expanded with glob(3) and flags
  `GLOB_TILDE | GLOB_ERR` (no `GLOB_BRACE`, no `GLOB_PERIOD`), so `**` is just `*`, braces are
  literal and a wildcard does not match a leading dot. `Exclude_Path` entries are tested with
  `fnmatch(pattern, path, 0)`: without `FNM_PATHNAME`, `*` and `?` also match `/`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from functools import lru_cache


class BadPattern(ValueError):
    """A pattern the collector itself rejects (the collector fails to start or skips it)."""


# Brace sets multiply: `{a,b}{c,d}` is four patterns. Past this many the pattern is rejected
# rather than expanded, which no real collector configuration reaches.
MAX_BRACE_EXPANSIONS = 1024

# ---------------------------------------------------------------------------------------------
# doublestar v4 (OpenTelemetry filelog).


def doublestar_match(pattern: str, path: str) -> bool:
    """Return what `doublestar.Match(pattern, path)` returns; raise BadPattern where it errors."""
    return _doublestar_regex(pattern).fullmatch(path) is not None


def filelog_includes(pattern: str, path: str) -> bool:
    """Say whether `FilepathGlob(pattern)` would return `path` (given the file exists).

    FilepathGlob cleans the pattern first (`filepath.Clean`: doubled slashes and `.` components
    go), then matches component by component as `Match` does.
    """
    return doublestar_match(_clean(pattern), path)


def _clean(pattern: str) -> str:
    if not pattern:
        return pattern
    cleaned = posixpath.normpath(pattern)
    # posixpath keeps a leading `//`, Go's Clean does not.
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


@lru_cache(maxsize=512)
def _doublestar_regex(pattern: str) -> re.Pattern[str]:
    alternatives = _expand_braces(pattern)
    return re.compile("|".join(f"(?:{_doublestar_alt(alt)})" for alt in alternatives), re.DOTALL)


def _expand_braces(pattern: str) -> list[str]:
    """Expand `{a,b}` sets (nested, possibly empty alternatives); escapes and classes kept."""
    start = _find_open_brace(pattern)
    if start < 0:
        return [pattern]
    end, pieces = _split_brace(pattern, start)
    head, tail = pattern[:start], pattern[end + 1 :]
    expanded: list[str] = []
    for piece in pieces:
        expanded.extend(_expand_braces(head + piece + tail))
        if len(expanded) > MAX_BRACE_EXPANSIONS:
            raise BadPattern(f"brace sets expand to more than {MAX_BRACE_EXPANSIONS} patterns")
    return expanded


def _find_open_brace(pattern: str) -> int:
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _class_end(pattern, index) + 1
            continue
        if char == "{":
            return index
        index += 1
    return -1


def _split_brace(pattern: str, start: int) -> tuple[int, list[str]]:
    """Return the index of the `}` closing the set at `start` and its top-level alternatives."""
    depth = 0
    pieces: list[str] = []
    piece_start = start + 1
    index = start
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _class_end(pattern, index) + 1
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                pieces.append(pattern[piece_start:index])
                return index, pieces
        elif char == "," and depth == 1:
            pieces.append(pattern[piece_start:index])
            piece_start = index + 1
        index += 1
    raise BadPattern(f"unclosed brace set in {pattern!r}")


def _class_end(pattern: str, start: int) -> int:
    """Return the index of the `]` closing the class that opens at `start`."""
    index = start + 1
    if index < len(pattern) and pattern[index] in "^!":
        index += 1
    # doublestar has no "leading ] is literal" rule: `[]a]` is an empty class, which it rejects.
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "]":
            return index
        index += 1
    raise BadPattern(f"unclosed character class in {pattern!r}")


def _doublestar_alt(pattern: str) -> str:
    """Translate one brace-free doublestar pattern into a regular expression."""
    segments = _split_unescaped(pattern, "/")
    parts: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == "**" and index + 1 == last and segments[last] == "":
            # `a/**/` matches `a` and the directories below it, never a file name.
            parts.append("(?:/(?:.*/)?)?")
            break
        if segment == "**":
            if index == last:
                # `a/**` matches `a` itself and everything below it; a lone `**` matches all.
                parts.append(".*" if index == 0 else "(?:/.*)?")
            else:
                parts.append("(?:.*/)?")
            continue
        parts.append(_doublestar_segment(segment))
        trailing_globstar = segments[index + 1 :] in (["**"], ["**", ""])
        if index != last and not trailing_globstar:
            parts.append("/")
    return "".join(parts)


def _split_unescaped(pattern: str, separator: str) -> list[str]:
    segments: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            current.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[":
            end = _class_end(pattern, index)
            current.append(pattern[index : end + 1])
            index = end + 1
            continue
        if char == separator:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return segments


def _doublestar_segment(segment: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "\\":
            if index + 1 >= len(segment):
                raise BadPattern("pattern ends with a lone backslash")
            out.append(re.escape(segment[index + 1]))
            index += 2
        elif char == "*":
            # Inside a component, `**` behaves like `*`.
            while index < len(segment) and segment[index] == "*":
                index += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[":
            end = _class_end(segment, index)
            out.append(_class_regex(segment[index + 1 : end], allow_posix=False, separator="/"))
            index = end + 1
        else:
            out.append(re.escape(char))
            index += 1
    return "".join(out)


def _class_regex(body: str, *, allow_posix: bool, separator: str | None) -> str:
    """Translate the inside of a `[...]` class; `separator` is a character it never matches."""
    negate = bool(body) and body[0] in "^!"
    if negate:
        body = body[1:]
    if not body:
        raise BadPattern("empty character class")
    items: list[str] = []
    index = 0
    previous_was_range = False
    while index < len(body):
        if allow_posix and body.startswith("[:", index):
            end = body.find(":]", index + 2)
            if end > 0:
                items.append(_POSIX_CLASSES.get(body[index + 2 : end], ""))
                index = end + 2
                previous_was_range = False
                continue
        char, index = _class_char(body, index)
        is_range = (
            not previous_was_range
            and index + 1 < len(body)
            and body[index] == "-"
            and body[index + 1] != "]"
        )
        if is_range:
            high, index = _class_char(body, index + 1)
            if high < char:
                raise BadPattern(f"invalid range {char}-{high} in character class")
            items.append(f"{re.escape(char)}-{re.escape(high)}")
            previous_was_range = True
            continue
        items.append(re.escape(char))
        previous_was_range = False
    joined = "".join(items)
    if negate:
        return f"[^{joined}{re.escape(separator) if separator else ''}]"
    if separator:
        return f"(?!{re.escape(separator)})[{joined}]"
    return f"[{joined}]"


def _class_char(body: str, index: int) -> tuple[str, int]:
    if body[index] == "\\" and index + 1 < len(body):
        return body[index + 1], index + 2
    return body[index], index + 1


_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "digit": "0-9",
    "lower": "a-z",
    "upper": "A-Z",
    "space": " \\t\\n\\r\\f\\v",
    "xdigit": "0-9A-Fa-f",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}

# ---------------------------------------------------------------------------------------------
# glob(3) and fnmatch(3) as glibc implements them (Fluent Bit tail).


def glob3_matches(pattern: str, path: str) -> bool:
    """Say whether glob(3) without `GLOB_PERIOD` or `GLOB_BRACE` would return `path`.

    glob(3) expands one directory level per pattern component, so the pattern and the path must
    have the same number of components; each component is matched with fnmatch(3) semantics in
    which a leading `.` must be matched by a literal `.`.
    """
    pattern_parts = _collapse_slashes(pattern).split("/")
    path_parts = _collapse_slashes(path).split("/")
    if len(pattern_parts) != len(path_parts):
        return False
    return all(
        _fnmatch_regex(part, True, True).fullmatch(name) is not None
        for part, name in zip(pattern_parts, path_parts, strict=True)
    )


def _collapse_slashes(path: str) -> str:
    return re.sub("/{2,}", "/", path)


def fnmatch3(pattern: str, name: str, *, pathname: bool = False, period: bool = False) -> bool:
    """Return what glibc `fnmatch(pattern, name, flags) == 0` returns.

    `pathname` is `FNM_PATHNAME` (wildcards do not match `/`), `period` is `FNM_PERIOD` (a leading
    `.` must be matched literally). Fluent Bit's `Exclude_Path` uses neither.
    """
    return _fnmatch_regex(pattern, pathname, period).fullmatch(name) is not None


@lru_cache(maxsize=512)
def _fnmatch_regex(pattern: str, pathname: bool, period: bool) -> re.Pattern[str]:
    any_char = "[^/]" if pathname else "."
    out: list[str] = []
    if period:
        out.append(r"(?!\.)" if pattern[:1] not in (".", "\\") else "")
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
        elif char == "*":
            out.append(f"{any_char}*")
            index += 1
        elif char == "?":
            out.append(any_char)
            index += 1
        elif char == "[":
            end = _glibc_class_end(pattern, index)
            if end < 0:
                # An unclosed `[` is an ordinary character in glibc.
                out.append(re.escape(char))
                index += 1
                continue
            body = pattern[index + 1 : end]
            out.append(_class_regex(body, allow_posix=True, separator="/" if pathname else None))
            index = end + 1
        else:
            out.append(re.escape(char))
            index += 1
    return re.compile("".join(out), re.DOTALL)


def _glibc_class_end(pattern: str, start: int) -> int:
    """Return the index of the `]` closing a class in glibc, or -1 when it is not closed.

    A `]` right after `[`, `[!` or `[^` is a member of the class, not its end.
    """
    index = start + 1
    if index < len(pattern) and pattern[index] in "!^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":
        index += 1
    while index < len(pattern):
        if pattern.startswith("[:", index):
            close = pattern.find(":]", index + 2)
            if close > 0:
                index = close + 2
                continue
        if pattern[index] == "\\":
            index += 2
            continue
        if pattern[index] == "]":
            return index
        index += 1
    return -1


def split_comma_list(value: str) -> list[str]:
    """Split a Fluent Bit comma list (`Path`, `Exclude_Path`) as its config map does.

    Entries are split at every comma and trimmed, so a brace set such as `{a,b}` is cut apart.
    """
    return [item.strip() for item in value.split(",") if item.strip()]


def fluentbit_selects(paths: str, excludes: str, path: str) -> bool:
    """Say whether a tail input with these `Path` and `Exclude_Path` values would take `path`."""
    if not any(glob3_matches(pattern, path) for pattern in split_comma_list(paths)):
        return False
    return not any(fnmatch3(pattern, path) for pattern in split_comma_list(excludes))


def fnmatch_glob_list(pattern: str, names: Iterable[str]) -> list[str]:
    """Return the names (of one directory) that glob(3) would expand `pattern` to, sorted."""
    return sorted(name for name in names if fnmatch3(pattern, name, pathname=True, period=True))


def filelog_selects(includes: Iterable[str], excludes: Iterable[str], path: str) -> bool:
    """Say whether a filelog receiver with these patterns would take `path` (if it exists)."""
    if not any(filelog_includes(pattern, path) for pattern in includes):
        return False
    return not any(doublestar_match(pattern, path) for pattern in excludes)
