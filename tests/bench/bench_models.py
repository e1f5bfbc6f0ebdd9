"""Benchmark (not a test): engine-thread CPU per 60 Hz frame of the live extract and models stages.

    .venv/bin/python tests/bench/bench_models.py [--seconds 20] [--repeat 5]

What runs is what the engine runs, without the other stages around it: 48 kHz demo audio in 10 ms
blocks through :class:`~bridge.audio.resample.StreamResampler` to the live spec, fed to the
:class:`~bridge.audio.features.FeatureExtractor` one hop at a time as ``Engine._process`` does
(``--feed block``: the whole resampler output per call, then the frames one by one), then each frame
through a :class:`~bridge.models.runner.ModelRunner` of the default shipped model ("models":
``runner.process(frame)``). "extract" is all resampler and extractor work since the previous frame,
including the ~70% of blocks whose resampler call returns nothing (the engine's own "extract" timer
leaves those out). Per-frame ``time.thread_time_ns`` (CPU of this thread only, so a busy shared box
disturbs it less than wall time); medians, means and 10th percentiles over all frames of all
passes. The last line times the models stage's parts (context row; ``predict_row`` on real rows: a
tree ensemble's branches mispredict on varying rows, ~15 µs against ~7 µs on one repeated row).

To compare with an older tree, run this script with that tree first on ``PYTHONPATH`` (e.g.
``git archive COMMIT | tar -x -C /tmp/old``, and link its onnx_models to this checkout's),
alternating the two several times; it only uses APIs both have. Pause background jobs while
measuring.

Measured 2026-11-21 23:46 UTC (2-core box, load average ~3.5-4: the background study paused, other
engineers' renders running), 8 alternating runs each (``--seconds 10 --repeat 3``), min / median
over runs of the per-run figure, before (4d85a2e) -> after (3530742), µs per frame:

    extract + models  median 77.4 / 81.5 -> 61.8 / 63.8   mean 73.3 / 78.7 -> 57.9 / 64.0
    extract           mean   38.3 / 41.0 -> 31.7 / 34.6   (--feed block: 28.0 / 30.1)
    models            mean   35.0 / 37.7 -> 26.1 / 29.3   p10 31.5 / 32.5 -> 23.6 / 24.1

In the full pipeline (the engine's own timers, ``_pipeline(models=None, mapping="default")``, 30 s
of demo audio, 10 alternating runs of trees that differ only in these files) extract + models
median per frame went 84.7 / 92.0 -> 69.3 / 72.0 µs and the engine loop's CPU per frame 163 / 195
-> 144 / 162 µs (min / median over runs).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _pass(audio, spec, model, block: int, feed: str = "hop"):
    from bridge.audio.features import FeatureExtractor
    from bridge.audio.resample import StreamResampler
    from bridge.models.runner import ModelRunner

    clock = time.thread_time_ns
    rs = StreamResampler(48000, spec.sample_rate)
    ex = FeatureExtractor(spec)
    runner = ModelRunner(model, spec)
    hop = spec.hop_length
    extract, models = [], []
    t0 = clock()
    for i in range(0, audio.size - block + 1, block):
        y = rs.process(audio[i:i + block])
        if feed == "block":  # one extractor call per resampler output, then frame by frame
            if y.size:
                frames = ex.process(y)
                for j in range(frames.shape[0]):
                    t1 = clock()
                    runner.process(frames[j:j + 1])
                    t2 = clock()
                    extract.append(t1 - t0)
                    models.append(t2 - t1)
                    t0 = clock()
            continue
        for k in range(0, y.size, hop):  # Engine._process today: one hop per extractor call
            frames = ex.process(y[k:k + hop])
            if frames.shape[0]:
                t1 = clock()
                runner.process(frames)
                t2 = clock()
                extract.append(t1 - t0)
                models.append(t2 - t1)
                t0 = clock()
    return extract, models, runner


def _parts(runner, frames, repeat: int = 5) -> dict:
    """Median over passes of the mean CPU per frame of the models stage's parts."""
    from bridge.models.context import ContextBuilder

    b = ContextBuilder(runner.model.context, runner.model.spec.n_features)
    row = np.empty(runner.model.n_inputs)
    rows = ContextBuilder(runner.model.context, runner.model.spec.n_features).process(frames)
    clock = time.thread_time_ns
    out = {"context row": [], "predict_row": []}
    for _ in range(repeat):
        b.reset()
        t0 = clock()
        for f in frames:
            b.process_row(f, row)
        t1 = clock()
        for r in rows:  # real rows: a tree ensemble's branches are predicted badly on them
            runner.model.predict_row(r)
        t2 = clock()
        out["context row"].append((t1 - t0) / len(frames) / 1e3)
        out["predict_row"].append((t2 - t1) / len(frames) / 1e3)
    return {k: float(np.median(v)) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--feed", choices=("hop", "block"), default="hop",
                        help="hop: one hop per extractor call (the engine today); block: the whole "
                             "resampler output per call, the frames then one by one")
    args = parser.parse_args()
    import bridge
    from bridge.audio.demo import DemoMusic
    from bridge.audio.features import FeatureExtractor
    from bridge.models.onnx_model import OnnxModel
    from bridge.runtime.engine import LIVE_SPEC
    try:
        from bridge.resources import DEFAULT_MODEL, models_dir

        model_path = models_dir() / DEFAULT_MODEL
    except ImportError:  # an older tree (before bridge.resources) on PYTHONPATH
        from bridge.runtime.pipeline import DEFAULT_MODEL, MODELS_DIR

        model_path = MODELS_DIR / DEFAULT_MODEL

    print(f"tree: {os.path.dirname(os.path.dirname(bridge.__file__))}")
    model = OnnxModel.load(model_path)
    audio = DemoMusic(48000).read(int(args.seconds * 48000))
    ext, mod = [], []
    for _ in range(args.repeat):
        e, m, runner = _pass(audio, LIVE_SPEC, model, 480, args.feed)
        ext += e[8:]  # the first frames (no onset history yet) are cheaper
        mod += m[8:]
    frames = FeatureExtractor(LIVE_SPEC).process(DemoMusic(22050).read(22050 * 10))
    for name, v in (("extract", ext), ("models", mod)):
        a = np.asarray(v) / 1e3
        print(f"{name:8s} median {np.median(a):6.1f} µs  mean {a.mean():6.1f} µs  "
              f"p10 {np.percentile(a, 10):6.1f} µs  p99 {np.percentile(a, 99):6.1f} µs  "
              f"(n={a.size})")
    both = (np.asarray(ext) + np.asarray(mod)) / 1e3
    print(f"{'both':8s} median {np.median(both):6.1f} µs  mean {both.mean():6.1f} µs  "
          f"p10 {np.percentile(both, 10):6.1f} µs")
    print("parts (mean per frame):", {k: round(v, 2) for k, v in _parts(runner, frames).items()})


if __name__ == "__main__":
    main()
