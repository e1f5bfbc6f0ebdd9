"""`DemoSource`: the built-in synthetic groove (:class:`bridge.audio.demo.DemoMusic`) as a live source.

Why: ``vjbridge run`` on a machine without any input device (CI, a fresh gallery PC) still shows the
whole pipeline moving, at real time, through the same queue and engine as a sound card.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from bridge.sources.paced import PacedSource


class DemoSource(PacedSource):
    kind = "demo"

    def __init__(self, sample_rate: int = 22050, *, speed: float = 1.0, block_seconds: float = 0.01,
                 seconds: float | None = None, queue_blocks: int = 256):
        super().__init__(speed=speed, block_seconds=block_seconds, queue_blocks=queue_blocks)
        self.sample_rate = float(sample_rate)
        self.seconds = seconds  # None: endless

    def _generate(self) -> Iterator[np.ndarray]:
        from bridge.audio.demo import DemoMusic

        music = DemoMusic(int(self.sample_rate))
        chunk = int(self.sample_rate)  # 1 s at a time; PacedSource cuts it into blocks
        left = None if self.seconds is None else int(self.seconds * self.sample_rate)
        while left is None or left > 0:
            n = chunk if left is None else min(chunk, left)
            yield music.read(n)
            if left is not None:
                left -= n

    def describe(self) -> str:
        return "built-in demo groove (--demo)"
