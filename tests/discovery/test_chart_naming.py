"""The chart's fullname rules, checked against the names the chart renders."""

from __future__ import annotations

import pytest

from lsconform.discovery.naming import chart_name, explain_fullname, fullname


@pytest.mark.parametrize(
    ("release", "values", "expected"),
    [
        ("langsmith", {}, "langsmith"),
        ("my-langsmith-prod", {}, "my-langsmith-prod"),
        ("prod-ls", {}, "prod-ls-langsmith"),
        ("prod-ls", {"nameOverride": "smith"}, "prod-ls-smith"),
        ("prod-ls", {"fullnameOverride": "ls-core"}, "ls-core"),
        ("prod-ls", {"fullnameOverride": "ls-core", "nameOverride": "smith"}, "ls-core"),
        ("ls", {"nameOverride": "l"}, "ls"),
        ("x" * 70, {}, "x" * 63),
        ("a" * 62 + "-b", {}, "a" * 62),
        ("r", {"fullnameOverride": "o" * 62 + "-tail"}, "o" * 62),
    ],
)
def test_fullname(release: str, values: dict[str, str], expected: str) -> None:
    assert fullname(release, values) == expected


def test_chart_name_label() -> None:
    assert chart_name({}) == "langsmith"
    assert chart_name({"nameOverride": "smith"}) == "smith"


def test_explain_release_without_chart_name() -> None:
    assert explain_fullname("prod-ls", {}) == (
        "release name 'prod-ls' does not contain the chart name 'langsmith', so the name "
        "prefix is 'prod-ls-langsmith'"
    )


def test_explain_override() -> None:
    assert explain_fullname("prod", {"fullnameOverride": "ls-core"}) == (
        "fullnameOverride sets the name prefix to 'ls-core'"
    )
