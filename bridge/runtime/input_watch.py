"""`InputWatch`: what the engine learns about the input from each block: garbage and silence.

Why a stage of its own, before the resampler: a live device can deliver a block of NaN or inf (a
driver glitch, a plugin in the audio server, a broken USB interface). Passed on, it would poison the
resampler's and the extractor's state, and the extractor refuses it (``InputError``), which would end
the show. A file with NaN is refused (the user can fix the file); a live show must go on. So a
non-finite block is counted (:attr:`InputWatch.nonfinite`), replaced by silence of the same length
(the stream's timing stays intact) and reported through the run's event record, which logs it once
and then counts repeats (:mod:`bridge.runtime.events`).

Silence is the other failure a gallery cannot see: a microphone that died, a mixer fader left
down, a cable pulled from an interface that stays connected. The device is "running" and every
packet is sent, but the show reacts to nothing. So the input has a state of its own, next to the
device's: ``starting`` (no block yet), ``ok``, ``silent`` (every block below ``floor_db`` dBFS RMS
for ``silence_after`` seconds) and, from the snapshot, ``lost`` when the device itself is away. The
change to ``silent`` is a warning event and the return of sound an info event; the state is in the
engine's snapshot, hence in ``/health`` (degraded), the status page and the status line.

Cost on the engine thread: one BLAS dot product per block (the block's energy, which is finite iff
every sample is, unless it overflows: then an exact check decides), a compare, and no allocation
unless the block is bad. ``process(block) -> block`` and ``reset()``, as every stage.
"""

from __future__ import annotations

import logging
import math

import numpy as np

#: Defaults a gallery wants: 30 s of quiet is not a pause between tracks; -60 dBFS RMS is below a
#: quiet room through a microphone (~-50 dBFS) and above a dead input's zeros or hiss.
SILENCE_AFTER_S = 30.0
SILENCE_FLOOR_DB = -60.0

STARTING, OK, SILENT, LOST = "starting", "ok", "silent", "lost"


class InputWatch:
    """Checks each mono block: replaces non-finite ones by silence, tracks sustained silence."""

    def __init__(self, *, silence_after: float = SILENCE_AFTER_S,
                 floor_db: float = SILENCE_FLOOR_DB, events=None):
        self.silence_after = float(silence_after)
        self.floor_db = float(floor_db)
        self._floor_power = 10.0 ** (self.floor_db / 10.0)  # mean square at the floor
        self.events = events  # bridge.runtime.events.Events, or None (then nothing is reported)
        self.nonfinite = 0  # blocks replaced by silence because they held NaN or inf
        self.state = STARTING
        self._quiet_since: float | None = None  # stream time (arrival) of the first quiet block
        self._last = 0.0

    def reset(self) -> None:
        """A new stream: forget the silence timing (the counters stay: they are the run's)."""
        self._quiet_since = None
        if self.state == SILENT:
            self.state = OK

    def silent_for(self, now: float | None = None) -> float | None:
        """Seconds the input has been below the floor, while it is ``silent``; else None."""
        if self.state != SILENT or self._quiet_since is None:
            return None
        return max(0.0, (self._last if now is None else now) - self._quiet_since)

    def process(self, mono: np.ndarray, arrival: float) -> np.ndarray:
        """``mono`` itself, or silence of its length when it holds NaN/inf; updates the state."""
        n = mono.shape[0]
        if n == 0:
            return mono
        energy = float(mono.dot(mono))
        if not math.isfinite(energy) and not np.isfinite(mono).all():
            mono = self._replace(mono)
            energy = 0.0
        self._last = arrival
        if energy < self._floor_power * n:
            if self._quiet_since is None:
                self._quiet_since = arrival
            if self.state != SILENT and arrival - self._quiet_since >= self.silence_after:
                self.state = SILENT
                self._report(logging.WARNING, f"the input has been silent for "
                             f"{self.silence_after:g} s (below {self.floor_db:g} dBFS): is the "
                             "microphone or the line connected and turned up?")
            elif self.state == STARTING:
                self.state = OK
        else:
            if self.state == SILENT:
                self._report(logging.INFO, f"sound is back on the input after "
                             f"{arrival - self._quiet_since:.0f} s of silence")
            self._quiet_since = None
            self.state = OK
        return mono

    def _replace(self, mono: np.ndarray) -> np.ndarray:
        self.nonfinite += 1
        bad = int(mono.size - np.count_nonzero(np.isfinite(mono)))
        self._report(logging.WARNING, "a block from the input held NaN or inf samples: replaced by "
                     "silence (counted as nonfinite_blocks; repeats are counted, not logged)",
                     detail=f"{bad} of {mono.size} samples")
        return np.zeros_like(mono)

    def _report(self, level: int, message: str, *, detail: str = "") -> None:
        if self.events is not None:
            # the message is the rate-limit key: keep the varying detail out of it
            self.events.emit("input", message, level=level)
        elif detail:
            logging.getLogger(__name__).log(level, "%s (%s)", message, detail)
        else:
            logging.getLogger(__name__).log(level, "%s", message)
