"""Sockets for OTLP probes: a bounded HTTP/1.1 exchange, a TLS handshake probe and a relay.

A collector endpoint can be anything from healthy to a port that speaks another protocol, so
this module reads raw bytes itself instead of trusting an HTTP library to explain them. Every
operation runs under one deadline (seconds) and reads at most a byte limit, so a server that never
answers, drips bytes or sends garbage ends in `WireError` with a kind naming what was seen.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

# A collector's OTLP response is an empty or tiny protobuf message; 1 MiB leaves room for an
# HTML error page from a proxy in front of it and still bounds a hostile server.
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
# Bytes read from a server to tell which protocol it speaks.
SNIFF_BYTES = 64

# Kinds of WireError, each with a fixed meaning the explanations rely on.
REFUSED = "refused"
TIMEOUT = "timeout"
RESET = "reset"
CLOSED = "closed"
UNREACHABLE = "unreachable"
TLS_TO_PLAINTEXT = "tls-to-plaintext"
PLAINTEXT_TO_TLS = "plaintext-to-tls"
TLS_FAILED = "tls-failed"
TLS_UNTRUSTED = "tls-untrusted"
HTTP2_SERVER = "http2-server"
GARBAGE = "garbage"
TOO_LARGE = "too-large"


class WireError(Exception):
    """A connection-level failure: `kind` is one of the constants above, `detail` what was seen."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class HttpExchange:
    """An HTTP/1.x response read within the limits: status, lower-cased headers and body."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    elapsed: float


class Deadline:
    """A point in time (monotonic seconds) that every socket operation of one probe respects."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise WireError(TIMEOUT, f"no complete answer within {self.seconds:g} s")
        return left


def connect(address: tuple[str, int], deadline: Deadline) -> socket.socket:
    """Open a TCP connection, turning socket errors into WireError."""
    try:
        return socket.create_connection(address, timeout=deadline.remaining())
    except ConnectionRefusedError as error:
        raise WireError(REFUSED, f"connection refused by {address[0]}:{address[1]}") from error
    except TimeoutError as error:
        raise WireError(TIMEOUT, f"TCP connect to {address[0]}:{address[1]} timed out") from error
    except socket.gaierror as error:
        raise WireError(UNREACHABLE, f"cannot resolve {address[0]}: {error}") from error
    except OSError as error:
        raise WireError(
            UNREACHABLE, f"cannot connect to {address[0]}:{address[1]}: {error}"
        ) from error


def client_tls_context(*, verify: bool, cafile: str | None = None) -> ssl.SSLContext:
    """Build a TLS client context; without `verify` only the handshake itself is tested."""
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


def start_tls(
    sock: socket.socket, context: ssl.SSLContext, server_name: str, deadline: Deadline
) -> ssl.SSLSocket:
    """Run the TLS handshake on a connected socket, classifying a failure."""
    sock.settimeout(deadline.remaining())
    try:
        return context.wrap_socket(sock, server_hostname=server_name)
    except ssl.SSLCertVerificationError as error:
        sock.close()
        raise WireError(
            TLS_UNTRUSTED, f"TLS certificate not trusted: {error.verify_message}"
        ) from error
    except ssl.SSLError as error:
        sock.close()
        raise WireError(TLS_FAILED, f"TLS handshake failed: {error.reason or error}") from error
    except TimeoutError as error:
        sock.close()
        raise WireError(TIMEOUT, "no answer to the TLS ClientHello") from error
    except ConnectionResetError as error:
        sock.close()
        raise WireError(RESET, "connection reset during the TLS handshake") from error
    except OSError as error:
        sock.close()
        raise WireError(CLOSED, f"connection closed during the TLS handshake: {error}") from error


def http_exchange(
    address: tuple[str, int],
    method: str,
    path: str,
    *,
    host_header: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
    server_name: str = "",
    timeout: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> HttpExchange:
    """Send one HTTP/1.1 request and read the response, all within `timeout` seconds."""
    deadline = Deadline(timeout)
    started = time.monotonic()
    sock: socket.socket = connect(address, deadline)
    try:
        if tls is not None:
            sock = start_tls(sock, tls, server_name or host_header.split(":")[0], deadline)
        request = _request_bytes(method, path, host_header, body, headers or {})
        _send(sock, request, deadline)
        reader = _Reader(sock, deadline, max_bytes)
        status, reason, response_headers = _read_head(reader, plaintext=tls is None)
        response_body = _read_body(reader, response_headers, method)
    finally:
        sock.close()
    return HttpExchange(status, reason, response_headers, response_body, time.monotonic() - started)


def _request_bytes(
    method: str, path: str, host: str, body: bytes, headers: dict[str, str]
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        "Connection: close",
        "User-Agent: lsconform",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _send(sock: socket.socket, data: bytes, deadline: Deadline) -> None:
    sock.settimeout(deadline.remaining())
    try:
        sock.sendall(data)
    except TimeoutError as error:
        raise WireError(TIMEOUT, "the server stopped reading the request") from error
    except (ConnectionResetError, BrokenPipeError) as error:
        raise WireError(RESET, "connection reset while sending the request") from error
    except OSError as error:
        raise WireError(CLOSED, f"sending the request failed: {error}") from error


class _Reader:
    """Buffered reads from a socket under a deadline and a total byte limit."""

    def __init__(self, sock: socket.socket, deadline: Deadline, max_bytes: int) -> None:
        self.sock = sock
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.buffer = b""
        self.total = 0
        self.eof = False

    def fill(self) -> bool:
        if self.eof:
            return False
        self.sock.settimeout(self.deadline.remaining())
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError as error:
            raise WireError(
                TIMEOUT, f"no complete answer within {self.deadline.seconds:g} s"
            ) from error
        except ConnectionResetError as error:
            raise WireError(RESET, "connection reset by the server") from error
        except ssl.SSLError as error:
            raise WireError(
                TLS_FAILED, f"TLS error while reading: {error.reason or error}"
            ) from error
        except OSError as error:
            raise WireError(CLOSED, f"reading the response failed: {error}") from error
        if not chunk:
            self.eof = True
            return False
        self.total += len(chunk)
        if self.total > self.max_bytes + MAX_HEADER_BYTES:
            raise WireError(TOO_LARGE, f"response exceeds {self.max_bytes} bytes")
        self.buffer += chunk
        return True

    def take(self, size: int) -> bytes:
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def classify_first_bytes(data: bytes) -> str:
    """Name the protocol a server's first bytes belong to: http1, http2, tls, or unknown."""
    if data.startswith(b"HTTP/"):
        return "http1"
    # An HTTP/2 server (every gRPC server) opens with a SETTINGS frame: 3 bytes length, type 4.
    if len(data) >= 9 and data[3] == 0x04:
        return "http2"
    # A TLS record: handshake (22) or alert (21), then version 3.x.
    if len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 0x03:
        return "tls"
    return "unknown"


def _read_head(reader: _Reader, *, plaintext: bool) -> tuple[int, str, dict[str, str]]:
    while b"\r\n\r\n" not in reader.buffer:
        if len(reader.buffer) > MAX_HEADER_BYTES:
            raise WireError(TOO_LARGE, f"response headers exceed {MAX_HEADER_BYTES} bytes")
        if len(reader.buffer) >= 9 and not reader.buffer.startswith(b"HTTP/"):
            break
        if not reader.fill():
            break
    head, separator, _ = reader.buffer.partition(b"\r\n\r\n")
    if not separator:
        raise _unexpected_answer(reader.buffer, plaintext=plaintext)
    reader.take(len(head) + 4)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise _unexpected_answer(head, plaintext=plaintext)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def _unexpected_answer(data: bytes, *, plaintext: bool) -> WireError:
    kind = classify_first_bytes(data)
    quoted = repr(data[:24])
    if kind == "http2":
        return WireError(
            HTTP2_SERVER,
            f"the server answered with an HTTP/2 frame {quoted}, as a gRPC server does",
        )
    if kind == "tls" and plaintext:
        return WireError(PLAINTEXT_TO_TLS, f"the server answered with a TLS record {quoted}")
    if not data:
        return WireError(CLOSED, "the server closed the connection without answering")
    return WireError(GARBAGE, f"the server's answer is not HTTP: {quoted}")


def _read_body(reader: _Reader, headers: dict[str, str], method: str) -> bytes:
    if method == "HEAD":
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _read_chunked(reader)
    length_text = headers.get("content-length")
    if length_text is not None:
        if not length_text.isdigit():
            raise WireError(GARBAGE, f"invalid Content-Length {length_text!r}")
        length = int(length_text)
        if length > reader.max_bytes:
            raise WireError(
                TOO_LARGE, f"response body of {length} bytes exceeds {reader.max_bytes}"
            )
        while len(reader.buffer) < length:
            if not reader.fill():
                raise WireError(
                    CLOSED, f"connection closed after {len(reader.buffer)} of {length} body bytes"
                )
        return reader.take(length)
    while reader.fill():
        pass
    return reader.take(len(reader.buffer))


def _read_chunked(reader: _Reader) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in reader.buffer:
            if not reader.fill():
                raise WireError(CLOSED, "connection closed inside a chunked body")
        size_line, _, _ = reader.buffer.partition(b"\r\n")
        reader.take(len(size_line) + 2)
        try:
            size = int(size_line.split(b";")[0].strip() or b"x", 16)
        except ValueError as error:
            raise WireError(GARBAGE, f"invalid chunk size {size_line[:20]!r}") from error
        if size == 0:
            return body
        if len(body) + size > reader.max_bytes:
            raise WireError(TOO_LARGE, f"response body exceeds {reader.max_bytes} bytes")
        while len(reader.buffer) < size + 2:
            if not reader.fill():
                raise WireError(CLOSED, "connection closed inside a chunk")
        body += reader.take(size)
        reader.take(2)


@dataclass(frozen=True)
class TlsProbe:
    """What a server spoke when offered TLS, and when offered plaintext HTTP/1.1.

    `speaks_tls` is True when the handshake completed, False when the server answered
    plaintext, None when neither attempt showed which (refused, silent, closed).
    """

    speaks_tls: bool | None
    handshake: str
    plaintext: str
    detail: str = ""
    alpn: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)


def probe_tls(address: tuple[str, int], server_name: str, timeout: float) -> TlsProbe:
    """Offer a TLS ClientHello, then a plaintext request, and report which one the server took."""
    handshake, alpn, detail = _try_handshake(address, server_name, timeout)
    plaintext = sniff_plaintext(address, server_name, timeout)
    evidence = {"tls_handshake": handshake, "plaintext_answer": plaintext}
    if handshake == "completed":
        return TlsProbe(True, handshake, plaintext, detail, alpn, evidence)
    if plaintext in ("http1", "http2"):
        return TlsProbe(False, handshake, plaintext, detail, None, evidence)
    return TlsProbe(None, handshake, plaintext, detail, None, evidence)


def _try_handshake(
    address: tuple[str, int], server_name: str, timeout: float
) -> tuple[str, str | None, str]:
    deadline = Deadline(timeout)
    try:
        sock = connect(address, deadline)
        tls_sock = start_tls(sock, client_tls_context(verify=False), server_name, deadline)
    except WireError as error:
        return error.kind, None, error.detail
    alpn = tls_sock.selected_alpn_protocol()
    version = tls_sock.version() or "TLS"
    tls_sock.close()
    return "completed", alpn, f"{version} handshake completed"


def sniff_plaintext(address: tuple[str, int], server_name: str, timeout: float) -> str:
    """Send a plaintext HTTP/1.1 request and name what the first answer bytes are.

    Returns http1, http2, tls or unknown for an answer, else the WireError kind that ended it.
    """
    deadline = Deadline(timeout)
    try:
        sock = connect(address, deadline)
    except WireError as error:
        return error.kind
    received = b""
    try:
        _send(sock, _request_bytes("POST", "/v1/traces", server_name, b"", {}), deadline)
        while len(received) < 9:
            sock.settimeout(deadline.remaining())
            chunk = sock.recv(SNIFF_BYTES)
            if not chunk:
                break
            received += chunk
    except WireError as error:
        if not received:
            return error.kind
    except TimeoutError:
        if not received:
            return TIMEOUT
    except OSError:
        if not received:
            return RESET
    finally:
        sock.close()
    if not received:
        return CLOSED
    return classify_first_bytes(received)


class Stream(Protocol):
    """A connected byte stream, such as a socket or a Kubernetes port-forward stream."""

    def sendall(self, data: bytes, /) -> None: ...

    def recv(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class LoopbackRelay:
    """A listener on 127.0.0.1 that pipes each accepted connection into a new upstream stream.

    It lets libraries that need a host and port (grpcio, ssl) reach a collector pod through a
    Kubernetes port-forward. `connector` opens one upstream stream per client connection.
    """

    def __init__(self, connector: Callable[[], Stream], *, name: str = "relay") -> None:
        self._connector = connector
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._upstreams: list[Stream] = []
        self._lock = threading.Lock()
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept_loop, name=name, daemon=True)
        self._thread.start()

    def __enter__(self) -> LoopbackRelay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting and close every connection the relay opened."""
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _close_quietly(sock)
            for upstream in self._upstreams:
                close_drained(upstream)
        self._thread.join(timeout=2)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = self._connector()
            except Exception as error:  # the connector's own errors end this client only
                log.debug("relay upstream failed: %s", error)
                _close_quietly(client)
                continue
            with self._lock:
                self._sockets.append(client)
                self._upstreams.append(upstream)
            threading.Thread(target=_pump_to_upstream, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pump_to_client, args=(upstream, client), daemon=True).start()


def _pump_to_upstream(client: socket.socket, upstream: Stream) -> None:
    try:
        while data := client.recv(65536):
            upstream.sendall(data)
    except OSError:
        pass
    finally:
        close_drained(upstream)


def _pump_to_client(upstream: Stream, client: socket.socket) -> None:
    try:
        while data := upstream.recv(65536):
            client.sendall(data)
    except Exception as error:  # any upstream failure ends this connection
        log.debug("relay upstream read failed: %s", error)
    finally:
        _close_quietly(client)


def close_drained(stream: Any, limit: int = 1024 * 1024) -> None:
    """Read what the peer already sent (up to `limit` bytes, 50 ms of quiet), then close.

    Closing a socket with unread data sends a reset, and the Kubernetes client's port-forward
    thread raises on a reset from its end of the stream; draining first closes it cleanly.
    """
    received = 0
    try:
        stream.settimeout(0.05)
        while received < limit:
            chunk = stream.recv(65536)
            if not chunk:
                break
            received += len(chunk)
    except Exception as error:  # a timeout or reset simply ends the draining
        log.debug("draining a stream before close ended: %s", error)
    _close_quietly(stream)


def _close_quietly(stream: Stream | socket.socket) -> None:
    try:
        stream.close()
    except Exception:  # closing is best effort
        log.debug("closing a relay stream failed", exc_info=True)
