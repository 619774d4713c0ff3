"""`nodes/<node>/proxy/logs/...`: the kubelet's file server over the node's `/var/log`.

Like the kubelet (which uses Go's `http.FileServer`), a directory is listed as one
`<a href="name">name</a>` line per entry (directories end with `/`, symbolic links are listed by
their own name), and a file is sent as it is. Symbolic links are followed inside the node's root:
their targets are node-absolute paths such as `/var/log/pods/...`. A dangling link, or one that
leaves the node root, is 404 like a missing file.
"""

from __future__ import annotations

import html
import os
import posixpath
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import web

from lsconform.sandbox.apiserver.proxy import parse_proxy_name
from lsconform.sandbox.apiserver.requestinfo import RequestInfo
from lsconform.sandbox.apiserver.status import not_found
from lsconform.sandbox.apiserver.store import Store

MAX_LINK_HOPS = 40
CHUNK_BYTES = 64 * 1024
_NOT_FOUND = "404 page not found\n"


def resolve_in_root(root: Path, relative: str) -> Path | None:
    """Resolve a node path (relative to `root`) with links followed inside `root`, or None."""
    pending = [part for part in relative.split("/") if part not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > MAX_LINK_HOPS:
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
            continue
        if not candidate.exists():
            return None
        resolved.append(part)
    return root.joinpath(*resolved)


def directory_listing(path: Path) -> str:
    lines = ["<!doctype html>", '<meta name="viewport" content="width=device-width">', "<pre>"]
    for entry in sorted(path.iterdir(), key=lambda item: item.name):
        name = entry.name + ("/" if entry.is_dir() and not entry.is_symlink() else "")
        lines.append(f'<a href="{quote(name)}">{html.escape(name)}</a>')
    lines.append("</pre>")
    return "\n".join(lines) + "\n"


async def handle_node_proxy(
    store: Store, request: web.Request, info: RequestInfo
) -> web.StreamResponse:
    node = parse_proxy_name(info.name).name
    root = store.node_root(node)
    if root is None:
        raise not_found("nodes", "", node)
    rest = unquote(info.rest)
    if rest in ("healthz", "healthz/"):
        return web.Response(text="ok", content_type="text/plain")
    if not (rest == "logs" or rest.startswith("logs/")):
        return web.Response(status=404, text=_NOT_FOUND, content_type="text/plain")
    # Clean the path first, as Go's file server does, so `..` cannot climb above /var/log.
    inside = posixpath.normpath("/" + rest[len("logs") :]).lstrip("/")
    target = resolve_in_root(root, "var/log/" + inside)
    if target is None:
        return web.Response(status=404, text=_NOT_FOUND, content_type="text/plain")
    if target.is_dir():
        return web.Response(text=directory_listing(target), content_type="text/html")
    return await _send_file(request, target)


async def _send_file(request: web.Request, path: Path) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_type = "text/plain"
    response.charset = "utf-8"
    response.content_length = path.stat().st_size
    await response.prepare(request)
    with path.open("rb") as handle:
        remaining = response.content_length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await response.write(chunk)
    return response
