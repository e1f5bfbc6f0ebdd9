"""MIDI beat clock: 24 timing clocks (0xF8) per beat from the beat tracker's tempo, on its own thread.

Why a thread and not the engine's tick: at 120 BPM a clock byte is due every 20.83 ms, and the
engine ticks every 16.67 ms (60 Hz): sent on ticks, the bytes would come 16.7 or 33.3 ms apart,
and a desk's speed master (grandMA3, ChamSys MagicQ) reads the tempo from their spacing. Here a
small daemon thread sleeps on :func:`time.monotonic` until each byte's own time.

What it sends. Start (0xFA) when the tempo first becomes valid (> 0), then clocks; Stop (0xFC)
when the tempo goes to 0, on :meth:`halt` (blackout), on :meth:`close`, and when no tempo has
arrived for ``timeout`` seconds (the engine stopped sending: the input is lost with
``on_loss: idle``, or the engine is stuck). A new tempo takes effect from the next byte: its time
is the previous byte's plus the new period, so there is no burst and no gap. A thread woken late
keeps to its grid (the beat's phase and the mean tempo hold) by sending the next few clocks at
most twice as fast; after a stall of several periods it restarts the grid from now.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

CLOCK, START, STOP = 0xF8, 0xFA, 0xFC
PPQ = 24
#: the tempo range a clock runs at (below: stopped; above: capped): desks lock to 20..300 BPM
MIN_BPM, MAX_BPM = 20.0, 300.0
#: A clock woken late catches up on its grid with clocks at least CATCH_UP periods apart (so
#: at most twice the tempo, briefly, never a burst); late by STALL periods or more (the machine
#: stalled), it starts the grid again from now instead, and those clocks are not sent.
CATCH_UP, STALL = 0.5, 4.0


class MidiClock:
    """``set(bpm)`` from the engine thread (cheap, never blocks on I/O); ``write(bytes)`` is called
    from this clock's thread only. ``clock`` is the time source (monotonic seconds)."""

    def __init__(self, write: Callable[[list[int]], None], *, name: str = "midi",
                 timeout: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self._clock = clock
        self.timeout = timeout
        self._cond = threading.Condition()
        self._bpm = 0.0
        self._seen = -math.inf  # clock() at the last set()
        self._closing = False
        self.running = False  # a Start went out, no Stop since
        self.ticks = 0  # timing clocks sent
        self._thread = threading.Thread(target=self._loop, name=f"midi-clock-{name}", daemon=True)
        self._thread.start()

    @property
    def bpm(self) -> float:
        return self._bpm

    def set(self, bpm: float) -> None:
        """The current tempo (0 = stop). Wakes the thread only when the tempo changes."""
        bpm = 0.0 if not bpm >= MIN_BPM else min(float(bpm), MAX_BPM)
        with self._cond:
            self._seen = self._clock()
            if bpm != self._bpm:
                self._bpm = bpm
                self._cond.notify()

    def halt(self) -> None:
        """Stop (blackout): the thread sends Stop at once; tempo 0 until the next :meth:`set`.
        Does not wait for it (the engine thread calls this)."""
        with self._cond:
            self._bpm = 0.0
            self._cond.notify()

    def close(self) -> None:
        """Stop (0xFC if running) and end the thread. Idempotent."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    def _loop(self) -> None:
        cond, clock = self._cond, self._clock
        last = 0.0  # clock() time the last timing clock was due (the grid)
        sent = 0.0  # clock() time the last one went out
        while True:
            with cond:
                while True:
                    now = clock()
                    bpm = self._bpm if now - self._seen < self.timeout else 0.0
                    if self._closing or bpm <= 0.0:
                        if self.running:
                            break  # send Stop (outside the lock)
                        if self._closing:
                            return
                        cond.wait(None if self._bpm <= 0.0 else self.timeout)
                        continue
                    period = 60.0 / (bpm * PPQ)
                    if not self.running:
                        break  # send Start
                    slot = last + period
                    due = max(slot, sent + period * CATCH_UP)
                    if now < due:  # a tempo change or a close wakes us early
                        cond.wait(min(due - now, self.timeout))
                        continue
                    last = slot if now - slot < STALL * period else now
                    sent = now
                    break
                closing = self._closing
            if self.running and (closing or bpm <= 0.0):
                self._write([STOP])
                self.running = False
                if closing:
                    return
            elif not self.running:
                self._write([START])
                self.running = True
                self._write([CLOCK])  # the first beat's first clock, right after Start
                self.ticks += 1
                last = sent = clock()
            else:
                self._write([CLOCK])
                self.ticks += 1
