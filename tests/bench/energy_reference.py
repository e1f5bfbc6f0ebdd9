"""The causal energy vector against the study's non-causal one (librosa.decompose.hpss) on real
music: Pearson r per track, of the energy and of the normalised cumulative curve.

The reference is the study's recipe on the same frames as ours (the live spec: n_fft 2048, hop
368, ``center=False``): ``librosa.stft`` -> ``librosa.decompose.hpss`` (kernel 31 frames centred
in time and in frequency, soft masks, power 2) -> ``0.9 P + 0.1 H`` -> the same 64-band mel power
-> summed per frame -> min-max normalised over the track; the cumulative curve is its cumsum
over its last value. Ours is ``energy_curves`` (the live stage over the file). The samples both
see are the live resampler's (``iter_audio``), so the comparison measures the analysis, not the
decoding.

    python -m tests.bench.energy_reference [FILE ...]   # default: tests/data/music/*
"""

from __future__ import annotations

import sys

import numpy as np

from bridge.audio.decode import iter_audio
from bridge.runtime.energy_stage import energy_curves
from bridge.runtime.engine import LIVE_SPEC
from bridge.signals.energy import HARMONIC_WEIGHT, PERCUSSIVE_WEIGHT


def reference_energy(path, spec=LIVE_SPEC) -> np.ndarray:
    """The study's energy per frame (min-max normalised), librosa's non-causal HPSS."""
    import librosa

    y = np.concatenate(list(iter_audio(path, sample_rate=spec.sample_rate)))
    d = librosa.stft(y, n_fft=spec.n_fft, hop_length=spec.hop_length, window="hann",
                     center=False)
    h, p = librosa.decompose.hpss(d)
    w = PERCUSSIVE_WEIGHT * p + HARMONIC_WEIGHT * h
    bank = librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels,
                               fmin=spec.fmin, fmax=spec.fmax)
    raw = (bank @ np.abs(w) ** 2).sum(axis=0)
    return (raw - raw.min()) / max(np.ptp(raw), 1e-30)


def split_powers(path, spec=LIVE_SPEC) -> tuple[np.ndarray, np.ndarray]:
    """Before normalisation: our causal split's weighted mel power per frame, and the same split
    on the mel bands with the time median centred (scipy, non-causal): what causality costs,
    apart from the mel bands and the normalisation."""
    from scipy.ndimage import median_filter

    from bridge.audio.features import FeatureExtractor
    from bridge.signals.energy import EnergyVector

    y = np.concatenate(list(iter_audio(path, sample_rate=spec.sample_rate)))
    frames = FeatureExtractor(spec).process(y)
    vector = EnergyVector(spec)
    causal = np.array([vector.raw(f[:spec.n_mels]) for f in frames])
    s = 10.0 ** (frames[:, :spec.n_mels] / 10.0)
    h = median_filter(s, size=(vector.harmonic_frames, 1), mode="nearest")
    p = median_filter(s, size=(1, vector.percussive_bands), mode="nearest")
    w = HARMONIC_WEIGHT + (PERCUSSIVE_WEIGHT - HARMONIC_WEIGHT) * p / np.maximum(p + h, 1e-30)
    return causal, (w * w * s).sum(axis=1)


def compare(path, spec=LIVE_SPEC) -> dict:
    ref = reference_energy(path, spec)
    _, ours = energy_curves(path, spec)
    causal, centred = split_powers(path, spec)
    n = min(len(ref), len(ours))
    ref, energy, cum = ref[:n], ours[:n, 0], ours[:n, 1]
    ref_cum = np.cumsum(ref) / ref.sum()
    return {"frames": n,
            "r_causal_split": float(np.corrcoef(causal[:n], ref)[0, 1]),
            "r_centred_split": float(np.corrcoef(centred[:n], ref)[0, 1]),
            "r_energy": float(np.corrcoef(energy, ref)[0, 1]),
            "r_energy_db": float(np.corrcoef(np.log10(energy + 1e-4),
                                             np.log10(ref + 1e-4))[0, 1]),
            "r_cumulative": float(np.corrcoef(cum / cum[-1], ref_cum)[0, 1]),
            "max_cumulative_gap": float(np.abs(cum / cum[-1] - ref_cum).max())}


def main(argv=None) -> int:
    from tests.conftest import MUSIC

    paths = (argv if argv is not None else sys.argv[1:]) or sorted(
        p for p in MUSIC.iterdir() if p.suffix in (".ogg", ".opus"))
    for path in paths:
        c = compare(path)
        print(f"{path}: {c['frames']} frames, before normalisation r(causal mel split) "
              f"{c['r_causal_split']:.3f}, r(centred mel split) {c['r_centred_split']:.3f}; "
              f"r(energy) {c['r_energy']:.3f}, r(log energy) "
              f"{c['r_energy_db']:.3f}, r(cumulative) {c['r_cumulative']:.4f}, cumulative "
              f"within {c['max_cumulative_gap']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
