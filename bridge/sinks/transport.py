"""Byte transports for OSC: UDP datagrams and TCP streams that never block the engine thread.

Why a background thread for TCP: a TCP receiver that stops reading, or a host that vanishes, would
otherwise stall ``sendall`` on the engine thread and freeze every output. The engine only appends
to a short queue (oldest frame dropped and counted when full); one thread connects, reconnects with
exponential backoff and writes. While disconnected, frames are dropped and counted: outputs are
latest-state streams, so replaying stale frames after a reconnect would only add latency.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque

from bridge.errors import SinkError
from bridge.sinks.osc_encode import FRAMINGS

log = logging.getLogger(__name__)


def resolve(host: str, port: int, kind: int, what: str) -> tuple:
    """Resolve ``host:port`` once, at open; an unresolvable name is a one-line :class:`SinkError`."""
    try:
        infos = socket.getaddrinfo(host, port, type=kind)
    except (socket.gaierror, UnicodeError) as exc:
        raise SinkError(f"{what}: cannot resolve host {host!r} ({exc}); use an IP address or a "
                        "name this machine can resolve") from None
    family, _, _, _, addr = infos[0]
    return family, addr


class UdpTransport:
    """Non-blocking UDP: a send that would block or fails is dropped and counted.

    The socket is connected to the target once at open (UDP connect only fixes the destination),
    so each packet is a plain ``send``: no address to convert, and the kernel reuses its route,
    ~1-2 µs less per packet in the live pipeline. A side effect, and a useful one: the kernel then
    reports a receiver that is not listening (ICMP port unreachable) as ECONNREFUSED on a later
    send. Those are counted in ``refused``, apart from ``drops`` (full buffer, no route, too
    big), and logged once: "nothing listening" is the normal state before TouchDesigner starts, not
    a fault. When the connect itself fails (no route yet), packets go out with ``sendto`` as
    before.
    """

    def __init__(self, host: str, port: int, what: str = "osc") -> None:
        family, self.addr = resolve(host, port, socket.SOCK_DGRAM, what)
        self.what = what
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sent = 0
        self.drops = 0
        self.refused = 0  # sends the kernel refused because nothing listens at the target
        self.connected = True
        try:
            self.sock.connect(self.addr)
            self._send = self.sock.send
        except OSError:  # e.g. no route to the host yet: address every packet
            sendto, addr = self.sock.sendto, self.addr
            self._send = lambda packet: sendto(packet, addr)

    def send_packet(self, packet: bytes) -> None:
        try:
            self._send(packet)
            self.sent += 1
        except ConnectionRefusedError:  # the ICMP "port unreachable" of an earlier packet
            self._refused()
        except OSError:  # BlockingIOError (buffer full), EMSGSIZE, no route
            self.drops += 1

    def send(self, packets: list[bytes]) -> None:
        for p in packets:
            self.send_packet(p)

    def _refused(self) -> None:
        if not self.refused:
            log.warning("%s: nothing is listening there yet (connection refused); still sending",
                        self.what)
        self.refused += 1

    def close(self, flush_timeout: float = 0.0) -> None:
        self.sock.close()


class TcpTransport:
    """OSC over TCP (``framing`` "slip" = OSC 1.1, "length" = OSC 1.0) written by a background thread.

    Also the stream under other TCP outputs: ``framing`` may be a function (bytes -> bytes; OS2L
    sends its JSON objects as they are), and with ``host=None`` the address comes from
    ``locate()``, called on the background thread before each connect: ``(host, port)`` of a peer
    found so far (DNS-SD discovery), or None while there is none (that counts as a failed
    connect: backoff, one warning per outage). ``locate_what`` names what it looks for in those
    lines. ``write_gap``: the writer waits this long after each write, so a peer that parses
    what one read returns as one message (QLC+'s OS2L input) gets each in its own read.

    ``send()`` never blocks: it frames the packets and queues them (at most ``queue_frames`` sends;
    the oldest is dropped when full). A lost connection is retried with exponential backoff from
    ``min_backoff`` up to ``max_backoff`` s. An outage (failed connects, or connections that do not
    hold for ``stable_s``, as with a peer that accepts and closes at once) is logged as one line
    when it starts, a line with the failure count when a connection has held for ``stable_s``, and
    at most one "still failing" line per ``report_every_s`` in between: a reconnect storm is a line
    and a count, not sixty lines a second.
    """

    #: it writes its own line when a lost peer is connected again (the status events need not)
    logs_reconnect = True

    def __init__(self, host: str | None, port: int, framing="slip", *, queue_frames: int = 4,
                 connect_timeout: float = 1.0, write_timeout: float = 1.0,
                 max_backoff: float = 2.0, min_backoff: float = 0.05, stable_s: float = 5.0,
                 report_every_s: float = 60.0, what: str = "osc", locate=None,
                 locate_what: str = "a host", write_gap: float = 0.0) -> None:
        if host is None:
            if locate is None:
                raise ValueError("TcpTransport: give a host, or locate() to find one")
            self.family, self.addr = None, None
        else:
            self.family, self.addr = resolve(host, port, socket.SOCK_STREAM, what)
        self._locate = locate
        self.locate_what = locate_what
        self.write_gap = write_gap  # s between two writes (a peer that parses one read at a time)
        self.what = what
        self._frame = framing if callable(framing) else FRAMINGS[framing]
        self.queue_frames = queue_frames
        self.connect_timeout = connect_timeout
        self.write_timeout = write_timeout
        self.max_backoff = max_backoff
        self.min_backoff = min_backoff
        self.stable_s = stable_s  # a connection that held this long ends an outage
        self.report_every_s = report_every_s
        self.failures = 0  # failed connects and lost connections, over the run
        self._outage_at: float | None = None  # monotonic() when the current outage began
        self._outage_failures = 0
        self._reported = 0.0
        self.sent = 0
        self.drops = 0
        self.connects = 0
        self.connected = False
        self.socket: socket.socket | None = None  # the live connection, for its backlog (status)
        self._q: deque = deque()
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"osc-tcp-{port}"
                                        if isinstance(framing, str) else f"tcp {what}")
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        """Block (the caller, not the engine) until connected or ``timeout`` s pass."""
        with self._cv:
            return self._cv.wait_for(lambda: self.connected, timeout)

    def send_packet(self, packet: bytes) -> None:
        self.send((packet,))

    def send(self, packets: list[bytes]) -> None:
        frame = self._frame
        data = b"".join(frame(p) for p in packets)
        with self._cv:
            if not self.connected:
                self.drops += len(packets)
                return
            if len(self._q) >= self.queue_frames:
                self.drops += self._q.popleft()[1]
            self._q.append((data, len(packets)))
            self._cv.notify_all()

    def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stop:
            if self._locate is not None:
                try:
                    found = self._locate()
                except Exception as exc:  # a discovery fault must not end the writer thread
                    log.debug("%s: locate failed: %r", self.what, exc)
                    found = None
                if found is None:
                    self._outage(f"no {self.locate_what} found yet")
                    backoff = self._back_off(backoff)
                    continue
                if self.addr is None or tuple(self.addr[:2]) != tuple(found[:2]):
                    self.addr = tuple(found[:2])
            try:
                sock = socket.create_connection(self.addr[:2], timeout=self.connect_timeout)
            except OSError as exc:
                self._outage(f"cannot connect ({exc.strerror or exc})")
                backoff = self._back_off(backoff)
                continue
            sock.settimeout(self.write_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socket = sock
            with self._cv:
                self.connected = True
                self.connects += 1
                self._cv.notify_all()
            up_since = time.monotonic()
            item = None
            try:
                while True:
                    with self._cv:
                        # while an outage is open, wake to close it once this connection held
                        self._cv.wait_for(lambda: self._q or self._stop,
                                          self.stable_s if self._outage_at is not None else None)
                        if self._outage_at is not None and \
                                time.monotonic() - up_since >= self.stable_s:
                            self._recovered()
                        if not self._q:
                            if self._stop:
                                break  # stopping with nothing left to write
                            continue
                        item = self._q.popleft()
                    sock.sendall(item[0])
                    self.sent += item[1]
                    item = None
                    if self.write_gap:  # this thread's pause only: the engine keeps queueing
                        time.sleep(self.write_gap)
            except OSError as exc:
                self._outage(f"connection lost ({exc.strerror or exc})")
            finally:
                self.socket = None
                sock.close()
                with self._cv:
                    self.connected = False
                    self.drops += (item[1] if item else 0) + sum(n for _, n in self._q)
                    self._q.clear()
                    self._cv.notify_all()
            if self._stop:
                break
            # a peer that accepts and then closes at once must not reset the backoff: only a
            # connection that held for stable_s starts the next outage from min_backoff again
            backoff = self.min_backoff if time.monotonic() - up_since >= self.stable_s \
                else self._back_off(backoff)

    def _back_off(self, backoff: float) -> float:
        """Wait ``backoff`` s (or until closed); the next, doubled wait up to ``max_backoff``."""
        with self._cv:
            self._cv.wait_for(lambda: self._stop, backoff)
        return min(backoff * 2, self.max_backoff)

    def _outage(self, reason: str) -> None:
        """One warning when an outage starts, then at most one summary per ``report_every_s``."""
        now = time.monotonic()
        self.failures += 1
        where = self.where
        if self._outage_at is None:
            self._outage_at, self._outage_failures, self._reported = now, 1, now
            log.warning("%s: %s%s; retrying with backoff up to %g s (one line per outage)",
                        self.what, reason, "" if self.addr is None else f" to {where}",
                        self.max_backoff)
            return
        self._outage_failures += 1
        if now - self._reported >= self.report_every_s:
            self._reported = now
            log.warning("%s: still no lasting connection to %s after %d failures in %.0f s "
                        "(last: %s)", self.what, where, self._outage_failures,
                        now - self._outage_at, reason)

    def _recovered(self) -> None:
        log.warning("%s: connected to %s again after %d failures in %.1f s", self.what,
                    self.where, self._outage_failures, time.monotonic() - self._outage_at)
        self._outage_at = None

    @property
    def where(self) -> str:
        """``host:port`` of the peer (the one last found, with ``locate``), or what is looked for."""
        if self.addr is None:
            return self.locate_what
        return f"{self.addr[0]}:{self.addr[1]}"

    def close(self, flush_timeout: float = 0.5) -> None:
        """Give queued frames up to ``flush_timeout`` s to go out (the blackout), then stop."""
        with self._cv:
            self._cv.wait_for(lambda: not self._q or not self.connected, flush_timeout)
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=self.connect_timeout + self.write_timeout + 0.5)
