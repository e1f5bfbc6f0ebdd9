"""The ``os2l`` output kind: beats, tempo, buttons and commands to an OS2L host, declared once.

Why one event per route: a route's output sees only its own signal, but an OS2L beat message
carries the beat, the tempo and a strength at once. So a route names the part it supplies
(``routes[i].os2l.event``) and the sink (:mod:`bridge.sinks.os2l`) keeps the latest tempo and
strength across routes and puts them in each beat message::

    os2l:
      desk: {host: 127.0.0.1, port: 9996}     # QLC+'s OS2L input; no host = DNS-SD discovery
    routes:
      - {signal: beat, os2l: {event: beat}}                       # a message per beat
      - {signal: bpm, os2l: {event: tempo}, in: [0, 200], out: [0, 200]}   # the bpm it carries
      - {signal: onset, os2l: {event: strength}}                  # its strength (optional)
      - {signal: kick, os2l: {event: button, name: kick}}         # btn on/off
      - {signal: rms, os2l: {event: command, id: 1}, in: [0, 0.3], out: [0, 100]}  # cmd 0..100

``beat``: a message each time the route's value rises to ``threshold`` (a trigger's 1.0).
``tempo``: BPM in output units (pass bpm through: ``in``/``out`` ``[0, 200]``); without a tempo
route a beat carries 60 / the time since the previous beat. ``strength``: 0..1; without one, a
beat's strength is the beat route's value. ``button``: ``on`` while the value is at or above
``threshold``, ``off`` below (sent when it changes). ``command``: the value (0..100, ``out``) in
whole steps, when that changes (QLC+ reads the param as an input level 0..100 of 255).
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.options import Option, Section
from bridge.sinks.kind import OutputKind, RouteInfo, RouteOutput
from bridge.sinks.os2l import PORT, SERVICE_TYPE, Os2lItem, Os2lSink

#: The route section's event names (``button``/``command`` are OS2L's ``btn``/``cmd``).
EVENTS = ("beat", "tempo", "strength", "button", "command")
#: The ``out`` range each valued event accepts, for the checks and the docs.
UNITS = {"strength": (0.0, 1.0), "command": (0.0, 100.0), "tempo": (0.0, 1000.0)}
#: Keys that only some events read: (key, the events that read it).
ONLY = {"name": ("button",), "page": ("button",), "id": ("command",),
        "threshold": ("beat", "button")}

TARGET = Section("os2l target", "Where OS2L events go: one OS2L host (QLC+: Inputs/Outputs > "
                 "OS2L as the input of a universe, TCP port 9996). No host: the first host "
                 f"advertising {SERVICE_TYPE[:-1]} by DNS-SD (zeroconf) is used, and found "
                 "again if it moves.", (
    Option("host", "host", None, "the OS2L host's name or IP address; null = find it by DNS-SD "
           f"({SERVICE_TYPE[:-1]})", nullable=True),
    Option("port", "int", PORT, "TCP port the host listens on (QLC+'s default 9996; with "
           "discovery the advertised port is used)", lo=1, hi=65535),
    Option("service", "str", None, "discovery only: pick the host whose DNS-SD instance name "
           "contains this (case-insensitive), e.g. 'QLC'; null = the first one found",
           nullable=True),
))

ROUTE = Section("route.os2l", "Supply one part of the OS2L stream: a beat message, the tempo "
                "and strength beats carry, a button, or a command.", (
    Option("event", "choice", None, "beat (a message per rise of the value to threshold), tempo "
           "(BPM the beats carry), strength (0..1 the beats carry), button (btn on/off by "
           "threshold), command (cmd with the value 0..100 as param)", choices=EVENTS,
           required=True),
    Option("target", "str", None, "name of an `os2l` target; may be left out when there is one",
           nullable=True),
    Option("threshold", "number", 0.5, "beat and button: a beat fires when the value rises to "
           "this; a button is on while the value is at or above it (output units)",
           lo=-1e9, hi=1e9),
    Option("name", "str", None, "button only (required there): the button's name, as the host "
           "maps it (QLC+: the input channel's name)", nullable=True),
    Option("page", "str", None, "button only: the OS2L page the button is on", nullable=True),
    Option("id", "int", None, "command only (required there): the command number (QLC+: the "
           "input channel)", lo=0, hi=65535, nullable=True),
))


class BeatOutput(RouteOutput):
    """A beat item each time the value rises to ``threshold``."""

    __slots__ = ("threshold", "_above")

    def __init__(self, key, threshold: float) -> None:
        super().__init__(key)
        self.threshold = float(threshold)
        self._above = False

    def emit(self, y):
        if y >= self.threshold:
            if not self._above:
                self._above = True
                return Os2lItem("beat", float(y))
        else:
            self._above = False
        return None

    def reset(self) -> None:
        self._above = False


class ValueOutput(RouteOutput):
    """tempo, strength: the value when it changes (the sink holds it for the next beats)."""

    __slots__ = ("event", "_last")

    def __init__(self, key, event: str) -> None:
        super().__init__(key)
        self.event, self._last = event, None

    def emit(self, y):
        y = float(y)
        if y != self._last:
            self._last = y
            return Os2lItem(self.event, y)
        return None

    def reset(self) -> None:
        self._last = None


class ButtonOutput(RouteOutput):
    """btn on while the value is at or above ``threshold``; sent when the state changes."""

    __slots__ = ("threshold", "name", "page", "_on")

    def __init__(self, key, name: str, page: str | None, threshold: float) -> None:
        super().__init__(key)
        self.name, self.page, self.threshold = name, page, float(threshold)
        self._on: bool | None = None

    def _item(self, on: bool) -> Os2lItem:
        return Os2lItem("btn", 1.0 if on else 0.0, self.name, self.page)

    def emit(self, y):
        on = bool(y >= self.threshold)
        if on != self._on:
            self._on = on
            return self._item(on)
        return None

    def idle(self):
        return self._item(False)

    def release(self):
        return self._item(False) if self._on else None

    def reset(self) -> None:
        self._on = None


class CommandOutput(RouteOutput):
    """cmd with the value (0..100, whole steps) as param, when that changes."""

    __slots__ = ("id", "idle_value", "_last")

    def __init__(self, key, ident: int, idle: float) -> None:
        super().__init__(key)
        self.id, self.idle_value, self._last = ident, _param(idle), None

    def emit(self, y):
        p = _param(y)
        if p != self._last:
            self._last = p
            return Os2lItem("cmd", p, id=self.id)
        return None

    def idle(self):
        return Os2lItem("cmd", self.idle_value, id=self.id)

    def reset(self) -> None:
        self._last = None


def _param(y) -> float:
    y = float(y)
    return 0.0 if not y > 0.0 else 100.0 if y >= 100.0 else float(round(y))


def output(sub: Mapping, info: RouteInfo, target_cfg: Mapping) -> RouteOutput:
    key = ("os2l", sub.get("target") or "default")
    event = sub["event"]
    if event == "beat":
        return BeatOutput(key, sub.get("threshold", 0.5))
    if event == "button":
        return ButtonOutput(key, sub["name"], sub.get("page"), sub.get("threshold", 0.5))
    if event == "command":
        return CommandOutput(key, sub["id"], info.idle)
    return ValueOutput(key, event)


def open_target(name: str, cfg: Mapping) -> Os2lSink:
    return Os2lSink.from_config(name, cfg)


def check_route(sub: Mapping, info: RouteInfo, problems: list) -> None:
    """Keys that belong to another event, a missing name or id, one value, the units."""
    event, p = sub.get("event"), f"{info.path}.os2l"
    if event not in EVENTS:
        return  # the section's choice check reported it (with a did-you-mean)
    for key, events in ONLY.items():
        default = 0.5 if key == "threshold" else None
        if event not in events and sub.get(key, default) != default:
            which = (f"event {events[0]} reads" if len(events) == 1
                     else f"events {' and '.join(events)} read")
            problems.append(f"{p}.{key}: only {which} it; remove it, or set event: {events[0]}")
    if event == "button" and not sub.get("name"):
        problems.append(f"{p}.name: event button needs the button's name (e.g. name: strobe)")
    if event == "command" and sub.get("id") is None:
        problems.append(f"{p}.id: event command needs the command number (e.g. id: 1)")
    if info.size != 1 or info.spectrum:
        problems.append(f"{p}.event: {event} takes one value; {info.signal!r} is "
                        f"{'a spectrum' if info.spectrum else 'a colour'} of {info.size} values; "
                        "route one value (e.g. low, or a colour's channel)")
        return
    lo, hi = sorted(info.out)
    if event == "tempo" and hi < 20:
        problems.append(f"{info.path}.out: event tempo sends BPM; out is [{info.out[0]:g}, "
                        f"{info.out[1]:g}], a tempo below 20 BPM; pass bpm through with in: "
                        "[0, 200], out: [0, 200]")
    elif event in UNITS:
        ulo, uhi = UNITS[event]
        if lo < ulo or hi > uhi:
            problems.append(f"{info.path}.out: OS2L reads {event} as {ulo:g}..{uhi:g}; got "
                            f"[{info.out[0]:g}, {info.out[1]:g}]; set out within [{ulo:g}, "
                            f"{uhi:g}]")
    if event in ("beat", "button"):
        threshold = sub.get("threshold", 0.5)
        if not lo < threshold <= hi:
            problems.append(f"{p}.threshold: {threshold:g} is outside the route's out range "
                            f"({lo:g}, {hi:g}], so the {event} would never change; set a "
                            "threshold inside it")


def check_mapping(targets: Mapping, routes, override=None) -> list[str]:
    """Per target: one tempo, one strength, a beat route for them to ride on, and no two routes
    sending the same button or command."""
    problems = []
    seen: dict[tuple, str] = {}
    beats: set[str] = set()
    riders: list[tuple[str, str, str]] = []
    for _route, sub, info in routes:
        target, event = sub.get("target") or "default", sub.get("event")
        if event == "beat":
            beats.add(target)
            continue
        if event in ("tempo", "strength"):
            riders.append((target, event, info.path))
            key = (target, event)
            what = f"the {event} of os2l target {target!r}"
        elif event == "button":
            key = (target, "button", sub.get("name"), sub.get("page"))
            what = f"button {sub.get('name')!r} of os2l target {target!r}"
        elif event == "command":
            key = (target, "command", sub.get("id"))
            what = f"command {sub.get('id')} of os2l target {target!r}"
        else:
            continue
        if key in seen:
            problems.append(f"{info.path}.os2l.event: {what} is already sent by {seen[key]}; "
                            "route one signal to it")
        else:
            seen[key] = info.path
    for target, event, path in riders:
        if target not in beats:
            problems.append(f"{path}.os2l.event: {event} only rides on beat messages, and os2l "
                            f"target {target!r} has no beat route; add {{signal: beat, os2l: "
                            "{event: beat}}")
    return problems


def describe_target(name: str, cfg: Mapping) -> str:
    if cfg.get("host"):
        return f"os2l.{name}: tcp://{cfg['host']}:{cfg.get('port', PORT)}, OS2L 1.1 JSON events"
    pick = f"named like {cfg['service']!r}" if cfg.get("service") else "the first one found"
    return (f"os2l.{name}: the OS2L host found by DNS-SD ({SERVICE_TYPE[:-1]}, {pick}), OS2L 1.1 "
            "JSON events")


def describe_route(sub: Mapping, info: RouteInfo) -> str:
    event, target = sub["event"], sub.get("target") or "default"
    extra = {"beat": f"beat when >= {sub.get('threshold', 0.5):g}",
             "tempo": f"tempo the beats carry ({info.out[0]:g}..{info.out[1]:g} BPM)",
             "strength": "strength the beats carry",
             "button": f"btn {sub.get('name')!r}" + (f" page {sub['page']!r}" if sub.get("page")
                                                     else "")
                       + f" on when >= {sub.get('threshold', 0.5):g}",
             "command": f"cmd {sub.get('id')} ({info.out[0]:g}..{info.out[1]:g})"}[event]
    return f"os2l {target} {extra}"


OS2L_KIND = OutputKind(
    name="os2l",
    description="OS2L (Open Sound to Light) 1.1: beat messages carrying tempo and strength, "
                "buttons and commands as JSON over TCP to QLC+ or another OS2L host, found by "
                "DNS-SD when no host is given",
    target=TARGET,
    route=ROUTE,
    open=open_target,
    output=output,
    describe_target=describe_target,
    describe_route=describe_route,
    check_route=check_route,
    check_mapping=check_mapping,
    default_target=True,
)
