"""`OscOutput`: every signal as ``/vjbridge/<name> f`` over UDP, one bundle per tick.

Why it exists next to the mapping: it is the engine's output when no mapping is in use
(``vjbridge run --mapping none``): every signal, raw, under one prefix, for a first look at what
the bridge computes (TouchDesigner's OSC In CHOP shows them all). It is a thin adapter over the
mapping's own :class:`~bridge.sinks.osc.OscSink`, so validation, encoding (the same bytes as a mapped
route), drop counting for a receiver that is away, idle values and the one-line
:class:`~bridge.errors.SinkError` for a bad host are the sinks', not a second copy.
"""

from __future__ import annotations

from bridge.sinks.messages import OscValue
from bridge.sinks.osc import OscSink


class OscOutput:
    """Sends ``{name: value}`` as float messages under ``prefix``, bundled per tick."""

    def __init__(self, host: str = "127.0.0.1", port: int = 7000, *, prefix: str = "/vjbridge",
                 bundle: bool = True, idle_value: float = 0.0):
        self.host = host
        self.port = int(port)
        self.prefix = prefix.rstrip("/")
        self.bundle = bundle
        self.idle_value = float(idle_value)
        self.sink: OscSink | None = None
        self._names: tuple[str, ...] = ()
        self._addresses: list[str] = []

    def start(self) -> None:
        self.sink = OscSink("raw", host=self.host, port=self.port, protocol="udp",
                            bundle=self.bundle)

    def send(self, values: dict[str, float]) -> None:
        if tuple(values) != self._names:  # names change rarely: re-build the addresses
            self._names = tuple(values)
            self._addresses = [f"{self.prefix}/{k}" for k in values]
            self.sink.set_idle([OscValue(a, self.idle_value) for a in self._addresses])
        self.sink.send([OscValue(a, v) for a, v in zip(self._addresses, values.values())])

    def idle(self) -> None:
        if self.sink is not None:
            self.sink.blackout()

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()

    @property
    def drops(self) -> int:
        return self.sink.drops if self.sink is not None else 0

    @property
    def refused(self) -> int:
        return self.sink.refused if self.sink is not None else 0

    @property
    def packets(self) -> int:
        return self.sink.sent if self.sink is not None else 0

    def describe(self) -> str:
        return f"OSC udp://{self.host}:{self.port}{self.prefix}/*"
