"""The Ableton Link sink: hands vjbridge's tempo and beats to the process's Link peer.

Why so little here: everything that talks to Link runs on the Link thread
(:mod:`bridge.sinks.link_session`, which also says what the session does with the values and
why). ``send`` on the engine thread only validates and hands over: the newest tempo by
assignment, each beat as the ``perf_counter()`` time it was sent (``deque.append``). Nothing
blocks and nothing is dropped: a tempo replaces the previous one, beats are kept up to 16.
Blackout and close send nothing to the session (its tempo and phase stay as they are for the
other peers); close leaves the session when no other user (the ``--link`` input) holds it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import NamedTuple

from bridge.errors import SinkError
from bridge.sinks.base import Sink
from bridge.sinks import link_session

#: What a route can send to Link: the session tempo (BPM) or a beat (the phase reference).
FIELDS = ("tempo", "beat")


class LinkValue(NamedTuple):
    """``("tempo", bpm)`` (a float; 0 = no tempo yet, not sent) or ``("beat", 1.0)``."""

    field: str
    value: float


class LinkSink(Sink):
    kind = "link"

    def __init__(self, name: str = "default", *, quantum: float = 4.0,
                 align_tolerance: float = 0.05) -> None:
        super().__init__(name)
        self.quantum, self.align_tolerance = float(quantum), float(align_tolerance)
        try:
            self.session = link_session.acquire(quantum=self.quantum,
                                                align_tolerance=self.align_tolerance)
        except link_session.LinkUnavailable as exc:
            raise SinkError(f"link target {name!r}: {exc}") from None
        self._sent = 0

    @classmethod
    def from_config(cls, name: str, cfg) -> "LinkSink":
        return cls(name, quantum=cfg["quantum"], align_tolerance=cfg["align_tolerance"])

    def describe(self) -> str:
        return f"Ableton Link session, quantum {self.quantum:g}"

    @property
    def sent(self) -> int:
        return self._sent

    def stats(self) -> dict:
        return super().stats() | {"tempo_commits": self.session.tempo_commits,
                                  "phase_alignments": self.session.forced}

    # --- the template's hooks ----------------------------------------------------------------
    def _validate(self, item) -> None:
        if type(item) is not LinkValue:
            raise TypeError(f"link output {self.name!r} takes LinkValue items, got {item!r}")
        field, v = item
        if field not in FIELDS:
            raise ValueError(f"link field {field!r} is not one of {', '.join(FIELDS)}")
        if type(v) is not float or not math.isfinite(v):
            raise ValueError(f"link {field} must be a finite float, got {v!r}")

    def _send(self, items: Sequence[LinkValue]) -> None:
        session = self.session
        for field, v in items:
            if field == "tempo":
                if v > 0.0:
                    session.hand_tempo(v)
            else:
                session.hand_beat(time.perf_counter())
            self._sent += 1

    def _blackout(self, idle: Sequence) -> None:
        """Nothing: the session's tempo and phase belong to every peer."""

    def _close(self) -> None:
        link_session.release(self.session)
