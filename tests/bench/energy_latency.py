"""What the causal harmonic/percussive split costs in time, counted in samples and frames (no
clock, no scheduler noise).

1. **A click** (an impulse) over a quiet sustained chord, at many positions inside the hop: the
   frame at which ``energy`` first reaches half its peak, as frames after the first frame whose
   window holds the click and as ms from the click to that frame's end (when the engine emits
   it). Beside it the same measure on the frame's total mel power with no split: the
   difference is what the split adds.
2. **A sustained tone that starts** (a sound the split should call harmonic): how many frames
   after its onset the percussive share of its band stays above one half, i.e. how long a
   causal split takes it for a hit. A centred median decides at once but only
   ``harmonic_frames // 2`` frames later: that is the latency a non-causal split would cost.

    python -m tests.bench.energy_latency [--fps 60] [--positions 60]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from bridge.audio.features import FeatureExtractor
from bridge.audio.spec import FeatureSpec
from bridge.signals.energy import EnergyVector

SR = 22050


def chord(seconds: float, level: float = 0.05) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return level * sum(np.sin(2 * np.pi * hz * t) for hz in (220.0, 277.2, 329.6)) / 3


def first_frame_holding(spec: FeatureSpec, sample: int) -> int:
    """The first frame whose window ``[t hop, t hop + n_fft)`` contains ``sample``."""
    return max(0, -(-(sample - spec.n_fft + 1) // spec.hop_length))


def click_response(spec: FeatureSpec, at: int, seconds: float = 3.0) -> dict:
    """Frames and ms from a click at sample ``at`` to ``energy`` (and to the frame's total mel
    power, no split) first reaching half its peak."""
    y = chord(seconds)
    y[at] += 0.9
    frames = FeatureExtractor(spec).process(y)
    energy = EnergyVector(spec).process(frames)[:, 0]
    total = (10.0 ** (frames[:, :spec.n_mels] / 10.0)).sum(axis=1)
    first = first_frame_holding(spec, at)
    out = {}
    for name, curve in (("energy", energy), ("total", total)):
        base = np.median(curve[max(0, first - 30):first])
        rise = curve[first:first + 30] - base
        hit = first + int(np.argmax(rise >= 0.5 * rise.max()))
        end = (hit * spec.hop_length + spec.n_fft) / SR
        out[name] = (hit - first, (end - at / SR) * 1000.0)
    return out


def tone_misread(spec: FeatureSpec, onset_s: float = 2.0, hz: float = 440.0) -> int:
    """Frames after a sustained tone's first full frame during which its band reads more
    percussive than harmonic (the causal split's cost on a harmonic onset)."""
    y = chord(onset_s + 2.0, level=0.0)
    start = int(onset_s * SR)
    t = np.arange(y.size - start) / SR
    y[start:] = 0.3 * np.sin(2 * np.pi * hz * t)
    frames = FeatureExtractor(spec).process(y)
    vector = EnergyVector(spec)
    band = int(np.argmax(frames[-1, :spec.n_mels]))
    first_full = -(-start // spec.hop_length)  # the first frame starting after the onset
    shares = []
    for f in frames:
        vector.raw(f[:spec.n_mels])
        h = np.partition(vector._hist, vector._mid_t, axis=1)[:, vector._mid_t]
        p = np.partition(vector._power[vector._idx], vector._mid_f, axis=1)[:, vector._mid_f]
        shares.append(p[band] / max(p[band] + h[band], 1e-30))
    shares = np.array(shares)
    after = shares[first_full:]
    return int(np.argmax(after < 0.5)) if (after < 0.5).any() else len(after)


def measure(fps: float = 60.0, positions: int = 60) -> dict:
    spec = FeatureSpec(fps=fps)
    base = int(1.5 * SR)
    runs = [click_response(spec, base + int(k * spec.hop_length / positions))
            for k in range(positions)]
    result = {"fps": spec.frame_rate, "harmonic_frames": EnergyVector(spec).harmonic_frames,
              "tone_misread_frames": tone_misread(spec)}
    for name in ("energy", "total"):
        f = np.array([r[name][0] for r in runs])
        ms = np.array([r[name][1] for r in runs])
        result[name] = {"frames_median": float(np.median(f)), "frames_max": int(f.max()),
                        "ms_median": float(np.median(ms)), "ms_max": float(ms.max())}
    extra = np.array([r["energy"][0] - r["total"][0] for r in runs])
    result["split_extra_frames_median"] = float(np.median(extra))
    result["split_extra_frames_max"] = int(extra.max())
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--positions", type=int, default=60)
    args = parser.parse_args(argv)
    r = measure(args.fps, args.positions)
    hop_ms = 1000.0 / r["fps"]
    for name, what in (("energy", "energy"), ("total", "total mel power, no split")):
        m = r[name]
        print(f"click -> {what} at half its peak: {m['frames_median']:g} frames (max "
              f"{m['frames_max']}) after the first frame holding it; {m['ms_median']:.1f} ms "
              f"median, {m['ms_max']:.1f} ms max from the click to that frame's end")
    print(f"the split adds {r['split_extra_frames_median']:g} frames to a click (median over "
          f"{args.positions} positions in the hop; at most {r['split_extra_frames_max']})")
    print(f"a sustained tone reads percussive for {r['tone_misread_frames']} frames "
          f"({r['tone_misread_frames'] * hop_ms:.0f} ms) after its onset; a centred median "
          f"({r['harmonic_frames']} frames) would hold every frame back "
          f"{r['harmonic_frames'] // 2} frames ({r['harmonic_frames'] // 2 * hop_ms:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
