"""MIDI output through mido + python-rtmidi: a virtual port by default, or a named one.

Why a virtual port by default: TouchDesigner, a DAW or a desk bridge can then connect to "vjbridge"
without the user creating a loopback device; when another program (a second vjbridge) has that
name already, this one is "vjbridge-2" (then -3, ...), said in the log. The MIDI system (ALSA,
JACK, CoreMIDI, Windows MM) is the first that answers, or the one named
(:mod:`bridge.sinks.midi_backend`); ``describe()`` says which.

Control changes are sent only when their value changes (a DIN cable carries ~1000 messages/s,
and 60 Hz x many routes would saturate it); with a ``rate`` each CC is sent at most that often,
its newest value on the first tick of its next slot (notes are never held back). Blackout re-sends
every idle value. A clock route's tempo (:class:`MidiClock`) drives a beat clock on its own thread
(:mod:`bridge.sinks.midi_clock`). On close: held notes off, idle values, clock Stop, then All
Notes Off (CC 123) on every channel this sink used, so nothing is left hanging on the receiver.
A named port is watched (:mod:`bridge.sinks.midi_watch`): a receiver that quits and comes back
is reconnected.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Sequence

from bridge.errors import SinkError
from bridge.sinks import midi_backend
from bridge.sinks.base import Sink
from bridge.sinks.messages import MidiCC, MidiClock, MidiNote

log = logging.getLogger(__name__)

ALL_NOTES_OFF = 123
#: Windows' MIDI API (WinMM) has no virtual ports; a loopback driver provides one.
NO_VIRTUAL_PORTS = ("Windows has no virtual MIDI ports: create one with loopMIDI (e.g. named "
                    "'vjbridge') and give its name as the mapping's midi port or --midi")


def encode(item: MidiCC | MidiNote) -> list[list[int]]:
    """Raw MIDI bytes for one item: one message, or two for a 14-bit CC (MSB, then LSB on cc+32)."""
    if type(item) is MidiCC:
        ch, cc, v, bits = item
        if bits == 14:
            return [[0xB0 | ch, cc, v >> 7], [0xB0 | ch, cc + 32, v & 0x7F]]
        return [[0xB0 | ch, cc, v]]
    ch, note, vel, on = item
    return [[0x90 | ch, note, vel]] if on else [[0x80 | ch, note, 0]]


def find_output(wanted: str, names: list[str], where: dict[str, str] | None = None) -> str:
    """Exact name, else the one name containing ``wanted`` case-insensitively; else SinkError.
    ``where``: name -> its MIDI system's label, shown in the list of what is available."""
    if wanted in names:
        return wanted
    hits = [n for n in names if wanted.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    where = where or {}
    shown = ", ".join(repr(n) + (f" ({where[n]})" if n in where else "") for n in names) or "none"
    if hits:
        raise SinkError(f"MIDI port {wanted!r} matches several outputs ({', '.join(map(repr, hits))}); "
                        "give more of the name")
    raise SinkError(f"no MIDI output matches {wanted!r}; available: {shown} "
                    "(`vjbridge devices` lists them; leave `port` null for a virtual port)")


def unique_name(base: str, names: list[str]) -> str:
    """``base``, or ``base-2``, ``base-3``, ... : the first no MIDI client or port is named
    (JACK/ALSA list ports as ``client:port``, CoreMIDI by name)."""
    def taken(c: str) -> bool:
        return any(n == c or n.startswith((c + ":", c + " ")) for n in names)

    if not taken(base):
        return base
    i = 2
    while taken(f"{base}-{i}"):
        i += 1
    return f"{base}-{i}"


class MidiSink(Sink):
    kind = "midi"

    def __init__(self, name: str = "default", *, port: str | None = None,
                 virtual_name: str = "vjbridge", backend: str = "auto",
                 rate: float | None = None, watch: bool = True) -> None:
        super().__init__(name)
        if port is None and sys.platform == "win32":
            raise SinkError(NO_VIRTUAL_PORTS)
        # rate: each CC at most once per `_interval` s; the newest held back in `_pending`
        self.rate = None if rate is None else float(rate)
        self._interval = 1.0 / self.rate if self.rate else 0.0
        self.virtual = port is None
        what = f"virtual port {virtual_name!r}" if port is None else f"port {port!r}"
        self._wanted, self._what = port, what  # what a reopen looks for (midi_watch)
        self.watch = None  # a named port: reconnected when its receiver comes back (below)
        try:
            import mido
            self._Message = mido.Message
            order = midi_backend.candidates(backend)
            self.port, self.port_name, self.backend = self._open(port, virtual_name, order, what)
        except SinkError:
            raise
        except ImportError as exc:
            raise SinkError(f"MIDI needs python-rtmidi ({exc}); install it: pip install "
                            "python-rtmidi (on Python 3.13+ it has no wheel yet and needs a C++ "
                            "compiler: use Python 3.12)") from None
        if self.virtual and self.port_name != virtual_name:
            log.warning("midi output %r: MIDI port name %r is taken (another vjbridge?); this one "
                        "is %r", name, virtual_name, self.port_name)
        log.info("midi output %r: %s", name, self.describe())
        self.sent = 0
        self.drops = 0
        self._last_cc: dict[tuple[int, int], int] = {}
        self._held: set[tuple[int, int]] = set()
        self._channels: set[int] = set()
        self._lock = threading.Lock()  # the engine's and the clock thread's writes
        self.clock = None  # a MidiClock thread, made by the first clock item
        self._slot: dict[tuple[int, int], float] = {}
        self._pending: dict[tuple[int, int], MidiCC] = {}
        if not self.virtual and watch:
            from bridge.sinks.midi_watch import PortWatch

            self.watch = PortWatch(self).start()

    # ---- the port watch's side (bridge.sinks.midi_watch), on its thread -------------------
    def port_state(self, lost: bool, outputs: list[str]) -> str:
        """``"ok"``, ``"gone"`` (the named port is not among ``outputs``, this MIDI system's
        outputs now) or ``"reopen"`` (listed again after it was ``lost``)."""
        try:
            find_output(self._wanted, outputs)
        except SinkError:
            return "gone"
        return "reopen" if lost else "ok"

    def reopen(self) -> None:
        """Open the named port again and swap it in; the old one is closed after."""
        opened, chosen, _backend = self._open(self._wanted, "", (self.backend,), self._what)
        with self._lock:
            old, self.port, self.port_name = self.port, opened, chosen
            self._last_cc.clear()  # the receiver lost every value: send them all again
        try:
            old.close()
        except Exception:  # noqa: BLE001 - a port that went away may refuse its close
            pass

    def _open(self, port, virtual_name: str, order: tuple, what: str):
        """(mido port, its name, backend) on the first backend of ``order`` that answers and has
        the port; SinkError, one line, naming what each backend said."""
        tried: dict[str, str] = {}  # backend -> why it did not answer
        refused: dict[str, str] = {}  # backend -> the port it has but would not open
        outputs: dict[str, str] = {}  # name -> label, of every backend that answered
        answered = False
        for backend in order:
            try:
                outs, ins = midi_backend.ports(backend)
            except ImportError:
                raise
            except Exception as exc:  # rtmidi raises SystemError & co without its server
                tried[backend] = midi_backend.reason(exc)
                continue
            answered = True
            if port is None:
                chosen = unique_name(virtual_name, outs + ins)
                kwargs = {"virtual": True, "client_name": chosen}
            else:
                for n in outs:
                    outputs.setdefault(n, midi_backend.label(backend))
                try:
                    chosen = find_output(port, outs)
                except SinkError as exc:
                    if "several" in str(exc):
                        raise
                    continue
                kwargs = {}
            try:
                with midi_backend.quiet():
                    # client_name: the port shows as "vjbridge:vjbridge" (JACK/ALSA), not
                    # "RtMidiOut Client:vjbridge"
                    opened = midi_backend.mido_backend(backend).open_output(chosen, **kwargs)
            except Exception as exc:
                refused[backend] = f"{chosen!r}: {midi_backend.reason(exc)}"
                continue
            return opened, chosen, backend
        if refused:
            said = "; ".join(f"{midi_backend.label(b)} refused {why}" for b, why in refused.items())
            raise SinkError(f"cannot open MIDI {what}: {said} (is it in use, or gone?)")
        if port is not None and answered:
            try:
                find_output(port, list(outputs), outputs)  # raises: no match, with what exists
            except SinkError as exc:
                silent = "; ".join(f"{midi_backend.label(b)} did not answer ({why})"
                                   for b, why in tried.items())
                raise SinkError(f"{exc}{'; ' + silent if silent else ''}") from None
        raise SinkError(f"cannot open MIDI {what}: {midi_backend.none_answered(tried)}")

    @classmethod
    def from_config(cls, name: str, cfg: dict) -> "MidiSink":
        return cls(name, port=cfg["port"], virtual_name=cfg["virtual_name"],
                   backend=cfg.get("backend", "auto"), rate=cfg.get("rate"))

    def describe(self) -> str:
        cap = f", CCs at most {self.rate:g}/s" if self.rate else ""
        gone = " (gone: waiting for it)" if self.watch is not None and self.watch.lost else ""
        return (f"{'virtual ' if self.virtual else ''}port {self.port_name!r} on "
                f"{midi_backend.label(self.backend)}{cap}{gone}")

    def _validate(self, item) -> None:
        t = type(item)
        if t is MidiCC:
            ch, cc, v, bits = item
            top = 31 if bits == 14 else 127
            vmax = 16383 if bits == 14 else 127
            if bits not in (7, 14):
                raise ValueError(f"MIDI CC bits must be 7 or 14, got {bits!r}")
        elif t is MidiNote:
            ch, cc, v, _ = item
            top, vmax = 127, 127
        elif t is MidiClock:
            bpm = item.bpm
            if type(bpm) not in (int, float) or not (bpm >= 0 and math.isfinite(bpm)):
                raise ValueError(f"MIDI clock tempo must be a finite number of BPM >= 0, got "
                                 f"{bpm!r}")
            return
        else:
            raise TypeError(f"midi output {self.name!r} takes MidiCC/MidiNote/MidiClock items, "
                            f"got {item!r}")
        for label, x, hi in (("channel", ch, 15), ("number", cc, top), ("value", v, vmax)):
            if type(x) is not int or not 0 <= x <= hi:
                raise ValueError(f"MIDI {label} must be an int 0..{hi}, got {x!r} in {item!r}")

    def _write(self, raw: list[int]) -> None:
        try:
            with self._lock:
                self.port.send(self._Message.from_bytes(raw))
                self.sent += 1
        except Exception as exc:  # a vanished port must not stop the engine
            self.drops += 1
            if self.drops == 1:
                log.warning("midi output %r: send failed (%s); counting drops", self.name, exc)

    def _send(self, items: Sequence, force: bool = False) -> None:
        last, held = self._last_cc, self._held
        interval = self._interval
        now = time.monotonic() if interval else 0.0
        tempo = None
        for item in items:
            t = type(item)
            if t is MidiCC:
                key = (item.channel, item.control)
                if not force and last.get(key) == item.value:
                    if interval:
                        self._pending.pop(key, None)  # back to what went out: nothing owed
                    continue
                if interval and not force and not self._due(key, now):
                    self._pending[key] = item  # the newest goes out in its next slot
                    continue
                last[key] = item.value
            elif t is MidiClock:
                tempo = item.bpm  # the last one of the frame wins (a swap's release, then
                continue          # the new mapping's clock route: no Stop/Start between)
            elif item.on:
                held.add((item.channel, item.note))
            else:
                held.discard((item.channel, item.note))
            self._channels.add(item.channel)
            for raw in encode(item):
                self._write(raw)
        if tempo is not None:
            self._tempo(tempo)
        if self._pending and not force:
            for key in [k for k in self._pending if self._due(k, now)]:
                item = self._pending.pop(key)
                last[key] = item.value
                self._channels.add(item.channel)
                for raw in encode(item):
                    self._write(raw)

    def _due(self, key, now: float) -> bool:
        """Whether CC ``key`` may go out at ``now``; if so, its slot is taken. Slots are
        ``_interval`` apart on a grid (a tick up to a quarter interval early counts: ticks jitter),
        so over a span no more than rate x span + 2 go out, never two within half an interval."""
        interval = self._interval
        slot = self._slot.get(key)
        if slot is None:
            self._slot[key] = now
            return True
        nxt = slot + interval
        if now < nxt - interval * 0.25:
            return False
        self._slot[key] = max(nxt, now - interval * 0.25)
        return True

    def _tempo(self, bpm: float) -> None:
        if self.clock is None:
            if not bpm > 0:
                return
            from bridge.sinks.midi_clock import MidiClock as ClockThread

            self.clock = ClockThread(self._write, name=self.name)
        self.clock.set(bpm)

    def _blackout(self, idle: Sequence) -> None:
        if self.clock is not None:
            self.clock.halt()
        self._pending.clear()
        offs = [MidiNote(ch, n, 0, False) for ch, n in sorted(self._held)]
        self._send(offs + [i for i in idle if type(i) is not MidiClock], force=True)

    def _close(self) -> None:
        if self.watch is not None:
            self.watch.close()
        if self.clock is not None:
            self.clock.close()  # Stop, if it was running
        for ch in sorted(self._channels):
            self._write([0xB0 | ch, ALL_NOTES_OFF, 0])
        self.port.close()
