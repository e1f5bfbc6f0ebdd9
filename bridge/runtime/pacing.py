"""`Pacer`: when each frame's packet leaves, so that packets are evenly spaced in wall time.

Why: a frame is complete when the device block holding its last sample arrives, so frames complete
on the device's block grid (10 ms blocks: 10 or 20 ms apart for 16.7 ms frames), and a receiver
that samples at its own frame rate (TouchDesigner's OSC In CHOP at 60 fps) sees values jump by
two frames, then none. A packet should leave at the same phase of every frame.

How: a frame ending at stream time ``t`` (seconds of audio since the stream began) arrives at wall
time ``a``. The lateness ``a - t`` is a constant (the driver's buffer, the device's start) plus
the block quantisation (0 to one block: the frame's last sample may be the first or the last of
its block) plus scheduling delays, which only ever add. So the smallest recent lateness is the
constant, and ``offset = smallest + spread`` covers every frame that was not held up, where
``spread`` is twice the median's distance above the smallest (the width of a uniform spread, and
a median that stalls of a loaded machine, up to half the frames, barely move), at least one block
(what the quantisation alone spreads) and at most three (a server that hands over blocks in
pairs or threes).
Each frame is sent at ``t + offset``: on the audio clock's own even grid, following the device's
clock as it drifts against the computer's, and a frame waits only for the frames that came latest
in their block (on average half a block). A frame held up beyond that (a scheduling hiccup, which
neither the smallest nor the median sees) goes at once. The offset moves at most
``slew`` s per frame, so a change of the estimate never shows as one uneven gap.

Events do not wait: the engine sends a frame's triggers and onset rises on arrival, in their own
small packet (:meth:`bridge.mapping.router.Router.early`), and the paced packet carries the rest.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class Pacer:
    """``due(t_stream, arrival, block) -> wall time`` to send the frame ending at ``t_stream``
    that arrived at ``arrival`` in a device block of ``block`` s; ``reset()``.

    ``window``: frames of lateness kept (120: 2 s at 60 fps); ``every``: frames between estimates;
    ``slew``: most the offset moves per frame (s); ``margin``: added to the offset (s), for the
    time the engine takes to wake up."""

    def __init__(self, *, window: int = 120, every: int = 15, slew: float = 0.0005,
                 margin: float = 0.0003):
        self.window, self.every = int(window), int(every)
        self.slew, self.margin = float(slew), float(margin)
        self.reset()

    def reset(self) -> None:
        """A new stream: its lateness is unknown again."""
        self._lateness: deque[float] = deque(maxlen=self.window)
        self._since = 0
        self.offset: float | None = None  # s; None until the first frame
        self._target = 0.0

    def due(self, t_stream: float, arrival: float, block: float) -> float:
        late = arrival - t_stream
        self._lateness.append(late)
        self._since += 1
        if self.offset is None:  # the first frame: goes at once, and sets the grid's phase
            self.offset = self._target = late
        elif self._since >= self.every:
            self._since = 0
            recent = np.fromiter(self._lateness, float)
            least = float(recent.min())
            spread = 2.0 * (float(np.median(recent)) - least)
            self._target = least + min(max(spread, block), 3.0 * block)
        step = self._target - self.offset
        self.offset += max(-self.slew, min(self.slew, step))
        return t_stream + self.offset + self.margin
