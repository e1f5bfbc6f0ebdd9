"""A tiny synthetic dataset shared by the study and export tests (built once per session)."""

import numpy as np
import pytest

from bridge.training.dataset import build_dataset
from tests.training.synthetic import write_video


def make_corpus(folder, *, tracks=4, presets=2, seconds=12.0, sr=22050, fps_v=12):
    """Videos whose bar width follows the music's loudness; each preset sets its own level."""
    paths = []
    for track in range(tracks):
        rng = np.random.default_rng(track)
        n = int(seconds * sr)
        env = np.repeat(rng.random(int(seconds * 4) + 1) ** 2, sr // 4 + 1)[:n]
        env = np.convolve(env, np.ones(2000) / 2000, mode="same")
        audio = env * 0.3 * rng.standard_normal(n)
        times = np.arange(int(seconds * fps_v)) / fps_v
        lev = np.interp(times, np.arange(n) / sr, env)
        for preset in range(presets):
            base = 0.2 + 0.5 * preset

            def frame_at(k, preset=preset, base=base):
                f = np.zeros((64, 64, 3), np.uint8)
                w = int(8 + 48 * lev[k])
                f[:, :w] = (255 * base, 80, 255 * (1 - base))
                f[:, w:] = (20, 40 * preset, 60)
                noise = np.random.default_rng(k + 1000 * preset)
                f += noise.integers(0, int(10 + 60 * base * lev[k]) + 1, f.shape).astype(np.uint8)
                return f

            paths.append(write_video(folder / f"t{track}__p{preset}.mkv", frame_at, len(times),
                                     fps=fps_v, audio=audio, sr=sr))
    return paths


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Built from a corpus-style manifest: groups by track, presets known (3 presets, 4 tracks)."""
    import json
    from pathlib import Path

    root = tmp_path_factory.mktemp("tiny")
    (root / "videos").mkdir()
    paths = make_corpus(root / "videos")
    entries = []
    for p in paths:
        track, preset = Path(p).stem.split("__")
        entries.append({"video": f"videos/{Path(p).name}", "group": track, "track": track,
                        "preset": f"preset{(int(track[1:]) + int(preset[1:])) % 3}"})
    (root / "manifest.json").write_text(json.dumps({"videos": entries}))
    build_dataset([str(root / "manifest.json")], str(root / "data"), fps=[4, 8, 22050 / 2944],
                  jobs=2, progress=False)
    return str(root / "data")
