"""Synthetic videos with known answers, written with PyAV (lossless FFV1 + PCM in Matroska)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np


def write_video(path, frame_at, n_frames: int, *, fps: int = 24, size: int = 64,
                audio: np.ndarray | None = None, sr: int = 22050) -> str:
    """``frame_at(k) -> uint8 (size, size, 3)`` for frame k shown at k/fps; ``audio`` mono float."""
    with av.open(str(path), "w", format="matroska") as out:
        v = out.add_stream("ffv1", rate=fps)
        v.width = v.height = size
        v.pix_fmt = "bgr0"
        v.time_base = Fraction(1, fps)
        a = None
        if audio is not None:
            a = out.add_stream("pcm_s16le", rate=sr)
            a.layout = "mono"
        for k in range(n_frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_at(k)), format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1, fps)
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        if a is not None:
            pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
            for start in range(0, pcm.size, 4096):
                block = pcm[start:start + 4096][None, :]
                af = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
                af.sample_rate = sr
                af.pts = start
                af.time_base = Fraction(1, sr)
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode():
                out.mux(p)
    return str(path)


def noise_audio(seconds: float, sr: int = 22050, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.1 * rng.standard_normal(int(seconds * sr))
