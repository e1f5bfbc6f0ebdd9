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
                 bundle: bool = True, idle_value: float = 0.0, catalog=None,
                 control: tuple[str, int] | None = None, produced=None):
        from bridge.runtime.pipeline import InfoAnnouncer

        self.catalog = catalog  # the run's, for the schema; None = the process-wide catalog
        self.control = control
        self.produced = produced  # () -> the names the stages produce, in the engine's row order
        self.info = InfoAnnouncer(self)
        self.host = host
        self.port = int(port)
        self.prefix = prefix.rstrip("/")
        self.bundle = bundle
        self.idle_value = float(idle_value)
        self.sink: OscSink | None = None
        self._names: tuple[str, ...] = ()
        self._addresses: list[str] = []
        self._early: dict[str, float] = {}  # address -> value send_early sent for the next tick

    def start(self) -> None:
        self.sink = OscSink("raw", host=self.host, port=self.port, protocol="udp",
                            bundle=self.bundle)

    def send(self, values: dict[str, float]) -> None:
        self.transmit(self.route(values))

    # paced sending (bridge.runtime.engine): route at the frame's arrival, transmit at its time
    def route(self, values: dict[str, float]) -> list:
        if tuple(values) != self._names:  # names change rarely: re-build the addresses
            self._names = tuple(values)
            self._addresses = [f"{self.prefix}/{k}" for k in values]
            self.sink.set_idle([OscValue(a, self.idle_value) for a in self._addresses])
            self.info.invalidate()
            self.info.announce()  # the first tick's names are the schema: say so at once
        items = [OscValue(a, v) for a, v in zip(self._addresses, values.values())]
        if self._early:  # the frame's events went ahead (route_early): not twice
            early, self._early = self._early, {}
            items = [it for it in items if early.get(it[0], it) != it[1]]
        return items

    def route_early(self, values: dict[str, float]) -> list:
        """A frame's events (the engine's triggers and onset rises), to transmit now; ``route``
        of the same frame leaves them out (a trigger is 1.0 on one message)."""
        items = [OscValue(f"{self.prefix}/{k}", float(v)) for k, v in values.items()]
        self._early.update(items)
        return items

    def transmit(self, items: list) -> None:
        self.sink.send(items)

    def schema(self) -> dict:
        """Every signal sent, raw (:func:`bridge.runtime.stream_schema.describe_raw`): the names of
        the last tick, or, before the first, the names the stages produce (else the catalog's)."""
        from bridge.runtime.stream_schema import describe_raw
        from bridge.signals.catalog import CATALOG

        catalog = self.catalog if self.catalog is not None else CATALOG
        names = self._names
        if not names:
            names = tuple(dict.fromkeys(self.produced())) if self.produced is not None else tuple(
                n for n in catalog.names() if catalog[n].size == 1)
        return describe_raw(catalog, names, prefix=self.prefix, host=self.host, port=self.port,
                            control=self.control)

    def osc_sinks(self) -> dict:
        return {"raw": self.sink} if self.sink is not None else {}

    def poll(self) -> None:
        """Once a second (the engine): announce the schema as ``/vjbridge/_info``."""
        self.info.announce()

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
