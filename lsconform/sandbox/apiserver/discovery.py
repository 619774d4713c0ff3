"""Discovery documents: `/version`, `/api`, `/apis` and the APIResourceList of each group version.

Only legacy discovery is served. A client that asks for aggregated discovery
(`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,...`) receives the
legacy document with `Content-Type: application/json`, and client-go (kubectl) then falls back to
walking the group versions one by one, as it does against any server without aggregation.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsconform.sandbox.apiserver.store import JsonObject, ResourceType

# The Kubernetes version the server reports: one minor below or equal to the kubectl that the
# sandbox is tested with keeps kubectl's version-skew warning quiet.
VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-04-22T00:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Verbs of each subresource in an APIResourceList (as a Kubernetes 1.32 server lists them).
SUBRESOURCE_VERBS = {
    "log": ("get",),
    "proxy": ("create", "delete", "get", "patch", "update"),
    "portforward": ("create", "get"),
    "status": ("get",),
    "scale": ("get",),
}


def group_versions(types: Sequence[ResourceType]) -> dict[str, list[str]]:
    """Return group → versions, in the order the types list them (core group as "")."""
    groups: dict[str, list[str]] = {}
    for resource in types:
        versions = groups.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)
    return groups


def api_versions(server_address: str) -> JsonObject:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group(name: str, versions: list[str]) -> JsonObject:
    entries = [{"groupVersion": f"{name}/{version}", "version": version} for version in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(types: Sequence[ResourceType]) -> JsonObject:
    groups = [
        api_group(name, versions) for name, versions in group_versions(types).items() if name != ""
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group_document(name: str, versions: list[str]) -> JsonObject:
    return {"kind": "APIGroup", "apiVersion": "v1", **api_group(name, versions)}


def api_resource_list(group: str, version: str, types: Sequence[ResourceType]) -> JsonObject:
    resources: list[JsonObject] = []
    for resource in types:
        if resource.group != group or resource.version != version:
            continue
        entry: JsonObject = {
            "name": resource.plural,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(resource.verbs),
        }
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        if resource.categories:
            entry["categories"] = list(resource.categories)
        resources.append(entry)
        for subresource in resource.subresources:
            resources.append(
                {
                    "name": f"{resource.plural}/{subresource}",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": "Scale" if subresource == "scale" else resource.kind,
                    "verbs": list(SUBRESOURCE_VERBS.get(subresource, ("get",))),
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
