"""The status page and ``/health`` of ``vjbridge run --status-port PORT``: HTTP on 127.0.0.1 only.

Why the standard library's ``http.server``: two read-only documents for one operator and a
monitor need no framework, and the live daemon's dependencies stay lean. Why it cannot hurt the
show: it runs in its own threads and only reads ``engine.snapshot`` (an immutable
:class:`~bridge.runtime.snapshot.Snapshot` the engine publishes by one reference assignment); the
JSON of a snapshot is encoded once however many clients poll. A hostile or broken client is
bounded: at most :data:`MAX_CONNECTIONS` connections are served at once (more are closed at
accept), each socket times out after :data:`TIMEOUT_S` (a client that sends half a request, or
never reads, is dropped), request lines and headers are capped by ``http.server`` (64 KiB a line,
100 headers), and only ``GET``/``HEAD`` of ``/``, ``/health`` exist.

It binds 127.0.0.1 unless ``--status-host`` says otherwise (and then it says the page is reachable
from the network). While bound to loopback it also answers only requests whose ``Host`` header
names this machine, so a web page elsewhere cannot read it through DNS rebinding.

    server = StatusServer.open(engine, "127.0.0.1", 7080)  # SinkError when the port is taken
    server.start(); ...; server.close()
"""

from __future__ import annotations

import errno
import http.server
import ipaddress
import logging
import os
import socket
import threading

from bridge.errors import ConfigError, SinkError

log = logging.getLogger(__name__)

#: Connections served at once; more are closed as they are accepted.
MAX_CONNECTIONS = 32
#: A connection idle (or half a request) for this long is closed.
TIMEOUT_S = 5.0
#: ``vjbridge status`` looks here when given no --port.
DEFAULT_PORT = 7080

_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "vjbridge"
    sys_version = ""
    protocol_version = "HTTP/1.1"  # keep-alive: the page polls over one connection
    timeout = TIMEOUT_S

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        server: StatusServer = self.server.status  # type: ignore[attr-defined]
        if not server.host_allowed(self.headers.get("Host", "")):
            self._send(421, "text/plain; charset=utf-8",
                       b"vjbridge: this status page answers only to its own address\n", body)
            return
        path = self.path.split("?", 1)[0]
        if path == "/health":
            status, doc = server.document.render(server.engine.snapshot)
            self._send(200 if status == "ok" else 503, "application/json", doc, body)
        elif path in ("/", "/index.html"):
            from bridge.runtime.status_page import PAGE

            self._send(200, "text/html; charset=utf-8", PAGE, body)
        else:
            self._send(404, "text/plain; charset=utf-8",
                       b"vjbridge: not found; the status page is at / and the JSON at /health\n",
                       body)

    def _send(self, code: int, kind: str, data: bytes, body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # noqa: A002 - http.server's signature
        log.debug("status page %s: " + format, self.address_string(), *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() must not wait for a client that never finishes
    allow_reuse_address = os.name != "nt"  # POSIX: rebind at once after a restart; Windows
    # would let a second process steal the port with it
    request_queue_size = 16

    def __init__(self, address, family, status: "StatusServer"):
        self.address_family = family
        self.status = status
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):  # full: close this one, serve the rest
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address) -> None:
        log.debug("status page: a request from %s failed", client_address, exc_info=True)


class StatusServer:
    """The bound status page; ``start()`` serves it in a thread, ``close()`` stops it."""

    def __init__(self, engine, server: _Server | None, host: str, port: int):
        from bridge.runtime.health import HealthDocument

        self.engine = engine
        self.document = HealthDocument()
        self._server = server
        self.host, self.port = host, port
        self.local = _is_loopback(host)
        self._thread: threading.Thread | None = None

    @classmethod
    def open(cls, engine, host: str, port: int) -> "StatusServer":
        """Bind ``host:port``; one line (SinkError/ConfigError) when that is impossible."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        except (socket.gaierror, UnicodeError) as exc:
            raise ConfigError(f"--status-host: cannot resolve {host!r} ({exc}); use an address "
                              "of this machine, e.g. 127.0.0.1") from None
        family, _, _, _, addr = infos[0]
        status = cls(engine, None, addr[0], port)
        try:
            server = _Server(addr[:2], family, status)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == 10048:
                raise SinkError(f"status port {host}:{port} is in use (another vjbridge or web "
                                "server?): choose another with --status-port") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(f"--status-host {host}: not an address of this machine "
                                  f"({exc.strerror}); use 127.0.0.1 (this machine only), 0.0.0.0 "
                                  "(every interface) or one of its own addresses") from None
            raise SinkError(f"cannot open the status page at {host}:{port}: "
                            f"{exc.strerror or exc}; choose another with --status-port") from None
        status._server = server
        status.port = server.server_address[1]
        return status

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def describe(self) -> str:
        if self.local:
            return f"status page {self.url} (this machine only; JSON at {self.url}health)"
        return (f"status page {self.url}: reachable from the network (anyone who can reach this "
                f"machine can read the show's state; --status-host 127.0.0.1 keeps it local); "
                f"JSON at {self.url}health")

    def host_allowed(self, header: str) -> bool:
        """While bound to loopback: only a Host header naming this machine (DNS rebinding)."""
        if not self.local:
            return True
        name = header.strip().lower()
        if name.startswith("["):
            name = name[:name.find("]") + 1]
        elif name.count(":") == 1:
            name = name.split(":")[0]
        return name in _LOCAL_NAMES or _is_loopback(name.strip("[]"))

    def start(self) -> "StatusServer":
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2}, name="status-page",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close the socket (twice is safe; bounded: never waits for clients)."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join(timeout=1.0)
        server.server_close()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False
