"""The sandbox's Kubernetes API server: a real HTTP server on loopback that serves a `Store`.

See docs/sandbox-apiserver.md for what it serves and how faithfully.
"""

from lsconform.sandbox.apiserver.store import (
    BUILTIN_TYPES,
    OPENTELEMETRY_COLLECTOR,
    POD_MONITOR,
    SERVICE_MONITOR,
    JsonObject,
    MemoryStore,
    ResourceType,
    Store,
    WatchEvent,
)

__all__ = [
    "BUILTIN_TYPES",
    "OPENTELEMETRY_COLLECTOR",
    "POD_MONITOR",
    "SERVICE_MONITOR",
    "JsonObject",
    "MemoryStore",
    "ResourceType",
    "Store",
    "WatchEvent",
]
