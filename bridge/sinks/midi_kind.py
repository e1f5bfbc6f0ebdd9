"""The MIDI output kind: a route's value as a control change (7- or 14-bit), a note trigger, or
a beat clock.

Why notes are triggers: desks (grandMA3, MagicQ, QLC+) fire a cue on a note and take a fader from
a CC; a level that crosses a threshold becomes one note on, held for a length or until it falls
below the threshold less a hysteresis, so a value wobbling at the threshold does not machine-gun
the cue. Why a clock route (``{signal: bpm, midi: {clock: true}}``): speed masters (grandMA3,
ChamSys MagicQ) and desks follow MIDI beat clock; the route hands the tempo itself (its transforms
do not apply) to the target's clock thread, which spaces 24 clocks per beat on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.options import Option, Section
from bridge.sinks.kind import OutputKind, RouteInfo, RouteOutput
from bridge.sinks.messages import MidiCC, MidiClock, MidiNote
from bridge.sinks.midi_backend import CHOICES as BACKENDS

MIDI_PORT = Section("midi port", "Where MIDI goes: a virtual port others connect to, or a named port.", (
    Option("port", "str", None, "name (or case-insensitive part of the name) of an existing MIDI "
           "output; null = create a virtual output port named `virtual_name`", nullable=True),
    Option("virtual_name", "str", "vjbridge", "name of the virtual output port created when `port` "
           "is null (taken by another program: `NAME-2`, `NAME-3`, ...)"),
    Option("backend", "choice", "auto", "MIDI system: auto = the first that answers (Linux: ALSA, "
           "then JACK; macOS: CoreMIDI; Windows: Windows MM); run --midi-backend overrides it",
           choices=BACKENDS),
    Option("rate", "number", None, "send each control change at most this often (Hz), its newest "
           "value in the next slot; notes and the clock are never held back; null = every tick "
           "the value changes (the mapping's rate)", lo=1, hi=1000, nullable=True),
))

MIDI_ROUTE = Section("route.midi", "Send the route's value as a MIDI control change or a note "
                     "trigger (give exactly one of `cc` and `note`), or a tempo as MIDI beat clock "
                     "(`clock: true`).", (
    Option("target", "str", None, "name of a `midi` port; may be left out when there is one",
           nullable=True),
    Option("channel", "int", 1, "MIDI channel, 1..16 as desks and TouchDesigner number them",
           lo=1, hi=16),
    Option("cc", "int", None, "controller number: the value 0..1 becomes 0..127 (7-bit) or 0..16383 "
           "(14-bit: MSB on cc, LSB on cc+32)", lo=0, hi=127, nullable=True),
    Option("bits", "choice", 7, "CC resolution: 7, or 14 (cc must then be 0..31)", choices=(7, 14)),
    Option("note", "int", None, "note number for a trigger: note on when the value rises to "
           "`threshold`", lo=0, hi=127, nullable=True),
    Option("threshold", "number", 0.5, "note trigger level, in the route's output units",
           lo=-1e9, hi=1e9),
    Option("hysteresis", "number", 0.1, "the value must fall below threshold - hysteresis before "
           "the next trigger", lo=0, hi=1e9),
    Option("length_ms", "number", 100.0, "note length; 0 = hold until the value falls below "
           "threshold - hysteresis", lo=0, hi=60000),
    Option("velocity", "int", None, "fixed note velocity 1..127; null = from the value "
           "(out range low..high -> 1..127)", lo=1, hi=127, nullable=True),
    Option("clock", "bool", False, "send the route's tempo signal (bpm) as MIDI beat clock: 24 "
           "timing clocks per beat, Start when the tempo becomes known, Stop when it goes to 0, "
           "on blackout and on exit (no cc/note; the route's transforms do not apply)"),
))


def _frac(y: float, lo: float, hi: float) -> float:
    """Where ``y`` sits in the output range lo..hi, clamped to 0..1."""
    f = (y - lo) / (hi - lo)
    return 0.0 if f < 0.0 else 1.0 if f > 1.0 else f


class NoteTrigger:
    """Threshold trigger with hysteresis and a note length in ticks.

    ``process(value)`` returns ``None`` (nothing to send), ``+1`` (note on now) or ``-1`` (note
    off now). A note turns off after ``length_ticks`` (or, with 0, when the value falls below
    ``threshold - hysteresis``); a new note needs the value to have fallen below that level first.
    """

    def __init__(self, *, threshold: float, hysteresis: float, length_ticks: int) -> None:
        self.threshold = threshold
        self.release_level = threshold - hysteresis
        self.length_ticks = length_ticks
        self.reset()

    def reset(self) -> None:
        self.armed_ = True
        self.on_ = False
        self.age_ = 0

    def process(self, value: float) -> int | None:
        event = None
        if self.on_:
            self.age_ += 1
            if (self.length_ticks and self.age_ >= self.length_ticks) or (
                    not self.length_ticks and value < self.release_level):
                self.on_ = False
                event = -1
        if not self.armed_ and value < self.release_level:
            self.armed_ = True
        if self.armed_ and not self.on_ and value >= self.threshold and event is None:
            self.armed_, self.on_, self.age_ = False, True, 0
            event = 1
        return event


class CcOut(RouteOutput):
    """The value's place in the route's output range as a 7- or 14-bit control change."""

    __slots__ = ("channel", "cc", "bits", "top", "lo", "hi", "idle_")

    def __init__(self, key, sub: Mapping, info: RouteInfo) -> None:
        super().__init__(key)
        self.channel, self.cc, self.bits = sub["channel"] - 1, sub["cc"], sub["bits"]
        self.top = 127 if self.bits == 7 else 16383
        self.lo, self.hi = info.out
        self.idle_ = info.idle

    def emit(self, y):
        return MidiCC(self.channel, self.cc, int(round(_frac(y, self.lo, self.hi) * self.top)),
                      self.bits)

    def idle(self):
        return self.emit(self.idle_)


class NoteOut(RouteOutput):
    """A note on when the value rises to the threshold; off after its length (or on falling)."""

    __slots__ = ("channel", "note", "velocity", "lo", "hi", "trigger")

    def __init__(self, key, sub: Mapping, info: RouteInfo) -> None:
        super().__init__(key)
        self.channel, self.note, self.velocity = sub["channel"] - 1, sub["note"], sub["velocity"]
        self.lo, self.hi = info.out
        ticks = (max(1, round(sub["length_ms"] * info.rate / 1000.0))
                 if sub["length_ms"] > 0 else 0)
        self.trigger = NoteTrigger(threshold=sub["threshold"], hysteresis=sub["hysteresis"],
                                   length_ticks=ticks)

    def emit(self, y):  # a held (not fresh) value still ages the note towards its note-off
        event = self.trigger.process(y)
        if event is None:
            return None
        if event < 0:
            return MidiNote(self.channel, self.note, 0, False)
        vel = self.velocity
        if vel is None:
            vel = 1 + int(round(_frac(y, self.lo, self.hi) * 126))
        return MidiNote(self.channel, self.note, vel, True)

    def release(self):
        if self.trigger.on_:
            return MidiNote(self.channel, self.note, 0, False)
        return None

    def reset(self) -> None:
        self.trigger.reset()


class ClockOut(RouteOutput):
    """The tempo (BPM, 0 = none yet) for the target's clock thread, every tick."""

    __slots__ = ()

    def emit(self, y):
        return MidiClock(y)

    def idle(self):
        return MidiClock(0.0)

    def release(self):  # dropped by a reload: the clock stops unless the new mapping has one
        return MidiClock(0.0)


def _output(sub: Mapping, info: RouteInfo, target: Mapping) -> RouteOutput:
    key = ("midi", sub["target"])
    if sub.get("clock"):
        return ClockOut(key)
    return NoteOut(key, sub, info) if sub["note"] is not None else CcOut(key, sub, info)


def _raw(sub: Mapping) -> bool:
    """A clock route takes the tempo itself, not a 0..1 value."""
    return bool(sub.get("clock"))


def _check_route(sub: Mapping, info: RouteInfo, problems: list) -> None:
    p = f"{info.path}.midi"
    has_cc, has_note = sub.get("cc") is not None, sub.get("note") is not None
    if sub.get("clock") is True:
        if has_cc or has_note:
            key = "cc" if has_cc else "note"
            problems.append(f"{p}.{key}: a clock route sends beat clock only; remove `{key}` "
                            "(route the signal again for a CC or a note)")
        if info.kind is not None and info.kind != "tempo":
            problems.append(f"{p}.clock: {info.signal!r} is not a tempo signal (it is "
                            f"{info.kind}); route `signal: bpm` to the clock")
        return
    if has_cc == has_note:
        problems.append(f"{p}: give exactly one of `cc` (control change) and `note` (trigger)")
    if has_cc and sub.get("bits") == 14 and type(sub["cc"]) is int and sub["cc"] > 31:
        problems.append(f"{p}.cc: {sub['cc']} is out of range 0..31 for 14-bit (its LSB goes on "
                        "cc+32)")
    if info.spectrum:
        problems.append(f"{p}: {info.signal!r} is a spectrum (a vector of values); it can only go "
                        "to OSC (one message with a value per band)")
    elif info.size > 1:
        problems.append(f"{p}: a colour sent as {info.colour} is 3 values and a MIDI CC one; use "
                        "`colour: {format: brightness}`, or route its channels (r, g, b) to three "
                        "CCs")


def _open(name: str, cfg: Mapping):
    from bridge.sinks.midi import MidiSink

    return MidiSink.from_config(name, cfg)


def _check_mapping(targets: Mapping, routes, override=None) -> list[str]:
    """One clock per target: two would interleave their timing clocks."""
    seen: dict[str, str] = {}
    problems = []
    for _route, sub, info in routes:
        if sub.get("clock") is True:
            target = sub.get("target")
            if target in seen:
                problems.append(f"{info.path}.midi.clock: midi target {target!r} already has a "
                                f"clock ({seen[target]}); one clock per target")
            else:
                seen[target] = info.path
    return problems


def _override(cfg: Mapping, value) -> dict:
    """``--midi PORT`` (a str), or {"port": PORT or None, "backend": NAME or None}."""
    out = dict(cfg)
    if isinstance(value, Mapping):
        for key in ("port", "backend"):
            if value.get(key) is not None:
                out[key] = value[key]
    else:
        out["port"] = value
    return out


def _describe_target(name: str, p: Mapping) -> str:
    where = f"port matching {p['port']!r}" if p["port"] else f"virtual port {p['virtual_name']!r}"
    backend = p.get("backend", "auto")
    how = " (MIDI system: the first that answers)" if backend == "auto" else f" on {backend}"
    cap = f", each CC at most {p['rate']:g}/s" if p.get("rate") else ""
    return f"midi {name}: {where}{how}{cap}"


def _describe_route(m: Mapping, info: RouteInfo) -> str:
    if m.get("clock"):
        return f"midi {m['target']} beat clock (24 ppq) from {info.signal}"
    if m["cc"] is not None:
        return (f"midi {m['target']} ch{m['channel']}c{m['cc']}"
                + (f"+c{m['cc'] + 32} (14-bit)" if m["bits"] == 14 else ""))
    return f"midi {m['target']} ch{m['channel']}n{m['note']} trigger >= {m['threshold']:g}"


MIDI_KIND = OutputKind(
    name="midi", description="send as MIDI", target=MIDI_PORT, route=MIDI_ROUTE, open=_open,
    output=_output, describe_target=_describe_target, describe_route=_describe_route,
    check_route=_check_route, check_mapping=_check_mapping, override=_override, raw_value=_raw)
