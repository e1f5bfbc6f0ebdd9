"""A producer thread that plays a sample generator in real time (file and demo sources).

It behaves like a sound card: blocks of ``block_seconds`` are pushed at the pace of the audio
(``speed`` times real time), stamped with their arrival time, through the same non-blocking queue.
``speed=0`` means "as fast as the engine takes it": then, and only then, the producer waits for room
in the queue instead of dropping (a file reader can wait; a sound card cannot).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Iterator

import numpy as np

from bridge.errors import ConfigError
from bridge.sources.base import FINISHED, RUNNING, STOPPED, Block, Source

log = logging.getLogger(__name__)


class PacedSource(Source):
    """Subclasses set :attr:`sample_rate` and implement :meth:`_generate` (mono float blocks)."""

    def __init__(self, *, speed: float = 1.0, block_seconds: float = 0.01, queue_blocks: int = 256):
        super().__init__(queue_blocks=queue_blocks)
        if not (speed >= 0 and speed < 1e6):
            raise ConfigError(f"--speed must be a number >= 0 (1 = real time, 0 = as fast as "
                              f"possible); got {speed}")
        self.speed = float(speed)
        self.block_seconds = float(block_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _generate(self) -> Iterator[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def _prepare(self) -> None:
        """Open what the generator needs on the caller's thread, so errors surface in start()."""

    def start(self) -> None:
        self._prepare()
        self.state = RUNNING
        self._thread = threading.Thread(target=self._produce, name=f"{self.kind}-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self.state != FINISHED:
            self.state = STOPPED

    def _produce(self) -> None:
        n = max(1, round(self.sample_rate * self.block_seconds))
        pending = np.zeros(0)
        sent = 0
        t0 = time.perf_counter()
        try:
            for chunk in self._generate():
                pending = np.concatenate((pending, chunk)) if pending.size else np.asarray(chunk)
                while pending.size >= n:
                    if not self._emit(pending[:n], sent, t0):
                        return
                    sent += n
                    pending = pending[n:]
            if pending.size and self._emit(pending, sent, t0):
                sent += pending.size
            self.state = FINISHED
        except Exception as exc:  # a decoding error mid-file: report it, end the stream
            log.error("%s: %s", self.describe(), exc)
            self.error = exc
            self.state = FINISHED

    def _emit(self, block: np.ndarray, sent: int, t0: float) -> bool:
        """Wait until ``block``'s last sample is due, then enqueue it. False when stopping."""
        if self.speed > 0:
            due = t0 + (sent + block.size) / (self.sample_rate * self.speed)
            stop, clock, sleep = self._stop, time.perf_counter, time.sleep
            while True:
                wait = due - clock()
                if wait <= 0:
                    break
                # time.sleep, not stop.wait(): Event.wait runs a Python Condition (a new lock per
                # call); a sleep of at most 50 ms still sees a stop within 50 ms
                sleep(wait if wait < 0.05 else 0.05)
                if stop.is_set():
                    return False
            self._push(block[:, None].copy())
            return not self._stop.is_set()
        item = Block(block[:, None].copy(), time.perf_counter(), self.generation, self.sample_rate)
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                self._queued(block.size)
                return True
            except queue.Full:
                continue
        return False
