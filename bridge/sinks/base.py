"""The sink template: public ``send()`` validates, ``_send()`` transports; ``blackout()``, ``close()``.

Why a template: every output (OSC, MIDI, later DMX) must behave the same at the edges the engine
relies on: values checked in one place before anything reaches a wire (as mido's ports do), idle
values sent on blackout and on exit, ``close()`` safe to call twice, and counters (``sent``,
``drops``) for the status line. Subclasses implement ``_validate``, ``_send`` and ``_close``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from bridge.errors import SinkError


class Sink(ABC):
    kind = "sink"

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False
        self.frames = 0
        self._idle: list = []
        self._idle_at: int | None = None  # self.frames at the last blackout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.describe()}>"

    def describe(self) -> str:
        return ""

    # --- public API (the template) ---------------------------------------------------------------
    def send(self, items: Sequence) -> None:
        """Validate every item (ValueError/TypeError naming the bad one), then transport them."""
        if self.closed:
            raise SinkError(f"{self.kind} output {self.name!r} is closed")
        for item in items:
            self._validate(item)
        if items:
            self._send(items)
            self.frames += 1

    def set_idle(self, items: Sequence) -> None:
        """The values :meth:`blackout` sends (validated now, so a bad idle value fails early)."""
        for item in items:
            self._validate(item)
        self._idle = list(items)

    def blackout(self) -> None:
        """Send every output's idle value (and release whatever is held, e.g. MIDI notes)."""
        if not self.closed:
            self._blackout(self._idle)
            self._idle_at = self.frames  # what close() compares: sent nothing since?

    def close(self) -> None:
        """Blackout, then release the transport. Safe to call more than once. When nothing was
        sent since the last blackout (the engine's idle-then-close at exit), the outputs are at
        their idle values already and are not sent them again."""
        if self.closed:
            return
        try:
            if self._idle_at != self.frames:
                self.blackout()
        finally:
            self.closed = True
            self._close()

    def stats(self) -> dict:
        return {"frames": self.frames, "sent": self.sent, "drops": self.drops,
                "refused": self.refused}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- for subclasses ----------------------------------------------------------------------------
    sent = 0
    drops = 0
    refused = 0  # packets refused because nothing listens at the target (UDP)

    @abstractmethod
    def _validate(self, item) -> None: ...

    @abstractmethod
    def _send(self, items: Sequence) -> None: ...

    def _blackout(self, idle: Sequence) -> None:
        if idle:
            self._send(idle)

    @abstractmethod
    def _close(self) -> None: ...
