"""report.html: one self-contained page a person reads, in a browser or printed.

The page has no external resource at all (no fonts, scripts, images or style sheets), so it
opens offline and as a CI artefact, and it makes no request when opened. Every
value that comes from the report is escaped with `html.escape`, because summaries and evidence
quote what endpoints and logs returned, and those can contain markup.

The order follows what a reader needs. The verdict and the status matrix come first, then each
result that needs attention with its cause, evidence and fix. Regressions against a baseline,
the release facts, the skip reasons, the timings and the full result list follow.
"""

from __future__ import annotations

from html import escape
from typing import Any

from lsconform.report import overview

# White text on each status colour has a contrast ratio of at least 4.5:1 (WCAG AA for normal
# text). The cell text also names the status, so the matrix reads without colour too.
STYLE = """
:root { --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --error: #8250df; --skip: #6e7781;
        --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       margin: 0 auto; max-width: 1200px; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid var(--line);
     padding-bottom: .2rem; }
.muted { color: var(--muted); }
.verdict { display: inline-block; padding: .15rem .6rem; border-radius: 4px; color: #fff;
           font-weight: 700; letter-spacing: .03em; }
.verdict.HEALTHY { background: var(--pass); }
.verdict.WARNINGS { background: var(--warn); }
.verdict.FAILED, .verdict.REGRESSED { background: var(--fail); }
.verdict.UNDECIDED { background: var(--error); }
.verdict.NO-RELEASE { background: var(--skip); }
table { border-collapse: collapse; margin: .4rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .55rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
#status-matrix td.cell { text-align: center; color: #fff; font-weight: 600; min-width: 6.5rem; }
td.pass { background: var(--pass); } td.warn { background: var(--warn); }
td.fail { background: var(--fail); } td.error { background: var(--error); }
td.skip { background: var(--skip); } td.none { color: var(--muted) !important; }
.badge { display: inline-block; min-width: 3.2rem; text-align: center; border-radius: 3px;
         color: #fff; font-size: .8rem; font-weight: 700; padding: 0 .3rem; }
.badge.pass { background: var(--pass); } .badge.warn { background: var(--warn); }
.badge.fail { background: var(--fail); } .badge.error { background: var(--error); }
.badge.skip { background: var(--skip); }
article.problem { border: 1px solid var(--line); border-left: 6px solid var(--skip);
                  border-radius: 4px; padding: .6rem .9rem; margin: .7rem 0; }
article.problem.fail { border-left-color: var(--fail); }
article.problem.error { border-left-color: var(--error); }
article.problem.warn { border-left-color: var(--warn); }
article h3 { font-size: 1rem; margin: 0 0 .3rem; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; padding: .4rem .6rem; margin: .2rem 0; white-space: pre-wrap;
      word-break: break-word; }
dl.evidence { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem;
              margin: .3rem 0; }
dl.evidence dt { font-weight: 600; }
dl.evidence dd { margin: 0; min-width: 0; }
.fix { margin: .3rem 0 0; }
.fix strong { color: var(--pass); }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  article.problem, tr { break-inside: avoid; }
  h2 { break-after: avoid; }
}
"""


def render_html(document: dict[str, Any]) -> str:
    """Render a report.json document as one self-contained HTML page."""
    results = overview.results_of(document)
    sections = [
        _header(document),
        _matrix_section(results),
        _problems_section(results),
        _regressions_section(document.get("regressions")),
        _release_section(document),
        _skips_section(results),
        _timings_section(document, results),
        _all_results_section(results),
    ]
    body = "\n".join(section for section in sections if section)
    title = f"lsconform: {overview.verdict(document)}, {overview.release_line(document)}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # No request may leave the page: the policy blocks every fetch the markup could cause.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _header(document: dict[str, Any]) -> str:
    verdict = overview.verdict(document)
    tool = document.get("tool") or {}
    target = document.get("target") or {}
    sandbox = target.get("sandbox") if isinstance(target, dict) else None
    where = f"namespace {target.get('namespace') or '?'}"
    if target.get("context"):
        where += f", context {target['context']}"
    if isinstance(sandbox, dict):
        faults = ", ".join(str(f) for f in sandbox.get("faults") or []) or "none"
        where += f", sandbox profile {sandbox.get('profile')} with faults: {faults}"
    return (
        "<header>\n<h1>lsconform health report</h1>\n"
        f'<p><span class="verdict {escape(verdict.replace(" ", "-"))}">{escape(verdict)}</span> '
        f"{escape(overview.count_line(document))} in {_seconds(document.get('duration'))}</p>\n"
        f"<p>{escape(overview.release_line(document))}</p>\n"
        f'<p class="muted">Checked {escape(where)}. '
        f"Generated {escape(str(document.get('generated_at', '?')))} "
        f"by {escape(str(tool.get('name', 'lsconform')))} {escape(str(tool.get('version', '?')))}, "
        f"report schema {escape(str(document.get('schema_version', '?')))}.</p>\n"
        f"{_discovery_problem(document)}</header>"
    )


def _discovery_problem(document: dict[str, Any]) -> str:
    problem = document.get("discovery_problem")
    if not problem:
        return ""
    return f"<p><strong>Discovery:</strong> {escape(str(problem))}</p>\n"


def _matrix_section(results: list[dict[str, Any]]) -> str:
    if not results:
        return (
            "<h2>Status by component and area</h2>\n"
            '<p id="status-matrix">No check produced a result.</p>'
        )
    matrix = overview.build_matrix(results)
    head = "".join(f"<th>{escape(area)}</th>" for area in matrix.areas)
    rows = [_matrix_row(matrix, component) for component in matrix.components]
    return (
        "<h2>Status by component and area</h2>\n"
        '<table id="status-matrix">\n'
        f"<thead><tr><th>component</th>{head}</tr></thead>\n"
        f"<tbody>\n{''.join(rows)}</tbody>\n</table>"
    )


def _matrix_row(matrix: overview.Matrix, component: str) -> str:
    cells = []
    for area in matrix.areas:
        cell = matrix.cells.get((component, area))
        if cell is None:
            cells.append('<td class="cell none" title="no check">·</td>')
            continue
        detail = ", ".join(f"{n} {s}" for s, n in sorted(cell.counts.items()))
        cells.append(
            f'<td class="cell {escape(cell.status)}" data-status="{escape(cell.status)}" '
            f'title="{escape(detail)}">{escape(cell.label)}</td>'
        )
    return f'<tr><th scope="row">{escape(component)}</th>{"".join(cells)}</tr>\n'


def _problems_section(results: list[dict[str, Any]]) -> str:
    found = overview.problems(results)
    if not found:
        return "<h2>Needs attention</h2>\n<p>Nothing: every check passed or did not apply.</p>"
    articles = [_problem(index, record) for index, record in enumerate(found, start=1)]
    return f"<h2>Needs attention ({len(found)})</h2>\n" + "\n".join(articles)


def _problem(index: int, record: dict[str, Any]) -> str:
    status = str(record.get("status", ""))
    evidence = record.get("evidence") or {}
    items = "".join(
        f"<dt>{escape(str(key))}</dt><dd><pre>{escape(overview.evidence_text(value))}</pre></dd>"
        for key, value in (evidence.items() if isinstance(evidence, dict) else [])
    )
    evidence_html = f'<dl class="evidence">{items}</dl>' if items else ""
    remedy = str(record.get("remedy") or "")
    fix = f'<p class="fix"><strong>Fix:</strong> {escape(remedy)}</p>' if remedy else ""
    return (
        f'<article class="problem {escape(status)}" id="problem-{index}" '
        f'data-check-id="{escape(str(record.get("check_id", "")))}" '
        f'data-target="{escape(str(record.get("target", "")))}">\n'
        f"<h3>{_badge(status)} <code>{escape(str(record.get('check_id', '')))}</code> "
        f"{escape(str(record.get('target', '')))}</h3>\n"
        f'<p class="muted">component {escape(str(record.get("component", "")))}, '
        f"area {escape(str(record.get('area', '')))}, severity "
        f"{escape(str(record.get('severity', '')))}</p>\n"
        f"<p><strong>Cause:</strong> {escape(str(record.get('summary', '')))}</p>\n"
        f"{evidence_html}{fix}\n</article>"
    )


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status.upper())}</span>'


def _regressions_section(regressions: Any) -> str:
    if not regressions:
        return ""
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(item.get(key, '')))}</td>"
            for key in ("kind", "check_id", "target", "before", "after", "detail")
        )
        + "</tr>\n"
        for item in regressions
        if isinstance(item, dict)
    )
    return (
        f"<h2>Regressions against the baseline ({len(regressions)})</h2>\n"
        '<table id="regressions">\n<thead><tr><th>kind</th><th>check</th><th>target</th>'
        "<th>before</th><th>after</th><th>detail</th></tr></thead>\n"
        f"<tbody>\n{rows}</tbody>\n</table>"
    )


def _release_section(document: dict[str, Any]) -> str:
    facts = document.get("release")
    if not isinstance(facts, dict):
        return ""
    rows = []
    for key, value in facts.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        rows.append(f"<tr><th>{escape(str(key))}</th><td>{escape(shown)}</td></tr>\n")
    return f'<h2>Release</h2>\n<table id="release">\n{"".join(rows)}</table>'


def _skips_section(results: list[dict[str, Any]]) -> str:
    reasons = overview.skip_reasons(results)
    if not reasons:
        return ""
    items = "".join(f"<li>{count} &times; {escape(reason)}</li>\n" for reason, count in reasons)
    total = sum(count for _, count in reasons)
    return f"<h2>Not applicable ({total} skipped)</h2>\n<ul>\n{items}</ul>"


def _timings_section(document: dict[str, Any], results: list[dict[str, Any]]) -> str:
    by_area = "".join(
        f"<tr><td>{escape(area)}</td><td>{count}</td><td>{_seconds(seconds)}</td></tr>\n"
        for area, seconds, count in overview.time_by_area(results)
    )
    slow = "".join(
        f"<tr><td>{_seconds(r.get('duration'))}</td><td><code>{escape(str(r.get('check_id', '')))}"
        f"</code></td><td>{escape(str(r.get('target', '')))}</td></tr>\n"
        for r in overview.slowest(results)
    )
    return (
        "<h2>Timings</h2>\n"
        f"<p>The run took {_seconds(document.get('duration'))}. The time per area is the sum "
        "of the durations its results record.</p>\n"
        '<table id="timings-by-area"><thead><tr><th>area</th><th>results</th>'
        f"<th>time in checks</th></tr></thead>\n<tbody>\n{by_area}</tbody></table>\n"
        '<table id="slowest"><thead><tr><th>time</th><th>slowest checks</th><th>target</th>'
        f"</tr></thead>\n<tbody>\n{slow}</tbody></table>"
    )


def _all_results_section(results: list[dict[str, Any]]) -> str:
    if not results:
        return ""
    rows = "".join(
        f"<tr><td>{_badge(str(r.get('status', '')))}</td>"
        f"<td><code>{escape(str(r.get('check_id', '')))}</code></td>"
        f"<td>{escape(str(r.get('target', '')))}</td>"
        f"<td>{escape(str(r.get('summary', '')))}</td></tr>\n"
        for r in results
    )
    return (
        f"<h2>All results ({len(results)})</h2>\n"
        '<table id="all-results"><thead><tr><th>status</th><th>check</th><th>target</th>'
        f"<th>summary</th></tr></thead>\n<tbody>\n{rows}</tbody></table>"
    )


def _seconds(value: Any) -> str:
    try:
        return f"{float(value):.2f} s"
    except (TypeError, ValueError):
        return "? s"
