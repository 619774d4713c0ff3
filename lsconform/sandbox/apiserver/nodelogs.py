"""`nodes/<node>/proxy/logs/...`: the kubelet's file server over the node's `/var/log`.

Like the kubelet (which uses Go's `http.FileServer`), a directory is listed as one
`<a href="name">name</a>` line per entry (directories end with `/`, symbolic links are listed by
their own name), and a file is sent as it is. Symbolic links are followed inside the node's root:
their targets are node-absolute paths such as `/var/log/pods/...`. A dangling link, or one that
leaves the node root, is 404 like a missing file.

A file request honours `Range` as Go's `http.ServeContent` does for one range. `bytes=a-b`,
`bytes=a-` and the suffix form `bytes=-n` give 206 Partial Content with `Content-Range`. A range
that starts past the end gives 416 with `Content-Range: bytes */<size>`, and a malformed header
gives 416 without it. Every file response carries `Accept-Ranges: bytes`.
"""

from __future__ import annotations

import html
import logging
import os
import posixpath
import re
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import web

from lsconform.sandbox.apiserver.proxy import parse_proxy_name
from lsconform.sandbox.apiserver.requestinfo import RequestInfo
from lsconform.sandbox.apiserver.status import not_found
from lsconform.sandbox.apiserver.store import Store

logger = logging.getLogger(__name__)

MAX_LINK_HOPS = 40
CHUNK_BYTES = 64 * 1024
_NOT_FOUND = "404 page not found\n"
_DIGITS = re.compile(r"[0-9]+")


class RangeError(ValueError):
    """A `Range` header that cannot be served. `overlap` is False when every range starts past
    the end of the file."""

    def __init__(self, message: str, *, overlap: bool = True) -> None:
        super().__init__(message)
        self.overlap = overlap


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return the (start, length) to send for a `Range` header, or None for the whole file.

    The rules are those of Go's `parseRange`. The unit must be `bytes`, an end past the file is
    cut to the last byte, and a suffix longer than the file selects the whole file. Ranges that
    start past the end are skipped, and 416 follows only when none is left.

    NOTE: a header with several ranges gets the whole file (RFC 9110 lets a server ignore
    Range), where Go sends `multipart/byteranges`.
    """
    header = header.strip()
    if not header:
        return None
    if not header.startswith("bytes="):
        raise RangeError("invalid range")
    specs = [spec.strip() for spec in header[len("bytes=") :].split(",") if spec.strip()]
    ranges: list[tuple[int, int]] = []
    no_overlap = False
    for spec in specs:
        first, dash, last = spec.partition("-")
        first, last = first.strip(), last.strip()
        if not dash:
            raise RangeError("invalid range")
        if not first:
            # `-n`: the last n bytes.
            if not _DIGITS.fullmatch(last):
                raise RangeError("invalid range")
            suffix = min(int(last), size)
            if suffix == 0:
                no_overlap = True
                continue
            ranges.append((size - suffix, suffix))
            continue
        if not _DIGITS.fullmatch(first) or (last and not _DIGITS.fullmatch(last)):
            raise RangeError("invalid range")
        start = int(first)
        if start >= size:
            no_overlap = True
            continue
        if not last:
            ranges.append((start, size - start))
            continue
        end = int(last)
        if start > end:
            raise RangeError("invalid range")
        end = min(end, size - 1)
        ranges.append((start, end - start + 1))
    if not ranges:
        if no_overlap:
            raise RangeError("invalid range: failed to overlap", overlap=False)
        return None
    if len(ranges) > 1:
        return None
    return ranges[0]


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
    size = path.stat().st_size
    try:
        chosen = parse_range(request.headers.get("Range", ""), size)
    except RangeError as error:
        logger.debug("node log %s: range %r rejected: %s", path, request.headers["Range"], error)
        headers = {"X-Content-Type-Options": "nosniff"}
        if not error.overlap:
            headers["Content-Range"] = f"bytes */{size}"
        return web.Response(
            status=416, text=f"{error}\n", content_type="text/plain", headers=headers
        )
    start, length = chosen if chosen is not None else (0, size)
    response = web.StreamResponse(status=200 if chosen is None else 206)
    response.content_type = "text/plain"
    response.charset = "utf-8"
    response.headers["Accept-Ranges"] = "bytes"
    if chosen is not None:
        response.headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    response.content_length = length
    await response.prepare(request)
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await response.write(chunk)
    return response
