"""The router: current signal values in, per-sink output values out, once per output tick.

Why it does no I/O: the router is the part a mapping changes, so it must be cheap to rebuild on a
hot reload, testable without sockets, and measurable on its own in `vjbridge bench`. Sinks (in
:mod:`bridge.sinks`) own the wire formats. A broken reload keeps the last good mapping live.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping as AbcMapping

from bridge.errors import MappingError
from bridge.mapping.colour import ColourChain, chain_key, palette_of, wire_value
from bridge.mapping.transforms import DelayLine, RouteChain
from bridge.mapping.validate import Mapping, load_mapping, route_info
from bridge.sinks import KINDS, RouteInfo

log = logging.getLogger(__name__)

#: A frame: sink key (output kind, target name) -> the items to send this tick.
Frame = dict


class _Route:
    """One validated route: its chain, its outputs (one :class:`~bridge.sinks.kind.RouteOutput`
    per kind it sends to, in kind order), and what it last produced."""

    def __init__(self, route, rate: float, targets, info: RouteInfo | None = None) -> None:
        self.signal = route["signal"]
        self.uses: tuple[str, ...] = (self.signal,)  # the signals it reads
        self.chain = RouteChain(route, rate)
        self.out_lo, self.out_hi = route["out"]
        self.idle = route["idle"] if route["idle"] is not None else self.out_lo
        self.last = None
        self.info = info or route_info(route, rate, "route")
        #: values per frame: 1, or a vector signal's size (one OSC message of that many floats)
        self.size = self.info.size
        self.outs = tuple(kind.output(route[name], self.info, targets[name][route[name]["target"]])
                          for name, kind in KINDS.items() if route.get(name))

    def outputs(self, y, frame: Frame) -> None:
        for out in self.outs:
            item = out.emit(y)
            if item is not None:
                frame.setdefault(out.key, []).append(item)

    def idle_outputs(self, frame: Frame) -> None:
        for out in self.outs:
            item = out.idle()
            if item is not None:
                frame.setdefault(out.key, []).append(item)


class _ColourRoute(_Route):
    """A route that sends a colour (:mod:`bridge.mapping.colour`): a part of a model's colour
    processed by a :class:`ColourChain` shared with the mapping's other routes of the same colour
    and transforms (``cchain``), or a level through a palette (``cchain`` None: the route's own
    scalar chain gives the palette position). ``update(get)`` -> its wire value or None."""

    def __init__(self, route, rate: float, targets, cchain: ColourChain | None) -> None:
        scalar = dict(route)
        info = route_info(route, rate, "route")
        if cchain is None:
            scalar["out"] = (0.0, 1.0)  # the chain's value is the palette position
            info = dataclasses.replace(info, idle=route["idle"] if route["idle"] is not None
                                       else 0.0)
        super().__init__(scalar, rate, targets, info)
        self.out_lo, self.out_hi = route["out"]
        self.part = route["colour_part"]
        self.index = route["colour_index"]
        self.palette = (route["colour"] or {}).get("palette")
        self.cchain = cchain
        self.fn = self.chain.fn
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

    def reset_colour(self) -> None:
        self.last = self._seen = None


def _make_route(route, rate: float, targets, chains: dict) -> _Route:
    """A validated route as the router runs it; colour routes of one colour and the same
    transforms share one :class:`ColourChain` (kept in ``chains`` by :func:`chain_key`)."""
    if route.get("colour_part") is None:
        return _Route(route, rate, targets)
    cchain = None
    if route["colour_channels"]:
        key = chain_key(route)
        cchain = chains.get(key)
        if cchain is None:
            cchain = chains[key] = ColourChain(route, rate)
    elif route["colour_channels"] is not None:  # a colour no loaded model produces
        cchain = _SILENT
    return _ColourRoute(route, rate, targets, cchain)


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
    (output kind, target name), the items its outputs emitted, to send now, after the mapping's
    output delay.
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
        self.routes_ = [_make_route(r, mapping.rate, mapping.targets, chains)
                        for r in mapping.routes]
        # colour routes: their shared chains (with the channel names they read), then the routes
        self._chains = [(c, c.channels) for c in chains.values()]
        self.delay_ = DelayLine(ticks=int(round(mapping.delay_ms * mapping.rate / 1000.0)))
        # tick()'s plan: per route (signal, route, chain function or None, then its first output's
        # sink list slot and emit, and the (slot, emit) of any others); one list per sink key,
        # made fresh every tick.
        # sink keys in kind order, each kind's targets in the order routes first use them
        order = {name: i for i, name in enumerate(KINDS)}
        self._keys = sorted(dict.fromkeys(o.key for r in self.routes_ for o in r.outs),
                            key=lambda key: order[key[0]])
        slot = {key: i for i, key in enumerate(self._keys)}

        def emits(r):
            return [(slot[o.key], o.emit) for o in r.outs] or [(-1, None)]

        # Colour routes are in the plan too, in their mapping order (a receiver sees the
        # addresses in route order): tick() sets their value first (`_colour_plan`), and their
        # key is never a signal, so the plan's loop only sends what they hold.
        colours = [r for r in self.routes_ if type(r) is _ColourRoute and r.cchain is not _SILENT]
        planned = [r for r in self.routes_ if (type(r) is _Route and r.size == 1) or r in colours]
        self._plan = [(r.signal if type(r) is _Route else _COLOUR_KEY, r,
                       r.chain.fn if type(r) is _Route else None, *emits(r)[0],
                       tuple(emits(r)[1:])) for r in planned]
        # vector routes (the mel spectrum: no transforms), after the scalar ones
        self._vectors = [(r.signal, r, tuple(emits(r)))
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
        """Every sink this mapping sends to: (kind, target name)."""
        return self.mapping.sink_keys()

    def tick(self, values: AbcMapping[str, float]) -> Frame:
        # ~15 routes run every 60 Hz tick, so per-route overhead is most of the router's cost:
        # values that are already floats are not converted again, finiteness is tested without a
        # call (x - x is 0.0 only for finite x), a chain's output is a float already, and a
        # route's one output (the usual case) is called without an inner loop. With one sink (the
        # usual mapping) no comprehension runs: in the live pipeline each costs more than its loop
        # (~1 µs per tick, measured), as do closures and C-level map/zip chains.
        get = values.get
        lists = [[]] if len(self._keys) == 1 else [[] for _ in self._keys]
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
        for signal, r, fn, slot, emit, more in self._plan:
            if done and r in done:  # early() sent this frame's value: not again, chain once
                continue
            x = get(signal)
            if x is not None:
                if type(x) is not float:
                    x = float(x)
                if x - x == 0.0:
                    r.last = x if fn is None else fn(x)
            y = r.last
            if y is not None and slot >= 0:
                item = emit(y)
                if item is not None:
                    lists[slot].append(item)
                for slot2, emit2 in more:
                    item = emit2(y)
                    if item is not None:
                        lists[slot2].append(item)
        if done:
            done.clear()
        if self._vectors:  # a tuple of floats passed through (the last one held when missing)
            for signal, r, outs in self._vectors:
                x = get(signal)
                if type(x) is tuple and len(x) == r.size:
                    r.last = x
                if r.last is not None:
                    for slot, emit in outs:
                        item = emit(r.last)
                        if item is not None:
                            lists[slot].append(item)
        if len(lists) == 1:  # the usual mapping: one sink
            frame: Frame = {self._keys[0]: lists[0]} if lists[0] else {}
        else:
            frame = {key: items for key, items in zip(self._keys, lists) if items}
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
        for signal, r, fn, _slot, _emit, _more in self._plan:
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
            for out in r.outs:
                out.reset()
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
            for out in r.outs:
                held = out.release()
                if held is not None:
                    self._pending.setdefault(out.key, []).append(held)
        if built is not None and built.mapping is mapping:
            for name in _INSTALLED:
                setattr(self, name, getattr(built, name))
        else:
            self._install(mapping)


#: What Router._install sets: taken over from a Router built elsewhere by Router.swap.
_INSTALLED = ("mapping", "rate", "routes_", "delay_", "_keys", "_plan", "_vectors", "_delayed",
              "_early_done", "_chains", "_colour_plan")
