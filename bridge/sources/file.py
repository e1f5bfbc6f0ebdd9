"""`FileSource`: play an audio (or video) file through the live path, in real time or faster.

Why through the live path: a file replayed here goes through the same queue, resampler, extractor and
stages as a sound card, so what a user hears in rehearsal with ``--file`` is what the show does, and
tests can compare the live result with the offline pipeline on the same file. Blocks stay at the
file's own rate: the engine resamples them exactly as it resamples a device.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from bridge.sources.paced import PacedSource


#: The shortest file that yields one frame: the live spec's FFT window (2048 samples at 22,050 Hz).
MIN_SECONDS = 2048 / 22050


class FileSource(PacedSource):
    kind = "file"

    def __init__(self, path, *, speed: float = 1.0, block_seconds: float = 0.01,
                 queue_blocks: int = 256):
        super().__init__(speed=speed, block_seconds=block_seconds, queue_blocks=queue_blocks)
        self.path = str(path)
        _regular_file(self.path)

    def _prepare(self) -> None:
        from bridge.audio.decode import audio_info

        info = audio_info(self.path)  # MediaError with one clear line on a bad file
        self.sample_rate = float(info.sample_rate)
        self.duration = info.duration
        if info.duration is not None and info.duration < MIN_SECONDS:
            # an empty or one-sample file would play "successfully" and send nothing at all
            from bridge.errors import MediaError

            raise MediaError(f"{self.path}: {info.duration * 1000:.1f} ms of audio; vjbridge needs "
                             f"at least {MIN_SECONDS * 1000:.0f} ms (one analysis frame) to send "
                             "anything")

    def _generate(self) -> Iterator[np.ndarray]:
        from bridge.audio.decode import iter_audio

        yield from iter_audio(self.path)

    def describe(self) -> str:
        speed = "" if self.speed == 1 else (" as fast as possible" if self.speed == 0
                                            else f" at {self.speed:g}x")
        return f"file {self.path}{speed}"


def _regular_file(path: str) -> None:
    """A FIFO or device as ``--file`` would block the decoder's open for ever, holding the
    interpreter (no stop signal could be handled): refused here, at once, in one line."""
    import os
    import stat

    from bridge.errors import MediaError

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # a missing file: the decoder's own one-line error says so
    if not stat.S_ISREG(mode):
        raise MediaError(f"{path}: not a regular file (a FIFO, device or directory?); --file plays "
                         "an audio or video file")
