"""A colour as one value: the transforms of a colour route, the wire formats, the palette.

Why not three scalar routes: a model's colour is linear RGB 0..1, and a lighting operator reads it
as a hue, a saturation and a brightness. Stretching r, g and b each to its own recent range
(auto-range), or smoothing them with attack on the rising channels and release on the falling
ones, moves the three apart and changes the hue: a warm orange drifts to pink. Here a colour is
split into its brightness ``v = max(r, g, b)``, its saturation ``s = 1 - min / max`` and its hue
vector ``u = (c - min) / (max - min)`` (the pure hue, one channel at 1, one at 0), and rebuilt as
``c = v * (1 - s * (1 - u))`` (exact for any colour). The route's transforms act on ``v`` (and
auto-range on ``s``); ``u`` passes through untouched, so a colour of constant hue keeps that hue.
Smoothing runs on the rebuilt r, g, b with *one* coefficient for all three, chosen by whether the
brightness rises (attack) or falls (release): a blend of two colours, never a hue of its own.

Plain Python floats, as in :mod:`.transforms`: a route handles three numbers per 60 Hz tick, where
numpy's per-call overhead costs more than the arithmetic (and the mapping package imports with the
standard library only: the TouchDesigner component's tests load it without numpy); one chain is shared by every route of a
mapping with the same transforms on the same colour (``/vjbridge/colour`` and ``r``/``g``/``b``
cost one chain). :func:`palette_colours` and :func:`hsv_of` are the array versions, for offline
curves (``vjbridge predict``) and tests.
"""

from __future__ import annotations

import math
import re

from bridge.mapping.transforms import AutoRange, clamp01, one_pole_coefficient

#: ``colour.format`` values and how many values each sends.
FORMATS = {"rgb": 3, "hsv": 3, "rgb8": 3, "brightness": 1, "palette": 3}

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
#: Colour names users type into a palette, for the did-you-mean (the palette takes hex or lists).
NAMED = {"black": "#000000", "white": "#ffffff", "red": "#ff0000", "green": "#00ff00",
         "blue": "#0000ff", "yellow": "#ffff00", "cyan": "#00ffff", "magenta": "#ff00ff",
         "orange": "#ff8000", "purple": "#8000ff", "pink": "#ff60c0", "amber": "#ffbf00",
         "uv": "#6000ff", "warmwhite": "#ffd8a0"}


# --- pure functions ---------------------------------------------------------------------------------

def parse_colour(entry) -> tuple[tuple[float, float, float] | None, str]:
    """A palette entry (``'#rrggbb'`` or ``[r, g, b]`` with each 0..1) -> ``((r, g, b), "")``, or
    ``(None, problem)``: what is wrong and, where one is obvious, the entry meant."""
    if isinstance(entry, str):
        text = entry.strip()
        if _HEX.match(text):
            return tuple(int(text[i:i + 2], 16) / 255.0 for i in (1, 3, 5)), ""
        hint = ""
        low = text.lower().replace(" ", "").replace("-", "")
        if low in NAMED:
            hint = f"; did you mean {NAMED[low]!r}?"
        elif re.fullmatch(r"#?[0-9a-fA-F]{3}", text):
            h = text.lstrip("#")
            hint = f"; did you mean {'#' + ''.join(c * 2 for c in h).lower()!r}?"
        elif re.fullmatch(r"[0-9a-fA-F]{6}", text):
            hint = f"; did you mean {'#' + text.lower()!r}?"
        return None, f"{entry!r} is not a colour: give '#rrggbb' or [r, g, b] (each 0..1){hint}"
    if isinstance(entry, (list, tuple)) and len(entry) == 3 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in entry):
        if all(0 <= v <= 1 for v in entry):
            return (float(entry[0]), float(entry[1]), float(entry[2])), ""
        if all(0 <= v <= 255 for v in entry):
            scaled = "[" + ", ".join(f"{v / 255:.3g}" for v in entry) + "]"
            return None, (f"{list(entry)} is out of range: r, g, b are 0..1; did you mean "
                          f"{scaled} (8-bit values / 255)?")
        return None, f"{list(entry)} is out of range: r, g, b are 0..1"
    return None, (f"{str(entry)[:60]} is not a colour: give '#rrggbb' or [r, g, b] "
                  "(three numbers 0..1)")


def palette_at(palette: tuple, position: float) -> tuple[float, float, float]:
    """The colour at ``position`` (clamped to 0..1) of ``palette`` (entries evenly spaced from 0
    to 1, blended linearly in RGB)."""
    n = len(palette) - 1
    if n <= 0:
        return palette[0]
    x = (0.0 if position < 0.0 else 1.0 if position > 1.0 else position) * n
    i = int(x)
    if i >= n:
        return palette[n]
    f = x - i
    a, b = palette[i], palette[i + 1]
    return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2]))


def palette_colours(palette, *, positions) -> np.ndarray:
    """:func:`palette_at` over an array: ``palette (k, 3)``, ``positions (n,)`` -> ``(n, 3)``."""
    import numpy as np  # here: the mapping package imports with the standard library only

    pal = np.asarray(palette, dtype=np.float64).reshape(-1, 3)
    p = np.clip(np.asarray(positions, dtype=np.float64), 0.0, 1.0)
    if len(pal) == 1:
        return np.repeat(pal, len(p), axis=0)
    grid = np.linspace(0.0, 1.0, len(pal))
    return np.stack([np.interp(p, grid, pal[:, j]) for j in range(3)], axis=1)


def hsv(r: float, g: float, b: float) -> tuple[float, float, float]:
    """HSV of one colour: hue 0..1 (0 red, 1/3 green, 2/3 blue), saturation, value (= max)."""
    v = max(r, g, b)
    d = v - min(r, g, b)
    if d <= 0.0 or v <= 0.0:
        return 0.0, 0.0, v
    if v == r:
        h = ((g - b) / d) % 6.0
    elif v == g:
        h = (b - r) / d + 2.0
    else:
        h = (r - g) / d + 4.0
    return h / 6.0, d / v, v


def hsv_of(rgb) -> np.ndarray:
    """:func:`hsv` over an array: ``(n, 3)`` RGB -> ``(n, 3)`` hue, saturation, value."""
    import numpy as np

    c = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    v = c.max(axis=1)
    d = v - c.min(axis=1)
    safe = np.where(d > 0, d, 1.0)
    r, g, b = c.T
    h = np.where(v == r, ((g - b) / safe) % 6.0,
                 np.where(v == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    h = np.where(d > 0, h / 6.0, 0.0)
    s = np.where((d > 0) & (v > 0), d / np.where(v > 0, v, 1.0), 0.0)
    return np.stack([h, s, v], axis=1)


# --- the shared chain ---------------------------------------------------------------------------------

def chain_key(route) -> tuple:
    """What makes two colour routes' chains equal (they then share one): the colour and the
    transforms before the wire format."""
    return (tuple(route["colour_channels"]), route["autorange"], route["autorange_window_s"],
            (route["colour"] or {}).get("autorange_saturation", True), tuple(route["in"]),
            route["clamp"], route["invert"], route["gamma"], route["attack_ms"],
            route["release_ms"], route["deadband"])


class ColourChain:
    """A colour route's transforms: ``process(r, g, b)`` -> the processed ``(r, g, b)`` (also kept
    in ``last``). Order as for a scalar route: auto-range (brightness and saturation) or ``in``
    range (brightness) -> clamp -> invert (brightness) -> gamma (brightness) -> smoothing ->
    deadband. Negative channels are taken as 0 (no light is darker than black)."""

    def __init__(self, route, rate: float) -> None:
        colour = route["colour"] or {}
        self.channels = tuple(route["colour_channels"])
        self.ar_v = self.ar_s = None
        self.norm = None
        if route["autorange"]:
            self.ar_v = AutoRange(window_s=route["autorange_window_s"], rate=rate)
            if colour.get("autorange_saturation", True):
                self.ar_s = AutoRange(window_s=route["autorange_window_s"], rate=rate)
        elif tuple(route["in"]) != (0.0, 1.0):
            self.norm = tuple(route["in"])
        self.clamp = route["clamp"]
        self.invert = route["invert"]
        self.gamma = route["gamma"]
        self.smooth = route["attack_ms"] > 0 or route["release_ms"] > 0
        self.attack = one_pole_coefficient(route["attack_ms"], rate)
        self.release = one_pole_coefficient(route["release_ms"], rate)
        self.deadband = route["deadband"]
        self.reset()

    def reset(self) -> None:
        for ar in (self.ar_v, self.ar_s):
            if ar is not None:
                ar.reset()
        self.last: tuple[float, float, float] | None = None
        self._y: tuple[float, float, float] | None = None  # the smoother's state

    def process(self, r: float, g: float, b: float) -> tuple[float, float, float]:
        r = r if r > 0.0 else 0.0
        g = g if g > 0.0 else 0.0
        b = b if b > 0.0 else 0.0
        v = r if r > g else g
        v = v if v > b else b
        m = r if r < g else g
        m = m if m < b else b
        d = v - m
        if d > 0.0:
            s = d / v
            ur, ug, ub = (r - m) / d, (g - m) / d, (b - m) / d
        else:  # grey (or black): no hue
            s, ur, ug, ub = 0.0, 1.0, 1.0, 1.0
        if self.ar_v is not None:
            v = self.ar_v.process(v)
            if self.ar_s is not None:
                s = self.ar_s.process(s)
        elif self.norm is not None:
            lo, hi = self.norm
            v = (v - lo) / (hi - lo)
        if self.clamp:
            v = 0.0 if v < 0.0 else 1.0 if v > 1.0 else v
            s = 0.0 if s < 0.0 else 1.0 if s > 1.0 else s
        if self.invert:
            v = 1.0 - v
        if self.gamma != 1.0:
            v = math.copysign(abs(v) ** self.gamma, v)
        k = v * s
        r, g, b = v - k * (1.0 - ur), v - k * (1.0 - ug), v - k * (1.0 - ub)
        if self.smooth:
            y = self._y
            if y is not None:
                yv = y[0] if y[0] > y[1] else y[1]
                yv = yv if yv > y[2] else y[2]
                a = self.attack if v > yv else self.release
                r, g, b = r + a * (y[0] - r), g + a * (y[1] - g), b + a * (y[2] - b)
            self._y = (r, g, b)
        if self.deadband > 0.0 and self.last is not None:
            last = self.last
            if (abs(r - last[0]) <= self.deadband and abs(g - last[1]) <= self.deadband
                    and abs(b - last[2]) <= self.deadband):
                return last
        out = (r, g, b)
        self.last = out
        return out


def wire_value(part: str, rgb: tuple, *, lo: float, hi: float, palette=None, index: int = 0):
    """A processed colour ``rgb`` as the route's ``part`` sends it: a tuple of 3 floats (rgb, hsv,
    palette at the colour's brightness), 3 ints 0..255 (rgb8), or one float (brightness, or
    channel ``index`` for ``part == "channel"``), floats scaled from 0..1 to ``lo..hi``."""
    span = hi - lo
    if part == "channel":
        return lo + rgb[index] * span
    if part == "rgb":
        return (lo + rgb[0] * span, lo + rgb[1] * span, lo + rgb[2] * span)
    if part == "rgb8":
        return (int(round(clamp01(rgb[0]) * 255)), int(round(clamp01(rgb[1]) * 255)),
                int(round(clamp01(rgb[2]) * 255)))
    v = rgb[0] if rgb[0] > rgb[1] else rgb[1]
    v = v if v > rgb[2] else rgb[2]
    if part == "brightness":
        return lo + v * span
    if part == "hsv":
        h, s, v = hsv(*rgb)
        return (lo + h * span, lo + s * span, lo + v * span)
    if part == "palette":
        return palette_of(palette, v, lo=lo, hi=hi)
    raise AssertionError(f"colour part {part!r}")  # the validator only lets FORMATS through


def palette_of(palette, position: float, *, lo: float, hi: float) -> tuple[float, float, float]:
    c = palette_at(palette, position)
    span = hi - lo
    return (lo + c[0] * span, lo + c[1] * span, lo + c[2] * span)
