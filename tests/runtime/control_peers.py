"""Peers for the control-port tests: a UDP receiver of the daemon's data stream and a control client
that reads the ``/vjbridge/_ack`` replies, both decoding with python-osc (not our encoder)."""

from __future__ import annotations

import json
import socket
import threading
import time

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

INFO = "/vjbridge/_info"


#: Signals the daemon sends ahead of their tick, in packets of their own (bridge.runtime.engine).
EVENT_NAMES = frozenset({"onset", "kick", "snare", "beat"})


class StreamReceiver:
    """Collects every datagram on a UDP port: ``(arrival, [(address, value), ...])``."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.packets: list[tuple[float, list[tuple[str, object]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, OSError):
                continue
            messages = []
            for timed in OscPacket(data).messages:
                params = timed.message.params
                messages.append((timed.message.address,
                                 params[0] if len(params) == 1 else list(params)))
            self.packets.append((time.monotonic(), messages))

    def since(self, t0: float, t1: float | None = None) -> list[list[tuple[str, object]]]:
        """The data packets (not ``/vjbridge/_info``) that arrived in ``t0 <= t < t1``."""
        return [m for t, m in list(self.packets) if t >= t0 and (t1 is None or t < t1)
                and not (len(m) == 1 and m[0][0] == INFO)]

    def ticks(self, t0: float, t1: float | None = None) -> list[list[tuple[str, object]]]:
        """The tick packets among :meth:`since`: not the events the daemon sends ahead of their
        tick (packets of trigger and onset addresses only)."""
        return [m for m in self.since(t0, t1)
                if any(a.rsplit("/", 1)[-1] not in EVENT_NAMES for a, _ in m)]

    def info(self, t0: float, timeout: float = 5.0) -> dict:
        """The schema of the first ``/vjbridge/_info`` that arrives at or after ``t0``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, m in list(self.packets):
                if t >= t0 and len(m) == 1 and m[0][0] == INFO:
                    return json.loads(m[0][1][3])
            time.sleep(0.05)
        raise AssertionError(f"no {INFO} after t0")

    def values(self, address: str, t0: float, t1: float | None = None) -> list:
        return [v for ms in self.since(t0, t1) for a, v in ms if a == address]

    def addresses(self, t0: float, t1: float | None = None) -> set[str]:
        return {a for ms in self.since(t0, t1) for a, _ in ms}

    def wait_packets(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.packets) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.packets) >= n, f"only {len(self.packets)} packets arrived"

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


class ControlClient:
    """Sends control messages from one bound socket and reads the daemon's acks to it."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def send(self, address: str, *args) -> None:
        builder = OscMessageBuilder(address)
        for a in args:
            builder.add_arg(a)
        self.send_raw(builder.build().dgram)

    def ack(self, timeout: float = 5.0) -> tuple[str, int, str]:
        """The next ``/vjbridge/_ack``: (address, ok, message)."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        msg = OscPacket(data).messages[0].message
        assert msg.address == "/vjbridge/_ack", msg.address
        address, ok, text = msg.params
        return address, ok, text

    def call(self, address: str, *args, timeout: float = 5.0) -> tuple[str, int, str]:
        self.drain()
        self.send(address, *args)
        return self.ack(timeout)

    def drain(self) -> list[tuple[str, int, str]]:
        """Every ack already waiting."""
        got = []
        while True:
            try:
                got.append(self.ack(timeout=0.01))
            except (socket.timeout, BlockingIOError):
                return got

    def close(self):
        self.sock.close()
