"""`FeatureSpec`: the frozen description of the 66 audio features every model is trained on.

Why a separate, serialisable object: the features a model was trained on and the features the live
daemon computes must be the same numbers. The spec travels inside every exported ONNX model (JSON plus
a digest), and the extractor is built from it, so a mismatch is an error at load time instead of a
silently wrong show.

Frames follow librosa's ``center=False`` convention: frame ``t`` covers samples
``[t*hop_length, t*hop_length + n_fft)``; nothing is padded, so a frame is ready the moment its last
sample arrives and the newest frame ends at the newest sample.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from dataclasses import dataclass, fields

from bridge.errors import SpecError

#: Fields the digest covers: everything that changes the numbers. ``fps`` is only a request; the
#: ``hop_length`` it rounds to is what matters, so two requests rounding to one hop share a digest.
_DIGEST_KEYS = ("sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "mel_htk",
                "mel_norm", "center", "window", "power", "amin", "onset_lag", "version")
_DERIVED_KEYS = ("hop_length", "frame_rate", "n_features", "digest")


def _fail(name: str, accepted: str, got: object) -> SpecError:
    return SpecError(f"The {name!r} field of FeatureSpec must be {accepted}. Got {got!r} instead.")


def _check_number(name: str, value: object, lo: float, hi: float, *, integer: bool,
                  lo_open: bool = False) -> None:
    kind = "an int" if integer else "a number"
    bracket = "(" if lo_open else "["
    accepted = f"{kind} in {bracket}{lo:g}, {hi:g}]"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise _fail(name, accepted, value)
    if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
        raise _fail(name, accepted, value)


@dataclass(frozen=True, kw_only=True)
class FeatureSpec:
    """What the features are: 64 log-mel bands (dB), RMS and onset strength per frame.

    ``FeatureSpec(fps=8)`` is the research default; the hop is ``round(sample_rate / fps)`` and
    :attr:`frame_rate` reports the rate actually obtained (60 fps gives hop 368, 59.92 frames/s).
    """

    fps: float = 8.0
    sample_rate: int = 22050
    n_fft: int = 2048
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None  # None means sample_rate / 2
    mel_htk: bool = False
    mel_norm: str | None = "slaney"
    center: bool = False
    window: str = "hann"
    power: float = 2.0
    amin: float = 1e-10
    onset_lag: int = 1
    version: int = 1

    def __post_init__(self) -> None:
        _check_number("sample_rate", self.sample_rate, 4000, 192000, integer=True)
        _check_number("n_fft", self.n_fft, 16, 65536, integer=True)
        _check_number("fps", self.fps, 0.1, self.sample_rate / 8, integer=False)
        _check_number("n_mels", self.n_mels, 1, 512, integer=True)
        nyquist = self.sample_rate / 2
        _check_number("fmin", self.fmin, 0, nyquist, integer=False)
        fmax = nyquist if self.fmax is None else self.fmax
        _check_number("fmax", fmax, self.fmin, nyquist, integer=False, lo_open=True)
        object.__setattr__(self, "fmax", float(fmax))
        object.__setattr__(self, "fmin", float(self.fmin))
        if not isinstance(self.mel_htk, bool):
            raise _fail("mel_htk", "True or False", self.mel_htk)
        if self.mel_norm not in ("slaney", None):
            raise _fail("mel_norm", "'slaney' or None", self.mel_norm)
        if self.center is not False:
            raise _fail("center", "False (a streaming extractor cannot centre frames on samples "
                        "that have not arrived yet)", self.center)
        if self.window != "hann":
            raise _fail("window", "'hann' (periodic, as librosa uses)", self.window)
        if self.power != 2.0:
            raise _fail("power", "2.0 (power spectrogram, as the research used)", self.power)
        _check_number("amin", self.amin, 0, 1, integer=False, lo_open=True)
        _check_number("onset_lag", self.onset_lag, 1, 64, integer=True)
        if self.version != 1:
            raise _fail("version", "1 (this vjbridge understands feature spec version 1 only; "
                        "upgrade vjbridge to read newer models)", self.version)
        object.__setattr__(self, "fps", float(self.fps))

    # ---- derived values ---------------------------------------------------------------------
    @property
    def hop_length(self) -> int:
        """Samples between frame starts: ``round(sample_rate / fps)``."""
        return max(1, round(self.sample_rate / self.fps))

    @property
    def frame_rate(self) -> float:
        """The frame rate actually obtained, ``sample_rate / hop_length`` (frames per second)."""
        return self.sample_rate / self.hop_length

    @property
    def n_features(self) -> int:
        """Columns per frame: the mel bands, then RMS, then onset strength."""
        return self.n_mels + 2

    @property
    def feature_names(self) -> tuple[str, ...]:
        width = len(str(self.n_mels - 1))
        return tuple(f"mel_{i:0{width}d}" for i in range(self.n_mels)) + ("rms", "onset")

    @property
    def window_seconds(self) -> float:
        """Length of the audio one frame sees (n_fft samples), in seconds."""
        return self.n_fft / self.sample_rate

    def frame_end_times(self, n_frames: int):
        """Stream time (s) at which each of the first ``n_frames`` frames ends and is emitted."""
        import numpy as np

        return (np.arange(n_frames) * self.hop_length + self.n_fft) / self.sample_rate

    def n_frames_for(self, n_samples: int) -> int:
        """How many complete frames a signal of ``n_samples`` samples yields."""
        if n_samples < self.n_fft:
            return 0
        return 1 + (n_samples - self.n_fft) // self.hop_length

    # ---- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Every field plus the derived ``hop_length``, ``frame_rate``, ``n_features``, ``digest``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out.update(hop_length=self.hop_length, frame_rate=self.frame_rate,
                   n_features=self.n_features)
        out["digest"] = self.digest
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureSpec":
        if not isinstance(data, dict):
            raise SpecError(f"A FeatureSpec must be a JSON object. Got {type(data).__name__}.")
        names = [f.name for f in fields(cls)]
        kwargs = {}
        for key, value in data.items():
            if key in _DERIVED_KEYS:
                continue
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise SpecError(f"FeatureSpec has no field {key!r}.{hint}")
            kwargs[key] = value
        spec = cls(**kwargs)
        for key in ("hop_length", "digest"):
            if key in data and data[key] != getattr(spec, key):
                raise SpecError(f"FeatureSpec JSON says {key}={data[key]!r} but its fields give "
                                f"{getattr(spec, key)!r}: the spec was edited or written by an "
                                "incompatible version.")
        return spec

    @classmethod
    def from_json(cls, text: str | bytes) -> "FeatureSpec":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"FeatureSpec JSON is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @property
    def digest(self) -> str:
        """Stable SHA-256 over the fields that determine the numbers (``fps`` via its hop)."""
        core = {key: getattr(self, key) for key in _DIGEST_KEYS}
        text = json.dumps(core, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def same_features(self, other: "FeatureSpec") -> bool:
        """True when both specs produce identical frames (same digest)."""
        return self.digest == other.digest

    def replace(self, **changes) -> "FeatureSpec":
        """A copy with some fields changed (and validated)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if "fmax" not in changes and self.fmax == self.sample_rate / 2:
            data["fmax"] = None  # stay "up to Nyquist" when the sample rate changes
        data.update(changes)
        return type(self)(**data)

    def describe(self) -> str:
        return (f"{self.n_mels} mel bands + rms + onset @ {self.sample_rate} Hz, n_fft "
                f"{self.n_fft}, hop {self.hop_length} ({self.frame_rate:.3f} frames/s)")
