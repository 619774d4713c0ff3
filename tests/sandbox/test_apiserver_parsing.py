"""Request paths, selectors, RBAC rules and proxy names, parsed without a server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lsconform.sandbox.apiserver.nodelogs import resolve_in_root
from lsconform.sandbox.apiserver.proxy import ProxyTarget, parse_proxy_name
from lsconform.sandbox.apiserver.rbac import Authorizer
from lsconform.sandbox.apiserver.requestinfo import parse_request
from lsconform.sandbox.apiserver.selectors import (
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
)
from lsconform.sandbox.apiserver.status import ApiError


@pytest.mark.parametrize(
    ("method", "path", "watch", "expected"),
    [
        ("GET", "/api/v1/pods", False, ("list", "", "", "pods", "", "")),
        ("GET", "/api/v1/pods", True, ("watch", "", "", "pods", "", "")),
        ("GET", "/api/v1/watch/namespaces/ns/pods", False, ("watch", "", "ns", "pods", "", "")),
        ("GET", "/api/v1/namespaces/ns", False, ("get", "", "", "namespaces", "ns", "")),
        ("GET", "/api/v1/namespaces/ns/pods/p/log", False, ("get", "", "ns", "pods", "p", "log")),
        ("POST", "/api/v1/namespaces/ns/pods/p/portforward", False,
         ("create", "", "ns", "pods", "p", "portforward")),
        ("DELETE", "/apis/apps/v1/namespaces/ns/deployments", False,
         ("deletecollection", "apps", "ns", "deployments", "", "")),
        ("GET", "/apis/opentelemetry.io/v1beta1/namespaces/o/opentelemetrycollectors/g", False,
         ("get", "opentelemetry.io", "o", "opentelemetrycollectors", "g", "")),
    ],
)  # fmt: skip
def test_request_info(
    method: str, path: str, watch: bool, expected: tuple[str, str, str, str, str, str]
) -> None:
    info = parse_request(method, path, watch)
    assert info.is_resource
    assert (
        info.verb,
        info.group,
        info.namespace,
        info.resource,
        info.name,
        info.subresource,
    ) == expected


@pytest.mark.parametrize("path", ["/version", "/api", "/api/v1", "/apis", "/apis/apps/v1"])
def test_non_resource_paths(path: str) -> None:
    assert not parse_request("GET", path, False).is_resource


def test_proxy_remainder_keeps_encoding() -> None:
    info = parse_request("GET", "/api/v1/namespaces/ns/services/s:80/proxy/a%2Fb/c/", False)
    assert info.rest == "a%2Fb/c/"
    assert info.resource_path == "services/proxy"


def test_label_selector_gt_lt() -> None:
    selector = parse_label_selector("replicas>2,replicas<5")
    assert labels_match(selector, {"metadata": {"labels": {"replicas": "3"}}})
    assert not labels_match(selector, {"metadata": {"labels": {"replicas": "5"}}})
    assert not labels_match(selector, {"metadata": {"labels": {"replicas": "x"}}})


@pytest.mark.parametrize("text", ["a in ()", "a=b=c", "-a=b", "a in (b", ",", "a>x"])
def test_label_selector_rejects(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(text)
    assert caught.value.code == 400
    assert "unable to parse requirement" in caught.value.message


def test_field_selector_on_events() -> None:
    selector = parse_field_selector(
        "involvedObject.name=p,source=kubelet,type!=Normal", "", "events", "Event"
    )
    event = {"involvedObject": {"name": "p"}, "source": {"component": "kubelet"}, "type": "Warn"}
    assert fields_match(selector, event)
    assert not fields_match(selector, {**event, "type": "Normal"})


def test_field_selector_custom_resource_message() -> None:
    with pytest.raises(ApiError) as caught:
        parse_field_selector("spec.mode=x", "opentelemetry.io", "opentelemetrycollectors", "C")
    assert caught.value.message == (
        '"spec.mode" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("svc", ProxyTarget("", "svc", "")),
        ("svc:http", ProxyTarget("", "svc", "http")),
        ("https:svc", ProxyTarget("https", "svc", "")),
        ("https:svc:8443", ProxyTarget("https", "svc", "8443")),
    ],
)
def test_proxy_name_forms(text: str, expected: ProxyTarget) -> None:
    assert parse_proxy_name(text) == expected


def test_rbac_wildcards_and_subresource_forms() -> None:
    authorizer = Authorizer.from_yaml(
        "kind: ClusterRole\n"
        "rules:\n"
        "  - apiGroups: ['*']\n"
        "    resources: ['*/proxy']\n"
        "    verbs: ['*']\n"
    )
    proxy = parse_request("GET", "/api/v1/nodes/n/proxy/logs/", False)
    pods = parse_request("GET", "/api/v1/namespaces/ns/pods", False)
    assert authorizer.allows(proxy)
    assert not authorizer.allows(pods)


def test_rbac_role_only_in_its_namespace() -> None:
    authorizer = Authorizer.from_yaml(
        "kind: Role\n"
        "metadata: {name: r, namespace: a}\n"
        "rules: [{apiGroups: [''], resources: [pods], verbs: [list]}]\n"
    )
    assert authorizer.allows(parse_request("GET", "/api/v1/namespaces/a/pods", False))
    assert not authorizer.allows(parse_request("GET", "/api/v1/namespaces/b/pods", False))


def test_resolve_follows_absolute_links_inside_root(tmp_path: Path) -> None:
    (tmp_path / "var/log/pods/p").mkdir(parents=True)
    (tmp_path / "var/log/pods/p/0.log").write_text("x")
    (tmp_path / "var/log/containers").mkdir()
    os.symlink("/var/log/pods/p/0.log", tmp_path / "var/log/containers/c.log")
    os.symlink("/etc/passwd", tmp_path / "var/log/containers/escape.log")
    os.symlink("loop.log", tmp_path / "var/log/containers/loop.log")
    assert resolve_in_root(tmp_path, "var/log/containers/c.log") == (
        tmp_path / "var/log/pods/p/0.log"
    )
    assert resolve_in_root(tmp_path, "var/log/containers/escape.log") is None
    assert resolve_in_root(tmp_path, "var/log/containers/loop.log") is None
