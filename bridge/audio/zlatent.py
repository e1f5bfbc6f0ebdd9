"""The CPPN latent ``z``: NeuroMV's mel spectrogram at 30 frames/s, normalised per band.

Why through :class:`FeatureExtractor`: offline renders and the live ``/vjbridge/z`` must see the
same numbers, so ``z`` is the extractor's mel dB at its own :class:`FeatureSpec` (hop 1/30 s =
735 samples and window 1/15 s = 1470 samples at 22,050 Hz, NeuroMV's values; causal, ``center=
False``), fed a whole file offline or the engine's resampled stream live. The extractor is the
same streaming object both ways, so the raw frames agree to the extractor's own chunk invariance.

Normalisation (written into every CPPN model, :data:`NORM`): each band is standardised,
``clip((dB - mean) / max(std, 1 dB), -3, 3)``. Offline, ``mean`` and ``std`` are the song's own
(:func:`song_z`); live they are running estimates (:class:`RunningNorm`: cumulative for the first
``tau`` seconds, then exponential with time constant ``tau``), so a song played live converges to
the offline ``z`` after a few seconds.
"""

from __future__ import annotations

import numpy as np

from bridge.audio.spec import FeatureSpec

#: NeuroMV: hop 1/30 s, window 1/15 s; the number of mel filters sets the size of z.
HOP_SECONDS = 1 / 30
WINDOW_SECONDS = 1 / 15
DEFAULT_BANDS = 32
#: How z is normalised; stored in each CPPN model as ``vjbridge.z_norm``.
NORM = {"method": "per-band standardised mel dB, clip((dB - mean) / max(std, min_std), -clip, clip)",
        "offline": "mean and std of the whole song", "live": "running mean/std, tau seconds",
        "min_std": 1.0, "clip": 3.0, "tau": 10.0}


def z_spec(n_bands: int = DEFAULT_BANDS, sample_rate: int = 22050) -> FeatureSpec:
    """The extractor spec of ``z``: ``n_bands`` mel bands, hop 1/30 s, window 1/15 s."""
    return FeatureSpec(fps=1 / HOP_SECONDS, sample_rate=sample_rate,
                       n_fft=round(sample_rate * WINDOW_SECONDS), n_mels=n_bands)


def mel_db(audio: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Raw z frames ``(n, n_mels)`` (mel dB) of mono ``audio`` at ``spec.sample_rate``."""
    from bridge.audio.features import FeatureExtractor

    frames = FeatureExtractor(spec, threads=1).process(np.asarray(audio, dtype=np.float64))
    return frames[:, :spec.n_mels]


def normalise(db: np.ndarray, mean, std, norm: dict = NORM) -> np.ndarray:
    z = (db - mean) / np.maximum(std, norm["min_std"])
    return np.clip(z, -norm["clip"], norm["clip"])


def song_z(db: np.ndarray, norm: dict = NORM) -> np.ndarray:
    """Offline z: each band standardised by the whole song's mean and std."""
    if len(db) == 0:
        return db.copy()
    return normalise(db, db.mean(axis=0), db.std(axis=0), norm)


class RunningNorm:
    """Live z: each band standardised by running estimates (cumulative, then EMA after ``tau``)."""

    def __init__(self, n_bands: int, frame_rate: float, norm: dict = NORM):
        self.norm = norm
        self.n_cap = max(1, round(norm["tau"] * frame_rate))
        self.n_bands = n_bands
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.mean = np.zeros(self.n_bands)
        self.var = np.zeros(self.n_bands)

    def process(self, db: np.ndarray) -> np.ndarray:
        """``(n, bands)`` mel dB -> ``(n, bands)`` z, each row normalised with the stats so far."""
        out = np.empty_like(db, dtype=np.float64)
        for i, row in enumerate(db):
            self.n = min(self.n + 1, self.n_cap)
            a = 1.0 / self.n
            d = row - self.mean
            self.mean += a * d
            self.var = (1 - a) * (self.var + a * d * d)
            out[i] = normalise(row, self.mean, np.sqrt(self.var), self.norm)
        return out
