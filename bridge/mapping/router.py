"""The router: current signal values in, per-sink output values out, once per output tick.

Why it does no I/O: the router is the part a mapping changes, so it must be cheap to rebuild on a
hot reload, testable without sockets, and measurable on its own in `vjbridge bench`. Sinks (in
:mod:`bridge.sinks`) own the wire formats. A broken reload keeps the last good mapping live.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping as AbcMapping

from bridge.errors import MappingError
from bridge.mapping.colour import FORMATS, ColourChain, chain_key, palette_of, wire_value
from bridge.mapping.transforms import DelayLine, NoteTrigger, RouteChain, clamp01
from bridge.mapping.validate import Mapping, load_mapping
from bridge.signals.catalog import SPECTRUM
from bridge.sinks.messages import MidiCC, MidiNote, OscValue

log = logging.getLogger(__name__)

#: A frame: sink key ("osc" | "midi", target name) -> the values to send this tick.
Frame = dict


class _Route:
    """One validated route: its chain, its outputs, and what it last produced."""

    def __init__(self, route: dict, rate: float) -> None:
        self.signal = route["signal"]
        self.uses: tuple[str, ...] = (self.signal,)  # the signals it reads
        self.chain = RouteChain(route, rate)
        self.out_lo, self.out_hi = route["out"]
        self.idle = route["idle"] if route["idle"] is not None else self.out_lo
        self.last: float | None = None
        #: values per frame: 1, or a vector signal's size (one OSC message of that many floats)
        self.size = SPECTRUM[self.signal].size if self.signal in SPECTRUM else 1
        osc, midi = route["osc"], route["midi"]
        self.osc_key = ("osc", osc["target"]) if osc else None
        self.osc_address = osc["address"] if osc else None
        self.osc_int = bool(osc) and osc["type"] == "int"
        self.midi_key = ("midi", midi["target"]) if midi else None
        self.cc = midi["cc"] if midi else None
        self.channel = midi["channel"] - 1 if midi else 0
        self.trigger = None
        if midi and midi["note"] is not None:
            ticks = max(1, round(midi["length_ms"] * rate / 1000.0)) if midi["length_ms"] > 0 else 0
            self.note = midi["note"]
            self.velocity = midi["velocity"]
            self.trigger = NoteTrigger(threshold=midi["threshold"], hysteresis=midi["hysteresis"],
                                       length_ticks=ticks)
        elif midi:
            self.bits = midi["bits"]
            self.cc_max = 127 if self.bits == 7 else 16383

    def outputs(self, y: float, frame: Frame) -> None:
        if self.osc_key is not None:
            v = int(round(y)) if self.osc_int else float(y)
            frame.setdefault(self.osc_key, []).append(OscValue(self.osc_address, v))
        self.midi_outputs(y, frame)

    def midi_outputs(self, y: float, frame: Frame) -> None:
        if self.midi_key is not None:
            if self.trigger is None:
                frac = (y - self.out_lo) / (self.out_hi - self.out_lo)
                frame.setdefault(self.midi_key, []).append(
                    MidiCC(self.channel, self.cc, int(round(clamp01(frac) * self.cc_max)), self.bits))
            else:  # a held (not fresh) value still ages the note towards its note-off
                event = self.trigger.process(y)
                if event is not None:
                    frame.setdefault(self.midi_key, []).append(self._note(event, y))

    def _note(self, event: int, y: float) -> MidiNote:
        if event < 0:
            return MidiNote(self.channel, self.note, 0, False)
        vel = self.velocity
        if vel is None:
            frac = clamp01((y - self.out_lo) / (self.out_hi - self.out_lo))
            vel = 1 + int(round(frac * 126))
        return MidiNote(self.channel, self.note, vel, True)

    def note_off_if_held(self) -> MidiNote | None:
        if self.trigger is not None and self.trigger.on_:
            return MidiNote(self.channel, self.note, 0, False)
        return None

    def idle_value(self):
        """What the route's OSC address carries when idle."""
        if self.size > 1:
            return (float(self.idle),) * self.size
        return int(round(self.idle)) if self.osc_int else float(self.idle)

    def idle_outputs(self, frame: Frame) -> None:
        if self.osc_key is not None:
            frame.setdefault(self.osc_key, []).append(OscValue(self.osc_address, self.idle_value()))
        if self.midi_key is not None and self.trigger is None:
            frac = (self.idle - self.out_lo) / (self.out_hi - self.out_lo)
            frame.setdefault(self.midi_key, []).append(
                MidiCC(self.channel, self.cc, int(round(clamp01(frac) * self.cc_max)), self.bits))


class _ColourRoute(_Route):
    """A route that sends a colour (:mod:`bridge.mapping.colour`): a part of a model's colour
    processed by a :class:`ColourChain` shared with the mapping's other routes of the same colour
    and transforms (``cchain``), or a level through a palette (``cchain`` None: the route's own
    scalar chain gives the palette position). ``update(get)`` -> its wire value or None."""

    def __init__(self, route, rate: float, cchain: ColourChain | None) -> None:
        scalar = dict(route)
        if cchain is None:
            scalar["out"] = (0.0, 1.0)  # the chain's value is the palette position
        super().__init__(scalar, rate)
        self.out_lo, self.out_hi = route["out"]
        self.part = route["colour_part"]
        self.index = route["colour_index"]
        self.palette = (route["colour"] or {}).get("palette")
        self.cchain = cchain
        self.fn = self.chain.fn
        self.size = 1 if self.part == "channel" else FORMATS[self.part]
        self.osc_int = self.osc_int and self.size == 1
        self.is_int = self.part == "rgb8"
        self.channels = tuple(route["colour_channels"] or ())
        self.placeholder = route["colour_channels"] is not None and not self.channels
        self.uses = (self.signal,) if (cchain is None or self.placeholder) else self.channels
        self._seen = None

    def update(self, get):
        cchain = self.cchain
        if cchain is None:  # a level through a palette
            x = get(self.signal)
            if x is not None:
                if type(x) is not float:
                    x = float(x)
                if x - x == 0.0:
                    pos = x if self.fn is None else self.fn(x)
                    self.last = palette_of(self.palette, pos, lo=self.out_lo, hi=self.out_hi)
            return self.last
        rgb = cchain.last
        if rgb is not None and rgb is not self._seen:  # a new colour this tick
            self._seen = rgb
            self.last = wire_value(self.part, rgb, lo=self.out_lo, hi=self.out_hi,
                                   palette=self.palette, index=self.index)
        return self.last

    def idle_value(self):
        return (0, 0, 0) if self.is_int else super().idle_value()

    def reset_colour(self) -> None:
        self.last = self._seen = None


def _make_route(route, rate: float, chains: dict) -> _Route:
    """A validated route as the router runs it; colour routes of one colour and the same
    transforms share one :class:`ColourChain` (kept in ``chains`` by :func:`chain_key`)."""
    if route.get("colour_part") is None:
        return _Route(route, rate)
    cchain = None
    if route["colour_channels"]:
        key = chain_key(route)
        cchain = chains.get(key)
        if cchain is None:
            cchain = chains[key] = ColourChain(route, rate)
    elif route["colour_channels"] is not None:  # a colour no loaded model produces
        cchain = _SILENT
    return _ColourRoute(route, rate, cchain)


#: The plan's key for a colour route: never a signal name, so the plan only sends its value.
_COLOUR_KEY = object()


class _Silent:
    """The chain of a colour nothing produces: never a value."""

    last = None

    def reset(self) -> None:
        pass


_SILENT = _Silent()


class Router:
    """Evaluate a mapping's routes once per output tick.

    ``tick(values)`` takes the current value of each signal (a dict name -> number; a missing or
    non-finite value repeats the route's last output) and returns a :data:`Frame`: for each sink key
    ``("osc", target)`` / ``("midi", target)``, the :mod:`~bridge.sinks.messages` values to send now,
    after the mapping's output delay.
    """

    def __init__(self, mapping: Mapping, signals=None) -> None:
        self.signals = signals
        self._pending: Frame = {}
        self._install(mapping)

    @classmethod
    def from_path(cls, path: str | os.PathLike, signals=None) -> "Router":
        return cls(load_mapping(path, signals=signals), signals=signals)

    def _install(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.rate = mapping.rate
        chains: dict = {}
        self.routes_ = [_make_route(r, mapping.rate, chains) for r in mapping.routes]
        # colour routes: their shared chains (with the channel names they read), then the routes
        self._chains = [(c, c.channels) for c in chains.values()]
        self.delay_ = DelayLine(ticks=int(round(mapping.delay_ms * mapping.rate / 1000.0)))
        # tick()'s plan: per route (signal, route, chain function or None, OSC list slot or -1,
        # OSC address, is-int, has MIDI); one list per OSC sink key, made fresh every tick.
        self._osc_keys = list(dict.fromkeys(r.osc_key for r in self.routes_ if r.osc_key))
        slot = {key: i for i, key in enumerate(self._osc_keys)}
        # Colour routes are in the plan too, in their mapping order (a receiver sees the
        # addresses in route order): tick() sets their value first (`_colour_plan`), and their
        # key is never a signal, so the plan's loop only sends what they hold.
        colours = [r for r in self.routes_ if type(r) is _ColourRoute and r.cchain is not _SILENT]
        planned = [r for r in self.routes_ if (type(r) is _Route and r.size == 1) or r in colours]
        self._plan = [(r.signal if type(r) is _Route else _COLOUR_KEY, r,
                       r.chain.fn if type(r) is _Route else None, slot.get(r.osc_key, -1),
                       r.osc_address, r.osc_int, r.midi_key is not None) for r in planned]
        # vector routes (the mel spectrum: OSC only, no transforms), after the scalar ones
        self._vectors = [(r.signal, r, slot[r.osc_key], r.osc_address)
                         for r in self.routes_ if r.size > 1 and type(r) is _Route]
        # (colour route, its chain, or None for a level through a palette)
        self._colour_plan = [(r, r.cchain) for r in colours]
        self._delayed = self.delay_.ticks > 0
        self._early_done: set = set()  # routes early() sent for the frame the next tick carries

    @property
    def signals_used(self) -> set[str]:
        """The signal names this mapping reads (the engine may compute only these)."""
        return {name for r in self.routes_ for name in r.uses}

    @property
    def sink_keys(self) -> list[tuple[str, str]]:
        """Every sink this mapping sends to: ("osc", name) and ("midi", name)."""
        return [("osc", n) for n in self.mapping.osc] + [("midi", n) for n in self.mapping.midi]

    def tick(self, values: AbcMapping[str, float]) -> Frame:
        # The per-route work of _Route.outputs, unrolled for OSC (the common case): one list per
        # OSC sink, OscValue made without its Python-level __new__ (the same tuple). ~15 routes run
        # every 60 Hz tick, so per-route overhead is most of the router's cost: values that are
        # already floats are not converted again, finiteness is tested without a call
        # (x - x is 0.0 only for finite x), and a chain's output is a float already. With one OSC
        # target (the usual mapping) no comprehension runs: in the live pipeline each costs more
        # than its loop (~1 µs per tick, measured), as do closures and C-level map/zip chains.
        get, new = values.get, tuple.__new__
        lists = [[]] if len(self._osc_keys) == 1 else [[] for _ in self._osc_keys]
        midi: Frame = {}
        done = self._early_done
        if self._colour_plan:  # colours first: each chain once, then the routes' wire values
            for chain, (a, b, c) in self._chains:
                x, y, z = get(a), get(b), get(c)
                if x is not None and y is not None and z is not None:
                    x, y, z = float(x), float(y), float(z)
                    if x - x == 0.0 and y - y == 0.0 and z - z == 0.0:
                        chain.process(x, y, z)
            for r, cchain in self._colour_plan:
                if cchain is None or cchain.last is not None:  # else no colour (yet)
                    r.update(get)
        for signal, r, fn, slot, address, is_int, has_midi in self._plan:
            if done and r in done:  # early() sent this frame's value: not again, chain once
                continue
            x = get(signal)
            if x is not None:
                if type(x) is not float:
                    x = float(x)
                if x - x == 0.0:
                    r.last = x if fn is None else fn(x)
            y = r.last
            if y is not None:
                if slot >= 0:
                    lists[slot].append(new(OscValue, (address, int(round(y)) if is_int else y)))
                if has_midi:
                    r.midi_outputs(y, midi)
        if done:
            done.clear()
        if self._vectors:  # a tuple of floats passed through (the last one held when missing)
            for signal, r, slot, address in self._vectors:
                x = get(signal)
                if type(x) is tuple and len(x) == r.size:
                    r.last = x
                if r.last is not None:
                    lists[slot].append(new(OscValue, (address, r.last)))
        if len(lists) == 1:  # the usual mapping: one OSC target
            frame: Frame = {self._osc_keys[0]: lists[0]} if lists[0] else {}
        else:
            frame = {key: items for key, items in zip(self._osc_keys, lists) if items}
        if midi:
            frame.update(midi)
        if self._delayed:
            frame = self.delay_.process(frame) or {}
        if self._pending:
            for key, items in self._pending.items():
                frame.setdefault(key, [])[:0] = items
            self._pending = {}
        return frame

    def early(self, values: AbcMapping[str, float]) -> Frame:
        """The routes of the signals in ``values`` (events of the frame the *next* :meth:`tick`
        will carry, e.g. ``{"kick": 1.0}``), through their chains, now: a :data:`Frame` of just
        those routes, for the engine to send before that frame's paced tick.

        Why the next tick leaves those routes out: their chain has run for this frame (a
        stateful transform must see each frame once), a trigger is 1.0 on *one* message (the
        TouchDesigner component counts each 1.0 it receives) and a MIDI note fires once; the tick
        after it carries them as usual. With an output delay (``delay_ms``) nothing goes early:
        the event keeps its place among the delayed frames."""
        if self._delayed:
            return {}
        frame: Frame = {}
        done = self._early_done
        for signal, r, fn, slot, address, is_int, has_midi in self._plan:
            x = values.get(signal)
            if x is None or r in done:
                continue
            x = float(x)
            if x - x != 0.0:
                continue
            r.last = y = x if fn is None else fn(x)
            r.outputs(y, frame)
            done.add(r)
        return frame

    def idle(self) -> Frame:
        """Each route's idle value (blackout / exit), per sink."""
        frame: Frame = {}
        for r in self.routes_:
            r.idle_outputs(frame)
        return frame

    def reset(self) -> None:
        """Forget all state (smoothing, auto-range, triggers, delay), as at start-up."""
        for r in self.routes_:
            r.chain.reset()
            r.last = None
            if r.trigger is not None:
                r.trigger.reset()
            if type(r) is _ColourRoute:
                r.reset_colour()
        for chain, _ in self._chains:
            chain.reset()
        self.delay_.reset()
        self._early_done.clear()

    def reload(self, path: str | os.PathLike) -> list[str]:
        """Validate ``path`` and switch to it; on error keep the current mapping live.

        Returns ``[]`` on success, else every problem (also logged). Notes held by the old mapping
        are switched off on the next tick.
        """
        try:
            mapping = load_mapping(path, signals=self.signals)
        except MappingError as exc:
            log.error("mapping %s not reloaded, keeping the last good one: %s", os.fspath(path), exc)
            return list(exc.problems)
        self.swap(mapping)
        log.info("mapping reloaded from %s (%d routes)", os.fspath(path), len(mapping.routes))
        return []

    def swap(self, mapping: Mapping, built: "Router | None" = None) -> None:
        """Switch to an already validated mapping; notes the old one holds go off on the next tick.
        ``built``: a Router made for ``mapping`` on another thread (a reload): its routes are
        taken over by assignment instead of being built here."""
        for r in self.routes_:
            off = r.note_off_if_held()
            if off is not None:
                self._pending.setdefault(r.midi_key, []).append(off)
        if built is not None and built.mapping is mapping:
            for name in _INSTALLED:
                setattr(self, name, getattr(built, name))
        else:
            self._install(mapping)


#: What Router._install sets: taken over from a Router built elsewhere by Router.swap.
_INSTALLED = ("mapping", "rate", "routes_", "delay_", "_osc_keys", "_plan", "_vectors", "_delayed",
              "_early_done", "_chains", "_colour_plan")
