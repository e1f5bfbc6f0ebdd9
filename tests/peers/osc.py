"""liblo's ``oscdump`` as an independent OSC receiver, over UDP or TCP (SLIP and length framing).

oscdump prints one line per message, ``TIMETAG ADDRESS TYPES ARGS...``; messages of one bundle share
the bundle's timetag. It prints nothing when ready, so readiness is polled with ``ss``.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

from tests.peers.base import free_port, listening, poll, require, stop_process


class OscLine(NamedTuple):
    timetag: str
    address: str
    types: str
    args: tuple


def parse_oscdump(text: str) -> list[OscLine]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or not parts[1].startswith("/") or "." not in parts[0]:
            continue
        types = parts[2] if len(parts) > 2 else ""
        args = []
        for t, raw in zip(types, parts[3:]):
            args.append(int(raw) if t in "ih" else float(raw) if t in "fd" else raw)
        out.append(OscLine(parts[0], parts[1], types, tuple(args)))
    return out


class OscDump:
    """``with OscDump("udp"|"tcp", port=None) as d``: a running oscdump on 127.0.0.1:``d.port``."""

    def __init__(self, protocol: str = "udp", port: int | None = None) -> None:
        require("oscdump", "liblo-tools")
        require("stdbuf", "coreutils")
        self.protocol = protocol
        self.port = port or free_port(protocol)
        self._dir = tempfile.TemporaryDirectory(prefix="vjb-oscdump-")
        self.log = Path(self._dir.name) / "dump.txt"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "OscDump":
        url = str(self.port) if self.protocol == "udp" else f"osc.tcp://:{self.port}"
        self._out = open(self.log, "ab")
        self.proc = subprocess.Popen(["stdbuf", "-oL", "oscdump", "-L", url], stdout=self._out,
                                     stderr=subprocess.STDOUT)
        poll(lambda: listening(self.port, self.protocol) or self.proc.poll() is not None,
             what=f"oscdump to listen on {self.protocol} port {self.port}")
        if self.proc.poll() is not None:
            raise AssertionError(f"oscdump exited: {self.log.read_text()}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self._out.close()
            self.proc = None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def messages(self) -> list[OscLine]:
        return parse_oscdump(self.text())

    def wait_for(self, count: int, timeout: float = 10.0) -> list[OscLine]:
        """Wait until at least ``count`` messages were printed; return all printed so far."""
        poll(lambda: len(self.messages()) >= count, timeout,
             what=f"{count} OSC messages at oscdump (got: {self.text()[-500:]!r})")
        return self.messages()

    def __enter__(self) -> "OscDump":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self._dir.cleanup()
