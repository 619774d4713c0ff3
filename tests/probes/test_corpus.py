"""The corpus: lsconform's verdict on every file, and its agreement with promtool 2.42.

`corpus/expected.yaml` records, per file, the exit status of `promtool check metrics` and of
`lsconform metrics lint` and the rule ids lsconform reports. The promtool tests run the real
binary (installed by `make test`) and check that lsconform rejects everything promtool rejects;
where lsconform rejects a file promtool accepts, docs/exposition-lint.md must list each rule
with that file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from lsconform.commands.metrics import exit_status
from lsconform.probes.exposition import PROMETHEUS_TEXT_CONTENT_TYPE, parse_exposition

CORPUS = Path(__file__).parent / "corpus"
DOC = Path(__file__).parents[2] / "docs" / "exposition-lint.md"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text())[
    "entries"
]
FILES = sorted(EXPECTED)
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (make test installs the prometheus package)"
)


def lint(name: str, content_type: str | None) -> tuple[int, list[str]]:
    exposition = parse_exposition((CORPUS / name).read_bytes(), content_type)
    return exit_status(exposition), sorted(exposition.problem_counts)


def declared_content_type(entry: dict[str, Any]) -> str | None:
    content_type = entry.get("content_type", PROMETHEUS_TEXT_CONTENT_TYPE)
    return content_type or None


def status_as_text(name: str) -> int:
    """lsconform's exit status when it reads the file as text format 0.0.4, as promtool does."""
    entry = EXPECTED[name]
    if "lsconform_as_text" in entry:
        return int(entry["lsconform_as_text"])
    return int(entry["lsconform"])


@cache
def run_promtool(name: str) -> int:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=(CORPUS / name).read_bytes(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode


def beyond_promtool_rows() -> list[str]:
    """The table rows of the doc section on what lsconform rejects and promtool accepts."""
    text = DOC.read_text()
    section = text.split("## Beyond promtool", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_corpus_size_and_listing() -> None:
    on_disk = {path.name for path in CORPUS.iterdir() if path.name != "expected.yaml"}
    assert len(on_disk) >= 40
    assert on_disk == set(EXPECTED), "every corpus file needs exactly one expected.yaml entry"


@pytest.mark.parametrize("case", ["c23", "c25", "c26", "c27", "c30"])
def test_corpus_covers_casebook(case: str) -> None:
    assert any(name.startswith(case + "-") for name in FILES)


@pytest.mark.parametrize("name", FILES)
def test_lsconform_verdict(name: str) -> None:
    entry = EXPECTED[name]
    status, rules = lint(name, declared_content_type(entry))
    assert rules == entry["rules"]
    assert status == entry["lsconform"]


@pytest.mark.parametrize("name", [name for name in FILES if name.endswith(".om")])
def test_lsconform_verdict_as_text(name: str) -> None:
    status, _ = lint(name, PROMETHEUS_TEXT_CONTENT_TYPE)
    assert status == EXPECTED[name]["lsconform_as_text"]


@needs_promtool
@pytest.mark.parametrize("name", FILES)
def test_promtool_verdict_recorded(name: str) -> None:
    assert run_promtool(name) == EXPECTED[name]["promtool"]


@needs_promtool
@pytest.mark.parametrize("name", FILES)
def test_rejects_what_promtool_rejects(name: str) -> None:
    promtool_status = run_promtool(name)
    ours = status_as_text(name)
    if promtool_status != 0:
        assert ours != 0, f"promtool rejects {name} (exit {promtool_status}), lsconform accepts it"
    if promtool_status == 1:
        assert ours == 1, f"promtool cannot parse {name}; lsconform must report an error"


@pytest.mark.parametrize(
    "name",
    [name for name in FILES if EXPECTED[name]["promtool"] == 0 and EXPECTED[name]["lsconform"]],
)
def test_stricter_rules_documented(name: str) -> None:
    rows = beyond_promtool_rows()
    for rule in EXPECTED[name]["rules"]:
        matching = [row for row in rows if row.startswith(f"| `{rule}` ")]
        assert matching, f"{rule} is missing from the 'Beyond promtool' table"
        assert any(name in row for row in matching), f"the {rule} row does not name {name}"


def test_stricter_rows_name_real_files() -> None:
    for row in beyond_promtool_rows():
        for name in re.findall(r"`([\w.-]+\.(?:prom|om|html|txt))`", row):
            assert name in EXPECTED, f"docs name {name}, which is not in the corpus"
