"""WLED sound sync: the audioreactive usermod's v2 packet over UDP, multicast or unicast.

Why this packet: every WLED controller with the audioreactive usermod set to sync mode "Receive"
drops its own microphone and animates from these packets (UDP 11988, multicast group 239.0.0.1 by
default), so one vjbridge analysis drives a whole room of controllers, none of which needs a mic.

The packet (44 bytes, little-endian, packed; the layout WLED 0.14+ and WLED-MM both read)::

    offset  size  field
     0       6    header "00002" + NUL
     6       2    pressure, 8.8 fixed point (WLED-MM; upstream: reserved)      -> 0 here
     8       4    float sampleRaw   (volume before smoothing, 0..255)
    12       4    float sampleSmth  (smoothed volume, 0..255)
    16       1    uint8 samplePeak  (>= 1: a peak)
    17       1    uint8 frameCounter (WLED-MM rejects a packet not newer, mod 256, than the last)
    18      16    uint8 fftResult[16] (the 16 GEQ channels, 0..255)
    34       2    uint16 zeroCrossingCount (WLED-MM; upstream: reserved)        -> 0 here
    36       4    float FFT_Magnitude
    40       4    float FFT_MajorPeak (Hz; receivers clamp it to 1..11025)

A receiver accepts only a datagram of exactly 44 bytes whose first 6 bytes are the header.

Every send is one packet made of the latest value of each field (:class:`WledField` items; a field
no item names this tick keeps its last value, 0 at start; ``sampleRaw`` follows ``volume`` unless a
``volume_raw`` item sets it). The frame counter goes up by one per packet. Blackout and close send
silence: all fields 0, three packets (multicast over Wi-Fi loses packets, and a receiver would
otherwise hold the last GEQ). The socket is non-blocking: a send that cannot go out at once is
dropped and counted (``drops``), as the OSC sink does.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import struct
from collections.abc import Sequence
from typing import NamedTuple

from bridge.errors import SinkError
from bridge.sinks.base import Sink
from bridge.sinks.transport import resolve

log = logging.getLogger(__name__)

HEADER = b"00002\x00"
PORT = 11988
MULTICAST_GROUP = "239.0.0.1"
#: header, pressure (2 bytes), sampleRaw, sampleSmth, samplePeak, frameCounter, fftResult[16],
#: zeroCrossingCount, FFT_Magnitude, FFT_MajorPeak
PACKET = struct.Struct("<6s2sffBB16sHff")
assert PACKET.size == 44
_SILENCE_PACKETS = 3
_F32_MAX = 3.4028234663852886e38

#: The packet fields a route can fill (``volume`` = sampleSmth, and sampleRaw too unless
#: ``volume_raw`` is routed; ``bands`` = fftResult; ``peak`` = samplePeak; ``magnitude`` =
#: FFT_Magnitude; ``frequency`` = FFT_MajorPeak).
FIELDS = ("bands", "volume", "volume_raw", "peak", "magnitude", "frequency")


class WledField(NamedTuple):
    """One packet field's value for this tick: ``bands`` 16 bytes (0..255 each), ``peak`` an int
    0..255 (0 none), the others a Python float in WLED's units (volume 0..255, frequency Hz)."""

    field: str
    value: float | int | bytes


class WledSink(Sink):
    kind = "wled"

    def __init__(self, name: str = "default", *, host: str = MULTICAST_GROUP, port: int = PORT,
                 ttl: int = 1, interface: str | None = None, loop: bool = True) -> None:
        super().__init__(name)
        self.host, self.port, self.ttl, self.interface, self.loop = host, port, ttl, interface, loop
        what = f"wled target {name!r} ({host}:{port})"
        family, self.addr = resolve(host, port, socket.SOCK_DGRAM, what)
        self.multicast = _is_multicast(self.addr[0])
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._configure(family, what)
        except OSError as exc:
            self.sock.close()
            raise SinkError(f"{what}: cannot set up the socket ({exc.strerror or exc}); check "
                            "`interface` (an IPv4 address of this machine) and `ttl`") from None
        self.sock.setblocking(False)
        try:  # fixes the destination: each packet is a plain send (as UdpTransport does)
            self.sock.connect(self.addr)
            self._send_packet = self.sock.send
        except OSError:  # no route yet: address every packet
            sendto, addr = self.sock.sendto, self.addr
            self._send_packet = lambda packet: sendto(packet, addr)
        self.counter = 0  # the next packet's frameCounter
        self._raw = 0.0
        self._smth = 0.0
        self._raw_set = False  # a volume_raw item was seen: sampleRaw no longer follows volume
        self._peak = 0
        self._bands = bytes(16)
        self._mag = 0.0
        self._freq = 0.0
        self._sent = 0
        self._drops = 0
        self._refused = 0

    def _configure(self, family: int, what: str) -> None:
        s = self.sock
        if not self.multicast:
            return
        if family == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(self.loop))
            if self.interface:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                             socket.inet_aton(self.interface))
        else:  # IPv6 multicast: hops and loop; the interface is an index there, not an address
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, self.ttl)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, int(self.loop))

    @classmethod
    def from_config(cls, name: str, cfg) -> "WledSink":
        return cls(name, host=cfg["host"], port=cfg["port"], ttl=cfg["ttl"],
                   interface=cfg.get("interface"), loop=cfg.get("loop", True))

    def describe(self) -> str:
        how = f"multicast ttl {self.ttl}" + (f" via {self.interface}" if self.interface else "") \
            if self.multicast else "unicast"
        return f"udp://{self.host}:{self.port} {how} (WLED audio sync v2)"

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def drops(self) -> int:
        return self._drops

    @property
    def refused(self) -> int:
        return self._refused

    # --- the template's hooks ----------------------------------------------------------------
    def _validate(self, item) -> None:
        if type(item) is not WledField:
            raise TypeError(f"wled output {self.name!r} takes WledField items, got {item!r}")
        field, v = item
        if field not in FIELDS:
            raise ValueError(f"wled field {field!r} is not one of {', '.join(FIELDS)}")
        if field == "bands":
            if type(v) is not bytes or len(v) != 16:
                raise ValueError(f"wled bands must be 16 bytes (0..255 each), got {v!r}")
        elif field == "peak":
            if type(v) is not int or not 0 <= v <= 255:
                raise ValueError(f"wled peak must be an int 0..255, got {v!r}")
        elif type(v) is not float or not (math.isfinite(v) and abs(v) <= _F32_MAX):
            raise ValueError(f"wled {field} must be a finite 32-bit float, got {v!r}")

    def _send(self, items: Sequence[WledField]) -> None:
        for field, v in items:
            if field == "bands":
                self._bands = v
            elif field == "volume":
                self._smth = v
                if not self._raw_set:
                    self._raw = v
            elif field == "volume_raw":
                self._raw, self._raw_set = v, True
            elif field == "peak":
                self._peak = v
            elif field == "magnitude":
                self._mag = v
            else:  # frequency
                self._freq = v
        self._transmit(PACKET.pack(HEADER, b"\0\0", self._raw, self._smth, self._peak,
                                   self.counter, self._bands, 0, self._mag, self._freq))

    def _blackout(self, idle: Sequence) -> None:
        """Silence: every field 0 (the packet a quiet room gives), sent a few times."""
        self._raw = self._smth = self._mag = self._freq = 0.0
        self._peak, self._bands = 0, bytes(16)
        for _ in range(_SILENCE_PACKETS):
            self._transmit(PACKET.pack(HEADER, b"\0\0", 0.0, 0.0, 0, self.counter, bytes(16), 0,
                                       0.0, 0.0))

    def _transmit(self, packet: bytes) -> None:
        self.counter = (self.counter + 1) & 0xFF
        try:
            self._send_packet(packet)
            self._sent += 1
        except ConnectionRefusedError:  # ICMP port unreachable from an earlier unicast packet
            if not self._refused:
                log.warning("wled target %r: nothing is listening at %s:%s yet (connection "
                            "refused); still sending", self.name, self.host, self.port)
            self._refused += 1
        except OSError:  # buffer full (BlockingIOError), no route, ...
            self._drops += 1

    def _close(self) -> None:
        self.sock.close()


def _is_multicast(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_multicast
    except ValueError:
        return False
