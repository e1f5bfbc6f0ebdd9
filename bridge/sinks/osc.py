"""OSC output: one bundle per frame (one shared timetag) or plain messages, over UDP or TCP.

Why bundles by default: TouchDesigner's OSC In CHOP and liblo accept them, and one datagram per frame
keeps a frame's values together and cuts per-packet overhead. Values must be Python ``float``/``int``
(python-osc and this encoder reject numpy scalars; the router converts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bridge.sinks.base import Sink
from bridge.sinks.messages import OscValue
from bridge.sinks.osc_encode import OscEncoder
from bridge.sinks.transport import TcpTransport, UdpTransport

_F32_MAX = 3.4028234663852886e38


class OscSink(Sink):
    kind = "osc"

    def __init__(self, name: str = "default", *, host: str = "127.0.0.1", port: int = 7000,
                 protocol: str = "udp", framing: str = "slip", bundle: bool = True) -> None:
        super().__init__(name)
        self.host, self.port, self.protocol, self.framing = host, port, protocol, framing
        self.bundle = bundle
        self._enc = OscEncoder()
        what = f"osc target {name!r} ({protocol}://{host}:{port})"
        if protocol == "udp":
            self.transport = UdpTransport(host, port, what=what)
        elif protocol == "tcp":
            self.transport = TcpTransport(host, port, framing, what=what)
        else:
            raise ValueError(f"protocol must be 'udp' or 'tcp', got {protocol!r}")

    @classmethod
    def from_config(cls, name: str, cfg: dict) -> "OscSink":
        return cls(name, host=cfg["host"], port=cfg["port"], protocol=cfg["protocol"],
                   framing=cfg["framing"], bundle=cfg["bundle"])

    def describe(self) -> str:
        extra = f" {self.framing}" if self.protocol == "tcp" else ""
        return f"{self.protocol}://{self.host}:{self.port}{extra} " + (
            "bundles" if self.bundle else "messages")

    @property
    def sent(self) -> int:
        return self.transport.sent

    @property
    def drops(self) -> int:
        return self.transport.drops

    def _validate(self, item) -> None:
        if type(item) is not OscValue:
            raise TypeError(f"osc output {self.name!r} takes OscValue items, got {item!r}")
        address, v = item
        if type(address) is not str or not address.startswith("/"):
            raise ValueError(f"OSC address must be a str starting with '/', got {address!r}")
        t = type(v)
        if t is float:
            if not (math.isfinite(v) and abs(v) <= _F32_MAX):
                raise ValueError(f"{address}: {v!r} is not a finite 32-bit float")
        elif t is int:
            if not -2**31 <= v < 2**31:
                raise ValueError(f"{address}: {v} does not fit a 32-bit OSC int")
        else:
            raise TypeError(f"{address}: value must be a Python float or int, got {t.__name__} "
                            "(convert numpy scalars with float())")

    def _send(self, items: Sequence[OscValue]) -> None:
        enc = self._enc.message
        msgs = [enc(a, v) for a, v in items]
        self.transport.send([self._enc.bundle(msgs)] if self.bundle else msgs)

    def _close(self) -> None:
        self.transport.close()
