"""The librosa reference computation the extractor must match (tests and ``vjbridge bench``).

Kept verbatim from the specification so the tests and the benchmark compare against exactly one
definition. Imports librosa lazily: it is a test/training dependency, never a live one.
"""

from __future__ import annotations

import numpy as np

from bridge.audio.spec import FeatureSpec


def librosa_features(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """``(n_frames, n_mels + 2)``: mel dB, RMS, onset strength, computed by librosa on ``y``."""
    import librosa

    sr, n_fft, hop = spec.sample_rate, spec.n_fft, spec.hop_length
    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, window="hann",
                                       center=False, power=2.0, n_mels=spec.n_mels,
                                       fmin=spec.fmin, fmax=spec.fmax, htk=spec.mel_htk,
                                       norm=spec.mel_norm)
    mel_db = librosa.power_to_db(S, ref=1.0, amin=spec.amin, top_db=None)
    rms = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop, center=False)[0]
    onset = librosa.onset.onset_strength(S=mel_db, sr=sr, n_fft=n_fft, hop_length=hop,
                                         lag=spec.onset_lag, max_size=1, center=False)
    return np.vstack([mel_db, rms[None, :], onset[None, :]]).T
