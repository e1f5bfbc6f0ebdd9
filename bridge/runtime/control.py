"""The OSC control port of ``vjbridge run --control [HOST:]PORT``: live tuning from TouchDesigner.

Why a thread of its own and a queue: the engine thread must never parse, validate, read a file
or wait on a socket for a control. This thread receives every datagram, decodes it with
python-osc, checks it against the declarations in :mod:`bridge.runtime.controls`, does the slow
part of a change (a redrawn trigger band's FFT, reading and validating a mapping file, see
:mod:`bridge.runtime.control_targets`) and puts only the finished change on a short queue. The
engine looks at the queue once per loop (``if queue:``, nothing more when it is empty) and applies
what is there between two blocks; the outcome goes back on a second queue, and this thread sends
the ``/vjbridge/_ack`` reply and writes the log line.

Every message is answered to its sender: ``/vjbridge/_ack`` ``s address`` ``i ok`` ``s message``;
a refusal is also one WARNING line, an applied change one INFO line. Nothing a peer sends can grow
memory or stall the show: datagrams above :data:`MAX_PACKET` bytes are refused unread, the queue
holds at most :data:`MAX_PENDING` changes (then "busy"), this thread handles at most
:data:`MAX_RATE` messages a second (a flood waits in the kernel's fixed-size socket buffer, which
drops the excess; the engine never waits for this thread), log lines are capped at
:data:`MAX_LOG_LINES` a second (the rest are counted in one line), and ``/vjbridge/_ack`` messages
are never answered (two daemons cannot ping-pong).

Only sockets: the same on Linux, macOS and Windows (where a UDP ``recvfrom`` can report an earlier
reply's "port unreachable" as ``ConnectionResetError``, and an oversized datagram as an error:
both are skipped here).
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from typing import NamedTuple

from bridge.errors import ConfigError, ControlError, SinkError
from bridge.runtime.controls import ACK_ADDRESS, Control, check

log = logging.getLogger("bridge.control")

MAX_PACKET = 8192  # bytes: a mapping path is at most 4096 characters
MAX_MESSAGES = 32  # per packet (a bundle of several controls)
MAX_PENDING = 32  # changes waiting for the engine
MAX_RATE = 500.0  # messages handled per second (a slider dragged in TouchDesigner: ~60)
MAX_LOG_LINES = 20  # per second; the rest are counted in one line
POLL_S = 0.05  # how often the thread looks for engine replies while no datagram arrives


class Pending(NamedTuple):
    control: Control
    values: tuple
    payload: object  # what the control thread prepared (a band column, a validated mapping)
    sender: tuple


def parse_control_target(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` (host 127.0.0.1; ``[::1]:PORT`` for IPv6) -> ``(host, port)``."""
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]") if sep else ""
    port = port if sep else str(text)
    if not (port.isascii() and port.isdigit() and len(port) <= 5) or not 1 <= int(port) <= 65535:
        raise ConfigError(f"--control: {text!r} is not [HOST:]PORT with a port in 1..65535 "
                          "(e.g. 7001 or 127.0.0.1:7001)")
    return host or "127.0.0.1", int(port)


def _reach(address: str) -> str:
    """Who can send to a socket bound at ``address``: "local", "any" (every interface) or "lan"."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return "lan"
    return "local" if ip.is_loopback else "any" if ip.is_unspecified else "lan"


class ControlPort:
    """The bound control socket and its thread: ``open``, ``attach(targets)``, ``start()``,
    ``close()``. The engine calls :meth:`apply_pending` when :attr:`queue` is not empty."""

    def __init__(self, sock: socket.socket, host: str, port: int):
        self.sock, self.host, self.port = sock, host, port
        self.reach = _reach(host)  # "local", "any" or "lan" (open() knows the resolved address)
        self.targets = None
        self.queue: collections.deque[Pending] = collections.deque()
        self._done: collections.deque = collections.deque()  # (sender, address, ok, message)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.received = self.accepted = self.refused = self.acks_lost = 0
        self._tokens, self._refill_at = MAX_RATE / 5, time.monotonic()
        self._log_window, self._log_lines, self._log_skipped = 0.0, 0, 0

    @classmethod
    def open(cls, text: str) -> "ControlPort":
        """Bind ``[HOST:]PORT``; one clear line (ConfigError/SinkError) when that is impossible."""
        host, port = parse_control_target(text)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM,
                                       flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise ConfigError(f"--control: cannot resolve host {host!r} ({exc.strerror}); use an "
                              "address of this machine, e.g. 127.0.0.1:7001") from None
        family, _, _, _, addr = infos[0]  # the first, as a sender resolving HOST would
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind(addr)  # no SO_REUSEADDR: on Windows it would let us steal a port in use
        except OSError as exc:
            sock.close()
            if _in_use(exc):
                raise SinkError(f"control port {host}:{port} is in use (another vjbridge "
                                "running?): choose another with --control") from None
            raise SinkError(f"cannot open the control port {host}:{port}: "
                            f"{exc.strerror or exc}; choose another with --control") from None
        sock.settimeout(POLL_S)
        _quiet_python_osc()
        port = cls(sock, host, sock.getsockname()[1])
        port.reach = _reach(addr[0])
        return port

    def describe(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        where = f"udp://{host}:{self.port}"
        if self.reach == "local":
            return f"control port {where} (this machine only)"
        who = "on every interface" if self.reach == "any" else f"at {self.host}"
        return (f"control port {where}: reachable from the network {who} (anyone who can reach "
                "it can change the show; --control 127.0.0.1:PORT keeps it to this machine)")

    def attach(self, targets) -> None:
        """What changes act on (:class:`bridge.runtime.control_targets.ControlTargets`)."""
        self.targets = targets

    def start(self) -> "ControlPort":
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and close the socket (twice is safe)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self.sock.close()

    def __enter__(self) -> "ControlPort":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- the engine thread ------------------------------------------------------------------
    def apply_pending(self) -> None:
        """Apply every queued change (engine thread, between blocks); never raises."""
        queue, done, targets = self.queue, self._done, self.targets
        while queue:
            p = queue.popleft()
            try:
                ok, message = True, targets.apply(p.control, p.values, p.payload)
            except ControlError as exc:
                ok, message = False, str(exc)
            except Exception as exc:  # noqa: BLE001 - a control must never stop the show
                ok, message = False, f"could not apply it: {type(exc).__name__}: {exc}"
            done.append((p.sender, p.control.address, ok, message))

    # ---- the control thread -----------------------------------------------------------------
    def _serve(self) -> None:
        sock = self.sock
        while not self._stop.is_set():
            self._send_done()
            try:
                data, sender = sock.recvfrom(MAX_PACKET + 1)
            except (socket.timeout, BlockingIOError, InterruptedError):
                continue
            except OSError:  # closed at exit; Windows: a reply's port unreachable, oversized
                if self._stop.is_set():
                    break
                continue
            self._throttle()
            try:
                self._packet(data, sender)
            except Exception as exc:  # noqa: BLE001 - a bug here must not end the control port
                self._reply(sender, "", False, f"internal error: {type(exc).__name__}: {exc}")
        self._send_done()

    def _throttle(self) -> None:
        """A token bucket: at most MAX_RATE messages a second, bursts of MAX_RATE / 5."""
        now = time.monotonic()
        self._tokens = min(MAX_RATE / 5, self._tokens + (now - self._refill_at) * MAX_RATE)
        self._refill_at = now
        if self._tokens < 1.0:
            time.sleep((1.0 - self._tokens) / MAX_RATE)
            self._tokens, self._refill_at = 1.0, time.monotonic()
        self._tokens -= 1.0

    def _packet(self, data: bytes, sender) -> None:
        self.received += 1
        if len(data) > MAX_PACKET:
            self._reply(sender, "", False, f"packet larger than {MAX_PACKET} bytes: not read")
            return
        from pythonosc.osc_packet import OscPacket

        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except Exception as exc:  # noqa: BLE001 - python-osc raises more than ParseError on junk
            self._reply(sender, "", False, f"not an OSC message or bundle ({len(data)} bytes: "
                                           f"{str(exc)[:80] or type(exc).__name__})")
            return
        if not messages:
            self._reply(sender, "", False, "no OSC message in this packet (an empty or "
                                           "unreadable bundle)")
            return
        if len(messages) > MAX_MESSAGES:
            self._reply(sender, "", False, f"a bundle of {len(messages)} messages: at most "
                                           f"{MAX_MESSAGES} are read, the rest are ignored")
        for message in messages[:MAX_MESSAGES]:
            if message.address == ACK_ADDRESS:
                continue  # never answer an ack: two daemons would answer each other for ever
            if not _well_formed(message):
                self._reply(sender, message.address, False, "malformed OSC message (truncated, "
                                                            "or bytes after its arguments)")
                continue
            self._message(message.address, message.params, sender)

    def _message(self, address: str, params, sender) -> None:
        checked = check(address, params)
        if checked.problem is not None:
            self._reply(sender, address, False, checked.problem)
            return
        control = checked.control
        if self.targets is None:
            self._reply(sender, address, False, "the daemon is still starting: send it again "
                                                "in a moment")
            return
        if len(self.queue) >= MAX_PENDING:  # before prepare: what it opens is then always used
            self._reply(sender, address, False, f"busy: {MAX_PENDING} changes are waiting for "
                                                "the engine; send fewer, or again in a moment")
            return
        try:
            payload = self.targets.prepare(control, checked.values)
        except ControlError as exc:
            self._reply(sender, address, False, str(exc))
            return
        self.queue.append(Pending(control, checked.values, payload, sender))

    def _send_done(self) -> None:
        done = self._done
        while done:
            sender, address, ok, message = done.popleft()
            self._reply(sender, address, ok, message)

    def _reply(self, sender, address: str, ok: bool, message: str) -> None:
        """The ack to ``sender`` and the log line (INFO applied, WARNING refused)."""
        shown = address if len(address) <= 120 else address[:117] + "..."
        if ok:
            self.accepted += 1
            self._log(logging.INFO, f"{shown}: {message}")
        else:
            self.refused += 1
            self._log(logging.WARNING, f"refused {shown or 'a packet'}: {message}")
        try:
            self.sock.sendto(encode_ack(shown, ok, message), sender)
        except OSError:  # the sender is gone (oscsend exits at once): the log line stays
            self.acks_lost += 1

    def _log(self, level: int, text: str) -> None:
        now = time.monotonic()
        if now - self._log_window >= 1.0:
            if self._log_skipped:
                log.warning("%d more control messages in the last second, not logged one by one "
                            "(acks were sent)", self._log_skipped)
            self._log_window, self._log_lines, self._log_skipped = now, 0, 0
        if self._log_lines >= MAX_LOG_LINES:
            self._log_skipped += 1
            return
        self._log_lines += 1
        log.log(level, "%s", text)


def _well_formed(message) -> bool:
    """python-osc reads a truncated float or int as if zero-padded (``,f`` and no data is 0.0):
    re-encode what it read and compare, so a cut-off ``gain/low`` never sets the gain to 0.
    Messages with types no control takes (blobs, arrays, ...) are refused by type instead."""
    from pythonosc.osc_message_builder import OscMessageBuilder
    from pythonosc.parsing import osc_types

    dgram = message.dgram
    try:
        _, index = osc_types.get_string(dgram, 0)
        if index >= len(dgram):
            return index == len(dgram)
        tags = osc_types.get_string(dgram, index)[0][1:]
        if any(t not in "ifdhsTFN" for t in tags):
            return True
        builder = OscMessageBuilder(message.address)
        for tag, value in zip(tags, message.params):
            builder.add_arg(value, tag)
        return builder.build().dgram == dgram
    except Exception:  # noqa: BLE001 - anything python-osc cannot re-encode is malformed
        return False


def encode_ack(address: str, ok: bool, message: str) -> bytes:
    """``/vjbridge/_ack s address i ok s message`` as an OSC datagram."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(ACK_ADDRESS)
    builder.add_arg(_printable(address), "s")
    builder.add_arg(1 if ok else 0, "i")
    builder.add_arg(_printable(message)[:1000], "s")
    return builder.build().dgram


def _printable(text: str) -> str:
    """Text an OSC string can carry: no NUL, no lone surrogates."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


class _NoPythonOscWarnings:
    """python-osc logs a WARNING with the raw bytes on the root logger for every bundle element
    it cannot read: a peer's junk would bypass this port's capped log lines. The refusal is
    logged (and acked) here instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


_PYTHON_OSC_FILTER = _NoPythonOscWarnings()


def _quiet_python_osc() -> None:
    root = logging.getLogger()
    if _PYTHON_OSC_FILTER not in root.filters:
        root.addFilter(_PYTHON_OSC_FILTER)


def _in_use(exc: OSError) -> bool:
    import errno

    return exc.errno in (errno.EADDRINUSE, 10048) or getattr(exc, "winerror", None) == 10048
