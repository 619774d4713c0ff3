"""get, list and watch of any resource type in the store, with selectors and paging."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from lsconform.sandbox.apiserver.requestinfo import RequestInfo
from lsconform.sandbox.apiserver.selectors import (
    object_filter,
    parse_field_selector,
    parse_label_selector,
)
from lsconform.sandbox.apiserver.status import (
    ApiError,
    bad_request,
    not_found,
    status_object,
)
from lsconform.sandbox.apiserver.store import JsonObject, ResourceType, Store, WatchEvent
from lsconform.sandbox.apiserver.tables import TABLE_ACCEPT_MARK, table_for

# A watch ends after this many seconds unless the client asks for less (a real server picks a
# random time between its minimum request timeout, 30 minutes by default, and twice that).
MAX_WATCH_SECONDS = 1800
# Events a slow watch client may fall behind before the server ends its watch (the client then
# lists again), so that one stuck client cannot hold unbounded memory.
WATCH_QUEUE_LIMIT = 10_000


def json_response(body: JsonObject, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


def _selector(request: web.Request, resource: ResourceType) -> Callable[[JsonObject], bool]:
    labels = parse_label_selector(request.query.get("labelSelector", ""))
    fields = parse_field_selector(
        request.query.get("fieldSelector", ""), resource.group, resource.plural, resource.kind
    )
    return object_filter(labels, fields)


def _namespace_filter(info: RequestInfo, resource: ResourceType) -> str | None:
    if not resource.namespaced:
        if info.namespace:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return None
    return info.namespace or None


def _wants_table(request: web.Request) -> bool:
    return TABLE_ACCEPT_MARK in request.headers.get("Accept", "").replace(" ", "")


def _list_item(obj: JsonObject) -> JsonObject:
    # Items of a list response carry no kind or apiVersion: the list's kind names them.
    return {key: value for key, value in obj.items() if key not in ("kind", "apiVersion")}


async def handle_get(
    store: Store, request: web.Request, info: RequestInfo, resource: ResourceType
) -> web.Response:
    namespace = _namespace_filter(info, resource)
    if resource.namespaced and namespace is None:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    obj = store.get(resource.plural, resource.group, namespace, info.name)
    if obj is None:
        raise not_found(resource.plural, resource.group, info.name)
    if _wants_table(request):
        return json_response(table_for(resource, [obj], request.query, store.resource_version()))
    return json_response(obj)


async def handle_list(
    store: Store, request: web.Request, info: RequestInfo, resource: ResourceType
) -> web.Response:
    namespace = _namespace_filter(info, resource)
    accept = _selector(request, resource)
    items, version = store.list(resource.plural, resource.group, namespace)
    items = [item for item in items if accept(item)]
    metadata: JsonObject = {"resourceVersion": version}
    items = _page(request, items, version, metadata)
    if _wants_table(request):
        table = table_for(resource, items, request.query, version)
        table["metadata"].update({k: v for k, v in metadata.items() if k != "resourceVersion"})
        return json_response(table)
    return json_response(
        {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": metadata,
            "items": [_list_item(item) for item in items],
        }
    )


def _key(item: JsonObject) -> str:
    metadata = item.get("metadata", {})
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


def _page(
    request: web.Request, items: list[JsonObject], version: str, metadata: JsonObject
) -> list[JsonObject]:
    """Apply `limit` and `continue`: the token names the last key already returned."""
    token = request.query.get("continue", "")
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            start = str(state["start"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise bad_request(f"continue key is not valid: {token!r:.80}") from None
        items = [item for item in items if _key(item) > start]
    limit_text = request.query.get("limit", "")
    if not limit_text:
        return items
    try:
        limit = int(limit_text)
    except ValueError:
        raise bad_request(f"invalid value for limit: {limit_text!r}") from None
    if limit <= 0 or len(items) <= limit:
        return items
    page = items[:limit]
    state_json = json.dumps({"rv": version, "start": _key(page[-1])}).encode()
    metadata["continue"] = base64.urlsafe_b64encode(state_json).decode()
    metadata["remainingItemCount"] = len(items) - limit
    return page


def _watch_seconds(request: web.Request) -> float:
    text = request.query.get("timeoutSeconds", "")
    if not text:
        return MAX_WATCH_SECONDS
    try:
        return max(0.0, min(float(int(text)), MAX_WATCH_SECONDS))
    except ValueError:
        raise bad_request(f"invalid value for timeoutSeconds: {text!r}") from None


class _WatchFeed:
    """Store events for one watch, handed from the changing thread to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()

    def __call__(self, event: WatchEvent) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed, so no watch remains
            self.loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: WatchEvent) -> None:
        if self.queue.qsize() >= WATCH_QUEUE_LIMIT:
            self.queue.put_nowait(None)
        else:
            self.queue.put_nowait(event)


async def handle_watch(
    store: Store,
    request: web.Request,
    info: RequestInfo,
    resource: ResourceType,
    stopping: asyncio.Event,
) -> web.StreamResponse:
    namespace = _namespace_filter(info, resource)
    accept = _selector(request, resource)
    if info.name:
        name = info.name
        base_accept = accept

        def accept(obj: JsonObject) -> bool:
            return obj.get("metadata", {}).get("name") == name and base_accept(obj)

    deadline = time.monotonic() + _watch_seconds(request)
    feed = _WatchFeed(asyncio.get_running_loop())
    unsubscribe = store.subscribe(feed)
    try:
        initial, start_version = _initial_events(store, request, resource, namespace, accept)
        response = web.StreamResponse(status=200)
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        render = _table_render(request, resource)
        await response.prepare(request)
        watch = _Watch(resource, namespace, accept)
        for entry in initial:
            if isinstance(entry, WatchEvent):
                translated = watch.translate(entry)
                if translated is not None:
                    await _send(response, translated, entry.object, render)
            else:
                watch.seen(entry[1], entry[0])
                await _send(response, entry[0], entry[1], render)
        await _stream(response, feed, watch, start_version, deadline, stopping, render)
        return response
    finally:
        unsubscribe()


def _table_render(request: web.Request, resource: ResourceType) -> Render:
    """Return how to show each event's object: `kubectl get -w` asks for one-row Tables."""
    if not _wants_table(request):
        return None
    query = request.query

    def render(obj: JsonObject) -> JsonObject:
        version = str(obj.get("metadata", {}).get("resourceVersion", ""))
        return table_for(resource, [obj], query, version)

    return render


def _initial_events(
    store: Store,
    request: web.Request,
    resource: ResourceType,
    namespace: str | None,
    accept: Callable[[JsonObject], bool],
) -> tuple[list[tuple[str, JsonObject]] | list[WatchEvent], int]:
    """Return the events to send first and the resourceVersion the live stream continues after.

    Without a resourceVersion (or with "0") a watch starts with an ADDED event for every
    matching object. With one, it replays the store's changes after that version, which the
    caller filters like live events.
    """
    version_text = request.query.get("resourceVersion", "")
    if version_text in ("", "0"):
        items, version = store.list(resource.plural, resource.group, namespace)
        return [("ADDED", item) for item in items if accept(item)], int(version)
    try:
        since = int(version_text)
    except ValueError:
        raise bad_request(f"invalid resource version: {version_text!r}") from None
    events = store.events_since(since)
    if events is None:
        current = store.resource_version()
        expired = status_object(410, "Expired", f"too old resource version: {since} ({current})")
        return [("ERROR", expired)], int(current)
    return events, events[-1].resource_version if events else since


def _same_resource(event: WatchEvent, resource: ResourceType) -> bool:
    return event.resource.plural == resource.plural and event.resource.group == resource.group


def _in_namespace(obj: JsonObject, namespace: str | None) -> bool:
    return namespace is None or obj.get("metadata", {}).get("namespace") == namespace


class _Watch:
    """Tracks which objects the client believes match, so selector changes read as the real
    server reports them: an object that stops matching is DELETED, one that starts is ADDED."""

    def __init__(
        self, resource: ResourceType, namespace: str | None, accept: Callable[[JsonObject], bool]
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.accept = accept
        self.matching: set[str] = set()

    def seen(self, obj: JsonObject, event_type: str) -> None:
        if event_type == "DELETED":
            self.matching.discard(_key(obj))
        elif event_type in ("ADDED", "MODIFIED"):
            self.matching.add(_key(obj))

    def translate(self, event: WatchEvent) -> str | None:
        if not _same_resource(event, self.resource) or not _in_namespace(
            event.object, self.namespace
        ):
            return None
        key = _key(event.object)
        was = key in self.matching
        now = event.type != "DELETED" and self.accept(event.object)
        if event.type == "DELETED":
            result = "DELETED" if was else None
        elif now:
            result = "MODIFIED" if was else "ADDED"
        else:
            result = "DELETED" if was else None
        if result == "DELETED":
            self.matching.discard(key)
        elif result is not None:
            self.matching.add(key)
        return result


async def _stream(
    response: web.StreamResponse,
    feed: _WatchFeed,
    watch: _Watch,
    after_version: int,
    deadline: float,
    stopping: asyncio.Event,
    render: Render,
) -> None:
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stopping.wait())
    getting: asyncio.Future[Any] | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or stopped.done():
                return
            if getting is None:
                getting = asyncio.ensure_future(feed.queue.get())
            done, _ = await asyncio.wait(
                {getting, stopped}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if getting not in done:
                continue
            event = getting.result()
            getting = None
            if event is None:
                return
            if event.resource_version <= after_version:
                continue
            event_type = watch.translate(event)
            if event_type is not None:
                await _send(response, event_type, event.object, render)
    finally:
        # Cancelled too when the client disconnects, so nothing may stay pending on the loop.
        stopped.cancel()
        if getting is not None:
            getting.cancel()


Render = Callable[[JsonObject], JsonObject] | None


async def _send(
    response: web.StreamResponse, event_type: str, obj: JsonObject, render: Render = None
) -> None:
    if render is not None and event_type != "ERROR":
        obj = render(obj)
    line: dict[str, Any] = {"type": event_type, "object": obj}
    await response.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
