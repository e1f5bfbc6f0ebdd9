"""The signal catalog: every signal vjbridge can send, declared once.

Why one declaration: the mapping validator (``vjbridge check``), the OSC address schema in the README
and the live engine must agree on what ``low`` or ``kick`` is. Each of them reads this table instead of
keeping its own list, so a signal added here is immediately routable, validated and documented, and a
typo in a mapping gets a did-you-mean from the same names the engine produces.

Two kinds of entries:

* **classic** signals, computed by :class:`bridge.signals.classic.ClassicSignals` from the live
  features; declared below in :data:`CLASSIC` (names an audioAnalysis / Milkdrop user recognises);
* **model** outputs (``motion``, ``weight``, ``r``, ``g``, ``b``, ...), which the ONNX models declare
  themselves when they are loaded, through :meth:`Catalog.declare_model_output`;
* **feature** signals taken straight from the extractor's frame: :data:`SPECTRUM` (``mel``, the 64
  mel bands as one vector; ``geq``, WLED's 16 GEQ channels; ``z``, the CPPN latent) and
  :data:`PEAKS` (``majorpeak``, ``magnitude``), each computed only when a mapping routes it;
  :data:`ENERGY` (``energy``, ``morph``: the audio energy vector), likewise.

Kinds: ``continuous`` (a level), ``trigger`` (1.0 on the frame of an event), ``tempo`` (BPM),
``colour`` (one channel of an RGB colour: ``r``, ``g``, ``b``, 0..1; or, with ``size`` 3 and
``channels``, a whole colour a model declared: routed as one value, see
:mod:`bridge.mapping.colour`) and ``spectrum`` (a vector of ``size`` values).

Standard library only (no numpy): the stream schema (``vjbridge schema``, the ``/vjbridge/_info``
message) is built from this table, and the TouchDesigner component's tests load it where numpy is
not installed.

The registry is a plain dict (``Catalog.signals``); looking up a name that is not there raises
:class:`~bridge.errors.SignalError` with the closest known names.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from bridge.errors import SignalError

KINDS = ("continuous", "trigger", "tempo", "colour", "spectrum")
SOURCES = ("classic", "model", "features")
#: Model outputs with these names are the channels of a colour (kind ``colour``) unless the model
#: says otherwise.
COLOUR_NAMES = ("r", "g", "b")
ADDRESS_PREFIX = "/vjbridge/"
#: What ``rate="frame"`` means: one value per output frame, at the mapping's global output rate.
DEFAULT_OUTPUT_RATE_HZ = 60.0
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Signal:
    """One signal: what it is, its range, and where it goes by default.

    ``range`` is the closed interval the value stays in (``math.inf`` for unbounded); a trigger is
    1.0 on the frame of its event and 0.0 otherwise. ``rate`` is ``"frame"``: a value is produced for
    every output frame (60 Hz by default). ``idle`` is the value sinks fall back to when the input
    is gone or the bridge stops. ``size`` is the number of values per frame: 1, or the length of a
    ``spectrum`` vector (one OSC message with ``size`` arguments).
    """

    name: str
    kind: str
    range: tuple[float, float]
    unit: str
    description: str
    source: str = "classic"
    rate: str = "frame"
    osc_type: str = "f"
    idle: float = 0.0
    model: str | None = None  # the model that declared it (model outputs only)
    size: int = 1
    channels: tuple[str, ...] = ()  # a colour (size 3): the signals holding its r, g, b

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise SignalError(f"Signal name {self.name!r} is not valid: use 1-64 lower-case letters, "
                              "digits or '_', starting with a letter (it becomes an OSC address).")
        if self.kind not in KINDS:
            raise SignalError(f"Signal {self.name!r}: kind must be one of {', '.join(KINDS)}; got "
                              f"{self.kind!r}.")
        if self.source not in SOURCES:
            raise SignalError(f"Signal {self.name!r}: source must be one of {', '.join(SOURCES)}; "
                              f"got {self.source!r}.")
        whole_colour = self.kind == "colour" and self.size == 3 and len(self.channels) == 3
        if type(self.size) is not int or not 1 <= self.size <= 1024 \
                or ((self.size > 1) != (self.kind == "spectrum") and not whole_colour) \
                or (self.channels and not whole_colour):
            raise SignalError(f"Signal {self.name!r}: size must be 1, 2..1024 for a spectrum, or 3 "
                              f"with three channels for a colour; got {self.size!r}.")
        try:
            lo, hi = (float(v) for v in self.range)
        except (TypeError, ValueError):
            raise SignalError(f"Signal {self.name!r}: range must be two numbers (low, high); got "
                              f"{self.range!r}.") from None
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise SignalError(f"Signal {self.name!r}: range must have low < high; got "
                              f"{self.range!r}.")
        object.__setattr__(self, "range", (lo, hi))
        if self.osc_type not in ("f", "i"):
            raise SignalError(f"Signal {self.name!r}: osc_type must be 'f' or 'i'; got "
                              f"{self.osc_type!r}.")

    @property
    def address(self) -> str:
        """The default OSC address, ``/vjbridge/<name>``."""
        return ADDRESS_PREFIX + self.name

    @property
    def is_trigger(self) -> bool:
        return self.kind == "trigger"

    def rate_hz(self, output_rate: float = DEFAULT_OUTPUT_RATE_HZ) -> float:
        """Values per second this signal is sent at (every frame of the output rate)."""
        return float(output_rate)


def _classic(name, kind, range_, unit, description, *, idle=0.0) -> Signal:
    return Signal(name=name, kind=kind, range=range_, unit=unit, description=description, idle=idle)


#: The classic signals, in the column order :class:`ClassicSignals` produces them.
CLASSIC: dict[str, Signal] = {s.name: s for s in (
    _classic("low", "continuous", (0, 1), "level",
             "bass band level (mel bands centred 0-250 Hz), auto-gained: 0.5 is the band's own "
             "long-term average, 1 is far above it"),
    _classic("mid", "continuous", (0, 1), "level",
             "mid band level (250-2000 Hz), auto-gained like low"),
    _classic("high", "continuous", (0, 1), "level",
             "treble band level (2000 Hz up to the spec's fmax), auto-gained like low"),
    _classic("rms", "continuous", (0, 1), "full scale",
             "RMS of the frame's samples (linear; a full-scale sine reads 0.707), not auto-gained"),
    _classic("onset", "continuous", (0, 1), "level",
             "onset strength divided by its own decaying peak: 1 on the strongest recent attack"),
    _classic("onsetraw", "continuous", (0, math.inf), "dB",
             "onset strength as the models see it: mean positive rise of the 64 mel bands (dB)"),
    _classic("spectralcentroid", "continuous", (0, 11025), "Hz",
             "mel-power-weighted mean frequency (Hz, up to the spec's fmax, 11025 at 22050 Hz); "
             "holds its last value in silence"),
    _classic("spectralcentroidnorm", "continuous", (0, 1), "mel position",
             "spectral centroid as a position on the mel scale between fmin (0) and fmax (1)"),
    _classic("kick", "trigger", (0, 1), "trigger",
             "1.0 on the frame of a kick-drum style onset (spectral flux 40-160 Hz), else 0"),
    _classic("snare", "trigger", (0, 1), "trigger",
             "1.0 on the frame of a snare/clap style onset (spectral flux 1-5 kHz), else 0"),
    _classic("beat", "trigger", (0, 1), "trigger",
             "1.0 on the frame a predicted beat falls on (tempo tracker), else 0; silent until "
             "the tracker is confident"),
    _classic("bpm", "tempo", (0, 200), "BPM",
             "tempo estimate, 60-200 BPM; 0 until the tracker has one (about 3-6 s of music)"),
    _classic("bpmconfidence", "continuous", (0, 1), "confidence",
             "how periodic the onsets are at the estimated tempo (0 none, 1 a click track)"),
    _classic("beatphase", "continuous", (0, 1), "phase",
             "position inside the current beat: 0 on the beat rising to 1 just before the next "
             "(a BPM-synced ramp)"),
)}


#: Signals taken straight from the extractor's frame (not columns of ClassicSignals).
SPECTRUM: dict[str, Signal] = {s.name: s for s in (
    Signal(name="mel", kind="spectrum", range=(0, 1), unit="level", source="features", size=64,
           description="the 64 mel bands of the frame, each (dB + 80) / 80 clipped to 0..1 "
                       "(0 = -80 dB or below, 1 = full scale): one message of 64 floats, sent "
                       "only when the mapping routes it (what an Audio Spectrum CHOP gives)"),
    Signal(name="geq", kind="spectrum", range=(0, 1), unit="level", source="features", size=16,
           description="WLED's 16 GEQ channels (43-86 Hz ... 7106-9259 Hz) from the mel bands, "
                       "sqrt of the amplitude over a shared auto-gain reference (the loudest "
                       "channel's decaying peak), 0..1; computed only when a mapping routes it "
                       "(bridge/signals/geq.py)"),
    Signal(name="z", kind="spectrum", range=(-3, 3), unit="std", source="features", size=32,
           description="the CPPN latent (NeuroMV): 32 mel bands at hop 1/30 s, window 1/15 s, "
                       "each standardised by its running mean and std (10 s) and clipped to "
                       "+-3, the z that vjbridge render and the CPPN GLSL TOP take; held "
                       "between its 30 Hz frames; computed only when a mapping routes it "
                       "(bridge/audio/zlatent.py)"),
)}

#: Scalars from the same analysis as ``geq`` (:mod:`bridge.signals.geq`), computed only when a
#: mapping routes one of them.
PEAKS: dict[str, Signal] = {s.name: s for s in (
    Signal(name="majorpeak", kind="continuous", range=(0, 11025), unit="Hz", source="features",
           description="frequency of the strongest spectral peak (mel bands, interpolated between "
                       "the two strongest neighbours: a pure tone within a few Hz); holds its last "
                       "value in silence"),
    Signal(name="magnitude", kind="continuous", range=(0, 1), unit="level", source="features",
           description="level of the strongest spectral peak on geq's scale and auto-gain "
                       "reference (0 in silence)"),
)}

# ---- musical mappings (bridge/signals/musical.py) --------------------------------------------------
#: tempo -> speed, pitch -> palette, timbre -> texture: computed only when a mapping routes one.
MUSICAL: dict[str, Signal] = {s.name: s for s in (
    Signal(name="pitch", kind="continuous", range=(0, 1), unit="pitch class / 12",
           source="features",
           description="dominant pitch class around the octave, 0 = C, 1/12 = C#, ... 11/12 = B "
                       "(times 12: the pitch class), from the resolved partials of the mel bands "
                       "(130-5000 Hz) in a chroma smoothed over 0.25 s; coarse: notes closer than "
                       "a mel band merge; holds in silence"),
    Signal(name="warmth", kind="continuous", range=(0, 1), unit="palette position",
           source="features", idle=0.5,
           description="palette position from the spectral centroid (librosa's, on a log scale): "
                       "1 warm (centroid 300 Hz or below: bass, dark pads) to 0 cool (6000 Hz or "
                       "above: hats, bright leads); holds in silence"),
    Signal(name="roughness", kind="continuous", range=(0, 1), unit="texture",
           source="features",
           description="timbre texture from the spectral flatness of the mel bands: 0 smooth (a "
                       "pure tone, -60 dB flatness or below) to 1 jagged (white noise, 0 dB); "
                       "holds in silence"),
    Signal(name="speed", kind="continuous", range=(0.5, 200 / 120), unit="rate multiplier",
           source="features", idle=1.0,
           description="tempo-synced rate multiplier bpm / 120: 1.0 at 120 BPM, 0.5 at 60, 1.67 "
                       "at 200; 1.0 until the tempo tracker (or a followed Link session) has a "
                       "tempo: multiply a movement's speed by it"),
)}
# ---- end of musical mappings ------------------------------------------------------------------------

#: The audio energy vector (:mod:`bridge.signals.energy`, issue 13), computed only when a mapping
#: routes one of them (:mod:`bridge.runtime.energy_stage`).
ENERGY: dict[str, Signal] = {s.name: s for s in (
    Signal(name="energy", kind="continuous", range=(0, 1), unit="level", source="features",
           description="energy of a causal harmonic/percussive split of the mel bands (percussive "
                       "weighted 0.9, harmonic 0.1), over its own decaying peak: 1 on the "
                       "strongest recent hit; computed only when a mapping routes it or morph "
                       "(bridge/signals/energy.py)"),
    Signal(name="morph", kind="continuous", range=(0, 1), unit="phase", source="features",
           description="a 0..1 ramp per segment (4 beats of bpm unless run --morph-segment says "
                       "otherwise) that advances with the cumulative energy: fast on hits, slow "
                       "in sustained passages, linear for constant energy; 1.0 on a segment's "
                       "last frame, then near 0 again (change keyframes there)"),
)}

#: The level range :data:`SPECTRUM` maps to 0..1, in dB.
SPECTRUM_FLOOR_DB = -80.0


class Catalog:
    """A dict of :class:`Signal` by name: the classic and feature signals plus model outputs
    declared at run time."""

    def __init__(self, signals: dict[str, Signal] | None = None):
        self.signals: dict[str, Signal] = dict(
            CLASSIC | SPECTRUM | PEAKS | MUSICAL | ENERGY if signals is None else signals)

    # ---- lookup ----------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Signal:
        return self.get(name)

    def get(self, name: str) -> Signal:
        """The declaration of ``name``; unknown names raise :class:`SignalError` with a did-you-mean."""
        try:
            return self.signals[name]
        except (KeyError, TypeError):
            raise SignalError(self.unknown_message(name)) from None

    def unknown_message(self, name) -> str:
        """``"unknown signal 'lwo'. Did you mean 'low'? Known signals: ..."`` (one line)."""
        known = sorted(self.signals)
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown signal {name!r}.{hint} Known signals: {', '.join(known)}."

    def __contains__(self, name) -> bool:
        return name in self.signals

    def __iter__(self):
        return iter(self.signals.values())

    def __len__(self) -> int:
        return len(self.signals)

    def names(self, *, source: str | None = None) -> tuple[str, ...]:
        return tuple(n for n, s in self.signals.items() if source is None or s.source == source)

    def by_address(self, address: str) -> Signal:
        """The signal whose default OSC address is ``address``."""
        for signal in self.signals.values():
            if signal.address == address:
                return signal
        raise SignalError(self.unknown_message(address.removeprefix(ADDRESS_PREFIX)))

    # ---- model outputs ---------------------------------------------------------------------------
    def declare_model_output(self, name: str, *, range: tuple[float, float] = (0.0, 1.0),
                             description: str = "", unit: str = "", model: str | None = None,
                             kind: str | None = None, idle: float | None = None) -> Signal:
        """Add (or confirm) an output a model produces; returns its :class:`Signal`.

        Declaring the same output again with the same range is a no-op, so reloading a model is safe.
        A name a classic signal already uses, or a second model claiming a name with another range,
        raises :class:`SignalError`.
        """
        lo, hi = range
        if kind is None:
            kind = "colour" if name in COLOUR_NAMES else "continuous"
        signal = Signal(name=name, kind=kind, range=(lo, hi), unit=unit,
                        description=description or f"output of model {model or '?'}",
                        source="model", model=model,
                        idle=float(lo if idle is None else idle))
        old = self.signals.get(name)
        if old is not None:
            if old.source != "model":
                raise SignalError(f"model {model!r} declares an output named {name!r}, but that is a "
                                  f"{old.source} signal; rename the model output.")
            if old.range != signal.range or old.kind != signal.kind:
                raise SignalError(f"model {model!r} declares output {name!r} with range "
                                  f"{signal.range}, but model {old.model!r} already declared it with "
                                  f"range {old.range}; give one of them another name.")
            return old
        self.signals[name] = signal
        return signal

    def declare_model_colour(self, name: str, channels, *, model: str | None = None,
                             description: str = "") -> Signal:
        """Add a colour a model declares (``vjbridge.colours``): one signal of kind ``colour``,
        size 3, whose ``channels`` (already declared outputs) hold its linear r, g, b (0..1)."""
        channels = tuple(channels)
        signal = Signal(name=name, kind="colour", range=(0.0, 1.0), unit="linear RGB",
                        description=description or f"colour of model {model or '?'} "
                        f"({', '.join(channels)} as one value)", source="model", model=model,
                        size=3, channels=channels)
        old = self.signals.get(name)
        if old is not None:
            if old.source == "model" and old.channels == channels:
                return old
            raise SignalError(f"model {model!r} declares a colour named {name!r}, but "
                              f"{old.model or old.source!r} already has a signal of that name; "
                              "give one of them another name.")
        self.signals[name] = signal
        return signal

    def colours(self) -> dict[str, tuple[str, ...]]:
        """Declared colours: name -> its channel names."""
        return {n: s.channels for n, s in self.signals.items() if s.channels}

    def remove_model_outputs(self, model: str | None = None) -> None:
        """Forget model outputs (of one model, or all), e.g. before reloading the models."""
        self.signals = {n: s for n, s in self.signals.items()
                        if s.source != "model" or (model is not None and s.model != model)}

    def copy(self) -> "Catalog":
        return Catalog(self.signals)

    def with_outputs(self, outputs) -> "Catalog":
        """A copy with ``outputs`` (an iterable of Signal) added, e.g. for validating a mapping."""
        out = self.copy()
        for s in outputs:
            if s.channels:
                out.declare_model_colour(s.name, s.channels, model=s.model,
                                         description=s.description)
                continue
            out.declare_model_output(s.name, range=s.range, description=s.description,
                                     unit=s.unit, model=s.model, kind=s.kind, idle=s.idle)
        return out


#: The process-wide catalog the engine declares model outputs into.
CATALOG = Catalog()


def lookup(name: str) -> Signal:
    """``CATALOG.get(name)``: the declaration of a signal, or a did-you-mean :class:`SignalError`."""
    return CATALOG.get(name)


def declare_model_output(name: str, **kwargs) -> Signal:
    """``CATALOG.declare_model_output(name, ...)``."""
    return CATALOG.declare_model_output(name, **kwargs)


__all__ = ["ADDRESS_PREFIX", "CATALOG", "CLASSIC", "COLOUR_NAMES", "Catalog", "ENERGY", "KINDS",
           "MUSICAL",
           "PEAKS",
           "SPECTRUM", "SPECTRUM_FLOOR_DB", "Signal",
           "declare_model_output", "lookup"]
