"""``kick`` and ``snare``: discrete onset triggers from band-limited spectral flux.

Why triggers and not levels: lighting desks and TouchDesigner patches want an event ("flash now"),
sent as 1.0 on exactly one frame, that fires once per drum hit whatever the mix level.

Per frame, for one band (kick: mel bands centred 40-160 Hz; snare/clap: 1-5 kHz):

1. flux = rise of the band power in dB over the last ``lag`` frames (half the 93 ms analysis window:
   3 frames at 60 fps, 1 at 8 fps, the time a hit takes to slide into the window), or 0 if it fell. dB makes the
   detector level-independent: a hit 10 dB over the band's floor is a 10 dB rise, loud or quiet mix.
2. adaptive threshold = ``mean + sensitivity * mean absolute deviation`` of recent flux (time
   constant ``adapt``, 1 s), and at least ``min_rise`` dB. Busy passages raise the bar; sparse ones
   lower it.
3. fire when flux exceeds the threshold, the band is louder than ``floor_dbfs`` (so silence and
   room hiss never trigger) and at least ``refractory`` (100 ms) has passed since the last trigger
   (one hit spreads its rise over the ~3 frames the 93 ms analysis window takes to slide over it).

A trigger is reported on the first frame whose window contains the hit, i.e. the frame emitted at
most one hop (17 ms at 60 fps) after the hit's attack reached the input.
"""

from __future__ import annotations

import math

from bridge.audio.spec import FeatureSpec
from bridge.signals.bands import ENERGY_COLUMNS, BandLayout, Stage, one_pole


class BandTrigger:
    """The trigger state of one band (a helper of :class:`OnsetTriggers`)."""

    def __init__(self, column: int, floor_power: float, *, frame_rate: float, lag: int,
                 sensitivity: float, min_rise: float, adapt: float, refractory: float):
        self.column = column
        self.lag = lag
        self.floor = floor_power
        self.sensitivity = sensitivity
        self.min_rise = min_rise
        self.alpha = one_pole(adapt, frame_rate)
        self.refractory_frames = refractory * frame_rate
        self.reset()

    def reset(self) -> None:
        self.history = [None] * self.lag  # band dB of the last `lag` frames, oldest first
        self.mean = 0.0
        self.dev = 0.0
        self.since = math.inf  # frames since the last trigger

    def step(self, power: float) -> float:
        db = 10.0 * math.log10(power) if power > 1e-30 else -300.0
        old = self.history.pop(0)
        self.history.append(db)
        flux = 0.0 if old is None or db <= old else db - old
        threshold = self.mean + self.sensitivity * self.dev
        if threshold < self.min_rise:
            threshold = self.min_rise
        self.since += 1
        fire = flux > threshold and power > self.floor and self.since >= self.refractory_frames
        if fire:
            self.since = 0
        # Learn the flux statistics after deciding (the current hit does not raise its own bar).
        # A rise from digital silence is clipped so one entry does not deafen the next seconds.
        f = flux if flux < 40.0 else 40.0
        self.mean += self.alpha * (f - self.mean)
        self.dev += self.alpha * (abs(f - self.mean) - self.dev)
        return 1.0 if fire else 0.0


class OnsetTriggers(Stage):
    """``kick`` and ``snare`` triggers: ``process(frames) -> (n, 2)`` of 1.0 / 0.0."""

    names = ("kick", "snare")

    def __init__(self, spec: FeatureSpec | None = None, *, sensitivity: float = 2.5,
                 min_rise: float = 3.0, adapt: float = 1.0, refractory: float = 0.1,
                 floor_dbfs: float = -60.0, layout: BandLayout | None = None):
        self.options = dict(sensitivity=sensitivity, min_rise=min_rise, adapt=adapt,
                            refractory=refractory)
        self.floor_dbfs = floor_dbfs
        s = spec if spec is not None else FeatureSpec()
        #: Frames over which a rise is measured: half the analysis window, the time a hit takes
        #: to slide into the window's centre (3 frames at 60 fps, 1 at 8 fps).
        self.lag = max(1, round(s.window_seconds / 2 * s.frame_rate))
        self._bands = []
        super().__init__(spec, layout=layout)
        for name in self.names:
            j = ENERGY_COLUMNS.index(name)
            floor = float(self.layout.fullscale[j] * 10 ** (floor_dbfs / 10))
            self._bands.append(BandTrigger(j, floor, frame_rate=self.spec.frame_rate,
                                           lag=self.lag, **self.options))

    def reset(self) -> None:
        for band in self._bands:
            band.reset()

    def _run(self, frames, energies, out) -> None:
        kick, snare = self._bands
        kj, sj = kick.column, snare.column
        for i, row in enumerate(energies):
            out[i, 0] = kick.step(row[kj])
            out[i, 1] = snare.step(row[sj])
