"""The ``wled`` output kind: WLED sound sync (audio-sync v2 packets), declared once.

Why a kind and not an OSC target: WLED's controllers read one fixed 44-byte packet of every
field at once (:mod:`bridge.sinks.wled`), so a mapping routes signals into the packet's fields
(``routes[i].wled.field``) and the sink assembles one packet per tick from the latest values.

A mapping::

    wled:
      room: {host: 239.0.0.1}            # multicast to every controller (the default)
    routes:
      - {signal: geq, wled: {field: bands}}
      - {signal: rms, wled: {field: volume}, in: [0, 0.3], out: [0, 255]}
      - {signal: kick, wled: {field: peak}}

Units per field (what WLED's effects expect): ``bands`` a 16-value signal (``geq``), levels
0..1 sent as 0..254 (WLED's own sender caps at 254; vector routes take no transforms); ``volume``
and ``volume_raw`` 0..255 (set ``out``); ``peak`` 1 when the value is at or above ``threshold``;
``magnitude`` WLED's FFT magnitude (effects divide it by 4 to 16 for a brightness: ``out: [0,
1024]`` spans them); ``frequency`` Hz (``in`` and ``out`` ``[0, 11025]`` pass ``majorpeak``
through).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from bridge.options import Option, Section
from bridge.sinks.kind import OutputKind, RouteInfo, RouteOutput
from bridge.sinks.wled import FIELDS, MULTICAST_GROUP, PORT, WledField, WledSink

#: A field's accepted ``out`` range (WLED's units) and what it means, for the checks and the docs.
UNITS = {"volume": (0.0, 255.0), "volume_raw": (0.0, 255.0), "frequency": (0.0, 11025.0)}

TARGET = Section("wled target", "Where WLED sound-sync packets go: every WLED controller whose "
                 "audioreactive usermod has sync mode Receive (Config > Usermods > AudioReactive "
                 "> Sync > Receive) on the same port.", (
    Option("host", "host", MULTICAST_GROUP, "multicast group (WLED listens on 239.0.0.1) or one "
           "controller's host name or IP address (unicast)"),
    Option("port", "int", PORT, "UDP port: the controllers' audio sync port (WLED default 11988)",
           lo=1, hi=65535),
    Option("ttl", "int", 1, "multicast time-to-live: 1 = this network only (routers do not "
           "forward it); ignored for unicast", lo=0, hi=255),
    Option("interface", "str", None, "multicast only: the IPv4 address of this machine's "
           "interface to send from (e.g. its Wi-Fi address); null = the system's default route",
           nullable=True),
    Option("loop", "bool", True, "multicast only: also deliver to receivers on this machine"),
))

ROUTE = Section("route.wled", "Fill one field of the WLED sound-sync packet with the route's "
                "value (the packet carries every field each tick; a field no route fills is 0).", (
    Option("field", "choice", None, "the packet field: bands (16 GEQ channels, a 16-value signal "
           "such as geq), volume (smoothed volume 0..255; also the raw volume unless volume_raw "
           "is routed), volume_raw (0..255), peak (the beat/peak flag), magnitude (FFT "
           "magnitude), frequency (major peak, Hz)", choices=FIELDS, required=True),
    Option("target", "str", None, "name of a `wled` target; may be left out when there is one",
           nullable=True),
    Option("threshold", "number", 0.5, "peak only: the packet's peak flag is set while the "
           "route's value is at or above this (output units; a trigger is 1 on its frame)",
           lo=-1e9, hi=1e9),
))


class BandsOutput(RouteOutput):
    """A 16-value route (levels 0..1) -> the packet's 16 GEQ bytes, 0..254."""

    __slots__ = ()

    def emit(self, y) -> WledField:
        return WledField("bands", bytes([0 if not v > 0.0 else 254 if v >= 1.0 else
                                         int(v * 254.0 + 0.5) for v in y]))

    def idle(self) -> WledField:
        return WledField("bands", bytes(16))


class ScalarOutput(RouteOutput):
    """volume, volume_raw, magnitude, frequency: the route's value in WLED's units (>= 0)."""

    __slots__ = ("field",)

    def __init__(self, key, field: str) -> None:
        super().__init__(key)
        self.field = field

    def emit(self, y) -> WledField:
        y = float(y)
        return WledField(self.field, y if y > 0.0 else 0.0)

    def idle(self) -> WledField:
        return WledField(self.field, 0.0)


class PeakOutput(RouteOutput):
    """The peak flag: 1 while the route's value is at or above ``threshold``."""

    __slots__ = ("threshold",)

    def __init__(self, key, threshold: float) -> None:
        super().__init__(key)
        self.threshold = float(threshold)

    def emit(self, y) -> WledField:
        return WledField("peak", 1 if y >= self.threshold else 0)

    def idle(self) -> WledField:
        return WledField("peak", 0)


def output(sub: Mapping, info: RouteInfo, target_cfg: Mapping) -> RouteOutput:
    key = ("wled", sub.get("target") or "default")
    field = sub["field"]
    if field == "bands":
        return BandsOutput(key)
    if field == "peak":
        return PeakOutput(key, sub.get("threshold", 0.5))
    return ScalarOutput(key, field)


def open_target(name: str, cfg: Mapping) -> WledSink:
    return WledSink.from_config(name, cfg)


def check_route(sub: Mapping, info: RouteInfo, problems: list) -> None:
    """A field's value shape and units: bands needs 16 values, the rest one in WLED's range."""
    field, p = sub.get("field"), f"{info.path}.wled"
    if field not in FIELDS:
        return  # the section's choice check reported it (with a did-you-mean)
    if field == "bands":
        if info.size != 16:
            what = f"a spectrum of {info.size}" if info.spectrum else (
                "a colour of 3 values" if info.size == 3 else "one value")
            problems.append(f"{p}.field: bands takes a 16-value signal (geq); {info.signal!r} is "
                            f"{what}; route geq here, or {info.signal!r} to another field")
        return
    if info.size != 1 or info.spectrum:
        problems.append(f"{p}.field: {field} takes one value; {info.signal!r} is "
                        f"{'a spectrum' if info.spectrum else 'a colour'} of {info.size} values "
                        f"(a spectrum goes to field bands)")
        return
    lo, hi = sorted(info.out)
    if field in UNITS:
        ulo, uhi = UNITS[field]
        if lo < ulo or hi > uhi:
            problems.append(f"{info.path}.out: WLED reads {field} as {ulo:g}..{uhi:g}; got "
                            f"[{info.out[0]:g}, {info.out[1]:g}]; set out within [{ulo:g}, "
                            f"{uhi:g}]")
    elif field == "magnitude" and lo < 0:
        problems.append(f"{info.path}.out: WLED's magnitude is >= 0; got [{info.out[0]:g}, "
                        f"{info.out[1]:g}]")
    elif field == "peak":
        threshold = sub.get("threshold", 0.5)
        if not lo < threshold <= hi:
            problems.append(f"{p}.threshold: {threshold:g} is outside the route's out range "
                            f"({lo:g}, {hi:g}], so the peak flag would never change; set a "
                            "threshold inside it")


def check_target(name: str, cfg: Mapping, path: str, problems: list) -> None:
    iface = cfg.get("interface")
    if iface is None:
        return
    try:
        ok = ipaddress.ip_address(iface).version == 4
    except ValueError:
        ok = False
    if not ok:
        problems.append(f"{path}.interface: {iface!r} is not an IPv4 address; give the address of "
                        "this machine's interface (`ip -4 addr`), or null for the default route")


def check_mapping(targets: Mapping, routes, override=None) -> list[str]:
    """Two routes filling the same field of one target would fight over it every tick."""
    seen: dict[tuple[str, str], str] = {}
    problems = []
    for _route, sub, info in routes:
        key = (sub.get("target") or "default", sub.get("field"))
        if key in seen:
            problems.append(f"{info.path}.wled.field: {key[1]} of wled target {key[0]!r} is "
                            f"already filled by {seen[key]}; route one signal per field")
        else:
            seen[key] = info.path
    return problems


def describe_target(name: str, cfg: Mapping) -> str:
    host = cfg.get("host", MULTICAST_GROUP)
    try:
        multicast = ipaddress.ip_address(host).is_multicast
    except ValueError:
        multicast = False
    how = (f"multicast ttl {cfg.get('ttl', 1)}" + (f" via {cfg['interface']}"
                                                  if cfg.get("interface") else "")
           if multicast else "unicast")
    return (f"wled.{name}: udp://{host}:{cfg.get('port', PORT)} {how}, WLED audio sync v2 "
            "(set the controllers' audio sync mode to Receive)")


def describe_route(sub: Mapping, info: RouteInfo) -> str:
    field = sub["field"]
    extra = f" (peak while >= {sub.get('threshold', 0.5):g})" if field == "peak" else (
        " (16 channels -> 0..254)" if field == "bands" else
        f" ({info.out[0]:g}..{info.out[1]:g})")
    return f"wled {sub.get('target') or 'default'}.{field}{extra}"


WLED_KIND = OutputKind(
    name="wled",
    description="WLED sound sync: the audioreactive usermod's v2 packet (16 GEQ bands, volume, "
                "peak, FFT magnitude and major peak) over UDP multicast or unicast, so WLED "
                "controllers in sync mode Receive follow vjbridge's analysis without a microphone",
    target=TARGET,
    route=ROUTE,
    open=open_target,
    output=output,
    describe_target=describe_target,
    describe_route=describe_route,
    check_route=check_route,
    check_target=check_target,
    check_mapping=check_mapping,
    default_target=True,
)
