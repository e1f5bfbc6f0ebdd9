"""sd_notify from the engine loop: READY once the first packet went out, WATCHDOG pings, STATUS.

Why from the engine loop: systemd's watchdog (``WatchdogSec=`` in the unit, ``WATCHDOG_USEC`` in our
environment) restarts a service that stops pinging. If another thread pinged, a stalled engine (a
stage stuck, a blocked call) would keep the show black for ever while the watchdog stays happy. So
the engine calls :meth:`Notifier.tick` between blocks (the loop turns at least every 50 ms, audio
or not): when the engine stops turning, the pings stop and systemd restarts the daemon.

The protocol is a Unix datagram per message to ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an
abstract socket), newline-separated ``KEY=value`` lines; standard library only, no libsystemd. A send
never blocks the engine (non-blocking socket); a failure is counted in ``errors``, never raised: a
missing systemd must not end a show.

    notifier = Notifier.from_env()   # None when not started by systemd (no NOTIFY_SOCKET)
    engine.notify = notifier         # the engine calls notifier.tick(engine) between blocks
"""

from __future__ import annotations

import os
import socket
import time

#: Seconds between ``STATUS=`` lines (systemctl status shows the latest).
STATUS_EVERY_S = 10.0


def socket_address(value: str) -> str:
    """``$NOTIFY_SOCKET`` as an ``AF_UNIX`` address: ``@name`` is the abstract socket ``\\0name``."""
    return "\0" + value[1:] if value.startswith("@") else value


def watchdog_interval(environ) -> float | None:
    """Seconds between pings: a third of ``WATCHDOG_USEC`` (systemd asks for at most half; a third
    leaves room for a loaded machine), or None when there is no watchdog for this process
    (``WATCHDOG_PID`` names another one, or the value is missing or nonsense)."""
    pid = environ.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1e6 / 3.0 if usec > 0 else None


class Notifier:
    """Sends sd_notify messages to ``address``; see the module docstring."""

    def __init__(self, address: str, *, watchdog_s: float | None = None,
                 clock=time.perf_counter) -> None:
        self.address = socket_address(address)
        self.watchdog_s = watchdog_s
        self._clock = clock
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sent = 0
        self.errors = 0  # sends that failed (no receiver, buffer full): counted, never raised
        self.ready = False
        self.due = 0.0  # clock() at which tick() has work to do (the engine compares, then calls)
        self._next_ping = 0.0
        self._next_status = 0.0

    @classmethod
    def from_env(cls, environ=None) -> Notifier | None:
        """A notifier for ``$NOTIFY_SOCKET``, or None when the process was not started by systemd."""
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        if not address or not (address.startswith("/") or address.startswith("@")):
            return None  # systemd only hands out absolute paths and abstract names
        return cls(address, watchdog_s=watchdog_interval(environ))

    def notify(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=value`` lines; False (and counted) when it could not go."""
        try:
            self.sock.sendto("\n".join(lines).encode("utf-8", "replace"), self.address)
        except OSError:
            self.errors += 1
            return False
        self.sent += 1
        return True

    def tick(self, engine) -> None:
        """Called by the engine loop when ``clock() >= due``: ping, announce, report."""
        now = self._clock()
        lines = []
        if not self.ready and engine.first_packet_at is not None:
            self.ready = True
            lines.append("READY=1")
        if self.watchdog_s is not None and now >= self._next_ping:
            self._next_ping = now + self.watchdog_s
            lines.append("WATCHDOG=1")
        if now >= self._next_status:
            self._next_status = now + STATUS_EVERY_S
            lines.append("STATUS=" + status_text(engine))
        if lines:
            self.notify(*lines)
        # wake again for the next ping, or soon while READY is still to come
        nxt = self._next_status if self.watchdog_s is None else min(self._next_ping,
                                                                    self._next_status)
        self.due = min(nxt, now + 0.05) if not self.ready else nxt

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping")

    def close(self) -> None:
        self.sock.close()


def status_text(engine) -> str:
    """One line for ``systemctl status``: source state, packets, drops."""
    state = getattr(getattr(engine, "source", None), "state", "?")
    return (f"{state}: {engine.ticks} packets sent, {engine.drops} drops, "
            f"{engine.restarts} stream restarts")
