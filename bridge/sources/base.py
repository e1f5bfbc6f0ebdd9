"""What every audio source shares: a bounded block queue filled by a producer, read by the engine.

Why a queue and nothing else on the producer side: the PortAudio callback (or a file/demo pacing
thread) runs on a thread the engine does not control. If it did any work, a slow frame would make the
device drop audio; if it ever blocked, the whole audio stack would stall. So the producer only copies
the block, stamps its arrival time and calls ``put_nowait``. When the engine falls behind and the queue
is full, the block is dropped and counted in :attr:`Source.overruns` (shown in the status line).
"""

from __future__ import annotations

import queue
import time
from typing import NamedTuple

import numpy as np

#: Source states, as shown in the status line.
STARTING, RUNNING, LOST, FINISHED, STOPPED = "starting", "running", "lost", "finished", "stopped"


class Block(NamedTuple):
    samples: np.ndarray  # (n, channels) float32/float64 at ``rate``
    arrival: float  # time.perf_counter() when the producer received it (the callback's time)
    generation: int  # bumps when the stream restarts (device came back): the engine resets
    rate: float  # sample rate of ``samples``


class Source:
    """Base of the device, file and demo sources.

    ``start()`` begins producing; the engine thread calls ``read(timeout)`` (a :class:`Block` or
    ``None``) until :attr:`finished` and ``read`` returns ``None``; ``stop()`` ends it. Counters are
    plain ints written by one thread and read by another (safe under the GIL).
    """

    kind = "source"

    def __init__(self, *, queue_blocks: int = 256):
        self._queue: queue.Queue = queue.Queue(maxsize=int(queue_blocks))
        self.state = STARTING
        self.overruns = 0  # blocks dropped because the engine did not keep up
        self.xruns = 0  # overflows reported by the audio driver itself
        self.generation = 0
        self.sample_rate: float = 0.0
        self.input_latency = 0.0  # seconds the driver reports between ADC and callback

    # -- producer side: copy, stamp, enqueue; never block, never raise --------------------------
    def _push(self, samples: np.ndarray, arrival: float | None = None) -> None:
        item = Block(samples, time.perf_counter() if arrival is None else arrival,
                     self.generation, self.sample_rate)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.overruns += 1

    # -- engine side -----------------------------------------------------------------------------
    def read(self, timeout: float) -> Block | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    @property
    def finished(self) -> bool:
        """True once a finite source delivered its last block (more may still be queued)."""
        return self.state == FINISHED

    def start(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError
