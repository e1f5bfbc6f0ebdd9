"""Fast (5 ms hop, device rate) vs 60 Hz triggers on the same audio: lag in samples, hits, false.

    python -m tests.bench.triggers.compare [--rate 48000]

Audio with known events: the e2e benchmark's click WAV (60 clicks), synthesized kicks and snares
(tests/signals/conftest.py's), the demo groove (kick on every beat, snare on 2 and 4, 124 BPM).
Real music (tests/data/music, no ground truth): how many events each detector reports and how
many of the 60 Hz detector's events the fast one also reports within 60 ms (agreement).

Lag = the sample the detector decided on (FastTriggers: the newest sample of the hop that fired;
the 60 Hz detector: the newest sample of the frame that fired) minus the event's first sample.
The 60 Hz path's figure excludes the resampler's hold-back (it is fed at 22,050 Hz directly), so
its live lag is larger still. Figures are printed, not asserted (the tests assert correctness).
"""

from __future__ import annotations

import argparse

import numpy as np

from bridge.audio.features import FeatureExtractor
from bridge.audio.resample import StreamResampler
from bridge.audio.spec import FeatureSpec
from bridge.signals import ClassicSignals
from bridge.signals.fast_triggers import FastTriggers

SPEC = FeatureSpec(fps=60)


def fast_events(y: np.ndarray, rate: float, block: int, **options) -> dict[str, list[int]]:
    det = FastTriggers(rate, **options)
    out: dict[str, list[int]] = {n: [] for n in det.names}
    for i in range(0, y.size, block):
        for name, at in det.process(y[i:i + block]):
            out[name].append(at)
    return out


def frame_events(y: np.ndarray, rate: float) -> dict[str, list[int]]:
    """The 60 Hz detectors (kick, snare; onset = onset level >= 0.5 rising edge) in device
    samples (frame end / 22,050 x rate)."""
    y22 = StreamResampler(rate, SPEC.sample_rate).process(y) if rate != SPEC.sample_rate else y
    frames = FeatureExtractor(SPEC).process(y22)
    sig = ClassicSignals(SPEC)
    v = sig.process(frames)
    ends = (np.arange(frames.shape[0]) * SPEC.hop_length + SPEC.n_fft) * rate / SPEC.sample_rate
    out = {}
    for name in ("onset", "kick", "snare"):
        col = v[:, sig.columns[name]] >= (0.5 if name == "onset" else 0.999)
        rise = col & ~np.concatenate(([False], col[:-1]))
        out[name] = [int(e) - 1 for e in ends[rise]]
    return out


def score(events, truth, rate, window=0.1) -> dict:
    events = np.sort(np.asarray(events, dtype=float))
    lags, used = [], np.zeros(events.size, bool)
    for t in truth:
        inside = np.flatnonzero((events >= t - 0.01 * rate) & (events < t + window * rate) & ~used)
        if inside.size:
            used[inside[0]] = True
            lags.append(events[inside[0]] - t)
    lags = np.asarray(lags)
    return {"hits": len(lags), "of": len(truth), "false": int((~used).sum()),
            "lag_median_samples": float(np.median(lags)) if lags.size else None,
            "lag_max_samples": float(lags.max()) if lags.size else None}


def agreement(fast, slow, rate, window=0.06) -> str:
    fast = np.asarray(fast, float)
    matched = sum(bool(np.any(np.abs(fast - s) < window * rate)) for s in slow)
    return f"{len(fast)} fast / {len(slow)} at 60 Hz, {matched} of the 60 Hz ones matched"


def synthetic(rate: int):
    from tests.bench.latency import clicks

    out = {}
    y = clicks.click_track(60)
    if rate != clicks.RATE:
        y = StreamResampler(clicks.RATE, rate).process(y)
    first = clicks.LEAD_IN * rate
    truth = [round(first + k * 0.5 * rate) for k in range(60)]
    out["60 clicks"] = (y, {"onset": truth, "kick": truth, "snare": truth})
    t = np.arange(int(0.3 * rate)) / rate
    kick = 0.8 * np.sin(2 * np.pi * (45 * t + 65 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 9)
    snare = (0.5 * (0.7 * np.random.default_rng(0).standard_normal(t.size)
                    + 0.3 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 20))
    for name, sound in (("kick", kick), ("snare", snare)):
        y = np.zeros(int(8.5 * rate))
        starts = [round((0.5 + 0.5 * k) * rate) for k in range(16)]
        for s in starts:
            y[s:s + sound.size] += sound[:y.size - s]
        y += np.random.default_rng(1).standard_normal(y.size) * 1e-3
        out[f"16 {name}s"] = (y, {name: starts, "onset": starts})
    from bridge.audio.demo import DemoMusic

    y = DemoMusic(rate).read(int(20 * rate))
    beat = 60.0 / DemoMusic.BPM
    kicks = [round(k * beat * rate) for k in range(int(20 / beat) + 1) if k * beat * rate < y.size]
    snares = [round(k * beat * rate) for k in range(1, int(20 / beat) + 1, 2)
              if k * beat * rate < y.size]
    halves = [round(k * beat * rate / 2) for k in range(int(40 / beat) + 1)
              if k * beat * rate / 2 < y.size]  # kick or snare on the beat, a hat between
    out["demo groove 20 s"] = (y, {"kick": kicks, "snare": snares, "onset": halves})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=int, default=48000)
    p.add_argument("--block", type=float, default=0.01, help="device block (s)")
    p.add_argument("--options", default="{}", help="FastTriggers keyword arguments (JSON)")
    a = p.parse_args(argv)
    import json

    options = json.loads(a.options)
    rate, block = a.rate, max(1, round(a.block * a.rate))
    print(f"rate {rate} Hz, blocks of {block} samples; lag in device samples "
          f"(1 ms = {rate / 1000:g})")
    for label, (y, truths) in synthetic(rate).items():
        fe, se = fast_events(y, rate, block, **options), frame_events(y, rate)
        for name, truth in truths.items():
            f, s = score(fe[name], truth, rate), score(se[name], truth, rate)
            print(f"{label:>17} {name:<5}  fast: {f['hits']}/{f['of']} hits, {f['false']} false, "
                  f"lag median {f['lag_median_samples']} max {f['lag_max_samples']}   |   60 Hz: "
                  f"{s['hits']}/{s['of']} hits, {s['false']} false, lag median "
                  f"{s['lag_median_samples']} max {s['lag_max_samples']}")
    from pathlib import Path

    from bridge.audio.decode import load_audio

    for path in sorted(Path("tests/data/music").glob("*.o*")):
        y = load_audio(path, sample_rate=rate)
        fe, se = fast_events(y, rate, block, **options), frame_events(y, rate)
        for name in ("onset", "kick", "snare"):
            print(f"{path.name:>28} {name:<5} {agreement(fe[name], se[name], rate)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
