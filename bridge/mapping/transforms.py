"""Per-route transforms: pure functions on floats and small stateful stages (process + reset).

Why plain Python floats and not numpy: a route handles one scalar per output tick (60 Hz), where
numpy's per-call overhead costs more than the arithmetic. A route's pipeline is composed once, from
only the stages it uses, so an untouched route costs a couple of function calls per tick.
"""

from __future__ import annotations

import math
from collections import deque


# --- pure functions -------------------------------------------------------------------------------

def normalise(x: float, *, lo: float, hi: float) -> float:
    """Map ``lo..hi`` to ``0..1`` (no clamping; lo > hi inverts)."""
    return (x - lo) / (hi - lo)


def clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def invert(x: float) -> float:
    return 1.0 - x


def curve(x: float, *, gamma: float) -> float:
    """``x ** gamma``, sign-preserving so an unclamped negative value stays finite."""
    return math.copysign(abs(x) ** gamma, x)


def scale(x: float, *, lo: float, hi: float) -> float:
    """Map ``0..1`` to ``lo..hi``."""
    return lo + x * (hi - lo)


def one_pole_coefficient(time_ms: float, rate: float) -> float:
    """Per-tick retention of a one-pole low-pass with time constant ``time_ms`` at ``rate`` Hz."""
    if time_ms <= 0:
        return 0.0
    return math.exp(-1000.0 / (time_ms * rate))


# --- stateful stages ------------------------------------------------------------------------------

class Smoother:
    """One-pole smoothing with separate attack (rising) and release (falling) time constants."""

    def __init__(self, *, attack_ms: float, release_ms: float, rate: float) -> None:
        self.attack_ = one_pole_coefficient(attack_ms, rate)
        self.release_ = one_pole_coefficient(release_ms, rate)
        self.reset()

    def reset(self) -> None:
        self.y_: float | None = None

    def process(self, x: float) -> float:
        y = self.y_
        if y is None:
            self.y_ = x
            return x
        a = self.attack_ if x > y else self.release_
        y = x + a * (y - x)
        self.y_ = y
        return y


class AutoRange:
    """The value relative to its own min..max over the last ``window_s`` seconds, in 0..1.

    Exact sliding min/max with monotonic deques (O(1) amortised per tick). Until the window holds a
    span above ``min_span`` the output is 0 (a flat signal carries no information).
    """

    def __init__(self, *, window_s: float, rate: float, min_span: float = 1e-6) -> None:
        self.size_ = max(1, int(round(window_s * rate)))
        self.min_span = min_span
        self.reset()

    def reset(self) -> None:
        self.t_ = 0
        self.mins_: deque = deque()
        self.maxs_: deque = deque()

    def process(self, x: float) -> float:
        t = self.t_
        self.t_ = t + 1
        mins, maxs = self.mins_, self.maxs_
        while mins and mins[-1][1] >= x:
            mins.pop()
        mins.append((t, x))
        while maxs and maxs[-1][1] <= x:
            maxs.pop()
        maxs.append((t, x))
        oldest = t - self.size_
        if mins[0][0] <= oldest:
            mins.popleft()
        if maxs[0][0] <= oldest:
            maxs.popleft()
        lo, hi = mins[0][1], maxs[0][1]
        span = hi - lo
        return (x - lo) / span if span > self.min_span else 0.0


class Deadband:
    """Hold the last output until the input moves more than ``width`` away from it."""

    def __init__(self, *, width: float) -> None:
        self.width = width
        self.reset()

    def reset(self) -> None:
        self.last_: float | None = None

    def process(self, x: float) -> float:
        last = self.last_
        if last is None or abs(x - last) > self.width:
            self.last_ = x
            return x
        return last


class NoteTrigger:
    """Threshold trigger with hysteresis and a note length in ticks.

    ``process(value)`` returns ``None`` (nothing to send), ``+1`` (note on now) or ``-1`` (note
    off now). A note turns off after ``length_ticks`` (or, with 0, when the value falls below
    ``threshold - hysteresis``); a new note needs the value to have fallen below that level first.
    """

    def __init__(self, *, threshold: float, hysteresis: float, length_ticks: int) -> None:
        self.threshold = threshold
        self.release_level = threshold - hysteresis
        self.length_ticks = length_ticks
        self.reset()

    def reset(self) -> None:
        self.armed_ = True
        self.on_ = False
        self.age_ = 0

    def process(self, value: float) -> int | None:
        event = None
        if self.on_:
            self.age_ += 1
            if (self.length_ticks and self.age_ >= self.length_ticks) or (
                    not self.length_ticks and value < self.release_level):
                self.on_ = False
                event = -1
        if not self.armed_ and value < self.release_level:
            self.armed_ = True
        if self.armed_ and not self.on_ and value >= self.threshold and event is None:
            self.armed_, self.on_, self.age_ = False, True, 0
            event = 1
        return event


class DelayLine:
    """Return what was put in ``ticks`` ticks ago (``None`` while filling)."""

    def __init__(self, *, ticks: int) -> None:
        self.ticks = ticks
        self.reset()

    def reset(self) -> None:
        self.buf_: deque = deque()

    def process(self, item):
        if self.ticks == 0:
            return item
        self.buf_.append(item)
        return self.buf_.popleft() if len(self.buf_) > self.ticks else None


# --- a route's chain -------------------------------------------------------------------------------

class RouteChain:
    """A validated route's transforms, composed from only the stages it uses: value -> output units.

    Order: auto-range or ``in`` range -> clamp -> invert -> gamma -> smoothing -> deadband -> ``out``.
    ``steps_`` lists the stages one by one (``process`` runs them); ``fn`` computes the same
    numbers with fewer calls, as the router does every tick: neighbouring stateless steps merged
    into one function (:func:`_stateless`), at most three calls composed without a loop.
    """

    def __init__(self, route: dict, rate: float) -> None:
        steps, fused = [], []
        self.stages_ = []
        norm = None
        if route["autorange"]:
            ar = AutoRange(window_s=route["autorange_window_s"], rate=rate)
            self.stages_.append(ar)
            steps.append(ar.process)
            fused.append(ar.process)
        else:
            lo, hi = route["in"]
            if (lo, hi) != (0.0, 1.0):
                norm = (lo, hi)
                steps.append(lambda x, lo=lo, hi=hi: (x - lo) / (hi - lo))
        if route["clamp"]:
            steps.append(clamp01)
        if route["invert"]:
            steps.append(invert)
        if route["gamma"] != 1.0:
            g = route["gamma"]
            steps.append(lambda x, g=g: math.copysign(abs(x) ** g, x))
        stateful = []
        if route["attack_ms"] > 0 or route["release_ms"] > 0:
            sm = Smoother(attack_ms=route["attack_ms"], release_ms=route["release_ms"], rate=rate)
            self.stages_.append(sm)
            stateful.append(sm.process)
        if route["deadband"] > 0:
            db = Deadband(width=route["deadband"])
            self.stages_.append(db)
            stateful.append(db.process)
        steps += stateful
        out = None
        lo, hi = route["out"]
        if (lo, hi) != (0.0, 1.0):
            out = (lo, hi)
            steps.append(lambda x, lo=lo, hi=hi: lo + x * (hi - lo))
        self.steps_ = tuple(steps)
        # the same steps with fewer calls: stateless neighbours merged, then composed
        pre = dict(norm=norm, clamp=route["clamp"], invert=route["invert"], gamma=route["gamma"])
        if not stateful:
            fused.append(_stateless(**pre, out=out))
        else:
            fused += [_stateless(**pre), *stateful, _stateless(out=out)]
        #: ``process`` as cheaply as it can be called: None (no transform) or one function
        self.fn = None if not steps else _compose([f for f in fused if f is not None])

    def reset(self) -> None:
        for stage in self.stages_:
            stage.reset()

    def process(self, x: float) -> float:
        for step in self.steps_:
            x = step(x)
        return x


def _stateless(*, norm=None, clamp=False, invert=False, gamma=1.0, out=None):
    """One function doing the stateless steps that are on (``in`` range, clamp, invert, gamma,
    ``out`` range), with the same arithmetic as the separate steps; None when none is."""
    if norm is None and not clamp and not invert and gamma == 1.0 and out is None:
        return None
    if norm is None and clamp and not invert and gamma == 1.0 and out is None:
        return clamp01
    in_lo, in_hi = norm if norm is not None else (None, None)
    out_lo, out_hi = out if out is not None else (None, None)
    copysign = math.copysign

    def step(x: float) -> float:
        if in_lo is not None:
            x = (x - in_lo) / (in_hi - in_lo)
        if clamp:
            x = 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
        if invert:
            x = 1.0 - x
        if gamma != 1.0:
            x = copysign(abs(x) ** gamma, x)
        if out_lo is not None:
            x = out_lo + x * (out_hi - out_lo)
        return x
    return step


def _compose(fns: list):
    """``fns`` applied in order, as one callable (no loop for up to three)."""
    if len(fns) == 1:
        return fns[0]
    if len(fns) == 2:
        a, b = fns
        return lambda x: b(a(x))
    if len(fns) == 3:
        a, b, c = fns
        return lambda x: c(b(a(x)))

    def chain(x: float) -> float:
        for f in fns:
            x = f(x)
        return x
    return chain
