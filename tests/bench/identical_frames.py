"""Are the live path's numbers bit for bit those of another checkout? (for CPU work on the engine)

    python -m tests.bench.identical_frames --tree OTHER_CHECKOUT [--seconds 6]

Why: a CPU cut on the live path (fewer numpy calls, chunked kernels, preallocated buffers) must
not change a single bit of what the models and the signals see, because training datasets are
built from the same code and live must compute exactly what training saw. The tests compare the
live path with librosa (within tolerances) and block splits with each other (within 1e-6 or bit
for bit); this compares two versions of the code on one fixed input, byte for byte.

The input: the demo groove rendered at 48 kHz, 44.1 kHz and 22,050 Hz, as a stereo device block
stream (two channels scaled differently, float32, 10 ms blocks, and a second pass in random block
sizes up to 3000 samples). Each checkout, in its own process: the engine's downmix, the stream
resampler, the feature extractor, then the shipped models and the classic signals one frame at a
time (the live stages of ``bridge.runtime.pipeline.build``). Every array is compared as bytes;
exit 1 and the first difference when any differs. Run it on the machine itself (FFTW and BLAS
kernels differ between machines, never between two runs of one).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

_RUN = r"""
import sys
import numpy as np
from bridge.audio.demo import DemoMusic
from bridge.audio.features import FeatureExtractor
from bridge.audio.resample import StreamResampler
from bridge.runtime.engine import LIVE_SPEC
from bridge.runtime.pipeline import build
try:
    from bridge.runtime.engine import downmix
except ImportError:  # before it had a name: the engine's expression
    def downmix(x):
        return np.add.reduce(x, axis=1) / x.shape[1]

seconds, out = float(sys.argv[1]), sys.argv[2]
stages, _, _ = build(LIVE_SPEC, mapping=None)
for stage in stages:
    stage.start()
arrays = {}
for rate in (48000, 44100, 22050):
    mono = DemoMusic(rate).read(int(seconds * rate))
    stereo = np.stack((mono, 0.5 * mono[::-1]), axis=1).astype(np.float32)
    rng = np.random.default_rng(rate)
    for split in ("10ms", "random"):
        sizes = ([rate // 100] * (stereo.shape[0] // (rate // 100) + 1) if split == "10ms"
                 else list(rng.integers(1, 3000, stereo.shape[0] // 500)))
        rs, ex = StreamResampler(rate, LIVE_SPEC.sample_rate), FeatureExtractor(LIVE_SPEC)
        for stage in stages:
            stage.reset()
        ys, frames, outs, i = [], [], [[] for _ in stages], 0
        for n in sizes:
            block = stereo[i:i + n]
            i += n
            if not block.shape[0]:
                break
            y = rs.process(downmix(block))
            ys.append(y)
            f = ex.process(y)
            frames.append(f)
            for j in range(f.shape[0]):
                for k, stage in enumerate(stages):
                    res = stage.process(f[j:j + 1])
                    outs[k].append(np.column_stack([res[name] for name in stage.names]))
        key = f"{rate}-{split}"
        arrays[key + "-resampled"] = np.concatenate(ys)
        arrays[key + "-frames"] = np.concatenate(frames)
        for k, stage in enumerate(stages):
            arrays[f"{key}-{stage.name}"] = np.concatenate(outs[k])
np.savez(out, **arrays)
"""


def compute(tree: Path, seconds: float, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _RUN, str(seconds), str(out)], cwd=tree,
                          env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True,
                          text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"identical_frames: {tree} failed: {done.stderr.strip()[-600:]}")
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.identical_frames",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", required=True, help="the other checkout (e.g. main's)")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of audio per rate")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        mine = compute(ROOT, args.seconds, Path(tmp) / "mine.npz")
        other = compute(Path(args.tree).resolve(), args.seconds, Path(tmp) / "other.npz")
    if sorted(mine) != sorted(other):
        print(f"identical_frames: different outputs: {sorted(set(mine) ^ set(other))}")
        return 1
    for key in sorted(mine):
        a, b = mine[key], other[key]
        if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
            diff = np.abs(a - b).max() if a.shape == b.shape else "shapes differ"
            print(f"identical_frames: {key} differs ({a.shape} vs {b.shape}; max |diff| {diff})")
            return 1
    values = sum(a.size for a in mine.values())
    print(f"identical_frames: {len(mine)} arrays, {values} values, bit for bit equal "
          f"({ROOT} vs {Path(args.tree).resolve()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
