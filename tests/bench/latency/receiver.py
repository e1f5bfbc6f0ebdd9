"""The OSC receiver: a UDP socket on 127.0.0.1 that stamps every datagram right after ``recvfrom``.

Why stamp raw bytes and decode later: the receiving thread does nothing but ``recvfrom`` and
``perf_counter``, so decoding (python-osc, ~50 µs a bundle) never delays the next stamp. Why our
own socket and not oscdump: oscdump's timestamps are its own clock and its output is buffered;
the benchmark needs arrival times on the clock its capture clients use.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import NamedTuple


class Message(NamedTuple):
    stamp: float  # perf_counter() at the datagram's arrival
    datagram: int  # index of the datagram it came in (a bundle's messages share it)
    address: str
    value: object


class OscReceiver:
    """``with OscReceiver() as rx``: listening on ``127.0.0.1:rx.port`` until closed."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.datagrams: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="osc-receiver", daemon=True)

    def _receive(self) -> None:
        recv, clock, out = self.sock.recvfrom, time.perf_counter, self.datagrams
        while not self._stop.is_set():
            try:
                data, _ = recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            out.append((clock(), data))

    def start(self) -> "OscReceiver":
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def __enter__(self) -> "OscReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def messages(self) -> list[Message]:
        """Every message received so far, bundles unpacked (python-osc decodes)."""
        from pythonosc.osc_packet import OscPacket, ParseError

        out = []
        for i, (stamp, data) in enumerate(list(self.datagrams)):
            try:
                packet = OscPacket(data)
            except ParseError:
                continue
            for timed in packet.messages:
                params = timed.message.params
                out.append(Message(stamp, i, timed.message.address,
                                   params[0] if len(params) == 1 else tuple(params)))
        return out
