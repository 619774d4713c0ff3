"""Kubernetes access: configuration, API calls and HTTP to pods and Services through a Transport."""

from lsconform.cluster.client import ClusterClient, RetryPolicy, api_path, is_in_cluster
from lsconform.cluster.errors import (
    ClusterError,
    ConfigError,
    ConnectionRefused,
    Forbidden,
    InvalidResponse,
    NotFound,
    RbacRule,
    RequestTimeout,
    ResponseTooLarge,
    ServerError,
    TooManyRequests,
    Unauthorized,
    Unreachable,
)
from lsconform.cluster.response import HttpResponse
from lsconform.cluster.transport import (
    TRANSPORTS,
    ApiProxyTransport,
    DirectTransport,
    HttpTarget,
    PortForwardTransport,
    Transport,
    make_transport,
)

__all__ = [
    "TRANSPORTS",
    "ApiProxyTransport",
    "ClusterClient",
    "ClusterError",
    "ConfigError",
    "ConnectionRefused",
    "DirectTransport",
    "Forbidden",
    "HttpResponse",
    "HttpTarget",
    "InvalidResponse",
    "NotFound",
    "PortForwardTransport",
    "RbacRule",
    "RequestTimeout",
    "ResponseTooLarge",
    "RetryPolicy",
    "ServerError",
    "TooManyRequests",
    "Transport",
    "Unauthorized",
    "Unreachable",
    "api_path",
    "is_in_cluster",
    "make_transport",
]
