"""ClusterClient against a fake API server on loopback."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fakeapi import FakeApi, FakeHandler, FakeServer, Request, status_body

from lsconform.cluster.client import ClusterClient, RetryPolicy, api_path
from lsconform.cluster.errors import (
    ConfigError,
    Forbidden,
    InvalidResponse,
    NotFound,
    RequestTimeout,
    ResponseTooLarge,
    ServerError,
    TooManyRequests,
    Unauthorized,
    Unreachable,
)
from lsconform.settings import Settings


def pod(name: str, namespace: str = "ls", **labels: str) -> dict[str, object]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- configuration ----------------------------------------------------------------------


def test_missing_kubeconfig_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the kubeconfig file does not exist") as info:
        ClusterClient.from_kubeconfig(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(info.value)
    assert "--kubeconfig" in str(info.value)


def test_unknown_context_lists_known_ones(kubeconfig: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be loaded") as info:
        ClusterClient.from_kubeconfig(kubeconfig, context="prod")
    assert "contexts=fake, other" in str(info.value)


def test_malformed_kubeconfig_is_config_error(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: [unterminated\n")
    with pytest.raises(ConfigError, match="kubeconfig cannot be read"):
        ClusterClient.from_kubeconfig(path)


def test_kubeconfig_context_and_namespace(kubeconfig: Path, server: FakeServer) -> None:
    with ClusterClient.from_kubeconfig(kubeconfig) as client:
        assert client.context == "fake"
        assert client.default_namespace == "default"
        assert client.api_url == server.url
        assert not client.in_cluster
    with ClusterClient.from_kubeconfig(kubeconfig, context="other") as client:
        assert client.context == "other"


def test_connect_reads_kubeconfig_only_from_given_environ(kubeconfig: Path, tmp_path: Path) -> None:
    with ClusterClient.connect(environ={"KUBECONFIG": str(kubeconfig)}) as client:
        assert client.source == str(kubeconfig)
    absent = tmp_path / "absent"
    with pytest.raises(ConfigError, match="does not exist"):
        ClusterClient.connect(kubeconfig=absent, environ={"KUBECONFIG": str(kubeconfig)})


def test_in_cluster_config(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "namespace").write_text("langsmith\n")
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    with ClusterClient.from_in_cluster(environ=environ, service_account_dir=tmp_path) as client:
        assert client.api_url == "https://127.0.0.1:6443"
        assert client.in_cluster
        assert client.default_namespace == "langsmith"


def test_in_cluster_without_token_is_config_error(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    with pytest.raises(ConfigError, match="in-cluster service account") as info:
        ClusterClient.from_in_cluster(environ=environ, service_account_dir=tmp_path)
    assert "token file does not exist" in str(info.value)


# --- reads ------------------------------------------------------------------------------


def test_api_path_forms() -> None:
    assert api_path("pods", namespace="ls") == "/api/v1/namespaces/ls/pods"
    assert api_path("deployments.apps", namespace="ls", name="ls-backend") == (
        "/apis/apps/v1/namespaces/ls/deployments/ls-backend"
    )
    assert api_path("nodes", name="n1", subresource="proxy") == "/api/v1/nodes/n1/proxy"
    assert api_path("rollouts", namespace="ls", api_version="argoproj.io/v1alpha1") == (
        "/apis/argoproj.io/v1alpha1/namespaces/ls/rollouts"
    )
    with pytest.raises(ValueError, match=r"no API version known for group 'example\.com'"):
        api_path("widgets.example.com")


def test_list_filters_by_label_and_fills_kind(api: FakeApi, client: ClusterClient) -> None:
    api.add(pod("a", app="x"), pod("b", app="y"), pod("c", app="x"))
    items = client.list("pods", namespace="ls", label_selector="app=x")
    assert [item["metadata"]["name"] for item in items] == ["a", "c"]
    assert items[0]["kind"] == "Pod"
    assert items[0]["apiVersion"] == "v1"


def test_list_follows_continue_tokens(api: FakeApi, client: ClusterClient) -> None:
    api.add(*(pod(f"p{i}") for i in range(5)))
    items = client.list("pods", namespace="ls", page_size=2)
    assert len(items) == 5
    assert client.request_count == 3
    assert [r.query.get("continue") for r in api.requests] == [None, "2", "4"]


def test_get_missing_object_is_not_found(client: ClusterClient) -> None:
    with pytest.raises(NotFound, match='pods "nope" not found'):
        client.get("pods", "nope", namespace="ls")


def test_server_version(client: ClusterClient) -> None:
    assert client.server_version()["gitVersion"] == "v1.31.0-fake"


def test_wrong_token_is_unauthorized(server: FakeServer, tmp_path: Path) -> None:
    path = server.write_kubeconfig(tmp_path / "kc", token="wrong")
    with ClusterClient.from_kubeconfig(path) as client, pytest.raises(Unauthorized) as info:
        client.list("pods", namespace="ls")
    assert "kubectl auth whoami" in str(info.value)
    assert "wrong" not in str(info.value)


def test_forbidden_carries_rule(api: FakeApi, client: ClusterClient) -> None:
    def deny(handler: FakeHandler, request: Request) -> None:
        handler.send_bytes(
            403,
            status_body(
                403, "Forbidden", 'secrets is forbidden: User "dev" cannot list resource "secrets"'
            ),
        )

    api.route("/api/v1/namespaces/ls/secrets", deny)
    with pytest.raises(Forbidden) as info:
        client.list("secrets", namespace="ls", label_selector="owner=helm")
    assert info.value.rule.verb == "list"
    assert info.value.rule.resource == "secrets"
    assert info.value.rule.namespace == "ls"
    assert 'cannot list resource "secrets"' in str(info.value)


def test_non_json_body_is_invalid_response(api: FakeApi, client: ClusterClient) -> None:
    api.route(
        "/api/v1/namespaces/ls/pods",
        lambda h, r: h.send_bytes(200, b"<html>login</html>", "text/html"),
    )
    with pytest.raises(InvalidResponse, match="not JSON") as info:
        client.list("pods", namespace="ls")
    assert "<html>login</html>" in str(info.value)


def test_oversized_response(api: FakeApi, client: ClusterClient) -> None:
    api.route("/big", lambda h, r: h.send_bytes(200, b"x" * 100_000, "text/plain"))
    with pytest.raises(ResponseTooLarge, match="larger than the size cap"):
        client.get_json("/big", max_bytes=1000)
    response = client.raw_get("/big", max_bytes=1000)
    assert response.truncated
    assert response.body == b"x" * 1000
    assert response.status == 200


# --- retries ----------------------------------------------------------------------------


def sequence(*answers: tuple[int, dict[str, str]]) -> object:
    """A handler that answers with the given statuses in turn, then 200 {}."""
    remaining = list(answers)
    lock = threading.Lock()

    def handle(handler: FakeHandler, request: Request) -> None:
        with lock:
            answer = remaining.pop(0) if remaining else (200, {})
        code, headers = answer
        if code == 200:
            handler.send_json(
                200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}
            )
        else:
            handler.send_bytes(code, status_body(code, "Err", f"status {code}"), headers=headers)

    return handle


def test_429_is_retried_after_retry_after(
    api: FakeApi, client: ClusterClient, caplog: pytest.LogCaptureFixture
) -> None:
    api.route("/api/v1/namespaces/ls/pods", sequence((429, {"Retry-After": "0"})))  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="lsconform.cluster.client"):
        assert client.list("pods", namespace="ls") == []
    assert client.request_count == 2
    assert (
        "retrying GET /api/v1/namespaces/ls/pods after HTTP 429 (attempt 2 of 3, "
        "waiting 0.0 s)" in caplog.text
    )


def test_429_beyond_wait_budget_is_raised(api: FakeApi, client: ClusterClient) -> None:
    api.route("/api/v1/namespaces/ls/pods", sequence((429, {"Retry-After": "30"})))  # type: ignore[arg-type]
    with pytest.raises(TooManyRequests) as info:
        client.list("pods", namespace="ls")
    assert info.value.retry_after == 30.0
    assert client.request_count == 1


def test_5xx_get_is_retried_within_bound(api: FakeApi, client: ClusterClient) -> None:
    api.route("/api/v1/namespaces/ls/pods", sequence((500, {}), (503, {})))  # type: ignore[arg-type]
    assert client.list("pods", namespace="ls") == []
    assert client.request_count == 3


def test_5xx_gives_up_after_max_attempts(
    api: FakeApi, client: ClusterClient, caplog: pytest.LogCaptureFixture
) -> None:
    api.route("/api/v1/namespaces/ls/pods", sequence(*[(500, {})] * 10))  # type: ignore[arg-type]
    with pytest.raises(ServerError, match="HTTP 500") as info:
        client.list("pods", namespace="ls")
    assert client.request_count == 3
    assert info.value.evidence["attempts"] == 3
    assert "giving up on GET /api/v1/namespaces/ls/pods after 3 attempts" in caplog.text


def test_5xx_post_is_not_retried(api: FakeApi, client: ClusterClient) -> None:
    api.route("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", sequence((500, {})))  # type: ignore[arg-type]
    with pytest.raises(ServerError):
        client.can_i("list", "pods", namespace="ls")
    assert client.request_count == 1


def test_can_i_posts_access_review(api: FakeApi, client: ClusterClient) -> None:
    api.route(
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        lambda h, r: h.send_json(201, {"status": {"allowed": True}}),
    )
    assert client.can_i("get", "services", namespace="ls", subresource="proxy")
    assert b'"subresource": "proxy"' in api.requests[-1].body


# --- failures of the connection ---------------------------------------------------------


def test_closed_port_is_unreachable(tmp_path: Path) -> None:
    api = FakeApi()
    dummy = FakeServer.__new__(FakeServer)
    dummy.server_address = ("127.0.0.1", free_port())
    path = FakeServer.write_kubeconfig(dummy, tmp_path / "kc")
    with (
        ClusterClient.from_kubeconfig(path, timeout=2.0) as client,
        pytest.raises(Unreachable, match="API server cannot be reached") as info,
    ):
        client.list("pods", namespace="ls")
    assert "Connection refused" in str(info.value) or "refused" in str(info.value).lower()
    assert api.requests == []


def trickle(handler: FakeHandler, request: Request) -> None:
    """Send headers at once, then one byte a second for a minute."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "60")
    handler.end_headers()
    try:
        for _ in range(60):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(1)
    except OSError:
        return


def test_trickling_response_ends_at_timeout(api: FakeApi, client: ClusterClient) -> None:
    api.route("/slow", trickle)
    started = time.monotonic()
    with pytest.raises(RequestTimeout, match="did not answer within the timeout"):
        client.get_json("/slow", timeout=1.5)
    # The bound is generous: the point is that the call ends near its timeout, not after 60 s.
    assert time.monotonic() - started < 6


def test_concurrent_use_from_threads(api: FakeApi, client: ClusterClient) -> None:
    api.add(*(pod(f"p{i}") for i in range(3)))
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: len(client.list("pods", namespace="ls")), range(64)))
    assert results == [3] * 64
    assert client.request_count == 64
    assert client.request_counts() == {"GET /api/v1/namespaces/ls/pods": 64}


def test_pool_holds_at_least_16_connections(kubeconfig: Path) -> None:
    with ClusterClient.from_kubeconfig(kubeconfig, pool_size=4) as client:
        assert client.configuration.connection_pool_maxsize >= 16


def test_retry_policy_of_one_attempt_never_retries(api: FakeApi, kubeconfig: Path) -> None:
    api.route("/api/v1/namespaces/ls/pods", sequence((500, {})))  # type: ignore[arg-type]
    with ClusterClient.from_kubeconfig(kubeconfig, retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(ServerError):
            client.list("pods", namespace="ls")
        assert client.request_count == 1


def exec_kubeconfig(server: FakeServer, path: Path, script: str) -> Path:
    plugin = path.parent / "credential_plugin.py"
    plugin.write_text(script)
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: fake\n  cluster:\n    server: {server.url}\n"
        "users:\n- name: tester\n  user:\n    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
        f"      command: {sys.executable}\n      args: [{plugin}]\n"
        "      interactiveMode: Never\n"
        "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n"
        "current-context: fake\n"
    )
    return path


def test_exec_credential_plugin(api: FakeApi, server: FakeServer, tmp_path: Path) -> None:
    script = (
        "import json\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1',\n"
        "                  'kind': 'ExecCredential', 'status': {'token': 'fake-api-token'}}))\n"
    )
    path = exec_kubeconfig(server, tmp_path / "kubeconfig", script)
    api.add(pod("a"))
    with ClusterClient.from_kubeconfig(path) as client:
        assert [item["metadata"]["name"] for item in client.list("pods", namespace="ls")] == ["a"]


def test_failing_exec_plugin_is_config_error(server: FakeServer, tmp_path: Path) -> None:
    script = "import sys\nsys.stderr.write('login required')\nsys.exit(1)\n"
    path = exec_kubeconfig(server, tmp_path / "kubeconfig", script)
    with pytest.raises(ConfigError, match="exec credential plugin returned no token") as info:
        ClusterClient.from_kubeconfig(path)
    assert "user=tester" in str(info.value)
    assert "run the plugin's command by hand" in str(info.value)


def test_from_settings_uses_kubeconfig_and_context(kubeconfig: Path) -> None:
    settings = Settings(namespace="ls", kubeconfig=kubeconfig, context="other", concurrency=32)
    with ClusterClient.from_settings(settings) as client:
        assert client.context == "other"
        assert client.source == str(kubeconfig)
        assert client.configuration.connection_pool_maxsize == 32
