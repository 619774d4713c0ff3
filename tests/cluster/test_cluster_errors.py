"""The exception hierarchy: status mapping, RBAC rules and bounded messages."""

from __future__ import annotations

import json

import pytest

from lsconform.cluster.errors import (
    MAX_STATUS_MESSAGE,
    ClusterError,
    Forbidden,
    NotFound,
    RbacRule,
    RequestTimeout,
    ServerError,
    TooManyRequests,
    Unauthorized,
    error_for_status,
    rule_for_request,
)


def status(message: str, code: int = 403) -> bytes:
    return json.dumps(
        {"kind": "Status", "apiVersion": "v1", "message": message, "code": code}
    ).encode()


@pytest.mark.parametrize(
    ("method", "path", "params", "expected"),
    [
        ("GET", "/api/v1/namespaces/ls/pods", None, RbacRule("list", "", "pods", "", "ls")),
        (
            "GET",
            "/api/v1/namespaces/ls/pods",
            {"watch": "true"},
            RbacRule("watch", "", "pods", "", "ls"),
        ),
        (
            "GET",
            "/api/v1/namespaces/ls/secrets/sh.helm.release.v1.ls.v1",
            None,
            RbacRule("get", "", "secrets", "", "ls"),
        ),
        (
            "GET",
            "/apis/apps/v1/namespaces/ls/deployments",
            None,
            RbacRule("list", "apps", "deployments", "", "ls"),
        ),
        (
            "GET",
            "/api/v1/namespaces/ls/services/ls-backend:1984/proxy/metrics",
            None,
            RbacRule("get", "", "services", "proxy", "ls"),
        ),
        (
            "POST",
            "/api/v1/namespaces/ls/pods/p-1:4318/proxy/v1/traces",
            None,
            RbacRule("create", "", "pods", "proxy", "ls"),
        ),
        (
            "GET",
            "/api/v1/nodes/node-a/proxy/logs/pods/",
            None,
            RbacRule("get", "", "nodes", "proxy", None),
        ),
        ("GET", "/api/v1/namespaces/ls", None, RbacRule("get", "", "namespaces")),
    ],
)
def test_rule_for_request(
    method: str, path: str, params: dict[str, str] | None, expected: RbacRule
) -> None:
    assert rule_for_request(method, path, params) == expected


def test_rule_yaml_for_service_proxy() -> None:
    rule = RbacRule("get", "", "services", "proxy", "langsmith")
    assert rule.to_yaml() == (
        "# add to a Role in namespace langsmith (and bind it to the user)\n"
        '- apiGroups: [""]\n'
        '  resources: ["services/proxy"]\n'
        '  verbs: ["get"]\n'
    )


def test_rule_yaml_for_portforward_grants_create() -> None:
    rule = RbacRule("get", "", "pods", "portforward", "langsmith")
    assert '  verbs: ["get", "create"]\n' in rule.to_yaml()


def test_rule_yaml_for_nodes_needs_cluster_role() -> None:
    rule = RbacRule("get", "", "nodes", "proxy")
    assert rule.to_yaml().startswith("# add to a ClusterRole")


def test_forbidden_names_rule_and_fix() -> None:
    error = error_for_status(
        403,
        status(
            'services "ls-backend:1984" is forbidden: User "dev" cannot get resource '
            '"services/proxy" in API group "" in the namespace "ls"'
        ),
        method="GET",
        path="/api/v1/namespaces/ls/services/ls-backend:1984/proxy/metrics",
    )
    assert isinstance(error, Forbidden)
    assert error.rule == RbacRule("get", "", "services", "proxy", "ls")
    assert "may not get services/proxy" in str(error)
    assert 'grant verb get on services/proxy (apiGroup "") in namespace ls' in str(error)
    assert 'cannot get resource "services/proxy"' in str(error)
    assert error.status == 403
    assert 'resources: ["services/proxy"]' in error.rule_yaml()


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (401, Unauthorized),
        (404, NotFound),
        (429, TooManyRequests),
        (500, ServerError),
        (503, ServerError),
        (504, RequestTimeout),
        (408, RequestTimeout),
        (400, ClusterError),
    ],
)
def test_error_for_status_maps_codes(code: int, kind: type[ClusterError]) -> None:
    error = error_for_status(code, status("boom", code), method="GET", path="/api/v1/pods")
    assert type(error) is kind
    assert error.evidence["status"] == code
    assert error.evidence["message"] == "boom"
    assert "Fix: " in str(error)


def test_status_message_is_bounded() -> None:
    error = error_for_status(500, status("x" * 5000, 500), method="GET", path="/version")
    message = error.evidence["message"]
    assert message.startswith("x" * MAX_STATUS_MESSAGE)
    assert message.endswith(f"({5000 - MAX_STATUS_MESSAGE} more characters)")


def test_non_status_body_is_quoted_as_text() -> None:
    error = error_for_status(502, b"<html>bad gateway</html>", method="GET", path="/version")
    assert error.evidence["message"] == "<html>bad gateway</html>"


def test_too_many_requests_keeps_retry_after() -> None:
    error = error_for_status(429, b"", method="GET", path="/api/v1/pods", retry_after=7.0)
    assert isinstance(error, TooManyRequests)
    assert error.retry_after == 7.0
