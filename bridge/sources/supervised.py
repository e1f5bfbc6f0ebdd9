"""`SupervisedSource`: what the sound-card input (:mod:`.device`) and the JACK input (:mod:`.jack`)
share: a supervisor thread that notices a lost input, says so once, and retries it by name.

Why one piece: both lose their input the same ways (the driver's own end callback, or no callback
for ``stall_seconds``) and come back the same way (a retry every ``retry_seconds``; the new stream's
blocks carry a new :attr:`generation`, so the engine resets its pipeline). Only opening, closing
and naming the input differ; a subclass provides ``_loss_reason()``, ``_retry()``, ``_close()`` and
``_input_name()``. The supervisor does no audio work: the callback still only copies (:mod:`.base`).
"""

from __future__ import annotations

import logging
import threading
import time

from bridge.errors import DeviceError
from bridge.sources.base import LOST, RUNNING, STOPPED, Source

log = logging.getLogger(__name__)


class SupervisedSource(Source):
    """A live input watched by a supervisor thread (see the module docstring)."""

    supervisor_name = "input-supervisor"

    def __init__(self, *, retry_seconds: float = 1.0, stall_seconds: float = 1.5,
                 queue_blocks: int = 256, wait: bool = False):
        super().__init__(queue_blocks=queue_blocks)
        self.retry_seconds = float(retry_seconds)
        self.stall_seconds = float(stall_seconds)
        self.wait = bool(wait)  # not there at start: wait for it by name instead of failing
        self.losses = 0
        self._ended = threading.Event()  # set by the driver's end (finished/shutdown) callback
        self._last_callback = 0.0
        self._next_retry = 0.0
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    # -- for the subclasses ----------------------------------------------------------------------
    def _loss_reason(self) -> str | None:  # pragma: no cover - interface
        """Why the running input counts as lost now, or None while it delivers."""
        raise NotImplementedError

    def _retry(self) -> None:  # pragma: no cover - interface
        """One attempt to reopen the lost input; sets :attr:`state` to RUNNING when it is back."""
        raise NotImplementedError

    def _close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _input_name(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def _watch(self) -> None:
        """Called by the supervisor every 0.1 s while the input delivers; nothing by default
        (the sound card's auto input latency uses it)."""

    def _stalled(self) -> bool:
        return time.perf_counter() - self._last_callback > self.stall_seconds

    def _wait_or_raise(self, exc: DeviceError) -> None:
        """The input is not there at start: raise ``exc``, or with ``wait`` start lost and look
        for it every ``retry_seconds``."""
        if not self.wait:
            raise exc
        log.warning("%s; waiting for it, looking every %g s", exc, self.retry_seconds)
        self.state = LOST
        self._next_retry = time.perf_counter() + self.retry_seconds

    def _start_supervisor(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name=self.supervisor_name,
                                        daemon=True)
        self._thread.start()

    # -- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        self._close()
        self.state = STOPPED

    def _supervise(self) -> None:
        while not self._halt.wait(0.1):
            if self.state == RUNNING:
                why = self._loss_reason()
                if why is not None:
                    self._lose(why)
                else:
                    self._watch()
            elif self.state == LOST and time.perf_counter() >= self._next_retry:
                self._next_retry = time.perf_counter() + self.retry_seconds
                self._retry()

    def _lose(self, why: str) -> None:
        self.state = LOST
        self.losses += 1
        log.warning("audio input %r %s; outputs hold, retrying by name every %g s",
                    self._input_name(), why, self.retry_seconds)
        self._close()
        self._next_retry = time.perf_counter()
