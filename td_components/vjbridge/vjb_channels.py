"""Per-channel state of the receiver: names, order, trigger latches, smoothing, silence, aliases.

Why this exists separately from the socket: it is the part that decides what a TouchDesigner artist
sees each frame, and it must mean the same thing at any project frame rate:
- a trigger (kind ``trigger`` in the daemon's schema; before a schema, a kick/snare/beat/rythm/
  onset-like name whose values are exactly 0 or 1) is latched: every event (value >= 0.5) that
  arrived since the last frame becomes a 1 that lasts exactly one frame, and events that arrive
  closer together than two frames are queued (1, 0, 1, ...) instead of merged, so none is lost at
  24 fps (at most ``MAX_PENDING`` wait: a flood is not replayed for minutes); ``<name>_count``
  counts every event received;
- smoothing is a one-pole filter whose time constant is in seconds of real time between frames;
  triggers are never smoothed;
- on silence (no packet for ``timeout`` s) values are held, or set to 0;
- the palette audioAnalysis names (low mid high spectralcentroid kick snare rythm) are always
  offered: ``rythm`` is vjbridge's ``beat``; ``spectralcentroid`` is normalised 0..1 like
  audioAnalysis (the daemon's ``spectralcentroidnorm`` if it arrives, else the Hz value / 11025,
  clipped), and the Hz value itself is the channel ``spectralcentroid_hz``.
- the musical channels (pitch, warmth, roughness, speed: the daemon's musical mapping) start at
  their neutral values until the first value arrives (``NEUTRAL``: speed 1.0, the reference pace,
  so a movement multiplied by it does not freeze before the tempo is known; warmth 0.5, the middle
  of the palette).
Channel order is stable: schema order first, then first arrival; a channel never disappears until
the table is reset (so downstream references do not break when the mapping changes).
"""

import fnmatch
import math
import re

AUDIOANALYSIS = ("low", "mid", "high", "spectralcentroid", "kick", "snare", "rythm")
NYQUIST_HZ = 11025.0  # the daemon analyses at 22,050 Hz: its centroid lies in 0..11025 Hz
TRIGGER_NAME_PATTERNS = ("kick*", "snare*", "beat", "rythm", "rhythm", "onset*", "hihat*", "hat",
                         "clap*", "trigger*", "*_trigger")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_]")
MAX_PENDING = 8  # queued trigger events at most: a flood of 1.0s must not pulse for minutes
#: What a musical channel reads before its first value (the daemon's idle values for them).
NEUTRAL = {"pitch": 0.0, "warmth": 0.5, "roughness": 0.0, "speed": 1.0}


def channel_name(address, prefix):
    """``/vjbridge/motion`` -> ``motion``; other ``/`` become ``_``; '' if nothing is left."""
    if prefix and address.startswith(prefix):
        rest = address[len(prefix):]
    else:
        rest = address.lstrip("/")
    return _BAD_CHARS.sub("_", rest.strip("/").replace("/", "_"))


def parse_patterns(text):
    """Space-separated fnmatch patterns; a leading ``^`` excludes (as TouchDesigner's patterns)."""
    include, exclude = [], []
    for token in str(text or "").split():
        (exclude if token.startswith("^") else include).append(token.lstrip("^"))
    return include or ["*"], exclude


def matches(name, patterns):
    include, exclude = patterns
    return (any(fnmatch.fnmatchcase(name, p) for p in include)
            and not any(fnmatch.fnmatchcase(name, p) for p in exclude))


def parse_smoothing_overrides(text):
    """``"motion=0.3 mel*=0.05"`` -> ``[("motion", 0.3), ("mel*", 0.05)]`` plus bad tokens."""
    out, bad = [], []
    for token in str(text or "").split():
        pattern, _, value = token.partition("=")
        try:
            seconds = float(value)
            if not pattern or not math.isfinite(seconds) or seconds < 0:
                raise ValueError
        except ValueError:
            bad.append(token)
            continue
        out.append((pattern, seconds))
    return out, bad


class Channel:
    """One named output channel (multi-argument messages are one Channel per element)."""

    __slots__ = ("name", "kind", "value", "out", "pending", "count", "ones_only", "from_schema",
                 "is_hz", "last_out_one", "trigger_like")

    def __init__(self, name):
        self.name = name
        self.kind = None  # from the schema, else guessed
        self.value = NEUTRAL.get(name, 0.0)  # latest raw value
        self.out = None  # smoothed / latched output (None until the first frame)
        self.pending = 0  # trigger events not yet shown
        self.count = 0  # trigger events received
        self.ones_only = True  # every value so far was exactly 0 or 1
        self.from_schema = False
        self.is_hz = False  # spectralcentroid arriving in Hz
        self.last_out_one = False
        self.trigger_like = any(fnmatch.fnmatchcase(name, p) for p in TRIGGER_NAME_PATTERNS)

    @property
    def is_trigger(self):
        if self.kind is not None:
            return self.kind == "trigger"
        return self.ones_only and self.trigger_like


class Settings:
    """What the table needs from the component's parameters (plain values, already validated)."""

    def __init__(self, channels="*", smoothing=0.0, smoothing_overrides="", silence="hold",
                 timeout=1.0, spectrum=True):
        self.patterns = parse_patterns(channels)
        self.smoothing = max(0.0, float(smoothing))
        self.overrides, self.bad_overrides = parse_smoothing_overrides(smoothing_overrides)
        self.silence = "zero" if silence == "zero" else "hold"
        self.timeout = max(0.0, float(timeout))
        self.spectrum = bool(spectrum)

    def tau(self, name):
        for pattern, seconds in self.overrides:
            if fnmatch.fnmatchcase(name, pattern):
                return seconds
        return self.smoothing


class ChannelTable:
    """Channels by name, in a stable order; fed by messages, read once per TouchDesigner frame."""

    def __init__(self):
        self.channels = {}
        self.order = []
        self.spectrum_names = set()  # element channels of spectrum (multi-arg) messages
        self.schema_kinds = {}  # channel base name -> kind, from the schema

    def _get(self, name):
        chan = self.channels.get(name)
        if chan is None:
            chan = self.channels[name] = Channel(name)
            self.order.append(name)
        return chan

    def apply_schema(self, info, prefix):
        """Kinds and order from the daemon's schema: schema order first, then the rest."""
        names = []
        self.schema_kinds = {}
        for sig in info.signals:
            base = channel_name(sig.address, prefix)
            if not base:
                continue
            self.schema_kinds[base] = sig.kind
            hz = base == "spectralcentroid" and (sig.signal == "spectralcentroid"
                                                 or sig.unit.lower() == "hz" or sig.range[1] > 1.5)
            if sig.n > 1 or sig.kind == "spectrum":
                elems = [f"{base}{i}" for i in range(sig.n)]
                self.spectrum_names.update(elems)
            else:
                elems = [base]
            for name in elems:
                chan = self._get(name)
                chan.kind = sig.kind
                chan.from_schema = True
                if base == "spectralcentroid":
                    chan.is_hz = hz
                names.append(name)
        rest = [n for n in self.order if n not in set(names)]
        self.order = names + rest

    def update(self, name, args):
        """A data message for channel ``name``; non-numeric arguments are ignored."""
        values = [float(a) for a in args
                  if isinstance(a, (int, float)) and not isinstance(a, bool)
                  and math.isfinite(float(a))]
        if not values:
            return
        if len(values) == 1 and name not in self.spectrum_names:
            self._set(self._get(name), values[0])
            return
        for i, v in enumerate(values):
            elem = f"{name}{i}"
            self.spectrum_names.add(elem)
            chan = self._get(elem)
            if chan.kind is None:
                chan.kind = "spectrum"
            self._set(chan, v)

    def _set(self, chan, value):
        if value not in (0.0, 1.0):
            chan.ones_only = False
        if chan.name == "spectralcentroid" and not chan.from_schema and value > 1.0:
            chan.is_hz = True  # a normalised centroid never exceeds 1: this one is in Hz
        chan.value = value
        if chan.is_trigger and value >= 0.5:
            chan.pending = min(chan.pending + 1, MAX_PENDING)
            chan.count += 1

    def reset(self):
        self.__init__()

    def frame(self, dt, silent, settings):
        """``[(name, value), ...]`` for one TouchDesigner frame (call exactly once per frame)."""
        out = []
        names = set()
        for name in self.order:
            chan = self.channels[name]
            # the Spectrum toggle hides the mel bands, not a colour's 3 values (kind "colour")
            if name in self.spectrum_names and chan.kind == "spectrum" and not settings.spectrum:
                continue
            if chan.is_trigger:
                if chan.pending and not chan.last_out_one:
                    chan.pending -= 1
                    chan.out = 1.0
                else:
                    chan.out = 0.0
                chan.last_out_one = chan.out == 1.0
            else:
                target = 0.0 if silent and settings.silence == "zero" else chan.value
                tau = settings.tau(name)
                if chan.out is None or tau <= 0 or (silent and settings.silence == "zero"):
                    chan.out = target
                else:
                    chan.out += (target - chan.out) * (1.0 - math.exp(-max(0.0, dt) / tau))
            shown = name
            if name == "spectralcentroid" and chan.is_hz:
                shown = "spectralcentroid_hz"
            if matches(shown, settings.patterns):
                out.append((shown, chan.out))
                names.add(shown)
            if chan.is_trigger and matches(shown + "_count", settings.patterns):
                out.append((shown + "_count", float(chan.count)))
                names.add(shown + "_count")
        for alias in AUDIOANALYSIS:
            if alias in names or not matches(alias, settings.patterns):
                continue
            out.append((alias, self._alias(alias)))
        return out

    def _alias(self, alias):
        if alias == "rythm":
            beat = self.channels.get("beat")
            return beat.out if beat is not None and beat.out is not None else 0.0
        if alias == "spectralcentroid":
            norm = self.channels.get("spectralcentroidnorm")
            if norm is not None and norm.out is not None:
                return norm.out
            hz = self.channels.get("spectralcentroid")
            if hz is not None and hz.out is not None:
                return min(1.0, max(0.0, hz.out / NYQUIST_HZ))
            return 0.0
        chan = self.channels.get(alias)
        return chan.out if chan is not None and chan.out is not None else 0.0
