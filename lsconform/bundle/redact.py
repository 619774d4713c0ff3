"""Redaction of support bundle content: structured first, by pattern second.

Structured redaction walks parsed objects (Kubernetes objects, Helm values, JSON log lines) and
replaces the value of every field whose name says it holds a secret (keys, salts, passwords,
tokens, DSNs, license keys) with a marker. Pattern redaction then runs over all text: bearer
tokens, JWTs, passwords in URLs, known API key formats, private keys, e-mail addresses, sensitive
`name=value` assignments (plain and JSON-escaped) and LangSmith trace payload fields (`inputs`,
`outputs`, `messages`). Every value replaced either way is remembered, so that a secret seen once
in a structured place is also removed wherever it appears later as plain text, and so that the
verification scan can look for it in the written archive.

A marker reads `[REDACTED:<category>#<hash>]`; the `#` keeps the marker itself from looking
like a `name: value` assignment to the patterns. The hash is the first 10 hex digits of an
HMAC-SHA256 of the value under a key chosen per bundle: two occurrences of one value carry the
same hash within a bundle, and nobody can test a guess of the value against a hash.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Values shorter than this are still replaced where a field name or pattern marks them as
# secret. They are not searched for elsewhere as plain text, because a short value such as
# "admin" would mangle ordinary words in logs and cannot be distinguished from them.
MIN_KNOWN_SECRET_LENGTH = 8

# A value of lower-case letters, digits and `.-_` with no more than one digit reads like a
# Kubernetes object name or a word rather than a generated credential.
PLAIN_NAME = re.compile(r"(?=[^0-9]*[0-9]?[^0-9]*$)[a-z][a-z0-9._-]{0,62}")

# Words that, appearing in a field name, mark its value as a secret. Field names are split into
# words at case changes and at `_`, `-`, `.` and spaces before they are compared.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "salt",
        "dsn",
        "credential",
        "credentials",
        "apikey",
        "privatekey",
        "licensekey",
        "authorization",
        "cookie",
        "signature",
        "license",
    }
)
# Word pairs that mark a secret when they appear next to each other (`api_key`, `licenseKey`).
SECRET_WORD_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("license", "key"),
        ("access", "key"),
        ("secret", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("client", "secret"),
        ("connection", "url"),
        ("connection", "uri"),
        ("connection", "string"),
        ("database", "url"),
        ("database", "uri"),
        ("auth", "key"),
        ("master", "key"),
    }
)
# A field whose last word is one of these names or refers to a secret rather than holding one
# (`secretName`, `secretKeyRef`, `tokenEnabled`, `existingSecret`).
REFERENCE_WORDS = frozenset(
    {
        "name",
        "names",
        "ref",
        "enabled",
        "enable",
        "path",
        "file",
        "mount",
        "type",
        "kind",
        "namespace",
        "ttl",
        "expiry",
        "expires",
        "seconds",
        "length",
        "header",
        "id",
        "url",
        "endpoint",
        "provider",
        "keys",
        "selector",
        "secrets",
        "items",
        "volume",
    }
)
EXISTING_PREFIXES = ("existing",)

# LangSmith run fields that carry user data: prompts, completions and tool payloads.
TRACE_PAYLOAD_FIELDS = frozenset({"inputs", "outputs", "messages"})

_WORD_SPLIT = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def field_words(name: str) -> list[str]:
    """Split a field name into lower-case words: `apiKeySalt` -> api, key, salt."""
    return [word.lower() for word in _WORD_SPLIT.findall(name)]


def is_secret_field(name: str) -> bool:
    """Tell whether a field of this name holds a secret value.

    >>> is_secret_field("langsmithLicenseKey"), is_secret_field("secretKeyRef")
    (True, False)
    """
    words = field_words(name)
    if not words:
        return False
    # `...ConnectionUrl` ends in `url` but contains a DSN, so a secret pair at the end wins.
    ends_in_pair = len(words) >= 2 and (words[-2], words[-1]) in SECRET_WORD_PAIRS
    if (words[-1] in REFERENCE_WORDS or words[0] in EXISTING_PREFIXES) and not ends_in_pair:
        return False
    if any(word in SECRET_WORDS for word in words):
        return True
    joined = "".join(words)
    if any(word in joined for word in ("apikey", "licensekey", "privatekey", "jwtsecret")):
        return True
    return any(pair in SECRET_WORD_PAIRS for pair in itertools.pairwise(words))


@dataclass(frozen=True)
class Pattern:
    """A named regular expression over text; group `secret` (or the whole match) is replaced."""

    category: str
    regex: re.Pattern[str]
    hints: tuple[str, ...] = ()
    """Lower-case substrings of which one must occur in the text for the pattern to run; an
    empty tuple runs it always. A cheap `in` test spares a regex pass over most files."""


def _pattern(
    category: str, expression: str, flags: int = 0, hints: tuple[str, ...] = ()
) -> Pattern:
    return Pattern(category, re.compile(expression, flags), hints)


# A quote that may be escaped any number of times: `"`, `\"`, `\\\"` (JSON inside JSON).
_Q = r"(?:\\*[\"'])"
_FIELD_NAME_REGEX = (
    r"[A-Za-z0-9_.-]*(?:password|passwd|pwd|passphrase|secret|token|salt|dsn|credential"
    r"|api[_-]?key|apikey|license[_-]?key|private[_-]?key|access[_-]?key|authorization"
    r"|x-api-key|cookie|encryption[_-]?key|signing[_-]?key|master[_-]?key"
    r"|connection[_-]?(?:url|uri|string)|database[_-]?ur[il])[A-Za-z0-9_.-]*"
)

BUILTIN_PATTERNS: tuple[Pattern, ...] = (
    _pattern(
        "private-key",
        r"(?P<secret>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?"
        r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z))",
        re.DOTALL,
        hints=("private key",),
    ),
    _pattern(
        "jwt",
        r"(?P<secret>\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)",
        hints=("eyj",),
    ),
    _pattern(
        "bearer-token",
        r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
        hints=("bearer",),
    ),
    # Basic credentials are base64; the lookahead keeps prose such as "Basic authentication".
    _pattern(
        "bearer-token",
        r"(?i)\bbasic\s+(?P<secret>(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2})",
        hints=("basic",),
    ),
    _pattern(
        "url-password",
        r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@\"'\\]{0,256}:(?P<secret>[^\s/@\"'\\]{1,256})@",
        hints=("@",),
    ),
    # Scheme-less DSNs such as `user:pass@db.internal:5432/app`: the host must carry a port or
    # a path so that `name:value@domain` alone (an e-mail after a label) is left alone.
    _pattern(
        "url-password",
        r"(?<![\w/:])[A-Za-z0-9_.%-]{1,64}:(?P<secret>[^\s:/@\"'\\]{1,256})@"
        r"[A-Za-z0-9.-]+(?::\d{2,5}|/)",
        hints=("@",),
    ),
    # LangSmith, OpenAI and Anthropic, AWS access key ids, GitHub, Slack, Google, Stripe.
    _pattern(
        "api-key",
        r"(?P<secret>\b(?:lsv2_[A-Za-z0-9_]{16,}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
        r"|(?:AKIA|ASIA)[A-Z0-9]{16}\b|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}"
        r"|AIza[0-9A-Za-z_-]{35}|[rs]k_(?:live|test)_[A-Za-z0-9]{16,}))",
        hints=("lsv2_", "sk-", "akia", "asia", "gh", "xox", "aiza", "k_live_", "k_test_"),
    ),
    # `password=...`, `"apiKey": "..."`, `\"x-api-key\":\"...\"`, `API_KEY_SALT: ...`.
    _pattern(
        "secret-field",
        rf"(?i)(?<![A-Za-z0-9_-])(?:{_Q})?(?P<name>{_FIELD_NAME_REGEX})(?:{_Q})?[ \t]*[:=][ \t]*"
        rf"(?:{_Q})?(?P<secret>(?!\[REDACTED|<|(?:bearer|basic|true|false|null|none)\b)"
        r"[^\s\"'\\,;&}\])]{3,})",
        hints=(
            "pass",
            "pwd",
            "secret",
            "token",
            "salt",
            "dsn",
            "credential",
            "key",
            "authorization",
            "cookie",
            "connection",
            "database",
        ),
    ),
    _pattern(
        "email",
        r"(?P<secret>\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b)",
        hints=("@",),
    ),
)

# The marker format of `Redactor.marker`. Patterns never replace text inside a marker.
MARKER_REGEX = re.compile(r"\[REDACTED:[^\]\s#]{1,60}#[0-9a-f]{10}\]")

_TRACE_FIELD = re.compile(
    rf"(?P<lead>{_Q}?(?P<name>inputs|outputs|messages){_Q}?\s*[:=]\s*)(?=[\[{{\"'\\])"
)


@dataclass
class RedactionCounts:
    """How many values were redacted, per file and per category."""

    by_file: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, path: str, category: str, count: int = 1) -> None:
        """Count `count` redactions of `category` in `path`."""
        self.by_file.setdefault(path, Counter())[category] += count

    def for_file(self, path: str) -> dict[str, int]:
        """Return the counts of one file, by category."""
        return dict(sorted(self.by_file.get(path, Counter()).items()))

    def totals(self) -> dict[str, int]:
        """Return the counts over all files, by category."""
        total: Counter[str] = Counter()
        for counts in self.by_file.values():
            total.update(counts)
        return dict(sorted(total.items()))


class Redactor:
    """Replace secrets in objects and text, remembering every value it replaced.

    `extra_patterns` are regular expressions a user adds in configuration. A pattern with a
    named group `secret` has only that group replaced; otherwise the whole match is. Use
    `parse_pattern` to turn `name::regex` strings into patterns.
    """

    def __init__(
        self,
        *,
        extra_patterns: Iterable[Pattern] = (),
        hash_key: bytes | None = None,
    ) -> None:
        self.patterns: tuple[Pattern, ...] = (*BUILTIN_PATTERNS, *extra_patterns)
        self._hash_key = hash_key if hash_key is not None else secrets.token_bytes(32)
        self.counts = RedactionCounts()
        # Actual values replaced during this run. They never leave the process: the
        # verification scan reads them and the manifest keeps only their number.
        self._known: dict[str, str] = {}
        self._forms: list[tuple[str, str]] | None = None
        self._name_like: set[str] = set()

    # -- markers and known values ------------------------------------------------------

    def marker(self, category: str, value: str) -> str:
        """Return the marker that replaces `value`, with its short keyed hash."""
        digest = hmac.new(self._hash_key, value.encode("utf-8", "replace"), hashlib.sha256)
        return f"[REDACTED:{category}#{digest.hexdigest()[:10]}]"

    def remember(self, value: str, category: str) -> None:
        """Remember a secret value so it is removed from any text redacted afterwards.

        Values that read like object names (`postgres`, `langsmith`) are not remembered:
        removing them everywhere would destroy the pod and Service names a bundle is for.
        Where they sit in a secret field or a URL they are still replaced.
        """
        value = value.strip()
        if len(value) < MIN_KNOWN_SECRET_LENGTH or value.startswith("[REDACTED:"):
            return
        if PLAIN_NAME.fullmatch(value):
            self._name_like.add(value)
            return
        if value not in self._known:
            self._known[value] = category
            self._forms = None

    @property
    def skipped_names(self) -> int:
        """How many distinct secret values were not remembered because they read like names."""
        return len(self._name_like)

    @property
    def known_secrets(self) -> frozenset[str]:
        """The secret values this run replaced, long enough to be searched for."""
        return frozenset(self._known)

    def _replace(self, value: str, category: str, path: str) -> str:
        self.remember(value, category)
        self.counts.add(path, category)
        return self.marker(category, value)

    # -- structured redaction ----------------------------------------------------------

    def redact_object(self, obj: Any, path: str) -> Any:
        """Return a copy of a parsed JSON/YAML object with secret fields replaced.

        Handles plain mappings, Kubernetes `env` entries (`{name: API_KEY, value: ...}`) and
        strings that hold embedded JSON (the `last-applied-configuration` annotation).
        Strings that stay are not pattern-scanned here; `redact_text` does that on the
        serialised file.
        """
        return self._walk(obj, path, secret_context=False)

    def _walk(self, obj: Any, path: str, *, secret_context: bool) -> Any:
        if isinstance(obj, Mapping):
            return self._walk_mapping(obj, path)
        if isinstance(obj, list):
            return [self._walk(item, path, secret_context=secret_context) for item in obj]
        if secret_context and isinstance(obj, (str, int, float)) and not isinstance(obj, bool):
            return self._replace(str(obj), "secret-field", path)
        if isinstance(obj, str):
            return self._walk_embedded_json(obj, path)
        return obj

    def _walk_mapping(self, obj: Mapping[Any, Any], path: str) -> dict[Any, Any]:
        env_name = obj.get("name") if "value" in obj else None
        result: dict[Any, Any] = {}
        for key, value in obj.items():
            name = str(key)
            if name in TRACE_PAYLOAD_FIELDS and value not in (None, "", [], {}):
                text = json.dumps(value, sort_keys=True, default=str)
                self._remember_strings(value)
                self.counts.add(path, "trace-payload")
                result[key] = self.marker("trace-payload", text)
                continue
            secret = is_secret_field(name)
            if name == "value" and isinstance(env_name, str) and is_secret_field(env_name):
                secret = True
            if secret and value is not None and not isinstance(value, bool):
                result[key] = self._walk(value, path, secret_context=True)
            else:
                result[key] = self._walk(value, path, secret_context=False)
        return result

    def _remember_strings(self, value: Any) -> None:
        # Strings inside a trace payload are user data; remembering the long ones removes them
        # from free-text copies of the same payload elsewhere in the logs.
        if isinstance(value, str):
            self.remember(value, "trace-payload")
        elif isinstance(value, Mapping):
            for item in value.values():
                self._remember_strings(item)
        elif isinstance(value, list):
            for item in value:
                self._remember_strings(item)

    def _walk_embedded_json(self, text: str, path: str) -> str:
        stripped = text.strip()
        if len(stripped) < 2 or stripped[0] not in "{[" or stripped[-1] not in "}]":
            return text
        try:
            inner = json.loads(stripped)
        except ValueError:
            return text
        redacted = self._walk(inner, path, secret_context=False)
        if redacted == inner:
            return text
        return json.dumps(redacted, separators=(",", ":"))

    # -- text redaction ----------------------------------------------------------------

    def redact_text(self, text: str, path: str) -> str:
        """Redact free text: JSON log lines structurally, then patterns, then known values."""
        text = self._redact_json_lines(text, path)
        text = self._redact_trace_fields(text, path)
        lowered = text.lower()
        for pattern in self.patterns:
            if pattern.hints and not any(hint in lowered for hint in pattern.hints):
                continue
            text = self._apply_pattern(pattern, text, path)
        return self.redact_known(text, path)

    def redact_known(self, text: str, path: str) -> str:
        """Replace every remembered secret value, in plain and common encoded forms.

        Each form is searched with `str` methods rather than one alternation regex: with a
        few hundred forms the regex engine tries every alternative at every position, which
        is many times slower on large files.
        """
        for form, value in self._encoded_forms_by_length():
            count = text.count(form)
            if count:
                text = text.replace(form, self.marker(self._known[value], value))
                self.counts.add(path, "known-value", count)
        return text

    def _encoded_forms_by_length(self) -> list[tuple[str, str]]:
        if self._forms is None:
            forms: dict[str, str] = {}
            for value in self._known:
                for form in encoded_forms(value):
                    forms.setdefault(form, value)
            # Longest first, so that a value containing another is replaced whole.
            self._forms = sorted(forms.items(), key=lambda item: (-len(item[0]), item[0]))
        return self._forms

    def _apply_pattern(self, pattern: Pattern, text: str, path: str) -> str:
        markers = [match.span() for match in MARKER_REGEX.finditer(text)]

        def inside_marker(start: int, end: int) -> bool:
            index = bisect.bisect_right(markers, (start, len(text) + 1)) - 1
            candidates = markers[max(index, 0) : index + 2]
            return any(begin < end and start < finish for begin, finish in candidates)

        def substitute(match: re.Match[str]) -> str:
            group = "secret" if "secret" in pattern.regex.groupindex else 0
            secret = match.group(group)
            if secret is None or inside_marker(*match.span(group)):
                return match.group(0)
            if "name" in pattern.regex.groupindex and not is_secret_field(match.group("name")):
                return match.group(0)
            start, end = match.span(group)
            offset = match.start(0)
            whole = match.group(0)
            replacement = self._replace(secret, pattern.category, path)
            return whole[: start - offset] + replacement + whole[end - offset :]

        return pattern.regex.sub(substitute, text)

    def _redact_json_lines(self, text: str, path: str) -> str:
        if "{" not in text:
            return text
        lines = text.split("\n")
        for index, line in enumerate(lines):
            brace = line.find("{")
            if brace < 0 or not line.rstrip().endswith("}"):
                continue
            prefix, body = line[:brace], line[brace:].rstrip()
            try:
                parsed = json.loads(body)
            except ValueError:
                continue
            redacted = self.redact_object(parsed, path)
            if redacted != parsed:
                lines[index] = prefix + json.dumps(redacted, separators=(",", ":"))
        return "\n".join(lines)

    def _redact_trace_fields(self, text: str, path: str) -> str:
        """Replace the value after `inputs=`, `"outputs":` and the like, to its closing bracket.

        This covers payload fields that the JSON pass could not parse: Python reprs, escaped
        JSON inside a string, truncated lines. The value ends at its matching bracket or quote,
        or at the end of the line.
        """
        pieces: list[str] = []
        position = 0
        for match in _TRACE_FIELD.finditer(text):
            if match.start() < position:
                continue
            start = match.end()
            end = _value_end(text, start)
            value = text[start:end]
            if value.strip("\"'\\ ").startswith("[REDACTED:") or not value.strip("\"'\\ "):
                continue
            pieces.append(text[position:start])
            pieces.append(self._replace(value, "trace-payload", path))
            position = end
        pieces.append(text[position:])
        return "".join(pieces)


def _value_end(text: str, start: int) -> int:
    """Find the end of a bracketed or quoted value starting at `start`, bounded by the line."""
    line_end = text.find("\n", start)
    if line_end < 0:
        line_end = len(text)
    opener = text[start]
    if opener in "[{":
        depth = 0
        for index in range(start, line_end):
            char = text[index]
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return index + 1
        return line_end
    # A quoted string, possibly with escaped quotes: count the backslashes before the quote
    # that opened it and end at the next quote preceded by the same number.
    index = start
    while index < line_end and text[index] == "\\":
        index += 1
    quote = text[index] if index < line_end else '"'
    escape = text[start:index]
    closing = text.find(escape + quote, index + 1, line_end)
    return closing + len(escape) + 1 if closing >= 0 else line_end


def encoded_forms(value: str) -> set[str]:
    """Return the forms a value takes in the files a bundle writes, the plain one included.

    JSON string escaping (one and two levels), HTML escaping, URL encoding and base64.
    """
    once = json.dumps(value)[1:-1]
    twice = json.dumps(once)[1:-1]
    forms = {
        value,
        once,
        twice,
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value, quote=True),
        html.escape(value, quote=False),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        base64.b64encode(value.encode("utf-8")).decode("ascii").rstrip("="),
    }
    return {form for form in forms if form}


def base64_fragments(value: str) -> set[str]:
    """Return base64 substrings that appear whenever `value` is base64-encoded in a longer text.

    Base64 encodes 3 bytes into 4 characters, so the encoding of a value depends on its offset
    modulo 3 within the encoded data. For each of the three offsets the characters that depend
    only on the value's own bytes are kept.
    """
    raw = value.encode("utf-8")
    fragments = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        lead = {0: 0, 1: 2, 2: 3}[shift]
        tail_bytes = (shift + len(raw)) % 3
        trail = {0: 0, 1: 4, 2: 4}[tail_bytes]
        fragment = encoded[lead : len(encoded) - trail]
        if len(fragment) >= 8:
            fragments.add(fragment)
    return fragments


def parse_pattern(spec: str) -> Pattern:
    """Parse a user pattern, `regex` or `name::regex`, raising ValueError if it does not compile.

    The name becomes the category `custom:<name>` in the manifest's counts.
    """
    name, separator, expression = spec.partition("::")
    if not separator or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", name):
        name, expression = "custom", spec
    try:
        regex = re.compile(expression)
    except re.error as error:
        raise ValueError(f"invalid redaction pattern {spec!r}: {error}") from error
    if regex.match("") is not None:
        raise ValueError(f"invalid redaction pattern {spec!r}: it matches the empty string")
    return Pattern(f"custom:{name}" if name != "custom" else "custom", regex)


def load_patterns(lines: Iterable[str]) -> list[Pattern]:
    """Parse a patterns file: one `regex` or `name::regex` per line, `#` starts a comment."""
    return [
        parse_pattern(line.rstrip("\n"))
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    ]
