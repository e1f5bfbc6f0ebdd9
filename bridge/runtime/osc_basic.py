"""`OscOutput`: every signal as ``/vjbridge/<name> f`` over UDP, one bundle per tick.

Why it exists next to :mod:`bridge.sinks`: it is the engine's output when no mapping is in use
(``vjbridge run --mapping none``): every signal, raw, under one prefix. It encodes with the sinks'
:class:`~bridge.sinks.osc_encode.OscEncoder`, so the bytes are the same as a mapped OSC route's. It follows the sink rules: ``send()`` validates, a receiver that is away
never stalls or crashes the engine (UDP; errors are counted in :attr:`drops` and logged once), an
unresolvable host or a bad port is one clear :class:`~bridge.errors.SinkError` at start-up.
"""

from __future__ import annotations

import logging
import math
import socket

from bridge.errors import SinkError
from bridge.sinks.osc_encode import OscEncoder

log = logging.getLogger(__name__)

class OscOutput:
    """Sends ``{name: value}`` as float messages under ``prefix``, bundled per tick."""

    def __init__(self, host: str = "127.0.0.1", port: int = 7000, *, prefix: str = "/vjbridge",
                 bundle: bool = True, idle_value: float = 0.0):
        self.host = host
        self.port = int(port)
        self.prefix = prefix.rstrip("/")
        self.bundle = bundle
        self.idle_value = float(idle_value)
        self.drops = 0
        self.packets = 0
        self._names: tuple[str, ...] = ()
        self._encoder = OscEncoder()  # the sinks' encoder: bytes as python-osc builds them
        self._sock: socket.socket | None = None
        self._addr = None
        self._warned = False

    def start(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except socket.gaierror as exc:
            raise SinkError(f"OSC target {self.host}:{self.port}: cannot resolve host "
                            f"{self.host!r} ({exc.strerror}); check --osc HOST:PORT") from None
        family, _, _, _, addr = infos[0]
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)  # a full send buffer drops a packet, never blocks the engine
        self._addr = addr

    def send(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            if not isinstance(value, float) or not math.isfinite(value):
                raise ValueError(f"OSC value for {key!r} must be a finite float; got {value!r}")
        self._transmit(values)

    def _transmit(self, values: dict[str, float]) -> None:
        if tuple(values) != self._names:  # names change rarely: re-build the addresses
            self._names = tuple(values)
            self._addresses = [f"{self.prefix}/{k}" for k in values]
        encode = self._encoder.message
        messages = [encode(a, v) for a, v in zip(self._addresses, values.values())]
        datagrams = [self._encoder.bundle(messages)] if self.bundle else messages
        for dgram in datagrams:
            try:
                self._sock.sendto(dgram, self._addr)
                self.packets += 1
            except OSError as exc:  # receiver away (ICMP refused), buffer full, network down
                self.drops += 1
                if not self._warned:
                    self._warned = True
                    log.warning("OSC %s:%d: %s; still sending, counting drops", self.host,
                                self.port, exc.strerror or exc)

    def idle(self) -> None:
        if self._sock is not None and self._names:
            self._transmit({k: self.idle_value for k in self._names})

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def describe(self) -> str:
        return f"OSC udp://{self.host}:{self.port}{self.prefix}/*"
