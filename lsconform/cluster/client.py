# The official client ships py.typed but leaves its config loaders unannotated.
# mypy: allow-untyped-calls
"""ClusterClient: read-only Kubernetes API access with timeouts, size caps and bounded retries.

Configuration loading (kubeconfig files, contexts, exec credential plugins, client certificates,
in-cluster service accounts) is done by the official `kubernetes` client. Requests go through its
ApiClient with `_preload_content=False`, so this module reads every body itself: up to a size cap,
within a deadline that also ends slow trickling responses, and parses JSON with the standard
library instead of building the client's model objects.

Retries follow one rule: HTTP 429 is retried after the server's Retry-After, and HTTP 5xx on GET
after a doubling backoff, both bounded by `RetryPolicy` in attempts and in total wait. Every retry
is logged as `retrying <METHOD> <path> after <reason> (attempt <n> of <max>, waiting <s> s)`.
"""

from __future__ import annotations

import builtins
import email.utils
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiValueError
from kubernetes.config import incluster_config, kube_config
from kubernetes.config.config_exception import ConfigException

from lsconform.cluster.errors import (
    ClusterError,
    ConfigError,
    InvalidResponse,
    RequestTimeout,
    ResponseTooLarge,
    ServerError,
    TooManyRequests,
    Unreachable,
    bound_message,
    error_for_status,
)
from lsconform.cluster.response import HttpResponse
from lsconform.settings import Settings

logger = logging.getLogger(__name__)

# Seconds allowed for one API request, from connecting to the last byte of the body.
DEFAULT_TIMEOUT = 15.0
# Bytes allowed in one API response. A page of 500 pods is about 5 MB and a page of Helm release
# Secrets up to 1 MiB each, so 64 MiB leaves room without letting one response exhaust memory.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Connections kept per host. Checks run from a ThreadPoolExecutor of `--concurrency` (16)
# workers; a smaller pool would make urllib3 discard and reopen connections under load.
DEFAULT_POOL_SIZE = 16
# Objects per page of a list request (`limit`), followed through `continue` tokens.
LIST_PAGE_SIZE = 500
# Bytes read from a socket at a time while a body is read.
READ_CHUNK = 64 * 1024

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

# API versions of the groups the suite reads; `plural.group` resources use these (as kubectl
# resolves `deployments.apps` through discovery, but without the extra requests).
GROUP_VERSIONS = {
    "": "v1",
    "apps": "apps/v1",
    "batch": "batch/v1",
    "discovery.k8s.io": "discovery.k8s.io/v1",
    "autoscaling": "autoscaling/v2",
    "policy": "policy/v1",
    "networking.k8s.io": "networking.k8s.io/v1",
    "rbac.authorization.k8s.io": "rbac.authorization.k8s.io/v1",
    "authorization.k8s.io": "authorization.k8s.io/v1",
    "argoproj.io": "argoproj.io/v1alpha1",
    "opentelemetry.io": "opentelemetry.io/v1beta1",
    "monitoring.coreos.com": "monitoring.coreos.com/v1",
    "keda.sh": "keda.sh/v1alpha1",
}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retries: attempts in all (first included) and seconds of waiting in all.

    `backoff` is the first wait after a 5xx in seconds; it doubles up to `max_backoff`. A 429
    whose Retry-After exceeds the wait left is not retried.
    """

    max_attempts: int = 4
    max_total_wait: float = 20.0
    backoff: float = 0.25
    max_backoff: float = 4.0


NO_RETRY = RetryPolicy(max_attempts=1, max_total_wait=0.0)


def api_path(
    resource: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
    api_version: str | None = None,
) -> str:
    """Build the REST path of a resource, spelled `pods` (core) or `deployments.apps` (group).

    `api_version` (`apps/v1`) overrides the version taken from `GROUP_VERSIONS`.
    """
    plural, _, group = resource.partition(".")
    version = api_version or GROUP_VERSIONS.get(group)
    if version is None:
        raise ValueError(
            f"no API version known for group {group!r}; pass api_version='{group}/<version>'"
        )
    parts = ["/api/v1"] if version == "v1" else [f"/apis/{version}"]
    if namespace:
        parts.append(f"namespaces/{quote(namespace, safe='')}")
    parts.append(plural)
    if name:
        parts.append(quote(name, safe=":"))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


def is_in_cluster(environ: Mapping[str, str], token_path: Path | None = None) -> bool:
    """Tell whether this process runs in a pod: the service host is set and a token exists."""
    token = token_path or SERVICE_ACCOUNT_DIR / "token"
    return bool(environ.get("KUBERNETES_SERVICE_HOST")) and token.is_file()


class ClusterClient:
    """Read-only access to one Kubernetes API server; safe to share between threads.

    Build it with `from_kubeconfig`, `from_in_cluster` or `connect`. `request_count` counts HTTP
    requests sent (retries included), so a benchmark can show how many a task needed.
    """

    def __init__(
        self,
        configuration: k8s_client.Configuration,
        *,
        source: str,
        context: str | None = None,
        default_namespace: str | None = None,
        in_cluster: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retry: RetryPolicy | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        # Retries are ours alone: urllib3's default would repeat a timed-out read three times.
        configuration.retries = False
        configuration.connection_pool_maxsize = max(pool_size, DEFAULT_POOL_SIZE)
        self.configuration = configuration
        self.source = source
        self.context = context
        self.default_namespace = default_namespace
        self.in_cluster = in_cluster
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retry = retry or RetryPolicy()
        self._api = k8s_client.ApiClient(configuration)
        # Building headers may run a credential refresh hook (exec plugins), which mutates
        # the shared configuration, so it runs under a lock.
        self._auth_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"ClusterClient(api_url={self.api_url!r}, context={self.context!r})"

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: str | os.PathLike[str], context: str | None = None, **options: Any
    ) -> ClusterClient:
        """Load a kubeconfig like `kubectl --kubeconfig PATH --context NAME`.

        `kubeconfig` may list several files separated by the OS path separator, as KUBECONFIG
        does. Raises ConfigError naming the file and the problem.
        """
        path_text = os.fspath(kubeconfig)
        paths = [p for p in path_text.split(os.pathsep) if p]
        missing = [p for p in paths if not Path(p).expanduser().is_file()]
        if not paths or len(missing) == len(paths):
            raise ConfigError(
                "the kubeconfig file does not exist",
                evidence={"kubeconfig": path_text},
                fix="pass --kubeconfig with the path of an existing kubeconfig file",
            )
        try:
            contexts, current = kube_config.list_kube_config_contexts(config_file=path_text)
        except (ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as error:
            raise ConfigError(
                "the kubeconfig cannot be read",
                evidence={"kubeconfig": path_text, "reason": bound_message(str(error))},
                fix="check the file with `kubectl config view --kubeconfig PATH`",
            ) from error
        configuration = k8s_client.Configuration()
        try:
            kube_config.load_kube_config(
                config_file=path_text,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as error:
            known = sorted(str(c.get("name")) for c in contexts or [])
            raise ConfigError(
                "the kubeconfig cannot be loaded",
                evidence={
                    "kubeconfig": path_text,
                    "context": context or "(current)",
                    "reason": bound_message(str(error)),
                    "contexts": ", ".join(known) or "(none)",
                },
                fix="pick one of the kubeconfig's contexts with --context, or fix its user entry",
            ) from error
        chosen = current
        if context:
            chosen = next((c for c in contexts if c.get("name") == context), None)
        chosen = chosen or {}
        user = str((chosen.get("context") or {}).get("user") or "")
        if _user_has_exec_plugin(path_text, user) and not configuration.api_key:
            # The official loader logs a failed credential plugin and goes on without a token,
            # which would surface later as a puzzling 401.
            raise ConfigError(
                "the kubeconfig's exec credential plugin returned no token",
                evidence={"kubeconfig": path_text, "user": user},
                fix="run the plugin's command by hand (or `kubectl get ns` with this kubeconfig) "
                "and fix the login it asks for",
            )
        return cls(
            configuration,
            source=path_text,
            context=str(chosen.get("name")) if chosen.get("name") else context,
            default_namespace=(chosen.get("context") or {}).get("namespace"),
            **options,
        )

    @classmethod
    def from_in_cluster(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        **options: Any,
    ) -> ClusterClient:
        """Use the pod's service account (token, CA and namespace files) and service address."""
        env = dict(os.environ if environ is None else environ)
        configuration = k8s_client.Configuration()
        loader = incluster_config.InClusterConfigLoader(
            token_filename=str(service_account_dir / "token"),
            cert_filename=str(service_account_dir / "ca.crt"),
            environ=env,
        )
        try:
            loader.load_and_set(configuration)
        except (ConfigException, OSError) as error:
            raise ConfigError(
                "the in-cluster service account configuration cannot be loaded",
                evidence={
                    "reason": bound_message(str(error)),
                    "service_account_dir": str(service_account_dir),
                },
                fix="run inside a pod with a mounted service account token, or pass --kubeconfig",
            ) from error
        namespace_file = service_account_dir / "namespace"
        namespace = namespace_file.read_text().strip() if namespace_file.is_file() else None
        return cls(
            configuration,
            source="in-cluster",
            default_namespace=namespace,
            in_cluster=True,
            **options,
        )

    @classmethod
    def connect(
        cls,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> ClusterClient:
        """Choose the configuration as kubectl does: an explicit kubeconfig first, then
        KUBECONFIG from `environ`, then the in-cluster service account, then `~/.kube/config`.

        KUBECONFIG and KUBERNETES_SERVICE_HOST are read only from `environ`, never from the
        process environment, so the caller decides whether ambient settings count.
        """
        env = environ or {}
        if kubeconfig is not None:
            return cls.from_kubeconfig(kubeconfig, context, **options)
        if env.get("KUBECONFIG"):
            return cls.from_kubeconfig(env["KUBECONFIG"], context, **options)
        if is_in_cluster(env) and context is None:
            return cls.from_in_cluster(environ=env, **options)
        return cls.from_kubeconfig(Path("~/.kube/config").expanduser(), context, **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ClusterClient:
        """Build the client a run asked for: `--in-cluster`, or `--kubeconfig`/`--context`.

        Without an explicit kubeconfig this follows kubectl and reads KUBECONFIG from the
        process environment; tests therefore always pass a kubeconfig path.
        """
        options.setdefault("pool_size", max(settings.concurrency, DEFAULT_POOL_SIZE))
        if settings.in_cluster:
            return cls.from_in_cluster(**options)
        return cls.connect(
            kubeconfig=settings.kubeconfig,
            context=settings.context,
            environ=os.environ,
            **options,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._api.close()

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- facts --------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The API server's base URL."""
        return str(self.configuration.host)

    @property
    def api_client(self) -> k8s_client.ApiClient:
        """The official client's ApiClient (used for port-forward streams)."""
        return self._api

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        with self._count_lock:
            return sum(self._counts.values())

    def request_counts(self) -> dict[str, int]:
        """HTTP requests sent so far per `METHOD path` (without query)."""
        with self._count_lock:
            return dict(self._counts)

    def count_request(self, method: str, path: str) -> None:
        """Count one request that bypassed `request` (a port-forward stream)."""
        with self._count_lock:
            self._counts[f"{method} {path}"] += 1

    # --- API reads ----------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        *,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        """GET an API path and parse its JSON body."""
        response = self.request("GET", path, params=params, timeout=timeout, max_bytes=max_bytes)
        try:
            return json.loads(response.body)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidResponse(
                "the API server sent a body that is not JSON",
                evidence={
                    "request": f"GET {path}",
                    "content_type": response.content_type,
                    "body": bound_message(response.text()),
                },
            ) from error

    def get(
        self,
        resource: str,
        name: str,
        *,
        namespace: str | None = None,
        api_version: str | None = None,
    ) -> dict[str, Any]:
        """GET one object as a plain dict (`resource` spelled as in `api_path`)."""
        path = api_path(resource, namespace=namespace, name=name, api_version=api_version)
        data = self.get_json(path)
        return self._expect_object(data, path)

    def list(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        api_version: str | None = None,
        page_size: int = LIST_PAGE_SIZE,
    ) -> builtins.list[dict[str, Any]]:
        """List objects as plain dicts, following `continue` tokens page by page.

        Items get `kind` and `apiVersion` filled in, which list responses leave out.
        """
        return list(
            self.iter_list(
                resource,
                namespace=namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                api_version=api_version,
                page_size=page_size,
            )
        )

    def iter_list(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        api_version: str | None = None,
        page_size: int = LIST_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Yield the objects of a list page by page (see `list`)."""
        path = api_path(resource, namespace=namespace, api_version=api_version)
        params: dict[str, str] = {"limit": str(page_size)}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        while True:
            page = self._expect_object(self.get_json(path, params), path)
            items = page.get("items")
            if not isinstance(items, list):
                raise InvalidResponse(
                    "the API server sent a list without `items`",
                    evidence={"request": f"GET {path}", "kind": str(page.get("kind"))},
                )
            kind = str(page.get("kind", ""))
            item_kind = kind[: -len("List")] if kind.endswith("List") else kind
            for item in items:
                if isinstance(item, dict):
                    item.setdefault("kind", item_kind)
                    item.setdefault("apiVersion", page.get("apiVersion", ""))
                    yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            params["continue"] = str(token)

    def server_version(self) -> dict[str, Any]:
        """GET /version: the API server's build (gitVersion, platform)."""
        return self._expect_object(self.get_json("/version"), "/version")

    def raw_get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """GET any path and return the response as it came, whatever its status.

        The body stops at `max_bytes` with `truncated=True`. Only failures to get a response
        at all raise (RequestTimeout, Unreachable).
        """
        return self.request(
            "GET",
            path,
            params=params,
            max_bytes=max_bytes,
            timeout=timeout,
            raise_for_status=False,
            allow_truncated=True,
            retry=NO_RETRY,
        )

    def can_i(
        self,
        verb: str,
        resource: str,
        *,
        namespace: str | None = None,
        group: str = "",
        subresource: str = "",
        name: str = "",
    ) -> bool:
        """Ask the API server whether the credentials allow an action.

        This sends a SelfSubjectAccessReview, which is a POST (a create, though nothing is
        stored), so the suite never calls it unless the user opted in to write requests.
        """
        attributes = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attributes["namespace"] = namespace
        if subresource:
            attributes["subresource"] = subresource
        if name:
            attributes["name"] = name
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        response = self.request(
            "POST",
            path,
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            retry=NO_RETRY,
        )
        status = (json.loads(response.body) or {}).get("status") or {}
        return bool(status.get("allowed"))

    # --- the request core ---------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        raise_for_status: bool = True,
        allow_truncated: bool = False,
        retry: RetryPolicy | None = None,
    ) -> HttpResponse:
        """Send one API request with retries and return its response.

        With `raise_for_status`, a non-2xx status raises the exception of `errors` for it.
        With `allow_truncated`, a body over the cap is returned cut with `truncated=True`;
        otherwise it raises ResponseTooLarge. 5xx responses are retried only for GET.
        """
        policy = retry or self.retry
        query = list(params.items()) if isinstance(params, Mapping) else list(params or [])
        param_map = dict(query)
        waited = 0.0
        attempt = 1
        while True:
            response = self._send_once(
                method,
                path,
                query=query,
                headers=headers,
                body=body,
                timeout=self.timeout if timeout is None else timeout,
                max_bytes=self.max_bytes if max_bytes is None else max_bytes,
            )
            delay, reason = self._retry_delay(method, response, attempt, policy, waited)
            if delay is None:
                break
            logger.info(
                "retrying %s %s after %s (attempt %d of %d, waiting %.1f s)",
                method,
                path,
                reason,
                attempt + 1,
                policy.max_attempts,
                delay,
            )
            time.sleep(delay)
            waited += delay
            attempt += 1
        if response.truncated and not allow_truncated:
            raise ResponseTooLarge(
                "the API response is larger than the size cap",
                evidence={"request": f"{method} {path}", "max_bytes": len(response.body)},
            )
        if raise_for_status and not 200 <= response.status < 300:
            error = error_for_status(
                response.status,
                response.body,
                method=method,
                path=path,
                params=param_map,
                retry_after=_retry_after(response.headers),
            )
            if attempt > 1:
                error.evidence["attempts"] = attempt
                logger.warning(
                    "giving up on %s %s after %d attempts: HTTP %d",
                    method,
                    path,
                    attempt,
                    response.status,
                )
            raise error
        return response

    def _retry_delay(
        self,
        method: str,
        response: HttpResponse,
        attempt: int,
        policy: RetryPolicy,
        waited: float,
    ) -> tuple[float | None, str]:
        """Return the seconds to wait before the next attempt, or None to stop."""
        if attempt >= policy.max_attempts:
            return None, ""
        left = policy.max_total_wait - waited
        if response.status == 429:
            retry_after = _retry_after(response.headers)
            delay = policy.backoff * 2 ** (attempt - 1) if retry_after is None else retry_after
            delay = min(delay, policy.max_backoff) if retry_after is None else delay
            if delay > left:
                return None, ""
            return delay, "HTTP 429"
        if response.status >= 500 and method.upper() in ("GET", "HEAD"):
            delay = min(policy.backoff * 2 ** (attempt - 1), policy.max_backoff)
            if delay > left:
                return None, ""
            return delay, f"HTTP {response.status}"
        return None, ""

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        query: builtins.list[tuple[str, str]],
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float,
        max_bytes: int,
    ) -> HttpResponse:
        header_params = dict(headers or {})
        if not any(key.lower() == "accept" for key in header_params):
            header_params["Accept"] = "application/json"
        with self._count_lock:
            self._counts[f"{method} {path}"] += 1
        started = time.monotonic()
        deadline = started + timeout
        try:
            with self._auth_lock:
                _, url, all_headers, _, _ = self._api.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=query or None,
                    header_params=header_params,
                    auth_settings=["BearerToken"],
                )
            # The REST client's pool manager sends the body byte for byte; the ApiClient's own
            # `call_api` would serialise every body with a JSON content type again.
            response = self._api.rest_client.pool_manager.request(
                method,
                url,
                body=body,
                headers=all_headers,
                # NOTE: until the status line and headers are in, `timeout` bounds each read,
                # not their sum, so headers trickled by the API server itself could take longer.
                # Proxied endpoints cannot do that: the API server relays a pod's response only
                # once the pod sent all its headers. The body is read under the deadline below.
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                preload_content=False,
                retries=False,
            )
        except ConfigException as error:
            raise ConfigError(
                "the credentials of the kubeconfig cannot be refreshed",
                evidence={"reason": bound_message(str(error))},
                fix="run the kubeconfig's credential plugin by hand (`kubectl get ns`) and fix it",
            ) from error
        except (urllib3.exceptions.HTTPError, ApiValueError, OSError) as error:
            raise _connection_error(error, method, path, timeout) from error
        try:
            data, truncated = _read_capped(response, deadline, max_bytes)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            response.close()
            raise _connection_error(error, method, path, timeout) from error
        elapsed = time.monotonic() - started
        logger.debug(
            "%s %s -> %d (%d bytes, %.3f s)", method, path, response.status, len(data), elapsed
        )
        return HttpResponse(
            status=int(response.status),
            headers={key.lower(): value for key, value in response.headers.items()},
            body=data,
            elapsed=elapsed,
            truncated=truncated,
        )

    @staticmethod
    def _expect_object(data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidResponse(
                "the API server sent JSON that is not an object",
                evidence={"request": f"GET {path}", "type": type(data).__name__},
            )
        return data


def read_with_deadline(
    read: Any, set_timeout: Any, deadline: float, max_bytes: int
) -> tuple[bytes, bool, bool]:
    """Read a body chunk by chunk until EOF, `max_bytes` or `deadline` (a monotonic time).

    `read(n)` returns at most n bytes from one receive; `set_timeout(s)` bounds the next receive.
    Returns (body, truncated, timed_out). A server that trickles one byte a second stops at the
    deadline because the socket timeout is shortened to the time left before every receive.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False, True
        set_timeout(left)
        try:
            chunk = read(min(READ_CHUNK, max_bytes + 1 - size))
        except (TimeoutError, urllib3.exceptions.ReadTimeoutError):
            return b"".join(chunks), False, True
        if not chunk:
            return b"".join(chunks), False, False
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True, False


def _read_capped(response: Any, deadline: float, max_bytes: int) -> tuple[bytes, bool]:
    """Read a urllib3 response body with `read_with_deadline`; release or drop the connection."""

    def set_timeout(seconds: float) -> None:
        sock = getattr(getattr(response, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(seconds)

    data, truncated, timed_out = read_with_deadline(
        response.read1, set_timeout, deadline, max_bytes
    )
    if timed_out:
        response.close()
        raise TimeoutError("the response body did not finish before the deadline")
    if truncated:
        # The rest of the body is unread, so the connection cannot be reused.
        response.close()
    else:
        response.release_conn()
    return data, truncated


def _connection_error(error: BaseException, method: str, path: str, timeout: float) -> ClusterError:
    """Translate an exception of urllib3 or the official client into ours."""
    evidence: dict[str, Any] = {"request": f"{method} {path}"}
    reason = getattr(error, "reason", None) or error
    # urllib3 2 derives NewConnectionError (refused, no route) from ConnectTimeoutError, so it
    # is told apart first.
    refused = isinstance(error, urllib3.exceptions.NewConnectionError) or isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )
    timeouts = (urllib3.exceptions.TimeoutError, TimeoutError)
    if not refused and (isinstance(error, timeouts) or isinstance(reason, timeouts)):
        evidence["timeout_s"] = timeout
        return RequestTimeout("the API server did not answer within the timeout", evidence=evidence)
    evidence["reason"] = bound_message(f"{type(reason).__name__}: {reason}")
    if "CERTIFICATE_VERIFY_FAILED" in str(reason) or isinstance(
        reason, urllib3.exceptions.SSLError
    ):
        return Unreachable(
            "the TLS handshake with the API server failed",
            evidence=evidence,
            fix="check certificate-authority-data in the kubeconfig matches the API server",
        )
    return Unreachable("the API server cannot be reached", evidence=evidence)


def _user_has_exec_plugin(kubeconfig: str, user: str) -> bool:
    """Tell whether the kubeconfig's entry for `user` gets its credentials from a command."""
    try:
        merged = kube_config.KubeConfigMerger(kubeconfig).config
    except (ConfigException, OSError, ValueError, yaml.YAMLError):
        return False
    # The merger wraps each list entry in a ConfigNode whose `value` is the plain mapping.
    users = (merged.value if merged is not None else {}).get("users") or []
    for node in users:
        entry = getattr(node, "value", node)
        if isinstance(entry, dict) and entry.get("name") == user:
            return isinstance(entry.get("user"), dict) and "exec" in entry["user"]
    return False


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Parse Retry-After as seconds or as an HTTP date (RFC 9110, section 10.2.3)."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "ClusterClient",
    "ClusterError",
    "RetryPolicy",
    "ServerError",
    "TooManyRequests",
    "api_path",
    "is_in_cluster",
    "read_with_deadline",
]
