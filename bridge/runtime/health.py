"""`health()`: a snapshot judged for a monitor: "ok", "degraded" or "down", with the reasons.

Why a verdict and not only numbers: a gallery's monitor (``vjbridge status``, a cron job, Uptime
Kuma, Nagios) asks one question: is the show all right? ``/health`` answers it with one word,
the reasons in words a person understands, and every number of the snapshot after them.

- **down**: the show is not reaching anyone: the engine has not started, has stopped, or has
  stalled (its newest snapshot is older than :data:`STALLED_AFTER_S`); the input device is lost or
  has delivered no audio for :data:`bridge.runtime.snapshot.AUDIO_STALL_S`.
- **degraded**: it runs, but something needs a look: the input is silent, nothing listens at a
  target (or a TCP target is not connected), a TCP receiver accepted but does not read, a target
  drops packets over the threshold, the engine falls behind the audio (overruns).
- **ok**: none of these.
"""

from __future__ import annotations

import json

#: A snapshot older than this means the engine thread has stopped publishing: stalled.
STALLED_AFTER_S = 2.0

OK, DEGRADED, DOWN = "ok", "degraded", "down"


def health(snap, *, age: float | None = None) -> tuple[str, list[str]]:
    """``(status, reasons)`` for snapshot ``snap`` (None: the engine has not published one yet);
    ``age``: seconds since it was built (default: measured now)."""
    if snap is None:
        return DOWN, ["starting: the engine has not published its state yet"]
    age = snap.age if age is None else age
    down, degraded = [], []
    if snap.engine_state != "running":
        down.append(f"engine {snap.engine_state}")  # starting (models load), or stopped
    elif age > STALLED_AFTER_S:
        down.append(f"engine stalled: its newest state is {age:.1f} s old")
    src = snap.source_description
    if snap.device_state == "lost":
        down.append(f"input lost: {src}")
    elif snap.device_state == "stalled":
        down.append(f"no audio from {src} for {snap.audio_age:.1f} s")
    elif snap.device_state not in ("running", "finished"):
        down.append(f"input {snap.device_state}: {src}")
    if snap.input_state == "silent":
        silent = f" for {snap.silent_for:.0f} s" if snap.silent_for is not None else ""
        degraded.append(f"input silent{silent}: {src}")
    for t in snap.targets:
        if not t.listening:
            degraded.append(f"nothing listening at {t.name} ({t.description})")
        if not t.reading:
            degraded.append(f"{t.name} ({t.description}) does not read what it is sent "
                            f"({t.backlog} bytes waiting)")
        if t.dropping:
            degraded.append(f"{t.name} ({t.description}) drops packets: {t.drops_per_s:.1f}/s")
    if snap.overruns_per_s > 0:
        degraded.append(f"the engine falls behind the audio: {snap.overruns_per_s:.1f} blocks/s "
                        "dropped (overruns)")
    if down:
        return DOWN, down + degraded
    return (DEGRADED, degraded) if degraded else (OK, [])


class HealthDocument:
    """``/health`` as bytes: the verdict, then the snapshot's own JSON (encoded once per snapshot
    however many clients poll it, so readers cost the engine nothing)."""

    def __init__(self):
        self._cache: tuple = (None, b"{}")  # (seq, body): one tuple, so threads never mix them

    def render(self, snap) -> tuple[str, bytes]:
        status, reasons = health(snap)
        head = {"status": status, "reasons": reasons,
                "age_s": None if snap is None else round(snap.age, 3)}
        if snap is None:
            return status, json.dumps(head).encode()
        seq, body = self._cache
        if seq != snap.seq:
            body = json.dumps(snap.as_dict(), allow_nan=False).encode()
            self._cache = (snap.seq, body)
        return status, json.dumps(head).encode()[:-1] + b", " + body[1:]
