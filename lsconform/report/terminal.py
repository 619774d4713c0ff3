"""The health report printed at the end of a run: a matrix by area and component, then fixes."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lsconform.report.facts import STATUS_ORDER, count_by_status, release_facts, sort_results
from lsconform.results import Area, CheckResult, Status

STATUS_STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "magenta",
    Status.SKIP: "dim",
}


def worst_status(results: list[CheckResult]) -> Status | None:
    """Return the most serious status among `results` (fail before error before warn ...)."""
    present = {result.status for result in results}
    for status in STATUS_ORDER:
        if status in present:
            return status
    return None


def render_summary(
    results: list[CheckResult],
    *,
    release: Any,
    duration: float,
    width: int = 100,
    color: bool = False,
    discovery_problem: str | None = None,
) -> str:
    """Render the end-of-run report as text (with ANSI colour when `color`)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=max(width, 60),
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        soft_wrap=False,
    )
    console.rule("[bold]lsconform health report")
    _print_release(console, release, discovery_problem)
    ordered = sort_results(results)
    if ordered:
        console.print(_matrix(ordered))
        _print_problems(console, ordered)
    else:
        console.print("No check produced a result.")
    counts = count_by_status(ordered)
    totals = ", ".join(f"{counts[s.value]} {s.value}" for s in STATUS_ORDER if counts[s.value])
    console.print(f"{totals or 'no results'} in {duration:.1f} s")
    return buffer.getvalue()


def _print_release(console: Console, release: Any, discovery_problem: str | None) -> None:
    facts = release_facts(release)
    if facts is None:
        console.print(f"[bold red]No LangSmith release:[/] {discovery_problem or 'not discovered'}")
        return
    chart = f"{facts.get('chart_name', 'langsmith')}-{facts.get('chart_version', '?')}"
    console.print(
        f"Release [bold]{facts.get('name')}[/] in namespace [bold]{facts.get('namespace')}[/]"
        f" · revision {facts.get('revision', '?')} ({facts.get('status', '?')})"
        f" · chart {chart} · app {facts.get('app_version', '?')}"
    )
    if discovery_problem:
        console.print(f"[yellow]Discovery:[/] {discovery_problem}")


def _matrix(results: list[CheckResult]) -> Table:
    grouped: dict[str, dict[Area, list[CheckResult]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        grouped[result.component or "-"][result.area].append(result)
    table = Table(title="Status by component and area", show_lines=False, expand=False)
    table.add_column("component")
    areas = [area for area in Area if any(area in by_area for by_area in grouped.values())]
    for area in areas:
        table.add_column(area.value, justify="center")
    for component in sorted(grouped):
        row: list[Text | str] = [component]
        for area in areas:
            cell = grouped[component].get(area, [])
            row.append(_cell(cell))
        table.add_row(*row)
    return table


def _cell(results: list[CheckResult]) -> Text:
    status = worst_status(results)
    if status is None:
        return Text("·", style="dim")
    counts = count_by_status(results)
    label = status.value
    if status is not Status.PASS:
        label = f"{status.value} {counts[status.value]}/{len(results)}"
    return Text(label, style=STATUS_STYLE[status])


# Targets named on one line when several results share a cause; the rest are counted.
MAX_GROUPED_TARGETS = 5


def _print_problems(console: Console, results: list[CheckResult]) -> None:
    problems = [r for r in results if r.status not in (Status.PASS, Status.SKIP)]
    skipped = [r for r in results if r.status is Status.SKIP]
    # One broken collector or exporter fails the same check on every container or pod, so
    # results with the same check, status, cause and fix are printed once with their targets.
    groups: dict[tuple[Status, str, str, str], list[CheckResult]] = defaultdict(list)
    for result in problems:
        groups[(result.status, result.check_id, result.summary, result.remedy)].append(result)
    ordered = sorted(groups.values(), key=lambda group: STATUS_ORDER.index(group[0].status))
    for group in ordered:
        first = group[0]
        style = STATUS_STYLE[first.status]
        targets = ", ".join(r.target for r in group[:MAX_GROUPED_TARGETS])
        if len(group) > MAX_GROUPED_TARGETS:
            targets += f" and {len(group) - MAX_GROUPED_TARGETS} more"
        console.print(
            Text.assemble(
                (f"{first.status.value.upper():5} ", style),
                (f"{first.check_id} ", "bold"),
                (targets, ""),
            )
        )
        console.print(f"      cause: {first.summary}", markup=False)
        shown = "" if len(group) == 1 else f" ({first.target})"
        for key, value in first.evidence.items():
            console.print(f"      evidence{shown} {key}: {_short(value)}", markup=False)
        if first.remedy:
            console.print(f"      fix: {first.remedy}", markup=False)
    if skipped:
        reasons: dict[str, int] = defaultdict(int)
        for result in skipped:
            reasons[result.summary] += 1
        for reason, count in sorted(reasons.items()):
            console.print(f"SKIP  {count} x {reason}", style="dim", markup=False)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", "⏎ ")
    return text if len(text) <= limit else text[:limit] + "…"
