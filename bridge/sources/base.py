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

Why the reader is woken by a second queue, and only when a frame can be complete: a 10 ms device
block completes a 60 Hz frame (16.7 ms) only every 1-2 blocks, and each wake-up of the engine costs
~70-150 µs of CPU at real time however little it then does (tests/bench/latency/PROFILE.md). So the
engine says how many samples it needs before its next frame (:attr:`Source.wake_at`, a count of
samples pushed since the source was made) and :meth:`Source.read` sleeps on :attr:`Source._wake`,
which the producer feeds one token when a push reaches that count while the reader waits. The
blocks in between stay queued and are read, in order, on the wake-up that completes the frame: the
frame leaves as early as before, with one wake-up instead of two. ``wake_at = 0`` (the default, any
reader but the engine): every push wakes a waiting reader, as a plain queue would.
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

    __slots__ = ("maxsize", "_q", "qsize", "empty")

    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"a block queue holds at least 1 block; got {maxsize}")
        self.maxsize = int(maxsize)
        self._q = queue.SimpleQueue()
        self.qsize = self._q.qsize
        self.empty = self._q.empty

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
        # the reader's wake-up (module docstring): samples queued so far, the count at which a
        # waiting reader wants to be woken, whether one waits, and the token queue it sleeps on
        self.pushed = 0
        self.wake_at = 0
        self._waiting = False
        self._wake = queue.SimpleQueue()

    # -- producer side: copy, stamp, enqueue; never block, never raise --------------------------
    def _push(self, samples: np.ndarray, arrival: float | None = None) -> None:
        item = Block(samples, time.perf_counter() if arrival is None else arrival,
                     self.generation, self.sample_rate)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.overruns += 1
            return
        self._queued(samples.shape[0])

    def _queued(self, n: int) -> None:
        """After a block of ``n`` samples was queued: wake a waiting reader when it wants them.
        (The count is raised before the flag is read, the reader sets the flag before it looks at
        the queue: one of the two always sees the other, so no wake-up is lost.)"""
        self.pushed += n
        if self._waiting and self.pushed >= self.wake_at:
            self._waiting = False
            self._wake.put(None)

    # -- engine side -----------------------------------------------------------------------------
    def read(self, timeout: float) -> Block | None:
        """The oldest queued block at once; else wait up to ``timeout`` s until the source has
        pushed :attr:`wake_at` samples (any block when it is 0), then the oldest block. ``None``
        when the time ran out with nothing queued. (Emptiness is asked, not caught: an exception
        per wake-up costs more than the question.)"""
        q = self._queue
        if not q.empty():
            return q.get_nowait()
        deadline = time.perf_counter() + timeout
        while True:
            self._waiting = True  # before looking at the queue again (see _queued)
            if q.empty():
                left = deadline - time.perf_counter()
                if left > 0:
                    try:
                        self._wake.get(timeout=left)
                    except queue.Empty:
                        pass
            self._waiting = False
            if not q.empty():
                return q.get_nowait()
            if time.perf_counter() >= deadline:  # else a token left over from a race
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
