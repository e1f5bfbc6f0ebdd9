"""Write a rendered clip as one video file that carries its own audio (PyAV, Matroska).

Why the audio travels inside the video: the dataset step treats corpus clips like any user's VJ
recording, decoding the video's own audio track and frames. Putting the exact audio that was
pushed into projectM next to the frames removes any chance of pairing a clip with the wrong music
or offset.

Format: H.264 (libx264, CRF 23, yuv420p, one thread, no B-frame surprises in timing: every frame
has an explicit pts) and FLAC (lossless, 16-bit) in Matroska, muxed with ``+bitexact`` so the same
frames and audio give the same bytes.

Alignment (the contract the dataset step relies on):
- audio sample 0 has pts 0;
- rendered frame ``i`` (the picture after the audio of ``[i/fps, (i+1)/fps)`` was pushed) has
  pts ``(i+1)/fps``. So the frame on screen at time ``t`` reflects exactly the audio before ``t``,
  as on a live visualizer with zero latency, and "the video frame shown when a feature window
  ends" (latest frame with pts <= window end) has seen exactly the audio up to that window's end
  (to within Matroska's 1 ms timestamps).
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

from bridge.errors import CorpusError

CONTAINER = "matroska"
EXTENSION = ".mkv"


class ClipWriter:
    """``write(frame, audio_chunk)`` per rendered frame, then ``close()``."""

    def __init__(self, path, *, size: int, fps: int, sample_rate: int, crf: int = 23,
                 x264_preset: str = "medium"):
        import av

        self.path = os.fspath(path)
        self.fps = int(fps)
        self.sample_rate = int(sample_rate)
        self._av = av
        self._container = av.open(self.path, mode="w", format=CONTAINER,
                                  options={"fflags": "+bitexact"})
        v = self._container.add_stream("libx264", rate=self.fps)
        v.width = v.height = int(size)
        v.pix_fmt = "yuv420p"
        v.time_base = Fraction(1, self.fps)
        v.codec_context.time_base = Fraction(1, self.fps)
        v.codec_context.thread_count = 1
        v.codec_context.options = {"crf": str(int(crf)), "preset": x264_preset}
        a = self._container.add_stream("flac", rate=self.sample_rate, layout="stereo")
        a.format = "s16"
        a.time_base = Fraction(1, self.sample_rate)
        a.codec_context.time_base = Fraction(1, self.sample_rate)
        self._video, self._audio = v, a
        self.frames = 0
        self.samples = 0

    def write(self, frame: np.ndarray, audio: np.ndarray) -> None:
        """Add rendered frame ``self.frames`` and the stereo float audio pushed before it."""
        av = self._av
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.frames + 1  # shown after its audio: see the module docstring
        self._mux(self._video.encode(vf))
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = np.repeat(audio[:, None], 2, axis=1)
        if len(audio):
            pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
            af = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
            af.sample_rate = self.sample_rate
            af.pts = self.samples
            self._mux(self._audio.encode(af))
            self.samples += len(audio)
        self.frames += 1

    def _mux(self, packets) -> None:
        for packet in packets:
            self._container.mux(packet)

    def close(self) -> None:
        try:
            self._mux(self._video.encode(None))
            self._mux(self._audio.encode(None))
        except self._av.error.FFmpegError as exc:
            raise CorpusError(f"encoding {self.path} failed: {exc}") from None
        finally:
            self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self._container.close()
