"""nginx stub_status: parse the page and diagnose what nginx-prometheus-exporter would trip on.

The page `ngx_http_stub_status_module` serves (nginx documentation, "Module
ngx_http_stub_status_module") has exactly this shape, with trailing spaces after the numbers:

    Active connections: 7
    server accepts handled requests
     9120 9120 30412
    Reading: 0 Writing: 2 Waiting: 5

The LangSmith frontend serves it at `/nginx_status`, to 127.0.0.1 and ::1 only since chart
0.13.25. A 200 alone proves nothing, because a single-page app serves its HTML index for every
path, and some non-stock builds add columns that the exporter cannot read. The caller judges
HTTP status codes (403 from the allow-list, 404 from a wrong path). This module judges the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lsconform.probes.classify import BodyKind, classify_body
from lsconform.probes.exposition_model import Problem, Severity
from lsconform.probes.exposition_rules import cut_text

_STOCK_COLUMNS = ("accepts", "handled", "requests")
_ACTIVE = re.compile(r"Active connections:[ \t]*(\d+)[ \t]*")
_STATES = re.compile(r"Reading:[ \t]*(\d+)[ \t]+Writing:[ \t]*(\d+)[ \t]+Waiting:[ \t]*(\d+)[ \t]*")

# rule id -> fix
STUB_STATUS_RULES = {
    "stub-status-html": (
        "add a `location = /nginx_status { stub_status; }` block to the server that answers "
        "this path, or point the exporter at the path that has one; the single-page app's "
        "`try_files ... /index.html` fallback answers every other path with HTML"
    ),
    "stub-status-exposition": (
        "this path already serves Prometheus metrics: scrape it directly instead of pointing "
        "nginx-prometheus-exporter at it"
    ),
    "stub-status-not-stub-status": (
        "point the scrape URI at the nginx location that has the `stub_status` directive"
    ),
    "stub-status-malformed": (
        "serve the stock stub_status page; nginx-prometheus-exporter reads only the four-line "
        "layout nginx prints"
    ),
    "stub-status-extra-columns": (
        "use a stock nginx build, or an exporter that reads this build's stub_status layout; "
        "nginx-prometheus-exporter expects exactly accepts, handled and requests"
    ),
    "stub-status-dropped-connections": (
        "raise `worker_connections` (and the open-file limit) or add replicas; nginx drops "
        "connections it accepts when it reaches a resource limit"
    ),
}


@dataclass(frozen=True, slots=True)
class StubStatus:
    """The counters of a stub_status page. `extra_columns` are non-stock `(name, value)` pairs."""

    active: int
    accepts: int
    handled: int
    requests: int
    reading: int
    writing: int
    waiting: int
    extra_columns: tuple[tuple[str, int], ...] = ()

    @property
    def dropped(self) -> int:
        """Connections accepted but not handled."""
        return self.accepts - self.handled


@dataclass(frozen=True, slots=True)
class StubStatusResult:
    """The parsed page, or None when the body is not one, and the problems found."""

    status: StubStatus | None
    body_kind: BodyKind
    problems: list[Problem] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        """Whether the page parsed and an exporter reading the stock layout can use it."""
        return self.status is not None and not any(
            problem.severity is Severity.ERROR for problem in self.problems
        )


def _problem(rule: str, severity: Severity, line: int, text: str, cause: str) -> Problem:
    return Problem(rule, severity, line, cut_text(text), cause, STUB_STATUS_RULES[rule])


def parse_stub_status(body: bytes | str, content_type: str | None = None) -> StubStatusResult:
    """Parse a stub_status body, or explain what the body is instead."""
    body_class = classify_body(body, content_type)
    kind = body_class.kind
    if kind is BodyKind.HTML:
        return StubStatusResult(
            None,
            kind,
            [
                _problem(
                    "stub-status-html",
                    Severity.ERROR,
                    1,
                    "",
                    "the status path returned an HTML page, not stub_status "
                    f"({body_class.reason}); no stub_status location answers this path",
                )
            ],
        )
    if body_class.is_exposition:
        return StubStatusResult(
            None,
            kind,
            [
                _problem(
                    "stub-status-exposition",
                    Severity.ERROR,
                    1,
                    "",
                    "the status path returned Prometheus metrics, not stub_status",
                )
            ],
        )
    if kind is not BodyKind.STUB_STATUS:
        return StubStatusResult(
            None,
            kind,
            [
                _problem(
                    "stub-status-not-stub-status",
                    Severity.ERROR,
                    1,
                    "",
                    f"the body is not a stub_status page: {body_class.reason}",
                )
            ],
        )
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    return _parse_page(text.strip("\r\n").splitlines())


def _parse_page(lines: list[str]) -> StubStatusResult:
    kind = BodyKind.STUB_STATUS
    if len(lines) != 4:
        return StubStatusResult(
            None,
            kind,
            [
                _problem(
                    "stub-status-malformed",
                    Severity.ERROR,
                    min(len(lines), 5),
                    " | ".join(lines[:5]),
                    f"the page has {len(lines)} lines; stub_status has 4",
                )
            ],
        )

    active = _ACTIVE.fullmatch(lines[0])
    if active is None:
        return _malformed(1, lines[0], "line 1 is not `Active connections: N`")

    columns = lines[1].split()
    numbers = lines[2].split()
    if columns[:1] != ["server"] or not all(number.isdigit() for number in numbers):
        return _malformed(
            2,
            lines[1],
            "lines 2 and 3 are not the `server accepts handled requests` header and its numbers",
        )
    names = columns[1:]
    if len(names) != len(numbers) or tuple(names[:3]) != _STOCK_COLUMNS:
        return _malformed(
            3,
            lines[2],
            f"the header names {len(names)} columns ({' '.join(names)}) but line 3 has "
            f"{len(numbers)} numbers",
        )

    states = _STATES.fullmatch(lines[3])
    if states is None:
        return _malformed(4, lines[3], "line 4 is not `Reading: N Writing: N Waiting: N`")

    values = [int(number) for number in numbers]
    reading, writing, waiting = (int(group) for group in states.groups())
    status = StubStatus(
        active=int(active.group(1)),
        accepts=values[0],
        handled=values[1],
        requests=values[2],
        reading=reading,
        writing=writing,
        waiting=waiting,
        extra_columns=tuple(zip(names[3:], values[3:], strict=True)),
    )
    return StubStatusResult(status, kind, _judge(status, lines))


def _malformed(line: int, text: str, cause: str) -> StubStatusResult:
    problem = _problem("stub-status-malformed", Severity.ERROR, line, text, cause)
    return StubStatusResult(None, BodyKind.STUB_STATUS, [problem])


def _judge(status: StubStatus, lines: list[str]) -> list[Problem]:
    problems = []
    if status.extra_columns:
        count = 3 + len(status.extra_columns)
        extra = " ".join(name for name, _ in status.extra_columns)
        problems.append(
            _problem(
                "stub-status-extra-columns",
                Severity.ERROR,
                2,
                lines[1],
                f"stub_status has {count} counters (accepts handled requests {extra}); "
                "nginx-prometheus-exporter expects 3 and fails to parse the page",
            )
        )
    if status.dropped:
        problems.append(
            _problem(
                "stub-status-dropped-connections",
                Severity.WARNING,
                3,
                lines[2],
                f"nginx accepted {status.accepts} connections but handled {status.handled}: "
                f"{status.dropped} dropped",
            )
        )
    return problems
