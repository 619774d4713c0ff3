"""`pods/<name>/portforward` over WebSocket, with the channel protocol of Kubernetes' kubelet.

The client names ports with `?ports=80&ports=9090` (or `ports=80,9090`). Port number i (from 0)
gets data channel 2i and error channel 2i+1. Every binary message starts with its channel byte;
the first message on each channel carries the port number as two little-endian bytes. The server
connects to `podIP:port` from 127.0.0.1, as a kubelet does from inside the pod's network
namespace, so servers that answer only local clients answer a port-forward.

SPDY (`kubectl port-forward`'s native protocol) is not served: see docs/sandbox-apiserver.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from lsconform.sandbox.apiserver.requestinfo import RequestInfo
from lsconform.sandbox.apiserver.status import bad_request, not_found
from lsconform.sandbox.apiserver.store import Store

logger = logging.getLogger(__name__)

# Subprotocols accepted, most preferred first. The official Python client offers
# "v5.channel.k8s.io,v4.channel.k8s.io"; v4 is chosen because this server does not implement
# v5's close signal. "portforward.k8s.io" is kubectl's SPDY-era name, accepted for old clients.
SUBPROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io", "channel.k8s.io")
CONNECT_TIMEOUT_SECONDS = 5.0
READ_CHUNK_BYTES = 64 * 1024
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_PORTS = 16
# How long closing the WebSocket waits for the client's close frame.
CLOSE_TIMEOUT_SECONDS = 1.0


def parse_ports(values: list[str]) -> list[int]:
    ports: list[int] = []
    for value in values:
        for text in value.split(","):
            text = text.strip()
            if not text.isdigit() or not 0 < int(text) < 65536:
                raise bad_request(f"invalid port {text!r}: must be a number from 1 to 65535")
            ports.append(int(text))
    if not ports:
        raise bad_request("at least one port must be given with the ports query parameter")
    if len(ports) > MAX_PORTS:
        raise bad_request(f"at most {MAX_PORTS} ports may be forwarded at once")
    return ports


SPDY_UNSUPPORTED = (
    "port-forward over SPDY (kubectl port-forward) is not supported by the lsconform sandbox; "
    "use a WebSocket client with the v4.channel.k8s.io subprotocol and the ports query "
    "parameter, such as kubernetes.stream.portforward of the official Python client"
)


def _asks_for_spdy(request: web.Request) -> bool:
    offered = request.headers.get("Sec-WebSocket-Protocol", "") + request.headers.get("Upgrade", "")
    return "spdy" in offered.lower()


@dataclass
class _Channel:
    index: int
    port: int
    writer: asyncio.StreamWriter | None = None


async def handle_portforward(
    store: Store,
    request: web.Request,
    info: RequestInfo,
    source_address: str,
    stopping: asyncio.Event,
) -> web.StreamResponse:
    pod = store.get("pods", "", info.namespace, info.name)
    if pod is None:
        raise not_found("pods", "", info.name)
    if _asks_for_spdy(request):
        raise bad_request(SPDY_UNSUPPORTED)
    ports = parse_ports(request.query.getall("ports", []))
    ip = store.pod_ip(info.namespace, info.name)
    if ip is None:
        raise bad_request(f'pod "{info.name}" has no IP address yet')
    uid = str((pod.get("metadata") or {}).get("uid", ""))

    ws = web.WebSocketResponse(
        protocols=SUBPROTOCOLS, max_msg_size=MAX_MESSAGE_BYTES, timeout=CLOSE_TIMEOUT_SECONDS
    )
    await ws.prepare(request)
    channels = [_Channel(index, port) for index, port in enumerate(ports)]
    for channel in channels:
        prefix = struct.pack("<H", channel.port)
        await ws.send_bytes(bytes([2 * channel.index]) + prefix)
        await ws.send_bytes(bytes([2 * channel.index + 1]) + prefix)

    readers = []
    for channel in channels:
        reader = await _connect(ws, channel, ip, source_address, info.name, uid)
        if reader is not None:
            readers.append(asyncio.create_task(_pump_to_client(ws, channel, reader)))
    try:
        await _pump_from_client(ws, channels, readers, stopping)
    finally:
        for task in readers:
            task.cancel()
        for channel in channels:
            if channel.writer is not None:
                channel.writer.close()
                with contextlib.suppress(OSError):
                    await channel.writer.wait_closed()
        await ws.close()
        # The stream is over, as a kubelet ends it: drop the connection without waiting for the
        # client's TLS close_notify, which some clients never send.
        if request.transport is not None:
            request.transport.abort()
    return ws


async def _connect(
    ws: web.WebSocketResponse,
    channel: _Channel,
    ip: str,
    source_address: str,
    pod_name: str,
    uid: str,
) -> asyncio.StreamReader | None:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ip, channel.port, local_addr=(source_address, 0)),
            CONNECT_TIMEOUT_SECONDS,
        )
    except (OSError, asyncio.TimeoutError) as error:
        cause = (
            "connect: connection refused"
            if isinstance(error, ConnectionRefusedError)
            else ("i/o timeout" if isinstance(error, asyncio.TimeoutError) else str(error))
        )
        message = (
            f"error forwarding port {channel.port} to pod {pod_name}, uid {uid}: "
            f"failed to connect to {ip}:{channel.port}: dial tcp4 {ip}:{channel.port}: {cause}"
        )
        logger.info("port-forward to %s:%s failed: %s", ip, channel.port, cause)
        await ws.send_bytes(bytes([2 * channel.index + 1]) + message.encode())
        return None
    channel.writer = writer
    return reader


async def _pump_to_client(
    ws: web.WebSocketResponse, channel: _Channel, reader: asyncio.StreamReader
) -> None:
    with contextlib.suppress(ConnectionError):
        while True:
            data = await reader.read(READ_CHUNK_BYTES)
            if not data:
                return
            await ws.send_bytes(bytes([2 * channel.index]) + data)


async def _pump_from_client(
    ws: web.WebSocketResponse,
    channels: list[_Channel],
    readers: list[asyncio.Task[None]],
    stopping: asyncio.Event,
) -> None:
    """Relay client data to the pod until the client leaves, every pod connection ends (the
    kubelet then closes the stream too) or the server stops."""
    stopped = asyncio.ensure_future(stopping.wait())
    receiving: asyncio.Future[Any] = asyncio.ensure_future(ws.receive())
    try:
        while True:
            running = [task for task in readers if not task.done()]
            if not running or stopped.done():
                return
            done, _ = await asyncio.wait(
                {receiving, stopped, *running}, return_when=asyncio.FIRST_COMPLETED
            )
            if receiving not in done:
                continue
            message = receiving.result()
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            if message.type == WSMsgType.ERROR:
                return
            if message.type == WSMsgType.BINARY and message.data:
                await _deliver(channels, message.data)
            receiving = asyncio.ensure_future(ws.receive())
    finally:
        # Also reached when the handler is cancelled, so no future may stay pending.
        stopped.cancel()
        receiving.cancel()


async def _deliver(channels: list[_Channel], data: bytes) -> None:
    index, remainder = divmod(data[0], 2)
    if remainder or index >= len(channels):
        return  # clients send nothing on error channels; unknown channels are ignored
    writer = channels[index].writer
    if writer is not None and not writer.is_closing():
        writer.write(data[1:])
        with contextlib.suppress(ConnectionError):
            await writer.drain()
