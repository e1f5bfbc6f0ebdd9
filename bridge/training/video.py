"""Reading video frames with PyAV, downscaled by FFmpeg to the fixed size the targets use.

Why downscale in FFmpeg: the targets are defined on small frames (64 x 64) so they do not depend on
the resolution a video was rendered at, and swscale's area filter does the averaging in C before a
frame ever becomes a numpy array (decoding 256 x 256 H.264 runs at ~260 frames/s here). Times are
presentation times in seconds on the container clock, the same clock the audio track's
``start_time`` uses, which is what lets :mod:`bridge.training.dataset` line frames up with audio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from bridge.audio.decode import open_media, stream_duration
from bridge.errors import MediaError


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    rate: float | None  # nominal frames per second, when the container says
    duration: float | None  # seconds


def video_info(path) -> VideoInfo:
    _, container = open_media(path, track="video")
    with container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate) if stream.average_rate else None
        duration = stream_duration(stream, container)
        return VideoInfo(os.fspath(path), stream.codec_context.width, stream.codec_context.height,
                         rate, duration)


def iter_frames(path, *, size: int = 64) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(presentation_time_s, rgb)`` per decoded frame, ``rgb`` uint8 ``(size, size, 3)``.

    Frames come in presentation order. A frame without a timestamp gets the previous one's time plus
    the nominal frame duration. Decoding errors become :class:`MediaError`.
    """
    av, container = open_media(path, track="video")
    with container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate) if stream.average_rate else 25.0
        last = None
        try:
            for frame in container.decode(stream):
                t = frame.time
                if t is None:
                    t = 0.0 if last is None else last + 1.0 / rate
                if last is not None and t <= last:
                    continue  # duplicate or out-of-order timestamp: keep the first shown
                last = t
                small = frame.reformat(width=size, height=size, format="rgb24",
                                       interpolation="AREA")
                yield float(t), small.to_ndarray()
        except av.error.FFmpegError as exc:
            raise MediaError(f"{os.fspath(path)}: video decoding failed ({exc}); the file is "
                             "probably corrupt or truncated") from None
