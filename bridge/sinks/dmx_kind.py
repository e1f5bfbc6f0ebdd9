"""The ``dmx`` output kind: its mapping sections, checks, route output and ``vjbridge check`` text.

A mapping declares DMX targets (``dmx: {NAME: {protocol, host, fixtures, ...}}``) and routes that
name fixtures and an attribute (``routes[i].dmx: {fixture: par1, attribute: colour}``), or a raw
``universe`` + ``address`` (+ ``bits``) for a channel no profile describes. A route's value becomes
a :class:`~bridge.sinks.dmx.DmxLevels` item: its 0..1 level (the route's ``out`` range mapped to
0..1, as for a MIDI CC) on every channel it drives, 8-bit or 16-bit (coarse, fine).

Why ``default_target=False``: a DMX route means nothing without a patch (which fixture sits where),
and there is no safe guess for where DMX goes: OLA refuses sACN from the loopback interface, and an
Art-Net broadcast reaches every node on a network. So a DMX route needs a declared target.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping

from bridge.options import Option, Section
from bridge.sinks import dmx_wire as wire
from bridge.sinks.dmx import MODES, DmxLevels, DmxSink
from bridge.sinks.fixtures import COLOUR, SLOTS, encode, patch, suggest
from bridge.sinks.kind import OutputKind, RouteInfo, RouteOutput

DMX_CHANNEL = Section("dmx profile channel", "One channel of a fixture profile, in DMX order.", (
    Option("attribute", "str", None, "what the channel does: dimmer, red, green, blue, white, "
           "amber, uv, strobe, pan, tilt, ... (routes name it; `colour` = red, green, blue)",
           required=True),
    Option("bits", "choice", 8, "8 (one slot) or 16 (two slots: coarse, then fine)",
           choices=(8, 16)),
    Option("default", "number", 0.0, "level 0..1 held while no route drives the channel, and on "
           "blackout (e.g. 0.5 to hold pan and tilt at the centre)", lo=0, hi=1),
))

DMX_PROFILE = Section("dmx profile", "A fixture profile of the mapping's own (added to the shipped "
                      "ones: dimmer, dimmer16, rgb, rgbw, dimmer-rgb, rgb-strobe, rgb16, "
                      "wash-pantilt).", (
    Option("description", "str", None, "what fixture (and mode) this is", nullable=True),
    Option("channels", "list", None, "the channels in DMX order, from the start address",
           required=True, section=DMX_CHANNEL),
))

DMX_FIXTURE = Section("dmx fixture", "One fixture: its profile and where it is patched.", (
    Option("profile", "str", None, "a shipped profile or one under this target's `profiles`",
           required=True),
    Option("universe", "int", 1, "universe number as sent: sACN 1..63999; Art-Net Port-Address "
           "0..32767 (OLA's universe U listens to Art-Net U; QLC+'s universe 1 to Art-Net 0)",
           lo=0, hi=63999),
    Option("address", "int", None, "DMX start address 1..512", lo=1, hi=SLOTS, required=True),
))

DMX_TARGET = Section("dmx target", "Where DMX goes: sACN (E1.31) or Art-Net, and the fixtures "
                     "patched there.", (
    Option("protocol", "choice", "sacn", "sacn (E1.31) or artnet (ArtDmx)",
           choices=("sacn", "artnet")),
    Option("mode", "choice", "unicast", "unicast to `host`; multicast (sACN only: each universe "
           "to 239.255.hi.lo); broadcast (Art-Net only: to `host`, default 255.255.255.255, "
           "e.g. 2.255.255.255)", choices=("unicast", "multicast", "broadcast")),
    Option("host", "host", None, "receiver address (unicast; default 127.0.0.1) or broadcast "
           "address; not used with multicast", nullable=True),
    Option("port", "int", None, "UDP port; null = 5568 (sACN) or 6454 (Art-Net)", lo=1,
           hi=65535, nullable=True),
    Option("interface", "str", None, "local IPv4 address to send from (the network card facing "
           "the lights; needed for multicast on Windows); null = the system's choice",
           nullable=True),
    Option("priority", "int", 100, "sACN source priority 0..200 (a receiver takes the highest)",
           lo=0, hi=200),
    Option("sync_universe", "int", None, "sACN universe synchronisation: every refresh ends with "
           "a sync packet on this universe, so receivers that support it change all universes "
           "together; null = off", lo=1, hi=63999, nullable=True),
    Option("source_name", "str", "vjbridge", "sACN source name shown by receivers"),
    Option("rate", "number", 44.0, "refresh rate in Hz while levels change (DMX512 runs at up "
           "to 44 Hz; at most the mapping's rate takes effect)", lo=1, hi=1000),
    Option("keepalive_s", "number", 0.8, "while nothing changes, each universe is re-sent this "
           "often (sACN: at most 1 s; receivers drop a source after 2.5 s)", lo=0.05, hi=4),
    Option("fixtures", "named", None, "the patch: fixture name -> profile, universe, address",
           nullable=True, section=DMX_FIXTURE),
    Option("profiles", "named", None, "fixture profiles of this mapping's own, by name",
           nullable=True, section=DMX_PROFILE),
))

DMX_ROUTE = Section("route.dmx", "Send the route's value to fixture channels (`fixture` + "
                    "`attribute`) or to raw slots (`universe` + `address`).", (
    Option("target", "str", None, "name of a `dmx` target; may be left out when there is one",
           nullable=True),
    Option("fixture", "str", None, "a fixture name, several separated by commas or spaces, or a "
           "pattern such as 'par*'", nullable=True),
    Option("attribute", "str", None, "the fixtures' channel to drive: colour (a 3-value colour: "
           "red, green, blue), dimmer, red, white, strobe, ...; null = colour for a colour, "
           "else dimmer", nullable=True),
    Option("universe", "int", None, "raw: universe of `address` (null = 1)", lo=0, hi=63999,
           nullable=True),
    Option("address", "int", None, "raw: DMX address 1..512 of the first channel (a colour: "
           "three channels from here)", lo=1, hi=SLOTS, nullable=True),
    Option("bits", "choice", 8, "raw: 8, or 16 (two slots: coarse, fine); a fixture's profile "
           "sets its own", choices=(8, 16)),
))

_SPLIT = re.compile(r"[,\s]+")


def fixture_names(spec: str, known) -> tuple[list[str], list[str]]:
    """The fixtures ``spec`` names (names, commas/spaces, ``*?[]`` patterns), in patch order, and
    the words that matched none."""
    known = list(known)
    out, missing = [], []
    for word in (w for w in _SPLIT.split(spec.strip()) if w):
        hits = fnmatch.filter(known, word) if any(c in word for c in "*?[") else \
            [word] if word in known else []
        if not hits:
            missing.append(word)
        out += [h for h in hits if h not in out]
    return out, missing


def _attribute(sub: Mapping, info: RouteInfo) -> str:
    return sub.get("attribute") or (COLOUR if info.size == 3 else "dimmer")


def check_route(sub: Mapping, info: RouteInfo, problems: list[str]) -> None:
    """What one route table can get wrong on its own (the fixtures are checked against the
    target in :func:`check_mapping`)."""
    p = f"{info.path}.dmx"
    raw = sub.get("address") is not None or sub.get("universe") is not None
    if sub.get("fixture") and raw:
        problems.append(f"{p}: give `fixture` (with `attribute`) or `universe` + `address` (raw "
                        "slots), not both")
    elif not sub.get("fixture") and sub.get("address") is None:
        problems.append(f"{p}: no destination; give `fixture: NAME` (and `attribute`), or "
                        "`address` (and `universe`) for raw slots")
    if info.spectrum or info.size not in (1, 3):
        problems.append(f"{p}: {info.signal!r} is {info.size} values; DMX takes a level or a "
                        "3-value colour: route one band")
        return
    if info.colour == "hsv":
        problems.append(f"{info.path}.colour.format: hsv is not DMX channels; use rgb (or rgb8)")
    if raw:
        if sub.get("attribute"):
            problems.append(f"{p}.attribute: used with `fixture`; raw slots take `bits`")
        address = sub.get("address")
        if type(address) is int:
            last = address + info.size * (sub.get("bits") or 8) // 8 - 1
            if last > SLOTS:
                problems.append(f"{p}.address: {info.size} channel(s) of {sub.get('bits')} bits "
                                f"from {address} end at {last}, past {SLOTS}")
    elif sub.get("bits") == 16:
        problems.append(f"{p}.bits: a fixture's profile sets its bits; `bits` is for raw slots")


def check_target(name: str, cfg: Mapping, path: str, problems: list[str]) -> None:
    protocol, mode = cfg.get("protocol"), cfg.get("mode")
    if protocol in MODES and mode in ("unicast", "multicast", "broadcast") and \
            mode not in MODES[protocol]:
        problems.append(f"{path}.mode: {mode} is not used by {protocol}; use "
                        f"{' or '.join(MODES[protocol])}")
    if mode == "multicast" and cfg.get("host"):
        problems.append(f"{path}.host: not used with multicast (each universe goes to its group "
                        "239.255.hi.lo); remove it, or use mode unicast")
    if protocol == "artnet" and cfg.get("sync_universe") is not None:
        problems.append(f"{path}.sync_universe: sACN only; remove it for Art-Net")
    ka = cfg.get("keepalive_s")
    if protocol == "sacn" and isinstance(ka, float) and ka > 1.0:
        problems.append(f"{path}.keepalive_s: {ka:g} s; E1.31 wants a packet per universe at "
                        "least every second (use 1 or less)")
    lo, hi = (1, 63999) if protocol == "sacn" else (0, 32767)
    for fname, fx in (cfg.get("fixtures") or {}).items():
        u = fx.get("universe") if isinstance(fx, Mapping) else None
        if type(u) is int and not lo <= u <= hi:
            problems.append(f"{path}.fixtures.{fname}.universe: {u} is out of range {lo}..{hi} "
                            f"for {protocol}")
    patch(cfg, problems, path)


def _target_of(sub: Mapping, targets: Mapping):
    name = sub.get("target")
    if name is None and len(targets) == 1:
        name = next(iter(targets))
    return name, targets.get(name) if name is not None else None


def check_mapping(targets: Mapping, routes, override=None) -> list[str]:
    """Each route's fixtures and attribute against its target's patch, raw universes against its
    protocol, and two routes driving the same channel."""
    problems: list[str] = []
    owners: dict[tuple, str] = {}
    for _route, sub, info in routes:
        p = f"{info.path}.dmx"
        name, cfg = _target_of(sub, targets)
        if not isinstance(cfg, Mapping):
            continue  # an unknown target: the mapping layer reports it
        channels = _destinations(sub, info, cfg, problems, p)
        for u, s, _bits in channels or ():
            key = (name, u, s)
            if key in owners and owners[key] != info.path:
                problems.append(f"{p}: drives universe {u} address {s + 1}, as {owners[key]} "
                                "does; one of them would overwrite the other every tick")
                break
            owners[key] = info.path
    return problems


def _destinations(sub, info, cfg, problems, p) -> list[tuple[int, int, int]] | None:
    """(universe, slot, bits) per value and destination, values in order for each fixture."""
    if sub.get("address") is not None or sub.get("universe") is not None:
        u = sub.get("universe") if sub.get("universe") is not None else 1
        protocol = cfg.get("protocol")
        lo, hi = (1, 63999) if protocol == "sacn" else (0, 32767)
        if not lo <= u <= hi:
            problems.append(f"{p}.universe: {u} is out of range {lo}..{hi} for {protocol}")
            return None
        bits = sub.get("bits") or 8
        start = sub["address"] - 1 if sub.get("address") is not None else 0
        return [(u, start + i * bits // 8, bits) for i in range(info.size)]
    spec = sub.get("fixture")
    if not isinstance(spec, str):
        return None
    placed = patch(cfg)
    names, missing = fixture_names(spec, placed)
    for word in missing:
        problems.append(f"{p}.fixture: no fixture {word!r} in the target{suggest(word, placed)}"
                        + (f" (fixtures: {', '.join(placed)})" if placed else
                           "; declare it under the target's `fixtures:`"))
    if missing:
        return None
    attr = _attribute(sub, info)
    out = []
    for n in names:
        fx = placed[n]
        chans = fx.channels(attr)
        if chans is None:
            problems.append(f"{p}.attribute: {n} ({fx.profile.name}) has no {attr!r}"
                            f"{suggest(attr, fx.profile.attributes)} (it has "
                            f"{', '.join(fx.profile.attributes)})")
            return None
        if len(chans) != info.size:
            if info.size == 3:
                problems.append(f"{p}.attribute: {info.signal!r} is a colour of 3 values and "
                                f"{attr!r} one channel; use attribute colour, or `colour: "
                                "{format: brightness}` for one level")
            else:
                problems.append(f"{p}.attribute: colour takes a 3-value colour and "
                                f"{info.signal!r} is one value; name one channel (red, dimmer, "
                                "...)")
            return None
        out += chans
    return out


class DmxRouteOutput(RouteOutput):
    """One route's levels on its channels. Contiguous channels of a fixture go as one run; the
    encoding of each (value, bits) is computed once per tick, shared by every fixture."""

    __slots__ = ("size", "lo", "scale", "plans", "keys", "idle_value", "_last_y", "_last")

    def __init__(self, key, dests: list[tuple[int, int, int]], size: int,
                 out: tuple[float, float], idle: float, byte_values: bool = False):
        super().__init__(key)
        self.size = size
        # rgb8 values are 0..255 whatever `out` says
        self.lo, hi = (0.0, 255.0) if byte_values else out
        self.scale = 1.0 / (hi - self.lo)
        self.idle_value = idle
        plans: list = []  # [universe, slot, [(value index, bits), ...]]
        for i, (u, s, bits) in enumerate(dests):
            j = i % size
            if plans and plans[-1][0] == u and plans[-1][1] + sum(
                    b // 8 for _, b in plans[-1][2]) == s:
                plans[-1][2].append((j, bits))
            else:
                plans.append([u, s, [(j, bits)]])
        self.plans = tuple((u, s, tuple(parts)) for u, s, parts in plans)
        # the distinct (value index, bits): each is encoded once per tick, whatever the fixtures
        self.keys = tuple(sorted({p for _, _, parts in self.plans for p in parts}))
        self._last_y = self._last = None

    def _item(self, y) -> DmxLevels:
        vals = y if type(y) is tuple else (y,)
        lo, k = self.lo, self.scale
        code = {key: encode((vals[key[0]] - lo) * k, key[1]) for key in self.keys}
        runs = []
        for u, s, parts in self.plans:
            data = code[parts[0]] if len(parts) == 1 else b"".join([code[p] for p in parts])
            runs.append((u, s, data))
        return DmxLevels(tuple(runs))

    def emit(self, y):
        if y == self._last_y and self._last is not None:
            return self._last
        self._last = item = self._item(y)
        self._last_y = y
        return item

    def idle(self):
        v = self.idle_value
        return self._item((v,) * self.size if self.size > 1 else v)

    def reset(self) -> None:
        self._last_y = self._last = None


def output(sub: Mapping, info: RouteInfo, target_cfg: Mapping) -> DmxRouteOutput:
    problems: list[str] = []
    dests = _destinations(sub, info, target_cfg, problems, f"{info.path}.dmx")
    if dests is None:  # validation reports these first; reaching here is a caller's bug
        raise ValueError("; ".join(problems) or f"{info.path}.dmx: no destination")
    return DmxRouteOutput(("dmx", sub.get("target") or "default"), dests, info.size, info.out,
                          info.idle, byte_values=info.colour == "rgb8")


def describe_target(name: str, cfg: Mapping) -> str:
    protocol, mode = cfg["protocol"], cfg["mode"]
    port = cfg["port"] or (wire.SACN_PORT if protocol == "sacn" else wire.ARTNET_PORT)
    host = cfg["host"] or ("255.255.255.255" if mode == "broadcast" else "127.0.0.1")
    where = "multicast 239.255.hi.lo" if mode == "multicast" else f"{mode} {host}:{port}"
    extra = f", priority {cfg['priority']}" if protocol == "sacn" else ""
    if cfg.get("sync_universe"):
        extra += f", sync on universe {cfg['sync_universe']}"
    lines = [f"dmx {name}: {protocol} {where}{extra}, {cfg['rate']:g} Hz, keep-alive "
             f"{cfg['keepalive_s']:g} s"]
    for fname, fx in patch(cfg).items():
        uni = f"{fx.universe}" + (f" ({wire.artnet_port_address(fx.universe)})"
                                  if protocol == "artnet" else "")
        lines.append(f"    {fname}: {fx.profile.name} universe {uni} {fx.address}-{fx.last}")
    return "\n".join(lines)


def describe_route(sub: Mapping, info: RouteInfo) -> str:
    head = f"dmx {sub['target']}" if sub.get("target") else "dmx"
    if sub.get("fixture"):
        return f"{head} {sub['fixture']} {_attribute(sub, info)}"
    u = sub.get("universe") if sub.get("universe") is not None else 1
    return f"{head} universe {u} address {sub.get('address')} " \
        f"({info.size} x {sub.get('bits') or 8}-bit)"


DMX_KIND = OutputKind(
    name="dmx",
    description="DMX512 over sACN (E1.31) or Art-Net to fixtures by profile",
    target=DMX_TARGET,
    route=DMX_ROUTE,
    open=DmxSink.from_config,
    output=output,
    describe_target=describe_target,
    describe_route=describe_route,
    check_route=check_route,
    check_target=check_target,
    check_mapping=check_mapping,
    default_target=False,
)
