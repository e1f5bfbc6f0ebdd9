"""What every audio source shares: a bounded block queue filled by a producer, read by the engine.

Why a queue and nothing else on the producer side: the PortAudio callback (or a file/demo pacing
thread) runs on a thread the engine does not control. If it did any work, a slow frame would make the
device drop audio; if it ever blocked, the whole audio stack would stall. So the producer only copies
the block, stamps its arrival time and calls ``put_nowait``. When the engine falls behind and the queue
is full, the block is dropped and counted in :attr:`Source.overruns` (shown in the status line).

Why :class:`BlockQueue` and not ``queue.Queue``: ``Queue.get(timeout)`` and ``put_nowait`` run a
Python-level ``Condition`` (a new lock per wait, a waiter list, ``notify``) on every 10 ms block, on
both threads; on this project's 2-core machines that read cost ~50-70 µs of CPU per block at real
time (tests/bench/latency/PROFILE.md, section 4). ``queue.SimpleQueue`` does the same hand-off in C;
the bound is one ``qsize()`` check on the producer side (one producer per source, so the queue can
never grow past it).
"""

from __future__ import annotations

import queue
import time
from typing import NamedTuple

import numpy as np

#: Source states, as shown in the status line.
STARTING, RUNNING, LOST, FINISHED, STOPPED = "starting", "running", "lost", "finished", "stopped"


class BlockQueue:
    """A bounded FIFO for one producer and one consumer on ``queue.SimpleQueue`` (C).

    ``put_nowait`` raises ``queue.Full`` at ``maxsize`` items, ``get(timeout)`` raises
    ``queue.Empty``; ``put(item, timeout)`` (a file played as fast as possible) waits for room."""

    __slots__ = ("maxsize", "_q", "qsize")

    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"a block queue holds at least 1 block; got {maxsize}")
        self.maxsize = int(maxsize)
        self._q = queue.SimpleQueue()
        self.qsize = self._q.qsize

    def put_nowait(self, item) -> None:
        if self._q.qsize() >= self.maxsize:
            raise queue.Full
        self._q.put(item)

    def put(self, item, timeout: float) -> None:
        """Wait up to ``timeout`` s for room (polling every ms: only the as-fast-as-possible file
        reader waits, never a sound card's callback)."""
        deadline = time.perf_counter() + timeout
        while self._q.qsize() >= self.maxsize:
            if time.perf_counter() >= deadline:
                raise queue.Full
            time.sleep(0.001)
        self._q.put(item)

    def get(self, timeout: float | None = None):
        return self._q.get(timeout=timeout)

    def get_nowait(self):
        return self._q.get_nowait()

    def empty(self) -> bool:
        return self._q.empty()


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
        self._queue = BlockQueue(int(queue_blocks))
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
