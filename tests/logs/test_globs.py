"""Pattern tables for the three collector families.

Expected values follow each collector's documented semantics (see docs/logs.md): doublestar v4
for the OpenTelemetry filelog receiver, glob(3) plus fnmatch(3) without flags for Fluent Bit's
tail input, and the agent's container filter for Datadog. The Fluent Bit rows are also run
through this machine's C library, which is what Fluent Bit itself calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

import pytest

from lsconform.probes.collectors import datadog
from lsconform.probes.collectors.globs import (
    BadPattern,
    doublestar_match,
    filelog_selects,
    fluentbit_selects,
    fnmatch3,
    split_comma_list,
)
from lsconform.probes.collectors.model import ContainerLogTarget
from lsconform.probes.logfiles import RuntimeKind

UID = "1b2c3d4e-0000-4000-8000-000000000001"
CID = "9ab0" + "e1" * 30
POD = f"/var/log/pods/langsmith_langsmith-backend-5f7c9-abcde_{UID}/backend/0.log"
OTC = f"/var/log/pods/langsmith_langsmith-backend-5f7c9-abcde_{UID}/otc-container/0.log"
LINK = f"/var/log/containers/langsmith-backend-5f7c9-abcde_langsmith_backend-{CID}.log"
HIDDEN = "/var/log/containers/.hidden.log"

# (include patterns, exclude patterns, path, selected)
FILELOG_ROWS = [
    (["/var/log/pods/*/*/*.log"], [], POD, True),
    (["/var/log/pods/**/*.log"], [], POD, True),
    (["/var/log/**/*.log"], [], POD, True),
    (["/var/log/pods/**"], [], POD, True),
    (["/var/log/pods/*.log"], [], POD, False),
    (["/var/log/pods/*/*.log"], [], POD, False),
    (["/var/log/pods/**.log"], [], POD, False),
    (["/var/log/pods/langsmith_*/*/*.log"], [], POD, True),
    (["/var/log/pods/kube-system_*/*/*.log"], [], POD, False),
    (["/var/log/pods/{langsmith,ls-prod}_*/*/*.log"], [], POD, True),
    (["/var/log/pods/{kube-system,monitoring}_*/*/*.log"], [], POD, False),
    (["/var/log/pods/*/{backend,queue}/*.log"], [], POD, True),
    (["/var/log/{pods/*/*,containers}/*.log"], [], LINK, True),
    (["/var/log/pods/*/*/[0-9].log"], [], POD, True),
    (["/var/log/pods/*/*/[!0-9].log"], [], POD, False),
    (["/var/log/pods/*/*/[^0].log"], [], POD, False),
    (["/var/log/pods/*/*/?.log"], [], POD, True),
    (["/var/log/pods/*/*/??.log"], [], POD, False),
    (["/var/log/pods/*/*/*.LOG"], [], POD, False),
    (["/var/log/pods/\\*/*/*.log"], [], POD, False),
    (["/var/log/pod/*/*/*.log"], [], POD, False),
    (["/var/log/pods//*/*/*.log"], [], POD, True),
    (["/var/log/pods/./*/*/*.log"], [], POD, True),
    (["/var/log/containers/*.log"], [], LINK, True),
    (["/var/log/containers/*.log"], [], POD, False),
    (["/var/log/containers/*_langsmith_*.log"], [], LINK, True),
    (["/var/log/containers/*_kube-system_*.log"], [], LINK, False),
    (["/var/log/containers/*.log"], [], HIDDEN, True),
    (["/var/log/pods/*/*/*.log"], ["**/otc-container/*.log"], POD, True),
    (["/var/log/pods/*/*/*.log"], ["**/otc-container/*.log"], OTC, False),
    (["/var/log/pods/*/*/*.log"], ["/var/log/pods/langsmith_*/*/*.log"], POD, False),
    (["/var/log/pods/*/*/*.log"], ["/var/log/pods/langsmith_*/**"], POD, False),
    (["/var/log/pods/*/*/*.log"], ["/var/log/pods/langsmith_*"], POD, True),
    (["/var/log/pods/*/*/*.log"], ["**/*.gz"], POD, True),
    (["/var/log/pods/*/*/*.log"], ["/var/log/pods/*/*/{0,1}.log"], POD, False),
    (["/var/log/containers/*.log"], ["/var/log/pods/*/*/*.log"], LINK, True),
    (["/var/log/pods/*_langsmith-backend-*_*/*/*.log"], [], POD, True),
    (["/var/log/pod/*/*/*.log", "/var/log/pods/*/*/*.log"], [], POD, True),
]

# (Path, Exclude_Path, path, selected)
FLUENT_BIT_ROWS = [
    ("/var/log/containers/*.log", "", LINK, True),
    ("/var/log/containers/*.log", "", POD, False),
    ("/var/log/pods/*/*/*.log", "", POD, True),
    ("/var/log/pods/**/*.log", "", POD, False),
    ("/var/log/pods/**/*/*.log", "", POD, True),
    ("/var/log/**/*.log", "", POD, False),
    ("/var/log/containers/*_langsmith_*.log", "", LINK, True),
    ("/var/log/containers/*_{langsmith,ls-prod}_*.log", "", LINK, False),
    ("/var/log/containers/{langsmith-backend}*.log", "", LINK, False),
    ("/var/log/containers/*_ls-prod_*.log,/var/log/containers/*_langsmith_*.log", "", LINK, True),
    (" /var/log/containers/*.log , /var/log/other/*.log", "", LINK, True),
    ("/var/log/containers/langsmith-[a-z]*.log", "", LINK, True),
    ("/var/log/containers/langsmith-[!b]*.log", "", LINK, False),
    ("/var/log/containers/langsmith-[^b]*.log", "", LINK, False),
    ("/var/log/containers/langsmith-[[:alpha:]]*.log", "", LINK, True),
    ("/var/log/containers/?angsmith-*.log", "", LINK, True),
    ("/var/log/containers/*", "", LINK, True),
    ("/var/log/containers/.*", "", LINK, False),
    ("/var/log/containers/*.log", "", HIDDEN, False),
    ("/var/log/containers/.*.log", "", HIDDEN, True),
    ("/var/log/containers/*.log", "*_langsmith_*", LINK, False),
    ("/var/log/containers/*.log", "/var/log/containers/*_langsmith_*.log", LINK, False),
    ("/var/log/containers/*.log", "*.gz,*.zip", LINK, True),
    ("/var/log/containers/*.log", "*_kube-system_*,*_langsmith_*", LINK, False),
    ("/var/log/containers/*.log", "langsmith-backend*", LINK, True),
    ("/var/log/containers/*.log", "*/langsmith-backend*", LINK, False),
    ("/var/log/containers/*.log", "*backend*", LINK, False),
    ("/var/log/containers/*.log", "*_{langsmith,x}_*", LINK, True),
    ("/var/log/containers/*.log", "/var/log/*", LINK, False),
    ("/var/log/containers/*.log", "*/[a-k]*", LINK, False),
    ("/var/log/containers/*.log", "/var/log/pods/*", LINK, True),
    ("/var/log/pods/*/*/*.log", "*/otc-container/*", POD, True),
    ("/var/log/pods/*/*/*.log", "*/otc-container/*", OTC, False),
    ("/var/log/pods/langsmith_*/*/[0-9].log", "", POD, True),
    ("~/logs/*.log", "", POD, False),
]

LANGSMITH_IMAGE = "docker.io/langchain/langsmith-backend:0.10.0"

# (environment, pod annotations, collected); the container is `backend` in namespace langsmith.
ON = {"DD_LOGS_ENABLED": "true"}
ALL = {**ON, "DD_LOGS_CONFIG_CONTAINER_COLLECT_ALL": "true"}
DATADOG_ROWS = [
    ({}, {}, False),
    (ON, {}, False),
    (ON, {"ad.datadoghq.com/backend.logs": '[{"source":"python"}]'}, True),
    (ALL, {}, True),
    ({**ALL, "DD_LOGS_ENABLED": "false"}, {}, False),
    ({**ALL, "DD_CONTAINER_EXCLUDE": "kube_namespace:langsmith"}, {}, False),
    ({**ALL, "DD_CONTAINER_EXCLUDE": "kube_namespace:^langsmith$"}, {}, False),
    ({**ALL, "DD_CONTAINER_EXCLUDE": "kube_namespace:^kube-system$"}, {}, True),
    ({**ALL, "DD_CONTAINER_EXCLUDE": "kube_namespace:lang"}, {}, False),
    ({**ALL, "DD_CONTAINER_EXCLUDE": "kube_namespace:smith"}, {}, False),
    ({**ALL, "DD_CONTAINER_EXCLUDE": "kube_namespace:^smith"}, {}, True),
    ({**ALL, "DD_CONTAINER_EXCLUDE": ".*"}, {}, True),
    ({**ALL, "DD_CONTAINER_EXCLUDE_LOGS": "name:.*"}, {}, False),
    (
        {
            **ALL,
            "DD_CONTAINER_EXCLUDE": "image:.*",
            "DD_CONTAINER_INCLUDE": "image:langchain/langsmith-backend",
        },
        {},
        True,
    ),
    (
        {**ALL, "DD_CONTAINER_EXCLUDE": "name:.*", "DD_CONTAINER_INCLUDE_LOGS": "name:backend"},
        {},
        False,
    ),
    (
        {
            **ALL,
            "DD_CONTAINER_EXCLUDE_LOGS": "name:.*",
            "DD_CONTAINER_INCLUDE_LOGS": "name:^backend$",
        },
        {},
        True,
    ),
    (
        {
            **ALL,
            "DD_CONTAINER_EXCLUDE_LOGS": "name:.*",
            "DD_CONTAINER_INCLUDE_LOGS": "name:^queue$",
        },
        {},
        False,
    ),
    ({**ALL, "DD_CONTAINER_EXCLUDE_LOGS": "image:langsmith"}, {}, False),
    ({**ALL, "DD_CONTAINER_EXCLUDE_LOGS": "image:^langsmith"}, {}, True),
    (
        {
            **ALL,
            "DD_CONTAINER_EXCLUDE_LOGS": (
                "image:^docker.io/langchain/langsmith-backend(@sha256)?:.*"
            ),
        },
        {},
        False,
    ),
    ({**ALL, "DD_CONTAINER_EXCLUDE_LOGS": "name:^back"}, {}, False),
    ({**ALL, "DD_CONTAINER_EXCLUDE_LOGS": "name:[bq]ackend"}, {}, False),
    ({**ALL, "DD_CONTAINER_EXCLUDE_LOGS": "name:^(queue|frontend)$"}, {}, True),
    ({**ALL, "DD_CONTAINER_EXCLUDE_LOGS": "name:queue name:backend"}, {}, False),
    (ALL, {"ad.datadoghq.com/exclude": "true"}, False),
    (ALL, {"ad.datadoghq.com/logs_exclude": "1"}, False),
    (ALL, {"ad.datadoghq.com/backend.logs_exclude": "yes"}, True),
    (ALL, {"ad.datadoghq.com/queue.logs_exclude": "true"}, True),
    (ALL, {"ad.datadoghq.com/backend.exclude": "TRUE"}, False),
    (ALL, {"ad.datadoghq.com/exclude": "false"}, True),
    (
        {**ON, "DD_CONTAINER_EXCLUDE_LOGS": "name:.*"},
        {"ad.datadoghq.com/backend.logs": "[{}]"},
        True,
    ),
    (
        ON,
        {"ad.datadoghq.com/backend.logs": "[{}]", "ad.datadoghq.com/backend.logs_exclude": "t"},
        False,
    ),
    ({**ALL, "DD_AC_EXCLUDE": "name:backend"}, {}, False),
    ({**ALL, "DD_AC_EXCLUDE": "name:backend", "DD_CONTAINER_EXCLUDE": "name:queue"}, {}, True),
]


def _row_id(row: tuple[object, ...]) -> str:
    return " | ".join(str(part) for part in row[:-1])[:90]


@pytest.mark.parametrize("row", FILELOG_ROWS, ids=_row_id)
def test_filelog_table(row):
    includes, excludes, path, expected = row
    assert filelog_selects(includes, excludes, path) is expected


@pytest.mark.parametrize("row", FLUENT_BIT_ROWS, ids=_row_id)
def test_fluentbit_table(row):
    paths, excludes, path, expected = row
    assert fluentbit_selects(paths, excludes, path) is expected


def _target(annotations: dict[str, str]) -> ContainerLogTarget:
    return ContainerLogTarget(
        namespace="langsmith",
        pod="langsmith-backend-5f7c9-abcde",
        uid=UID,
        container="backend",
        container_id=f"containerd://{CID}",
        restart_count=0,
        node="node-a",
        runtime=RuntimeKind.CONTAINERD,
        image=LANGSMITH_IMAGE,
        pod_annotations=annotations,
    )


@pytest.mark.parametrize("row", DATADOG_ROWS, ids=_row_id)
def test_datadog_table(row):
    env, annotations, expected = row
    settings = datadog.DatadogSettings.from_env(env)
    collected, reason, _ = datadog.collects(settings, _target(annotations))
    assert collected is expected, reason


def test_tables_have_thirty_rows_each():
    assert len(FILELOG_ROWS) >= 30
    assert len(FLUENT_BIT_ROWS) >= 30
    assert len(DATADOG_ROWS) >= 30


@pytest.mark.parametrize("pattern", ["/var/log/pods/[/*.log", "[]a]", "a\\", "{a,b", "[^"])
def test_doublestar_rejects_bad_pattern(pattern):
    with pytest.raises(BadPattern):
        doublestar_match(pattern, "/var/log/pods/x.log")


def test_datadog_rejects_lookaround():
    with pytest.raises(datadog.InvalidRule, match="RE2"):
        datadog.parse_rules("name:^(?!backend).*")


def test_datadog_ignores_unknown_prefix():
    rules, ignored = datadog.parse_rules("container:backend name:queue")
    assert [rule.pattern for rule in rules] == ["queue"]
    assert ignored == ["container:backend"]


# ---------------------------------------------------------------------------------------------
# The Fluent Bit rows through the C library's own glob(3) and fnmatch(3).

_LIBC_NAME = ctypes.util.find_library("c")


class _GlobT(ctypes.Structure):
    # glibc's glob_t: count, paths, offset, flags, then five function pointers we never use.
    _fields_ = [
        ("gl_pathc", ctypes.c_size_t),
        ("gl_pathv", ctypes.POINTER(ctypes.c_char_p)),
        ("gl_offs", ctypes.c_size_t),
        ("gl_flags", ctypes.c_int),
        ("gl_padding", ctypes.c_void_p * 8),
    ]


GLOB_ERR = 1 << 0
GLOB_TILDE = 1 << 12


def _libc():
    if _LIBC_NAME is None or "libc.so" not in _LIBC_NAME:
        pytest.skip("no GNU C library on this machine to compare with")
    return ctypes.CDLL(_LIBC_NAME)


def _libc_glob(libc, pattern: str) -> list[str]:
    found = _GlobT()
    code = libc.glob(pattern.encode(), GLOB_ERR | GLOB_TILDE, None, ctypes.byref(found))
    try:
        if code != 0:
            return []
        return [found.gl_pathv[i].decode() for i in range(found.gl_pathc)]
    finally:
        libc.globfree(ctypes.byref(found))


@pytest.mark.parametrize("row", FLUENT_BIT_ROWS, ids=_row_id)
def test_fluentbit_table_agrees_with_libc(row, tmp_path: Path):
    libc = _libc()
    paths, excludes, path, expected = row
    for existing in {LINK, POD, OTC, HIDDEN}:
        file = tmp_path / existing.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.touch()
    root = os.fspath(tmp_path)
    matched = any(
        root + path in _libc_glob(libc, root + pattern)
        for pattern in split_comma_list(paths)
        if pattern.startswith("/")
    )
    excluded = any(
        libc.fnmatch(pattern.encode(), path.encode(), 0) == 0
        for pattern in split_comma_list(excludes)
    )
    selected = matched and not excluded
    assert selected is expected


@pytest.mark.parametrize(
    ("pattern", "name"),
    [("*.gz", "/a/b.gz"), ("[!a]*", "b/c"), ("[]a]", "]"), ("a[", "a["), ("\\*", "*")],
)
def test_fnmatch_agrees_with_libc(pattern, name):
    libc = _libc()
    for flags, pathname, period in ((0, False, False), (1 | 4, True, True)):
        expected = libc.fnmatch(pattern.encode(), name.encode(), flags) == 0
        assert fnmatch3(pattern, name, pathname=pathname, period=period) is expected
