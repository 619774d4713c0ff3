"""Finding the LangSmith Helm release in a namespace and building its inventory."""

from lsconform.discovery.discover import AmbiguousRelease, DiscoveryError, discover
from lsconform.discovery.release import (
    Component,
    Container,
    Discovery,
    MetricsEndpoint,
    Pod,
    Problem,
    Release,
    RevisionInfo,
    Service,
)

__all__ = [
    "AmbiguousRelease",
    "Component",
    "Container",
    "Discovery",
    "DiscoveryError",
    "MetricsEndpoint",
    "Pod",
    "Problem",
    "Release",
    "RevisionInfo",
    "Service",
    "discover",
]
