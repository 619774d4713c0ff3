"""`Range` requests on node log files, served as the kubelet's Go file server serves them."""

from __future__ import annotations

import pytest
from conftest_apiserver import CURRENT_LOG, NAMESPACE, NODE, Cluster, shared_cluster

from lsconform.sandbox.apiserver.nodelogs import RangeError, parse_range

__all__ = ["shared_cluster"]

LINK = f"backend-0_{NAMESPACE}_api-{'ab' * 32}.log"
FILE_PATH = f"/api/v1/nodes/{NODE}/proxy/logs/containers/{LINK}"
SIZE = len(CURRENT_LOG)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("bytes=0-9", (0, 10)),
        ("bytes=5-", (5, 95)),
        ("bytes=-10", (90, 10)),
        ("bytes=-500", (0, 100)),
        ("bytes=90-500", (90, 10)),
        ("bytes= 3-4", (3, 2)),
        ("bytes=0-1,5-6", None),
        ("bytes=200-300,0-4", (0, 5)),
    ],
)
def test_parse_range(header: str, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "overlap"),
    [
        ("items=0-9", True),
        ("bytes=9-3", True),
        ("bytes=x-3", True),
        ("bytes=5", True),
        ("bytes=--5", True),
        ("bytes=\u00b2-", True),
        ("bytes=100-", False),
        ("bytes=-0", False),
    ],
)
def test_unservable_ranges(header: str, overlap: bool) -> None:
    with pytest.raises(RangeError) as raised:
        parse_range(header, 100)
    assert raised.value.overlap is overlap


def test_whole_file_says_ranges_are_accepted(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", FILE_PATH)
    assert response.status_code == 200
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Content-Range" not in response.headers
    assert response.content == CURRENT_LOG


def test_single_range_is_partial_content(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", FILE_PATH, headers={"Range": "bytes=10-29"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 10-29/{SIZE}"
    assert response.headers["Content-Length"] == "20"
    assert response.content == CURRENT_LOG[10:30]


def test_open_range_runs_to_the_end(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", FILE_PATH, headers={"Range": f"bytes={SIZE - 7}-"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {SIZE - 7}-{SIZE - 1}/{SIZE}"
    assert response.content == b" ready\n"


def test_suffix_range_is_the_tail(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", FILE_PATH, headers={"Range": "bytes=-6"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {SIZE - 6}-{SIZE - 1}/{SIZE}"
    assert response.content == b"ready\n"


def test_range_past_the_end_is_416(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", FILE_PATH, headers={"Range": f"bytes={SIZE}-"})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"
    assert response.text == "invalid range: failed to overlap\n"


def test_malformed_range_is_416(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", FILE_PATH, headers={"Range": "lines=1-2"})
    assert response.status_code == 416
    assert "Content-Range" not in response.headers
    assert response.text == "invalid range\n"


def test_range_through_the_official_client(shared_cluster: Cluster) -> None:
    response = shared_cluster.core().connect_get_node_proxy_with_path(
        NODE,
        f"logs/containers/{LINK}",
        _preload_content=False,
        _headers={"Range": "bytes=-6"},
    )
    assert response.status == 206
    assert response.data == b"ready\n"
