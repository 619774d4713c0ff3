"""The `pods/<name>/log` subresource, read from the CRI log files of the node's filesystem."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from lsconform.sandbox.apiserver.logs import (
    LogOptions,
    follow_file,
    parse_log_options,
    read_file_tail,
    read_last_lines,
    read_log_lines,
    render_lines,
)
from lsconform.sandbox.apiserver.requestinfo import RequestInfo
from lsconform.sandbox.apiserver.status import bad_request, not_found
from lsconform.sandbox.apiserver.store import JsonObject, Store

LOG_CONTENT_TYPE = "text/plain"


def _container_names(pod: JsonObject) -> list[str]:
    spec = pod.get("spec") or {}
    return [str(c.get("name")) for c in spec.get("initContainers", []) + spec.get("containers", [])]


def _choose_container(pod: JsonObject, options: LogOptions, name: str) -> str:
    if options.container:
        return options.container
    containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers", [])]
    if len(containers) == 1:
        return containers[0]
    raise bad_request(
        f"a container name must be specified for pod {name}, "
        f"choose one of: [{' '.join(containers)}]"
    )


def _waiting_reason(pod: JsonObject, container: str) -> str | None:
    status = pod.get("status") or {}
    for entry in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
        if entry.get("name") == container:
            waiting = (entry.get("state") or {}).get("waiting")
            if waiting is not None:
                return str(waiting.get("reason") or "ContainerCreating")
    return None


async def handle_pod_log(
    store: Store, request: web.Request, info: RequestInfo, stopping: asyncio.Event
) -> web.StreamResponse:
    pod = store.get("pods", "", info.namespace, info.name)
    if pod is None:
        raise not_found("pods", "", info.name)
    options = parse_log_options(dict(request.query))
    container = _choose_container(pod, options, info.name)
    files = store.container_log_files(info.namespace, info.name, container)
    if files is None and store.get("pods", "", info.namespace, info.name) is None:
        # The pod was deleted while this request ran (the pod-vanishes fault).
        raise not_found("pods", "", info.name)
    if files is None or container not in _container_names(pod):
        raise bad_request(f"container {container} is not valid for pod {info.name}")
    if options.previous:
        if len(files) < 2:
            raise bad_request(
                f'previous terminated container "{container}" in pod "{info.name}" not found'
            )
        path = files[-2]
    elif files:
        path = files[-1]
    else:
        reason = _waiting_reason(pod, container)
        if reason is not None:
            raise bad_request(
                f'container "{container}" in pod "{info.name}" is waiting to start: {reason}'
            )
        return web.Response(body=b"", content_type=LOG_CONTENT_TYPE)

    if options.tail_lines is not None:
        data, end = read_last_lines(path, options.tail_lines)
    else:
        data, end = read_file_tail(path)
    if options.follow:
        # Only whole lines now; the follow loop picks up a partial last line once it ends.
        complete = data.rpartition(b"\n")
        end -= len(complete[2])
        data = complete[0] + complete[1]
    body = render_lines(read_log_lines(data), options)
    if options.limit_bytes is not None:
        body = body[: options.limit_bytes]
    if not options.follow:
        return web.Response(body=body, content_type=LOG_CONTENT_TYPE)
    return await _stream_follow(request, path, end, body, options, stopping)


async def _stream_follow(
    request: web.Request,
    path: Path,
    offset: int,
    initial: bytes,
    options: LogOptions,
    stopping: asyncio.Event,
) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_type = LOG_CONTENT_TYPE
    response.enable_chunked_encoding()
    await response.prepare(request)
    budget = options.limit_bytes
    await response.write(initial)
    if budget is not None:
        budget -= len(initial)
        if budget <= 0:
            return response
    async for chunk in follow_file(path, offset, options, stopping, path.parent):
        if budget is not None:
            chunk = chunk[:budget]
            budget -= len(chunk)
        await response.write(chunk)
        if budget is not None and budget <= 0:
            break
    return response
