"""`lsconform report diff OLD.json NEW.json` and `lsconform report show FILE.json`.

`diff` compares two saved reports the way `--baseline` compares a run with an earlier one and
exits 1 when something regressed, so a pipeline can gate on two artefacts without running the
suite again. `show` prints a saved report as the end-of-run terminal report.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lsconform.report.baseline import Regression, compare, load_report
from lsconform.report.terminal import render_summary
from lsconform.results import CheckResult

EXIT_OK = 0
EXIT_REGRESSED = 1
EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    """Add the `report` subcommand with its `diff` and `show` actions."""
    parser = subparsers.add_parser(
        "report",
        help="compare or show saved report.json files",
        description="Compare two saved report.json files, or show one in the terminal.",
    )
    parser.set_defaults(func=lambda args: _print_help(parser))
    actions = parser.add_subparsers(dest="report_command", metavar="ACTION")

    diff = actions.add_parser(
        "diff",
        help="list what regressed from OLD.json to NEW.json",
        description="List what worked in OLD.json and does not in NEW.json: checks that "
        "passed and now fail or error, metric families that disappeared, containers whose "
        "logs are no longer collected, services whose spans stopped. Exit status: 0 no "
        "regression, 1 regressions, 2 unreadable input.",
    )
    diff.add_argument("old", type=Path, metavar="OLD.json", help="the earlier report")
    diff.add_argument("new", type=Path, metavar="NEW.json", help="the later report")
    diff.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="output format (default text; json prints a list of regression objects)",
    )
    diff.set_defaults(func=run_diff)

    show = actions.add_parser(
        "show",
        help="print a saved report.json as the terminal report",
        description="Print a saved report.json as the health report a run prints at its end. "
        "Exit status: 0 shown, 2 unreadable input.",
    )
    show.add_argument("file", type=Path, metavar="FILE.json", help="the report to show")
    show.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the output: auto (default; when standard output is a terminal), "
        "always or never",
    )
    show.add_argument(
        "--width",
        type=int,
        default=None,
        help="line width in characters (default: the terminal's width, or 100)",
    )
    show.set_defaults(func=run_show)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_UNREADABLE


def run_diff(args: argparse.Namespace) -> int:
    """Print the regressions from `args.old` to `args.new`; exit 1 when there are any."""
    try:
        old = load_report(args.old)
        new = load_report(args.new)
        regressions = compare(old, new)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        print(f"lsconform report diff: {_reason(error)}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.output == "json":
        print(json.dumps([regression.to_dict() for regression in regressions], indent=2))
    else:
        print(format_regressions(regressions, args.old, args.new))
    return EXIT_REGRESSED if regressions else EXIT_OK


def format_regressions(regressions: list[Regression], old: Path, new: Path) -> str:
    """Describe the comparison of two reports in lines a person reads."""
    if not regressions:
        return f"No regression from {old} to {new}."
    lines = [f"{len(regressions)} regressions from {old} to {new}:"]
    for regression in regressions:
        lines.append(
            f"  REGRESSION {regression.kind} {regression.check_id} {regression.target}: "
            f"{regression.before} -> {regression.after}: {regression.detail}"
        )
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    """Print a saved report as the terminal report."""
    try:
        document = load_report(args.file)
        results = [CheckResult.from_dict(record) for record in document["results"]]
        duration = float(document.get("duration") or 0.0)
        regressions = [Regression(**item) for item in document.get("regressions") or []]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        print(f"lsconform report show: {_reason(error)}", file=sys.stderr)
        return EXIT_UNREADABLE
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    width = args.width or shutil.get_terminal_size((100, 24)).columns
    text = render_summary(
        results,
        release=release_from_facts(document.get("release")),
        duration=duration,
        width=width,
        color=color,
        discovery_problem=document.get("discovery_problem"),
    )
    sys.stdout.write(text)
    if regressions:
        print(format_regressions(regressions, Path("the baseline"), args.file))
    return EXIT_OK


def release_from_facts(facts: Any) -> Any:
    """Rebuild an object with the release's attributes from the report's `release` facts."""
    if not isinstance(facts, dict):
        return None
    return SimpleNamespace(**facts)


def _reason(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return f"invalid report: a result lacks the field {error}"
    return str(error)
