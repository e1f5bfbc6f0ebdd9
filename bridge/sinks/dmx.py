"""DMX output: the universes a target drives (512 slots each), sent by sACN (E1.31) or Art-Net.

Why the sink keeps whole universes: DMX is a state, not a stream of messages. Routes write their
fixtures' slots (:class:`DmxLevels`), the sink holds every slot of every universe it drives and
sends each universe as one packet, at its own ``rate`` (DMX512's 44 Hz by default, not the
engine's 60 Hz tick) and only when something changed, then ``repeats`` more times (a lost packet
must not leave a fixture at a stale level), then once every ``keepalive_s`` while nothing changes
(E1.31 wants a packet per universe at least every second; receivers drop a source after 2.5 s).

Who sends. The engine thread, in :meth:`send` (every output tick): the due universes go out at
once, no hand-off. A small daemon thread is the backstop for when the engine stops calling: after
an ``on_loss: idle`` blackout, or while audio is stalled, it sends the keep-alives (it wakes about
once per ``keepalive_s``, and only acts when a universe is overdue). Both hold one lock. Nothing
blocks: the socket is non-blocking and a failed send (full buffer, no route, broadcast refused) is
counted in ``drops`` (logged once), never raised: a network glitch must not stop the show.

Blackout (``blackout()``, ``close()``): every slot back to its held value (a fixture profile's
``default``: 0, pan/tilt at their set positions) with each route's idle value on top, sent at once
``1 + repeats`` times. sACN then marks the stream terminated (3 packets, E1.31 6.2.6) so a
receiver merging sources lets go at once instead of holding for the 2.5 s loss timeout.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from bridge.errors import SinkError
from bridge.sinks import dmx_wire as wire
from bridge.sinks.base import Sink
from bridge.sinks.fixtures import SLOTS, Placed, base_frames, patch
from bridge.sinks.transport import resolve

log = logging.getLogger(__name__)

#: How each protocol reaches its receivers: sACN by unicast or per-universe multicast groups,
#: Art-Net by unicast or broadcast (chosen explicitly: a broadcast floods every node).
MODES = {"sacn": ("unicast", "multicast"), "artnet": ("unicast", "broadcast")}


class DmxLevels(NamedTuple):
    """Levels for runs of slots: ``runs`` is a tuple of ``(universe, slot, data)``, ``slot``
    0..511 (DMX address - 1), ``data`` the bytes from there on (a 16-bit channel: coarse, fine).
    One route's item (all the fixtures it drives, on any universes)."""

    runs: tuple


class _Universe:
    __slots__ = ("number", "packet", "dest", "last", "repeats", "dirty", "seq", "base")

    def __init__(self, number: int, packet: bytearray, dest: tuple, base: bytes):
        self.number, self.packet, self.dest, self.base = number, packet, dest, base
        self.last = -1e9  # monotonic() of the last packet
        self.repeats = 0
        self.dirty = True
        self.seq = 0


class DmxSink(Sink):
    kind = "dmx"

    def __init__(self, name: str = "default", *, protocol: str = "sacn", host: str | None = None,
                 port: int | None = None, mode: str = "unicast", interface: str | None = None,
                 priority: int = 100, sync_universe: int | None = None,
                 source_name: str = "vjbridge", rate: float = 44.0, keepalive_s: float = 0.8,
                 repeats: int = 2, terminate: bool = True,
                 fixtures: Mapping[str, Placed] | None = None, universes: Iterable[int] = (),
                 keepalive_thread: bool = True) -> None:
        super().__init__(name)
        if protocol not in ("sacn", "artnet"):
            raise ValueError(f"protocol must be 'sacn' or 'artnet', got {protocol!r}")
        if mode not in MODES[protocol]:
            raise ValueError(f"mode {mode!r} does not go with {protocol} "
                             f"({' or '.join(MODES[protocol])})")
        self.protocol, self.mode, self.priority = protocol, mode, priority
        self.port = port or (wire.SACN_PORT if protocol == "sacn" else wire.ARTNET_PORT)
        self.host = host or {"unicast": "127.0.0.1", "broadcast": "255.255.255.255",
                             "multicast": None}[mode]
        self.sync_universe = sync_universe if protocol == "sacn" else None
        self.source_name, self.rate, self.keepalive_s = source_name, float(rate), keepalive_s
        self.repeats, self.terminate = repeats, terminate and protocol == "sacn"
        self._period = 1.0 / self.rate
        self._due = 0.0
        self._cid = wire.source_cid(name)
        self._base = wire.SACN_DATA if protocol == "sacn" else wire.ARTNET_DATA
        self._seq_at = wire.SACN_SEQUENCE if protocol == "sacn" else wire.ARTNET_SEQUENCE
        self.sent = self.drops = 0
        self._error_logged = False
        self._what = f"dmx output {name!r} ({self.describe()})"
        self._dest = None if mode == "multicast" else resolve(
            self.host, self.port, socket.SOCK_DGRAM, self._what)[1]
        self._sock = self._open_socket(interface)
        self._unis: dict[int, _Universe] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._sync_packet = self._sync_seq = None
        if self.sync_universe:
            self._sync_packet = wire.sacn_sync_template(cid=self._cid,
                                                        sync_universe=self.sync_universe)
            self._sync_seq = 0
            self._sync_dest = (wire.sacn_multicast(self.sync_universe), self.port) \
                if mode == "multicast" else self._dest
        frames = base_frames(fixtures or {})
        for u in sorted(set(frames) | set(universes)):
            self._add_universe(u, bytes(frames.get(u, bytes(SLOTS))))
        self._stop = False
        self._thread = None
        if keepalive_thread:
            self._thread = threading.Thread(target=self._keepalive_loop, daemon=True,
                                            name=f"dmx-keepalive-{name}")
            self._thread.start()

    @classmethod
    def from_config(cls, name: str, cfg: Mapping) -> "DmxSink":
        """From a validated ``dmx`` target table (see :mod:`bridge.sinks.dmx_kind`)."""
        return cls(name, protocol=cfg["protocol"], host=cfg["host"], port=cfg["port"],
                   mode=cfg["mode"], interface=cfg["interface"], priority=cfg["priority"],
                   sync_universe=cfg["sync_universe"], source_name=cfg["source_name"],
                   rate=cfg["rate"], keepalive_s=cfg["keepalive_s"], fixtures=patch(cfg))

    def _open_socket(self, interface: str | None) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            # an ephemeral port: 5568/6454 belong to receivers that may run on this machine
            sock.bind((interface or "0.0.0.0", 0))
            if self.mode == "broadcast":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if self.mode == "multicast":
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 8)
                if interface:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                    socket.inet_aton(interface))
        except OSError as exc:
            sock.close()
            raise SinkError(f"{self._what}: cannot open a UDP socket on {interface or 'any'} "
                            f"interface ({exc.strerror or exc}); check `interface`") from None
        return sock

    def _add_universe(self, u: int, base: bytes) -> None:
        if self.protocol == "sacn":
            packet = wire.sacn_template(universe=u, cid=self._cid, source_name=self.source_name,
                                        priority=self.priority,
                                        sync_universe=self.sync_universe or 0)
            dest = (wire.sacn_multicast(u), self.port) if self.mode == "multicast" else self._dest
        else:
            packet, dest = wire.artnet_template(u), self._dest
        packet[self._base:self._base + SLOTS] = base
        self._unis[u] = _Universe(u, packet, dest, base)

    @property
    def universes(self) -> list[int]:
        return list(self._unis)

    def levels(self, universe: int) -> bytes:
        """The 512 slots of ``universe`` as they go out next."""
        with self._lock:
            return bytes(self._unis[universe].packet[self._base:self._base + SLOTS])

    def describe(self) -> str:
        where = "multicast 239.255.x.x" if self.mode == "multicast" else \
            f"{self.mode} {self.host}:{self.port}"
        return f"{self.protocol} {where} {self.rate:g} Hz"

    # --- the template's hooks -----------------------------------------------------------------
    def _validate(self, item) -> None:
        if type(item) is not DmxLevels:
            raise TypeError(f"dmx output {self.name!r} takes DmxLevels items, got {item!r}")
        runs = item.runs
        if type(runs) is not tuple or not runs:
            raise ValueError(f"dmx output {self.name!r}: DmxLevels.runs must be a non-empty tuple")
        for run in runs:
            if type(run) is not tuple or len(run) != 3:
                raise ValueError(f"dmx: a run is (universe, slot, data), got {run!r}")
            u, s, data = run
            if u not in self._unis:
                raise ValueError(f"dmx output {self.name!r} does not drive universe {u!r} "
                                 f"(it drives {', '.join(map(str, self._unis)) or 'none'})")
            if type(data) is not bytes or not data:
                raise ValueError(f"dmx universe {u}: data must be non-empty bytes, got {data!r}")
            if type(s) is not int or not 0 <= s <= SLOTS - len(data):
                raise ValueError(f"dmx universe {u}: {len(data)} slots from slot {s!r} do not "
                                 f"fit 0..{SLOTS - 1}")

    def set_idle(self, items: Sequence) -> None:
        """The idle items (the routes' idle values); universes they name that the fixtures do
        not (raw routes) are driven from now on."""
        with self._lock:
            for item in items:
                for run in getattr(item, "runs", ()):
                    if type(run) is tuple and len(run) == 3 and type(run[0]) is int \
                            and run[0] not in self._unis and self._valid_universe(run[0]):
                        self._add_universe(run[0], bytes(SLOTS))
        super().set_idle(items)

    def _valid_universe(self, u: int) -> bool:
        return 1 <= u <= 63999 if self.protocol == "sacn" else 0 <= u <= 32767

    def send(self, items: Sequence[DmxLevels]) -> None:
        """Validate every item, write their levels, and send the universes that are due."""
        if self.closed:
            raise SinkError(f"{self.kind} output {self.name!r} is closed")
        if not items:
            return
        for item in items:
            self._validate(item)
        with self._lock:
            self._apply(items)
            self.frames += 1
            self._pump(time.monotonic())

    def _send(self, items: Sequence[DmxLevels]) -> None:
        with self._lock:
            self._apply(items)
            self._pump(time.monotonic())

    def _apply(self, items) -> None:
        unis, base = self._unis, self._base
        for item in items:
            for u, s, data in item.runs:
                uni = unis[u]
                a = base + s
                b = a + len(data)
                if uni.packet[a:b] != data:
                    uni.packet[a:b] = data
                    uni.dirty = True

    def _pump(self, now: float) -> None:
        """At most one refresh per ``1 / rate`` s (on average exactly ``rate``, from any tick
        rate above it): each changed universe, its repeats, and the overdue keep-alives."""
        if now < self._due:
            return
        self._due = self._due + self._period if now - self._due < self._period \
            else now + self._period
        sent = False
        for uni in self._unis.values():
            if uni.dirty:
                uni.dirty = False
                uni.repeats = self.repeats
            elif uni.repeats:
                uni.repeats -= 1
            elif now - uni.last < self.keepalive_s:
                continue
            self._transmit(uni, now)
            sent = True
        if sent and self._sync_packet is not None:
            self._send_sync()

    def _transmit(self, uni: _Universe, now: float) -> None:
        seq = (uni.seq + 1) & 0xFF
        if seq == 0 and self.protocol == "artnet":
            seq = 1  # Art-Net: 0 means "sequencing off"
        uni.seq = uni.packet[self._seq_at] = seq
        uni.last = now
        try:
            self._sock.sendto(uni.packet, uni.dest)
            self.sent += 1
        except OSError as exc:  # BlockingIOError (buffer full), no route, EACCES (broadcast)
            self._dropped(exc)

    def _send_sync(self) -> None:
        self._sync_seq = (self._sync_seq + 1) & 0xFF
        self._sync_packet[wire.SYNC_SEQUENCE] = self._sync_seq
        try:
            self._sock.sendto(self._sync_packet, self._sync_dest)
        except OSError as exc:
            self._dropped(exc)

    def _dropped(self, exc: OSError) -> None:
        self.drops += 1
        if not self._error_logged:
            self._error_logged = True
            log.warning("%s: a packet could not be sent (%s); still sending, drops are counted",
                        self._what, exc.strerror or exc)

    def _blackout(self, idle: Sequence) -> None:
        with self._lock:
            for uni in self._unis.values():
                uni.packet[self._base:self._base + SLOTS] = uni.base
            self._apply(idle)
            now = time.monotonic()
            for _ in range(1 + self.repeats):
                for uni in self._unis.values():
                    self._transmit(uni, now)
                if self._sync_packet is not None:
                    self._send_sync()
            for uni in self._unis.values():
                uni.dirty, uni.repeats = False, 0
            self._due = now + self._period

    def _keepalive_loop(self) -> None:
        slack = 2 * self._period  # the engine's pump goes first while it runs
        with self._wake:
            while not self._stop:
                now = time.monotonic()
                oldest = min((u.last for u in self._unis.values()), default=now)
                wait = oldest + self.keepalive_s + slack - now
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                for uni in self._unis.values():
                    if now - uni.last >= self.keepalive_s:
                        self._transmit(uni, now)
                if self._sync_packet is not None:
                    self._send_sync()

    def _close(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        with self._lock:
            if self.terminate:
                now = time.monotonic()
                for uni in self._unis.values():
                    uni.packet[wire.SACN_OPTIONS] |= wire.SACN_TERMINATED
                    for _ in range(3):
                        self._transmit(uni, now)
            self._sock.close()
