"""Events: what happened to a running show, kept for readers and logged without floods.

Why one place: a gallery install runs for weeks unattended. Its operator needs to see what went
wrong *and when* (the device vanished at 03:12, the mapping edit at 10:40 was refused, the input has
been silent for 20 minutes) on the status page, in ``/health`` and in the journal, and a reconnect
storm must be one line and a count, not sixty lines a second. Every part of the daemon reports
through :meth:`Events.emit`; readers (the status page, the health endpoint, tests) take
:meth:`Events.recent` copies and never hold a lock the engine waits on for long.

    events = Events()
    events.emit("device", "input 'USB Audio' lost; looking for it every second", level=WARNING)
    events.recent(20)  # -> [Event(...), ...], newest last

Rate limiting is per ``(kind, message)``: the same line within ``quiet_s`` seconds is counted, not
logged nor stored again; the next time it is logged it says how many were held back. The store is a
bounded deque (``maxlen``), so a storm cannot grow memory. Thread-safe; ``emit`` is cheap (a lock, a
dict lookup) and may run on the engine thread, though callers should not emit per frame.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import NamedTuple

log = logging.getLogger("bridge.events")


class Event(NamedTuple):
    """One thing that happened: wall-clock ``time`` (``time.time()``), ``kind`` (a short word:
    ``device``, ``mapping``, ``control``, ``output``, ``input``, ``engine``...), ``level`` (a logging
    level), ``message`` (one line for a person), and ``repeats``: how many identical events were
    held back before this one was recorded."""

    time: float
    kind: str
    level: int
    message: str
    repeats: int = 0

    def as_dict(self) -> dict:
        return {"time": self.time, "kind": self.kind, "level": logging.getLevelName(self.level),
                "message": self.message, "repeats": self.repeats}


class Events:
    """A bounded, rate-limited record of :class:`Event`; see the module docstring."""

    def __init__(self, *, maxlen: int = 200, quiet_s: float = 10.0, logger=None,
                 clock=time.monotonic, wall=time.time):
        self._events: collections.deque[Event] = collections.deque(maxlen=maxlen)
        self._last: dict[tuple[str, str], float] = {}  # key -> clock() when last recorded
        self._held: collections.Counter = collections.Counter()  # key -> held back since
        self._lock = threading.Lock()
        self.quiet_s = float(quiet_s)
        self.logger = logger if logger is not None else log
        self._clock, self._wall = clock, wall
        self.total = 0  # every emit, held back or not

    def emit(self, kind: str, message: str, *, level: int = logging.INFO,
             log: bool = True) -> Event | None:
        """Record and log ``message``; None when it was held back (the same line within
        ``quiet_s``). ``log=False`` records it only (its caller has written the line already)."""
        key = (kind, message)
        now = self._clock()
        with self._lock:
            self.total += 1
            last = self._last.get(key)
            if last is not None and now - last < self.quiet_s:
                self._held[key] += 1
                return None
            if len(self._last) > 4 * (self._events.maxlen or 200):  # forget old keys
                self._last.clear()
            self._last[key] = now
            repeats = self._held.pop(key, 0)
            event = Event(self._wall(), kind, level, message, repeats)
            self._events.append(event)
        if log:
            suffix = f" ({repeats} more like this since the last report)" if repeats else ""
            self.logger.log(level, "%s: %s%s", kind, message, suffix)
        return event

    def recent(self, n: int | None = None, *, kind: str | None = None) -> list[Event]:
        """A copy of the newest ``n`` events (all when None), oldest first; only ``kind`` if given."""
        with self._lock:
            events = list(self._events)
        if kind is not None:
            events = [e for e in events if e.kind == kind]
        return events if n is None else events[-n:]

    def last(self, kind: str) -> Event | None:
        """The newest event of ``kind``, or None."""
        found = self.recent(kind=kind)
        return found[-1] if found else None
