"""Keeps a named MIDI output connected across its receiver going away and coming back.

Why: a desk that reboots, a USB MIDI interface pulled and plugged in again, a JACK or ALSA client
(QLC+, a DAW) that quits and starts again: each takes the destination port away. rtmidi does not
notice (on JACK a send to a vanished connection succeeds and reaches nobody), so a show that ran
for weeks lost its MIDI for good, without a line in the log. A :class:`PortWatch` thread asks the
sink's MIDI system for its outputs every ``interval`` s (off the engine thread),
and when the port the user named (the same pattern, so an ALSA client number that changed still
matches) is gone, says so once; when it is back, opens it again, swaps it in under the sink's
lock and says so once. The receiver then gets every CC's current value on the next tick (it lost
them), held notes stay released.

The listing goes through one client kept open (:class:`bridge.sinks.midi_backend.OutputLister`:
µs a look, where a fresh listing costs ~24 ms of CPU on JACK). Only while the MIDI system itself
stays up: a JACK server that stops under the show takes this process's clients with it (the
lister then sees no ports, so the port stays "gone"); opening python-rtmidi's JACK client again in
the same process after that was tried and crashed the process on close, so MIDI then resumes when
vjbridge restarts (a service manager does that). A virtual port is this process's own and is not
watched.
"""

from __future__ import annotations

import logging
import threading
import time

from bridge.errors import SinkError

log = logging.getLogger(__name__)

INTERVAL_S = 2.0


class PortWatch:
    """Watches ``sink`` (a :class:`bridge.sinks.midi.MidiSink` with a named port): ``reopen()``
    is the sink's way to open its port again; ``lost`` is True while the port is gone."""

    def __init__(self, sink, *, interval: float = INTERVAL_S) -> None:
        self.sink = sink
        self.interval = float(interval)
        self.lost = False
        self.lost_at: float | None = None
        self.reconnects = 0
        self._lister = None  # made on the watch's thread at its first look
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"midi-watch-{sink.name}",
                                        daemon=True)

    def start(self) -> "PortWatch":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - the watch must outlive any one answer
                log.debug("midi output %r: port watch: %s", self.sink.name, exc)

    def check(self) -> None:
        """One look: is the port there? (called by the thread; tests call it directly)."""
        sink = self.sink
        if self._lister is None:
            from bridge.sinks.midi_backend import OutputLister

            self._lister = OutputLister(sink.backend)
        state = sink.port_state(self.lost, self._lister())
        if state == "ok":
            return
        if not self.lost:
            self.lost, self.lost_at = True, time.monotonic()
            log.warning("midi output %r: port %r is gone (unplugged, its program quit, or its "
                        "MIDI system stopped); sending resumes when it returns", sink.name,
                        sink.port_name)
        if state != "reopen":
            return
        try:
            sink.reopen()
        except SinkError as exc:  # listed but not open yet (still starting): next time
            log.debug("midi output %r: reopen: %s", sink.name, exc)
            return
        self.lost = False
        self.reconnects += 1
        away = time.monotonic() - (self.lost_at or time.monotonic())
        log.warning("midi output %r: port %r is back after %.0f s; sending again",
                    sink.name, sink.port_name, away)

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._lister is not None and not self._thread.is_alive():
            self._lister.close()
            self._lister = None
