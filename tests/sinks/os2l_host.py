"""An OS2L host stand-in: a real TCP server that splits the stream into JSON objects and checks
each against OS2L 1.1 (what QLC+'s OS2L input and VirtualDJ-fed hosts read).

Written from the protocol, not from the sink: a beat is exactly ``evt, change, pos, bpm,
strength`` (bool, int, number, number 0..1), a button ``evt, name[, page], state`` (state on or
off), a command ``evt, id, param`` (int, number 0..100). Anything else is recorded in
``problems``. Consecutive objects are split with ``json.JSONDecoder.raw_decode`` (OS2L has no
separator; whitespace between objects is skipped)."""

from __future__ import annotations

import json
import socket
import threading
import time

_DECODER = json.JSONDecoder()


def os2l_problem(msg) -> str | None:
    """What is wrong with one decoded message, or None."""
    if not isinstance(msg, dict):
        return f"not a JSON object: {msg!r}"
    evt = msg.get("evt")
    num = (int, float)
    if evt == "beat":
        if set(msg) != {"evt", "change", "pos", "bpm", "strength"}:
            return f"beat keys {sorted(msg)}"
        if type(msg["change"]) is not bool or type(msg["pos"]) is not int:
            return f"beat change/pos types: {msg!r}"
        if not isinstance(msg["bpm"], num) or msg["bpm"] < 0:
            return f"beat bpm: {msg!r}"
        if not isinstance(msg["strength"], num) or not 0 <= msg["strength"] <= 1:
            return f"beat strength: {msg!r}"
    elif evt == "btn":
        if not {"evt", "name", "state"} <= set(msg) <= {"evt", "name", "page", "state"}:
            return f"btn keys {sorted(msg)}"
        if not isinstance(msg["name"], str) or msg["state"] not in ("on", "off"):
            return f"btn name/state: {msg!r}"
    elif evt == "cmd":
        if set(msg) != {"evt", "id", "param"} or type(msg["id"]) is not int:
            return f"cmd keys/id: {msg!r}"
        if not isinstance(msg["param"], num) or not 0 <= msg["param"] <= 100:
            return f"cmd param: {msg!r}"
    else:
        return f"unknown evt: {msg!r}"
    return None


class Os2lHost:
    """Listens on ``host:port`` (0 = any free port); one client at a time, as QLC+ serves."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = socket.create_server((host, port))
        self.server.settimeout(0.1)
        self.port = self.server.getsockname()[1]
        self.messages: list[dict] = []
        self.problems: list[str] = []
        self.connections = 0
        self._cv = threading.Condition()
        self._stop = False
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                break
            self.connections += 1
            self._conn = conn
            conn.settimeout(0.1)
            buf = ""
            while not self._stop:
                try:
                    data = conn.recv(65536)
                except (TimeoutError, socket.timeout):
                    continue
                except OSError:
                    break
                if not data:
                    break
                buf += data.decode("utf-8")
                buf = self._parse(buf)
            conn.close()
            self._conn = None

    def _parse(self, buf: str) -> str:
        while True:
            buf = buf.lstrip()
            if not buf:
                return buf
            try:
                msg, end = _DECODER.raw_decode(buf)
            except json.JSONDecodeError:
                return buf  # an incomplete object: wait for the rest
            buf = buf[end:]
            with self._cv:
                problem = os2l_problem(msg)
                if problem:
                    self.problems.append(problem)
                self.messages.append(msg)
                self._cv.notify_all()

    def of(self, evt: str) -> list[dict]:
        with self._cv:
            return [m for m in self.messages if m.get("evt") == evt]

    def wait_for(self, evt: str, count: int, timeout: float = 10.0) -> list[dict]:
        with self._cv:
            self._cv.wait_for(lambda: sum(m.get("evt") == evt for m in self.messages) >= count,
                              timeout)
        return self.of(evt)

    def close(self) -> None:
        """The host goes away: the listener and the client connection close."""
        self._stop = True
        self._thread.join(5)
        self.server.close()
        if self._conn is not None:
            self._conn.close()


def drive(outputs, values_of, until, timeout: float = 15.0, rate: float = 60.0) -> int:
    """Tick ``outputs`` at ``rate`` (as the engine does) with ``values_of(tick)`` until
    ``until()`` or ``timeout`` s; the number of ticks."""
    end = time.monotonic() + timeout
    tick = 0
    while time.monotonic() < end and not until():
        outputs.tick(values_of(tick))
        tick += 1
        time.sleep(1.0 / rate)
    return tick
