"""``kick`` and ``snare``: discrete onset triggers from band-limited spectral flux.

Why triggers and not levels: lighting desks and TouchDesigner patches want an event ("flash now"),
sent as 1.0 on exactly one frame, that fires once per drum hit whatever the mix level.

Per frame, for one band (kick: mel bands centred 40-160 Hz; snare/clap: 1-5 kHz):

1. flux = rise of the band power in dB above its minimum over the last ``lag`` frames (one 93 ms
   analysis window: 6 frames at 60 fps, 1 at 8 fps, the time a hit takes to slide into the
   window, so a hit that follows a dip is measured from the dip), or 0. dB makes the
   detector level-independent: a hit 10 dB over the band's floor is a 10 dB rise, loud or quiet mix.
2. adaptive threshold = ``mean + sensitivity * mean absolute deviation`` of recent flux (time
   constant ``adapt``, 1 s; each value clipped at twice ``min_rise`` so the statistics describe the
   background, not the hits), and at least ``min_rise`` (6 dB). A busy band raises the bar.
3. fire when flux exceeds the threshold, the band is louder than ``floor_dbfs`` (so silence and
   room hiss never trigger), at least ``refractory`` (100 ms) has passed since the last trigger
   (one hit spreads its rise over the ~3 frames the 93 ms analysis window takes to slide over it),
   and the band is within ``mask_margin`` (3 dB) of a peak follower that falls ``mask_release``
   (10 dB/s): a wobble in the tail of a hit (a kick beating against a bass note) is not a new hit,
   while the next real hit, as loud as the last, is.

A trigger is reported 0-3 frames (0-50 ms at 60 fps) after the first frame whose window contains
the hit: out of silence at once, over a loud bass line once the hit has risen 6 dB above it
(tests/signals/test_triggers.py).
"""

from __future__ import annotations

import math

from bridge.audio.spec import FeatureSpec
from bridge.signals.bands import ENERGY_COLUMNS, BandLayout, Stage, one_pole


class BandTrigger:
    """The trigger state of one band (a helper of :class:`OnsetTriggers`)."""

    def __init__(self, column: int, floor_power: float, *, frame_rate: float, lag: int,
                 sensitivity: float, min_rise: float, adapt: float, refractory: float,
                 mask_release: float, mask_margin: float):
        self.column = column
        self.mask_step = mask_release / frame_rate  # dB the mask falls per frame
        self.clip = 2.0 * min_rise
        self.mask_margin = mask_margin
        self.lag = lag
        self.floor = floor_power
        self.sensitivity = sensitivity
        self.min_rise = min_rise
        self.alpha = one_pole(adapt, frame_rate)
        self.refractory_frames = refractory * frame_rate
        self.reset()

    def set_min_rise(self, db: float) -> None:
        """The smallest rise (dB) that can fire; the flux statistics clip at twice it."""
        self.min_rise = float(db)
        self.clip = 2.0 * self.min_rise

    def reset(self) -> None:
        self.history = [None] * self.lag  # band dB of the last `lag` frames, oldest first
        self.mean = 0.0
        self.dev = 0.0
        self.since = math.inf  # frames since the last trigger
        self.mask = -math.inf  # decaying band peak (dB): the tail of the last hit

    def step(self, power: float) -> float:
        db = 10.0 * math.log10(power) if power > 1e-30 else -300.0
        floor = min(self.history) if self.history[0] is not None else db
        self.history.pop(0)
        self.history.append(db)
        flux = db - floor if db > floor else 0.0
        threshold = self.mean + self.sensitivity * self.dev
        if threshold < self.min_rise:
            threshold = self.min_rise
        self.since += 1
        self.mask -= self.mask_step
        fire = (flux > threshold and power > self.floor and self.since >= self.refractory_frames
                and db > self.mask - self.mask_margin)
        if db > self.mask:
            self.mask = db
        if fire:
            self.since = 0
        # Learn the flux statistics after deciding (the current hit does not raise its own bar).
        # The statistics describe the background jitter, so hits are clipped at twice min_rise:
        # a 40 dB rise out of silence must not deafen the detector to the next 10 dB hit.
        f = flux if flux < self.clip else self.clip
        self.mean += self.alpha * (f - self.mean)
        self.dev += self.alpha * (abs(f - self.mean) - self.dev)
        return 1.0 if fire else 0.0


class OnsetTriggers(Stage):
    """``kick`` and ``snare`` triggers: ``process(frames) -> (n, 2)`` of 1.0 / 0.0."""

    names = ("kick", "snare")

    def __init__(self, spec: FeatureSpec | None = None, *, sensitivity: float = 2.5,
                 min_rise: float = 6.0, adapt: float = 1.0, refractory: float = 0.1,
                 mask_release: float = 10.0, mask_margin: float = 3.0,
                 floor_dbfs: float = -60.0, layout: BandLayout | None = None):
        self.options = dict(sensitivity=sensitivity, min_rise=min_rise, adapt=adapt,
                            refractory=refractory, mask_release=mask_release,
                            mask_margin=mask_margin)
        self.floor_dbfs = floor_dbfs
        s = spec if spec is not None else FeatureSpec()
        #: Frames over which a rise is measured: one analysis window, the time a hit takes to
        #: slide fully into it (6 frames at 60 fps, 1 at 8 fps).
        self.lag = max(1, round(s.window_seconds * s.frame_rate))
        self._bands = []
        super().__init__(spec, layout=layout)
        for name in self.names:
            j = ENERGY_COLUMNS.index(name)
            floor = float(self.layout.fullscale[j] * 10 ** (floor_dbfs / 10))
            self._bands.append(BandTrigger(j, floor, frame_rate=self.spec.frame_rate,
                                           lag=self.lag, **self.options))

    def _band(self, name: str) -> BandTrigger:
        return self._bands[self.names.index(name)]

    def set_min_rise(self, name: str, db: float) -> None:
        """Trigger ``name``'s (kick, snare) minimum rise in dB (default 6): higher fires on fewer,
        bigger hits."""
        self._band(name).set_min_rise(db)

    def use_band(self, column) -> None:
        """Listen to a redrawn band (a :meth:`BandLayout.band_column` of this stage's layout):
        the layout's column and full-scale reference, this trigger's power floor from it, and the
        trigger's history forgotten (its dB of the old band would read as a rise or a dip)."""
        self.layout.set_column(column)
        band = self._band(column.name)
        band.floor = float(self.layout.fullscale[band.column] * 10 ** (self.floor_dbfs / 10))
        band.reset()

    def reset(self) -> None:
        for band in self._bands:
            band.reset()

    def step(self, energies, rms, onset) -> tuple:
        kick, snare = self._bands
        return kick.step(energies[kick.column]), snare.step(energies[snare.column])
