"""`lsconform metrics lint [FILE|-]`: parse and lint a Prometheus or OpenMetrics exposition.

It applies the same parser and rules as the metrics checks, to a file or to standard input, so a
user can test a payload saved with `curl` before and after a fix. The exit status follows
`promtool check metrics`. It is 0 when there is no problem and 3 when there are only warnings or
convention problems. It is 1 when the input cannot be read, or when it has an error that makes a
strict scraper reject the whole payload (promtool's "error while linting").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, BinaryIO, TextIO

from lsconform.probes.exposition import (
    PROMETHEUS_TEXT_CONTENT_TYPE,
    RULES,
    Exposition,
    Severity,
    exposition_stats,
    parser_for_content_type,
)

EXIT_CLEAN = 0
EXIT_UNREADABLE = 1
EXIT_PROBLEMS = 3

# Input is read and parsed in chunks of this many bytes, so a large file is never held twice.
READ_CHUNK_BYTES = 1 << 20


def register(subparsers: Any) -> None:
    """Add the `metrics` subcommand and its `lint` subcommand."""
    parser = subparsers.add_parser(
        "metrics",
        help="work with Prometheus metrics expositions",
        description="Work with Prometheus text and OpenMetrics expositions.",
    )
    parser.set_defaults(func=lambda args: _print_help(parser))
    actions = parser.add_subparsers(dest="metrics_command", metavar="ACTION")
    lint = actions.add_parser(
        "lint",
        help="parse and lint an exposition file or standard input",
        description="Parse and lint a Prometheus text (0.0.4) or OpenMetrics (1.0) "
        "exposition with the rules of the metrics checks; see docs/exposition-lint.md. "
        "Exit status: 0 clean, 3 warnings or convention problems only, 1 unreadable input "
        "or an error that makes a strict scraper reject the payload.",
    )
    lint.add_argument(
        "file",
        nargs="?",
        default="-",
        metavar="FILE",
        help="exposition to lint; '-' or nothing reads standard input",
    )
    lint.add_argument(
        "--content-type",
        default=PROMETHEUS_TEXT_CONTENT_TYPE,
        help="Content-Type the endpoint sent, which selects the format "
        f"(default {PROMETHEUS_TEXT_CONTENT_TYPE!r}; give "
        "'application/openmetrics-text; version=1.0.0' for OpenMetrics, or '' to judge a "
        "response that had none)",
    )
    lint.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="output format (default text)",
    )
    lint.set_defaults(func=run_lint)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_lint(args: argparse.Namespace) -> int:
    """Lint the exposition named by `args.file` and print the problems; return the exit status."""
    source = "<stdin>" if args.file == "-" else args.file
    try:
        exposition = _lint_source(args.file, args.content_type)
    except OSError as error:
        print(
            f"lsconform metrics lint: cannot read {source}: {error.strerror or error}",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    status = exit_status(exposition)
    if args.output == "json":
        json.dump(_report(source, exposition, status), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _write_text(sys.stdout, source, exposition)
    return status


def exit_status(exposition: Exposition) -> int:
    """Return the exit status for an exposition, following `promtool check metrics`."""
    if exposition.error_count:
        return EXIT_UNREADABLE
    if sum(exposition.problem_counts.values()):
        return EXIT_PROBLEMS
    return EXIT_CLEAN


def _lint_source(path: str, content_type: str) -> Exposition:
    parser = parser_for_content_type(content_type or None)
    if path == "-":
        _feed_all(parser.feed, sys.stdin.buffer)
    else:
        with open(path, "rb") as stream:
            _feed_all(parser.feed, stream)
    return parser.close()


def _feed_all(feed: Any, stream: BinaryIO) -> None:
    while chunk := stream.read(READ_CHUNK_BYTES):
        feed(chunk)


def _write_text(out: TextIO, source: str, exposition: Exposition) -> None:
    for problem in exposition.problems:
        where = f"{source}:{problem.line}" if problem.line else source
        out.write(f"{where}: {problem.severity.value}: {problem.rule}: {problem.cause}\n")
        if problem.text:
            out.write(f"    | {problem.text}\n")
        out.write(f"    fix: {problem.fix}\n")
    listed_by_rule: dict[str, int] = {}
    for problem in exposition.problems:
        listed_by_rule[problem.rule] = listed_by_rule.get(problem.rule, 0) + 1
    for rule, count in sorted(exposition.problem_counts.items()):
        hidden = count - listed_by_rule.get(rule, 0)
        if hidden:
            out.write(f"{source}: {hidden} more {rule} problems not shown\n")
    out.write(_summary_line(source, exposition) + "\n")


def _summary_line(source: str, exposition: Exposition) -> str:
    counts = exposition.severity_counts
    total = sum(counts.values())
    parts = [
        f"{counts[severity]} {severity.value}" for severity in Severity if counts.get(severity)
    ]
    noun = "problem" if total == 1 else "problems"
    verdict = f"{total} {noun} ({', '.join(parts)})" if total else "no problems"
    return (
        f"{source}: {verdict}; {exposition.format.value}, {exposition.family_count} families, "
        f"{exposition.sample_count} samples, {exposition.series_count} series, "
        f"{exposition.line_count} lines, {exposition.byte_count} bytes"
    )


def _report(source: str, exposition: Exposition, status: int) -> dict[str, object]:
    return {
        "source": source,
        "format": exposition.format.value,
        "content_type": exposition.content_type,
        "valid": exposition.is_valid,
        "exit_status": status,
        "stats": exposition_stats(exposition).to_dict(),
        "problem_counts": dict(sorted(exposition.problem_counts.items())),
        "severity_counts": {
            severity.value: count for severity, count in exposition.severity_counts.items()
        },
        "problems": [
            dict(problem.to_dict(), title=RULES[problem.rule].title)
            for problem in exposition.problems
        ],
    }
