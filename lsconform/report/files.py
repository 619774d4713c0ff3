"""The human-readable report files written next to report.json: report.html and report.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lsconform.report.html import render_html
from lsconform.report.markdown import render_markdown

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"


def write_reports(report_dir: Path, document: dict[str, Any]) -> list[Path]:
    """Write report.html and report.md for a report.json document; return their paths.

    Each file is written under a temporary name and renamed into place, so a pipeline that
    uploads the directory never picks up a half-written file.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _write(report_dir / HTML_NAME, render_html(document)),
        _write(report_dir / MARKDOWN_NAME, render_markdown(document)),
    ]
    return written


def _write(path: Path, text: str) -> Path:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path
