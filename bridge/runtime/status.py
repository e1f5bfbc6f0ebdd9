"""The live status line: levels, send rate, drops, overruns, device state, latency.

Why on the main thread: rendering (rich) costs milliseconds, which would show up as latency spikes on
the engine thread; here it only reads the snapshot the engine publishes (``engine.snapshot``, see
:mod:`bridge.runtime.snapshot`): the same state the status page and ``/health`` show. On a terminal
it is a one-line live display; otherwise (logs, services, tests) a plain line every ``interval``
seconds on stderr, starting with the ISO-8601 local time (``2026-05-02T03:12:09+02:00 vjbridge:
[running] ...``), so a log read weeks later says when.
"""

from __future__ import annotations

import sys
import time


class StatusLine:
    def __init__(self, engine, *, interactive: bool | None = None, interval: float = 2.0,
                 stream=None):
        self.engine = engine
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.interval = float(interval)
        self._live = None
        self._printed = 0.0

    def snapshot(self):
        """The engine's newest :class:`~bridge.runtime.snapshot.Snapshot` (None before the first)."""
        return getattr(self.engine, "snapshot", None)

    def text(self) -> str:
        snap = self.snapshot()
        if snap is None:
            return "[starting] no state published yet"
        s = {"state": snap.device_state, "levels": snap.levels, "rate": snap.packets_per_s,
             "packets": snap.packets, "drops": snap.drops,
             "no_receiver": any(not t.listening for t in snap.targets),
             "overruns": snap.overruns, "xruns": snap.xruns,
             "latency_ms": snap.latency_median_ms, "latency_p99_ms": snap.latency_p99_ms}
        lv = s["levels"]
        if not lv:
            levels = "no audio yet"
        elif "db" in lv:
            levels = (f"rms {lv['rms']:.3f} low {lv['low']:6.1f} mid {lv['mid']:6.1f} high "
                      f"{lv['high']:6.1f} dB")
        else:
            levels = f"rms {lv['rms']:.3f} low {lv['low']:.2f} mid {lv['mid']:.2f} high {lv['high']:.2f}"
        lat = ("" if s["latency_ms"] != s["latency_ms"]
               else f" | latency {s['latency_ms']:.2f}/{s['latency_p99_ms']:.2f} ms (p50/p99)")
        away = " (nothing listening at the target yet)" if s["no_receiver"] else ""
        state = s["state"]
        if snap.input_state == "silent":  # the microphone died, or the fader is down
            state += (", input silent" if snap.silent_for is None
                      else f", input silent {snap.silent_for:.0f} s")
        if snap.nonfinite:
            state += f", {snap.nonfinite} NaN blocks"
        link = f" | {snap.link}" if getattr(snap, "link", None) else ""
        return (f"[{state}] {levels} | {s['rate']:5.1f} pkt/s, {s['packets']} sent{away}, "
                f"{s['drops']} drops, {s['overruns']} overruns, {s['xruns']} xruns{lat}{link}")

    def __enter__(self):
        if self.interactive:
            from rich.console import Console
            from rich.live import Live

            self._live = Live("", console=Console(file=self.stream), refresh_per_second=4,
                              transient=True)
            self._live.__enter__()
        return self

    def update(self) -> None:
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(self.text()))  # plain text: "[lost]" is not rich markup
        elif time.perf_counter() - self._printed >= self.interval:
            self._printed = time.perf_counter()
            print(_now_iso(), "vjbridge:", self.text(), file=self.stream, flush=True)

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)
        return False

    def summary(self, elapsed: float) -> str:
        """The exit report: counts and the measured latency (also published by ``vjbridge bench``)."""
        e = self.engine
        rate = e.ticks / elapsed if elapsed > 0 else 0.0
        first = ("" if e.first_packet_at is None or e.started_at is None
                 else f"; first packet {1e3 * (e.first_packet_at - e.started_at):.0f} ms after start")
        return (f"vjbridge: stopped after {elapsed:.1f} s: {e.ticks} packets ({rate:.1f}/s, "
                f"{e.held_ticks} held), {e.drops} drops, "
                + (f"{e.refused} refused (nothing listening at the target), "
                   if getattr(e, "refused", 0) else "")
                + f"{e.source.overruns} overruns, "
                f"{e.source.xruns} xruns, {e.restarts} stream restarts{first}\n"
                f"vjbridge: block arrival -> packet sent {e.latency.summary_ms()}"
                + (f" (of which waiting for the frame's even-spaced time "
                   f"{e.paced_wait.summary_ms()}; {e.early_sent} event packets sent ahead of "
                   "their frame)" if getattr(e, "pacer", None) is not None else "")
                + (f"; fast triggers: {e.fast_sent} event packets, block arrival -> sent "
                   f"{e.fast_latency.summary_ms()}" if getattr(e, "fast_triggers", False) else "")
                + "; audio buffered "
                f"in the pipeline (resampler hold-back + part hop) {e.buffered.summary_ms()}; "
                f"driver input latency {e.source.input_latency * 1e3:.1f} ms; each frame spans "
                f"{e.spec.window_seconds * 1e3:.0f} ms of audio")


def _now_iso() -> str:
    """Now as ISO-8601 local time with its UTC offset, to the second."""
    import datetime

    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")
