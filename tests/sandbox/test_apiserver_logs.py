"""Pod logs from CRI files and the node's log directory through `nodes/proxy/logs`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import kubernetes
import pytest
from conftest_apiserver import (
    BACKEND_UID,
    CURRENT_LOG,
    NAMESPACE,
    NODE,
    Cluster,
    cluster,
    shared_cluster,
)

from lsconform.sandbox.apiserver.logs import (
    LogOptions,
    format_timestamp,
    parse_cri_line,
    parse_timestamp,
    read_last_lines,
    read_log_lines,
    render_lines,
)

__all__ = ["cluster", "shared_cluster"]

ApiException = kubernetes.client.exceptions.ApiException


def read_log(cluster: Cluster, pod: str = "backend-0", **options: object) -> bytes:
    response = cluster.core().read_namespaced_pod_log(
        pod, NAMESPACE, _preload_content=False, **options
    )
    data: bytes = response.data
    return data


# The CRI format.


def test_cri_line_parts() -> None:
    assert parse_cri_line(b"2026-12-04T20:00:00.5Z stderr P half") == (
        "2026-12-04T20:00:00.5Z",
        True,
        b"half",
    )
    assert parse_cri_line(b"2026-12-04T20:00:00Z stdout F ") == ("2026-12-04T20:00:00Z", False, b"")
    assert parse_cri_line(b"2026-12-04 stdout F x") is None
    assert parse_cri_line(b"not a cri line") is None
    assert parse_cri_line(b"2026-12-04T20:00:00Z console F x") is None


def test_timestamp_trims_zeros_like_go() -> None:
    assert format_timestamp(parse_timestamp("2026-12-04T20:00:00.120000000Z")) == (
        "2026-12-04T20:00:00.12Z"
    )
    assert format_timestamp(parse_timestamp("2026-12-04T21:00:00+01:00")) == (
        "2026-12-04T20:00:00Z"
    )


def test_partial_lines_are_joined() -> None:
    lines = list(read_log_lines(CURRENT_LOG))
    assert [line.message for line in lines][1] == b"partial one partial two\n"
    assert len(lines) == 4


def test_last_lines_read_from_file_end(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    pieces = [b"2026-12-04T20:00:00Z stdout F line %d\n" % index for index in range(5000)]
    pieces.insert(4998, b"2026-12-04T20:00:00Z stdout P joined \n")
    log.write_bytes(b"".join(pieces))
    data, end = read_last_lines(log, 3, block_bytes=64)
    assert end == log.stat().st_size
    assert len(data) < 1000
    rendered = render_lines(read_log_lines(data), LogOptions(tail_lines=3))
    assert rendered == b"line 4997\njoined line 4998\nline 4999\n"


def test_tail_zero_renders_nothing() -> None:
    assert render_lines(read_log_lines(CURRENT_LOG), LogOptions(tail_lines=0)) == b""


# pods/log through the official client.


def test_current_log_strips_cri_prefix(shared_cluster: Cluster) -> None:
    assert read_log(shared_cluster, container="api") == (
        b"starting backend\npartial one partial two\nbytes \xff\xfe not utf-8\nready\n"
    )


def test_previous_log(shared_cluster: Cluster) -> None:
    data = read_log(shared_cluster, container="api", previous=True)
    assert data == b"previous run line 1\nprevious run crashed\n"


def test_tail_lines_with_timestamps(shared_cluster: Cluster) -> None:
    data = read_log(shared_cluster, container="api", tail_lines=2, timestamps=True)
    assert data == b"2026-12-04T20:00:02.25Z bytes \xff\xfe not utf-8\n2026-12-04T20:00:03Z ready\n"


def test_since_time_and_limit_bytes(shared_cluster: Cluster) -> None:
    response = shared_cluster.request(
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/pods/backend-0/log",
        params={"container": "api", "sinceTime": "2026-12-04T20:00:02Z", "limitBytes": "8"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.content == b"bytes \xff\xfe"


def test_since_seconds_excludes_old_lines(shared_cluster: Cluster) -> None:
    assert read_log(shared_cluster, container="api", since_seconds=60) == b""


def test_container_required_for_two_containers(shared_cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        read_log(shared_cluster)
    assert caught.value.status == 400
    assert "a container name must be specified for pod backend-0" in caught.value.body
    assert "choose one of: [api sidecar]" in caught.value.body


def test_unknown_container_message(shared_cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        read_log(shared_cluster, container="nope")
    assert caught.value.status == 400
    assert "container nope is not valid for pod backend-0" in caught.value.body


def test_previous_without_restart_message(shared_cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        read_log(shared_cluster, container="sidecar", previous=True)
    assert caught.value.status == 400
    assert 'previous terminated container \\"sidecar\\" in pod \\"backend-0\\" not found' in (
        caught.value.body
    )


def test_waiting_container_message(shared_cluster: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        read_log(shared_cluster, pod="pending-0")
    assert "is waiting to start: ContainerCreating" in caught.value.body


def test_container_without_file_has_empty_log(shared_cluster: Cluster) -> None:
    assert read_log(shared_cluster, container="sidecar") == b""


def test_follow_streams_appended_lines(cluster: Cluster) -> None:
    log_file = (
        cluster.workdir / f"nodes/{NODE}/var/log/pods/{NAMESPACE}_backend-0_{BACKEND_UID}/api/1.log"
    )
    response = cluster.core().read_namespaced_pod_log(
        "backend-0",
        NAMESPACE,
        container="api",
        follow=True,
        tail_lines=1,
        _preload_content=False,
    )

    def append() -> None:
        time.sleep(0.2)
        with log_file.open("ab") as handle:
            handle.write(b"2026-12-04T20:00:04Z stdout F appended\n")
        time.sleep(0.2)
        # A newer restart file ends the follow, as a container exit ends the kubelet's.
        (log_file.parent / "2.log").write_bytes(b"")

    writer = threading.Thread(target=append)
    writer.start()
    received = b""
    for chunk in response.stream(1024):
        received += chunk
    writer.join()
    response.release_conn()
    assert received == b"ready\nappended\n"


# nodes/<node>/proxy/logs.


def test_node_log_listing(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", f"/api/v1/nodes/{NODE}/proxy/logs/")
    assert response.status_code == 200
    assert '<a href="containers/">containers/</a>' in response.text
    assert '<a href="pods/">pods/</a>' in response.text


def test_node_log_links_listed_by_name(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", f"/api/v1/nodes/{NODE}/proxy/logs/containers/")
    link = f"backend-0_{NAMESPACE}_api-{'ab' * 32}.log"
    assert f'<a href="{link}">{link}</a>' in response.text
    assert f"gone-0_{NAMESPACE}_api-" in response.text


def test_node_log_file_through_link(shared_cluster: Cluster) -> None:
    link = f"backend-0_{NAMESPACE}_api-{'ab' * 32}.log"
    response = shared_cluster.request("GET", f"/api/v1/nodes/{NODE}/proxy/logs/containers/{link}")
    assert response.status_code == 200
    assert response.content == CURRENT_LOG


def test_node_log_dangling_link_is_404(shared_cluster: Cluster) -> None:
    link = f"gone-0_{NAMESPACE}_api-{'cd' * 32}.log"
    response = shared_cluster.request("GET", f"/api/v1/nodes/{NODE}/proxy/logs/containers/{link}")
    assert response.status_code == 404


def test_node_log_escape_is_404(shared_cluster: Cluster) -> None:
    response = shared_cluster.request(
        "GET", f"/api/v1/nodes/{NODE}/proxy/logs/%2E%2E/%2E%2E/%2E%2E/audit.jsonl"
    )
    assert response.status_code == 404


def test_unknown_node_is_404(shared_cluster: Cluster) -> None:
    response = shared_cluster.request("GET", "/api/v1/nodes/nope/proxy/logs/")
    assert response.status_code == 404
    assert response.json()["message"] == 'nodes "nope" not found'


def test_node_proxy_through_client(shared_cluster: Cluster) -> None:
    listing = shared_cluster.core().connect_get_node_proxy_with_path(NODE, "logs/pods/")
    assert f"{NAMESPACE}_backend-0_{BACKEND_UID}/" in listing


def test_pod_deleted_while_reading_logs_is_404(cluster: Cluster) -> None:
    store = cluster.store
    original = store.container_log_files

    def vanish(namespace: str, pod: str, container: str) -> list[Path] | None:
        store.delete("pods", "", namespace, pod)
        return original(namespace, pod, container)

    store.container_log_files = vanish  # type: ignore[method-assign]
    with pytest.raises(ApiException) as caught:
        read_log(cluster, container="api")
    assert caught.value.status == 404
    assert 'pods \\"backend-0\\" not found' in caught.value.body
