"""``vjbridge run --link``: ``bpm``, ``beat`` and ``beatphase`` follow an Ableton Link session.

Why a stage: the engine merges its stages' results into each tick's row, later stages winning a
name, so a stage placed after the classic signals replaces the tempo tracker's three columns
exactly while it returns them, and returns nothing (the tracker's values stand) otherwise. No
change to the engine, the tracker or the mapping.

While the session has at least one other peer (Live, Resolume, TouchDesigner's Link CHOP, ...):
``bpm`` is the session tempo, ``beatphase`` the session's position inside the current beat
(``beat mod 1``: the same on every peer, whose beat counts differ only by whole bars), and
``beat`` is 1.0 on the frame where the session's beat count passes a whole number (once per beat:
a count that steps back a little, when a peer shifts the phase, does not fire twice). With no other
peer the tracker's values are sent, and the status line says which (:func:`bridge.sinks.
link_session.status`). ``bpmconfidence`` stays the tracker's (how periodic the audio is).

Per frame this reads one reference (:attr:`LinkSession.state`, kept current by the Link thread
every 20 ms) and extrapolates the beat to now with ``perf_counter()``: no call into aalink and no
lock on the engine thread. A state older than ``STALE_S`` (1 s: the Link thread stopped) is not
followed. "Now" is when the frame is processed, which is when its events leave
(paced ticks leave a few ms later: beatphase is that much older, ~0.01 beat at 120 BPM).
"""

from __future__ import annotations

import math
import time

import numpy as np

from bridge.errors import ConfigError
from bridge.runtime.stages import Columns

_NAMES = ("bpm", "beat", "beatphase")
#: A session state older than this (s) is not followed: the Link thread renews it every 20 ms.
STALE_S = 1.0
_NOTHING: dict = {}


class LinkFollow:
    name = "link"
    names = _NAMES

    def __init__(self, spec) -> None:
        self._hop_s = spec.hop_length / float(spec.sample_rate)
        self._index = {n: i for i, n in enumerate(_NAMES)}
        self.session = None
        self.followed_frames = 0
        self._last: int | None = None  # the highest whole beat seen
        self.last = _NOTHING  # the newest result (the musical and energy stages read its bpm)

    def start(self) -> None:
        from bridge.sinks import link_session

        if self.session is None:
            try:
                self.session = link_session.acquire(follow=True)
            except link_session.LinkUnavailable as exc:
                raise ConfigError(f"--link: {exc}") from None

    def process(self, frames: np.ndarray):
        st = self.session.state if self.session is not None else None
        now = time.perf_counter()
        # not following, or a state no longer kept current (the Link thread stopped: it logged why)
        if st is None or not st.following or now - st.time > STALE_S:
            self._last = None
            self.last = _NOTHING
            return _NOTHING
        n = frames.shape[0]
        out = np.empty((n, 3))
        floor, last = math.floor, self._last
        for i in range(n):  # frames of one call end hop_s apart, the newest now
            b = st.beat_at(now - (n - 1 - i) * self._hop_s)
            whole = floor(b)
            fire = 0.0
            if last is None or whole < last - 1:  # (re)started, or the count went back a beat or more
                last = whole
            elif whole > last:
                fire, last = 1.0, whole
            out[i] = (st.tempo, fire, b - whole)
        self._last = last
        self.followed_frames += n
        self.last = Columns(_NAMES, out, self._index)
        return self.last

    def reset(self) -> None:
        self._last = None

    def close(self) -> None:
        from bridge.sinks import link_session

        if self.session is not None:
            link_session.release(self.session, follow=True)
            self.session = None
