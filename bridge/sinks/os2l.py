"""OS2L (Open Sound to Light, 1.1): beat, button and command events as JSON over TCP.

Why OS2L: DJ software (VirtualDJ) drives lighting programs (QLC+, SoundSwitch hosts, DMXIS,
...) with it, so those hosts already turn an OS2L beat into a chase step, a button into a
function and a command into a fader level. vjbridge is the client: it connects to the host
(QLC+ listens on TCP 9996) and writes one JSON object per event::

    {"evt":"beat","change":false,"pos":17,"bpm":124.0,"strength":0.8}
    {"evt":"btn","name":"strobe","page":"fx","state":"on"}
    {"evt":"cmd","id":3,"param":42.5}

``pos`` counts the beats sent (the first is 1); ``bpm`` is the tempo the last ``tempo`` item
set (a ``{signal: bpm, os2l: {event: tempo}}`` route), or, without one, 60 over the time since
the previous beat; ``change`` is true on the first beat of each connection and whenever ``bpm``
moved by :data:`CHANGE_BPM` or more since the previous beat; ``strength`` the last ``strength`` item, else
the beat route's own value, 0..1. Items of one tick are applied in two passes: tempo and
strength first, so a beat always carries the tempo of its own tick.

Each message is its own write, and the writer pauses :data:`WRITE_GAP_S` after each (no separator:
OS2L hosts split consecutive objects, but QLC+ parses what one read returns as one object, so two
messages in one read would both be lost there). The stream
is :class:`~bridge.sinks.transport.TcpTransport`: a background thread connects, reconnects with
backoff and writes; the engine only queues. While the host is away events are dropped and
counted (a late beat is a wrong beat).

No ``host``: the host is found by DNS-SD (``_os2l._tcp.local.``, what VirtualDJ's "Auto" mode
looks for and what QLC+ and other hosts advertise), browsed with python-zeroconf from the
transport's thread (:class:`Discovery`), so start-up never waits for the network.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple

from bridge.errors import SinkError
from bridge.sinks.base import Sink
from bridge.sinks.transport import TcpTransport

log = logging.getLogger(__name__)

#: QLC+'s OS2L input listens here unless its plug-in is configured otherwise.
PORT = 9996
SERVICE_TYPE = "_os2l._tcp.local."
#: A beat's ``change`` flag is set when the tempo moved this much (BPM) since the previous beat.
CHANGE_BPM = 0.5
#: The events a route can produce: ``beat``/``btn``/``cmd`` send a message; ``tempo`` and
#: ``strength`` only set what the next beat carries.
EVENTS = ("beat", "tempo", "strength", "btn", "cmd")
#: Messages queued for the writer thread at most (the oldest is dropped and counted beyond).
QUEUE_MESSAGES = 64
#: The writer's pause after each message (at most 250 a second), so two messages of one tick
#: reach a host that parses one read as one object (QLC+) in separate reads.
WRITE_GAP_S = 0.004


class Os2lItem(NamedTuple):
    """One route's event this tick. ``value``: beat strength 0..1 (``beat``), BPM (``tempo``),
    0..1 (``strength``), 1.0 on / 0.0 off (``btn``), 0..100 (``cmd``)."""

    event: str
    value: float
    name: str | None = None  # btn
    page: str | None = None  # btn (optional)
    id: int = 0  # cmd


def _json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Os2lSink(Sink):
    kind = "os2l"

    def __init__(self, name: str = "default", *, host: str | None = None, port: int = PORT,
                 service: str | None = None, **transport) -> None:
        super().__init__(name)
        self.host, self.port, self.service = host, port, service
        what = f"os2l target {name!r}"
        # one queue entry per message (each its own write): room for a burst of a few ticks
        transport.setdefault("queue_frames", QUEUE_MESSAGES)
        transport.setdefault("write_gap", WRITE_GAP_S)
        self.discovery = None
        if host is None:
            self.discovery = Discovery(service, what)
            self.transport = TcpTransport(None, 0, _raw, what=what, locate=self.discovery.locate,
                                          locate_what=self.discovery.looking_for, **transport)
        else:
            self.transport = TcpTransport(host, port, _raw, what=what, **transport)
        self.pos = 0  # beats sent
        self.bpm = 0.0
        self._tempo_set = False  # a tempo item came: bpm is the route's, not the beat spacing
        self.strength: float | None = None  # the strength route's value, once one came
        self._last_bpm: float | None = None  # bpm of the previous beat
        self._last_beat_at: float | None = None
        self._connects = 0  # transport.connects at the last beat that set change

    @classmethod
    def from_config(cls, name: str, cfg) -> "Os2lSink":
        return cls(name, host=cfg.get("host"), port=cfg.get("port", PORT),
                   service=cfg.get("service"))

    def describe(self) -> str:
        if self.discovery is None:
            return f"tcp://{self.host}:{self.port} (OS2L)"
        found = self.discovery.found
        pick = f" named like {self.service!r}" if self.service else ""
        if found is None:
            return f"the OS2L host{pick} advertising {SERVICE_TYPE[:-1]} (DNS-SD; none found yet)"
        return f"tcp://{found[1]}:{found[2]} ({found[0]!r}, found by DNS-SD; OS2L)"

    def wait_connected(self, timeout: float) -> bool:
        """For tests and tools (never the engine): block until the host is connected."""
        return self.transport.wait_connected(timeout)

    @property
    def sent(self) -> int:
        return self.transport.sent

    @property
    def drops(self) -> int:
        return self.transport.drops

    # --- the template's hooks ----------------------------------------------------------------
    def _validate(self, item) -> None:
        if type(item) is not Os2lItem:
            raise TypeError(f"os2l output {self.name!r} takes Os2lItem items, got {item!r}")
        event, v, name, page, ident = item
        if event not in EVENTS:
            raise ValueError(f"os2l event {event!r} is not one of {', '.join(EVENTS)}")
        if type(v) is not float or not math.isfinite(v):
            raise ValueError(f"os2l {event} value must be a finite float, got {v!r}")
        if event == "btn" and not (isinstance(name, str) and name):
            raise ValueError(f"os2l btn needs a name, got {name!r}")
        if event == "cmd" and (type(ident) is not int or ident < 0):
            raise ValueError(f"os2l cmd id must be an int >= 0, got {ident!r}")

    def _send(self, items: Sequence[Os2lItem]) -> None:
        events = None
        for item in items:
            event = item.event
            if event == "tempo":
                self.bpm, self._tempo_set = item.value, True
            elif event == "strength":
                self.strength = item.value
            elif events is None:
                events = [item]
            else:
                events.append(item)
        if events is None:
            return
        send = self.transport.send
        for item in events:
            if item.event == "beat":
                send([self._beat(item.value)])
            elif item.event == "btn":
                msg = {"evt": "btn", "name": item.name}
                if item.page:
                    msg["page"] = item.page
                msg["state"] = "on" if item.value >= 0.5 else "off"
                send([_json(msg)])
            else:
                send([_json({"evt": "cmd", "id": item.id, "param": item.value})])

    def _beat(self, value: float) -> bytes:
        now = time.monotonic()
        if not self._tempo_set and self._last_beat_at is not None:
            dt = now - self._last_beat_at
            if 0.2 <= dt <= 2.0:  # 30..300 BPM; a longer gap is a pause, not a tempo
                self.bpm = 60.0 / dt
        self._last_beat_at = now
        bpm = max(0.0, self.bpm)
        connects = self.transport.connects  # a new connection: the host starts afresh
        change = (self._last_bpm is None or abs(bpm - self._last_bpm) >= CHANGE_BPM
                  or connects != self._connects)
        if change:
            self._last_bpm, self._connects = bpm, connects
        strength = self.strength if self.strength is not None else value
        self.pos += 1
        return _json({"evt": "beat", "change": change, "pos": self.pos, "bpm": round(bpm, 2),
                      "strength": round(min(1.0, max(0.0, strength)), 3)})

    def _close(self) -> None:
        try:
            self.transport.close()
        finally:
            if self.discovery is not None:
                self.discovery.close()


def _raw(message: bytes) -> bytes:
    return message


class Discovery:
    """DNS-SD browsing for OS2L hosts; :meth:`locate` is called on the transport's thread.

    The first call starts python-zeroconf (its sockets and its browser thread); the browser's
    callbacks only record service names (added, updated, removed), and :meth:`locate` resolves
    the wanted one (its address and port, from zeroconf's cache or a short query) when the
    transport is about to connect. A host that goes away and comes back on another port is
    found again at the next connect. ``service``: the instance name to pick, matched as a
    case-insensitive substring ("QLC" picks "QLC+ on desk"); None = the first host found.
    """

    def __init__(self, service: str | None, what: str) -> None:
        try:
            import zeroconf  # noqa: F401  (checked at open: the message is for the user)
        except ImportError:
            raise SinkError(f"{what}: no `host` given, so it would find the OS2L host by DNS-SD, "
                            "which needs python-zeroconf (`pip install zeroconf`); or set host "
                            "(and port) to the OS2L host's address") from None
        self.service, self.what = service, what
        self.looking_for = (f"OS2L host named like {service!r} advertising {SERVICE_TYPE[:-1]}"
                            if service else f"OS2L host advertising {SERVICE_TYPE[:-1]}") + \
            " (DNS-SD; or set the target's host)"
        self._lock = threading.Lock()
        self._names: dict[str, None] = {}  # service names seen, in the order found
        self._zc = None
        self._browser = None
        self._closed = False
        self._warned = False
        self.found: tuple[str, str, int] | None = None  # (instance name, address, port)

    def _start(self) -> bool:
        from zeroconf import ServiceBrowser, ServiceStateChange, Zeroconf

        def on_change(zeroconf, service_type, name, state_change) -> None:
            with self._lock:
                if state_change is ServiceStateChange.Removed:
                    self._names.pop(name, None)
                else:
                    self._names[name] = None

        try:
            self._zc = Zeroconf()
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("%s: cannot browse DNS-SD (%s); retrying; or set host to the OS2L "
                            "host's address", self.what, exc.strerror or exc)
            return False
        self._browser = ServiceBrowser(self._zc, SERVICE_TYPE, handlers=[on_change])
        return True

    def locate(self) -> tuple[str, int] | None:
        """``(address, port)`` of the host to connect to now, or None (none found yet)."""
        if self._closed or (self._zc is None and not self._start()):
            return None
        from zeroconf import IPVersion

        with self._lock:
            names = list(self._names)
        want = self.service.lower() if self.service else None
        for name in names:
            instance = name[:-len(SERVICE_TYPE) - 1] if name.endswith("." + SERVICE_TYPE) \
                else name
            if want is not None and want not in instance.lower():
                continue
            info = self._zc.get_service_info(SERVICE_TYPE, name, timeout=1000)
            if info is None or not info.port:
                continue
            addresses = (info.parsed_addresses(IPVersion.V4Only)
                         or info.parsed_addresses(IPVersion.All))
            if not addresses:
                continue
            found = (instance, addresses[0], int(info.port))
            if found != self.found:
                others = len(names) - 1
                log.info("%s: found OS2L host %r at %s:%d by DNS-SD%s", self.what, instance,
                            found[1], found[2],
                            f" ({others} other(s) advertised; set `service` to choose)"
                            if others > 0 and want is None else "")
                self.found = found
            return found[1], found[2]
        return None

    def close(self) -> None:
        self._closed = True
        if self._zc is not None:
            try:
                if self._browser is not None:
                    self._browser.cancel()
            finally:
                self._zc.close()
