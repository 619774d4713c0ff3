"""Small loopback servers that misbehave on purpose, and TLS OTLP servers, for client tests."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc

from lsconform.probes import otlp


@contextmanager
def raw_server(mode: str) -> Iterator[tuple[str, int]]:
    """A TCP server that, per connection: stays silent, drips bytes, sends garbage or a flood."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    connections: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        try:
            if mode == "garbage":
                conn.recv(4096)
                conn.sendall(b"\x7fELF\x02\x01\x01 not a protocol at all\r\n\r\n")
            elif mode == "drip":
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(0.2):
                    conn.sendall(b"X")
            elif mode == "flood":
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n\r\n")
                chunk = b"\0" * 65536
                while not stop.is_set():
                    conn.sendall(chunk)
            elif mode == "close":
                conn.recv(4096)
            elif mode == "silent":
                stop.wait(30)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[:2]
    finally:
        stop.set()
        listener.close()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.close()
        time.sleep(0.05)


class _OtlpHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = otlp.encode_response()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            super().handle()


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _OtlpHandler)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)

    def get_request(self) -> tuple[socket.socket, object]:
        conn, address = self.socket.accept()
        return self.context.wrap_socket(
            conn, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextmanager
def tls_http_server(cert: Path, key: Path) -> Iterator[tuple[str, int]]:
    """An OTLP/HTTP receiver that speaks only TLS."""
    server = _TlsServer(cert, key)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    try:
        yield server.server_address[:2]  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def tls_grpc_server(cert: Path, key: Path) -> Iterator[tuple[str, int]]:
    """An OTLP/gRPC receiver that speaks only TLS."""

    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        return otlp.encode_response()

    handler = grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )
    executor = ThreadPoolExecutor(max_workers=2)
    server = grpc.server(executor)
    server.add_generic_rpc_handlers((handler,))
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield "127.0.0.1", port
    finally:
        server.stop(grace=None).wait(2)
        executor.shutdown(wait=True)
