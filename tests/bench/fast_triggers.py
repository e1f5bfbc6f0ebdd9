"""Benchmark (not a test): the fast triggers' own lag and false detections, beside the 60 Hz path's.

    python -m tests.bench.fast_triggers [--rate 48000] [--block-ms 5] [--options JSON]

Audio with known events, at the device rate, fed in device blocks as the daemon feeds it:

- the e2e benchmark's 60 clicks (tests/bench/latency/clicks.py: 5 ms noise bursts over -60 dBFS);
- 16 synthesized kicks and 16 snares (tests/signals/conftest.py's sounds) over a -60 dBFS floor;
- the demo groove, 30 s (kick on every beat, snare on beats 2 and 4, hats between, bass, pad);
- the test music (tests/data/music, 15 s each): no ground truth, so the number of events each
  detector reports and how many of the 60 Hz detector's events the fast one also reports within
  60 ms.

Lag = device samples from the event's first sample to the sample at which the detector decided:
the fast detector's, the newest sample of the hop that fired; the 60 Hz path's, the device sample
whose arrival completes the frame that fired (its end, plus the stream resampler's hold-back). The
60 Hz "onset" event is the e2e benchmark's: the onset level rising through 0.5. An event is a hit
when it comes 10 ms before to 100 ms after a true event (each true event takes one); the rest are
false. Also printed: the fast detector's CPU per device block, hot (back to back). Measured, never
asserted (tests/signals/test_fast_triggers.py asserts behaviour).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bridge.audio.demo import DemoMusic
from bridge.audio.features import FeatureExtractor
from bridge.audio.resample import StreamResampler
from bridge.audio.spec import FeatureSpec
from bridge.signals.classic import ClassicSignals
from bridge.signals.fast_triggers import FastTriggers

SPEC = FeatureSpec(fps=60)
NAMES = ("onset", "kick", "snare")


def fast_events(y: np.ndarray, rate: float, block: int, **options) -> tuple[dict, float]:
    """Events per name (stream samples) and the median CPU µs per block."""
    det = FastTriggers(rate, **options)
    out: dict[str, list[int]] = {n: [] for n in NAMES}
    cost = []
    for i in range(0, y.size, block):
        t0 = time.thread_time_ns()
        events = det.process(y[i:i + block])
        cost.append(time.thread_time_ns() - t0)
        for name, at in events:
            out[name].append(at)
    return out, float(np.median(cost)) / 1000.0


def frame_events(y: np.ndarray, rate: float) -> dict[str, list[int]]:
    """The 60 Hz path's events, in device samples (see the module docstring)."""
    resampler = StreamResampler(rate, SPEC.sample_rate)
    y22 = resampler.process(y)
    frames = FeatureExtractor(SPEC).process(y22)
    signals = ClassicSignals(SPEC)
    values = signals.process(frames)
    ends = ((np.arange(frames.shape[0]) * SPEC.hop_length + SPEC.n_fft
             + resampler.latency_samples) * rate / SPEC.sample_rate)
    out = {}
    for name in NAMES:
        on = values[:, signals.columns[name]] >= 0.5
        rise = on & ~np.concatenate(([False], on[:-1]))
        out[name] = [int(e) - 1 for e in ends[rise]]
    return out


def score(events, truth, rate: float) -> dict:
    events = np.sort(np.asarray(events, dtype=float))
    used = np.zeros(events.size, bool)
    lags = []
    for t in truth:
        inside = np.flatnonzero((events >= t - 0.01 * rate) & (events < t + 0.1 * rate) & ~used)
        if inside.size:
            used[inside[0]] = True
            lags.append((events[inside[0]] - t) * 1000.0 / rate)
    lags = np.asarray(lags)
    return {"hits": len(lags), "of": len(truth), "false": int((~used).sum()),
            "lag_ms": [round(float(np.median(lags)), 1), round(float(np.percentile(lags, 95)), 1),
                       round(float(lags.max()), 1)] if lags.size else None}


def agreement(fast, slow, rate: float) -> dict:
    fast = np.asarray(fast, float)
    matched = sum(bool(np.any(np.abs(fast - s) < 0.06 * rate)) for s in slow)
    return {"fast": len(fast), "60hz": len(slow), "matched": int(matched)}


def _floor(n: int, rate: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n) * 1e-3  # -60 dBFS


def synthetic(rate: int) -> dict:
    from tests.bench.latency import clicks

    out = {}
    y = clicks.click_track(60)
    if rate != clicks.RATE:
        y = StreamResampler(clicks.RATE, rate).process(y)
    truth = [round((clicks.LEAD_IN + 0.5 * k) * rate) for k in range(60)]
    out["60 clicks"] = (y, dict.fromkeys(NAMES, truth))
    t = np.arange(int(0.3 * rate)) / rate
    kick = 0.8 * np.sin(2 * np.pi * (45 * t + 65 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 9)
    snare = 0.5 * (0.7 * np.random.default_rng(0).standard_normal(t.size)
                   + 0.3 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 20)
    for name, sound in (("kick", kick), ("snare", snare)):
        y = _floor(int(8.5 * rate), rate, 1)
        starts = [round((0.5 + 0.5 * k) * rate) for k in range(16)]
        for s in starts:
            y[s:s + sound.size] += sound[:y.size - s]
        out[f"16 {name}s"] = (y, {name: starts, "onset": starts})
    seconds = 30
    y = DemoMusic(rate).read(seconds * rate)
    beat = 60.0 / DemoMusic.BPM
    beats = [k * beat for k in range(int(seconds / beat) + 1) if k * beat * rate < y.size]
    kicks = [round(b * rate) for b in beats]
    snares = [round(b * rate) for k, b in enumerate(beats) if k % 2 == 1]
    halves = sorted(kicks + [round((b + beat / 2) * rate) for b in beats
                             if (b + beat / 2) * rate < y.size])  # the hats between the beats
    out[f"demo groove {seconds} s"] = (y, {"kick": kicks, "snare": snares, "onset": halves})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=int, default=48000)
    p.add_argument("--block-ms", type=float, default=5.0, help="device block (ms)")
    p.add_argument("--options", default="{}", help="FastTriggers keyword arguments (JSON)")
    p.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    a = p.parse_args(argv)
    options = json.loads(a.options)
    rate, block = a.rate, max(1, round(a.block_ms * a.rate / 1000.0))
    print(f"rate {rate} Hz, blocks of {block} samples; lag in ms (median / p95 / max) from the "
          f"event's first sample to the decision; options {options or 'default'}")
    report: dict = {"rate": rate, "block": block, "options": options, "known": {}, "music": {}}
    costs = []
    for label, (y, truths) in synthetic(rate).items():
        fe, cost = fast_events(y, rate, block, **options)
        costs.append(cost)
        se = frame_events(y, rate)
        for name, truth in truths.items():
            f, s = score(fe[name], truth, rate), score(se[name], truth, rate)
            report["known"][f"{label} {name}"] = {"fast": f, "60hz": s}
            print(f"{label:>18} {name:<5}  fast {f['hits']:>2}/{f['of']} hits {f['false']:>2} false "
                  f"lag {f['lag_ms']}   |   60 Hz {s['hits']:>2}/{s['of']} hits {s['false']:>2} "
                  f"false lag {s['lag_ms']}")
    from bridge.audio.decode import load_audio

    for path in sorted(Path("tests/data/music").glob("*.o*")):
        y = load_audio(path, sample_rate=rate)
        fe, cost = fast_events(y, rate, block, **options)
        costs.append(cost)
        se = frame_events(y, rate)
        for name in NAMES:
            g = agreement(fe[name], se[name], rate)
            report["music"][f"{path.name} {name}"] = g
            print(f"{path.name:>28} {name:<5}  fast {g['fast']:>3} events, 60 Hz {g['60hz']:>3}, "
                  f"{g['matched']} of the 60 Hz ones within 60 ms of a fast one")
    report["cpu_us_per_block"] = round(float(np.median(costs)), 1)
    print(f"fast detector CPU per block (hot, median over the signals): "
          f"{report['cpu_us_per_block']} µs")
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
