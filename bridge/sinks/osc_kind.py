"""The OSC output kind: its mapping sections, checks, route outputs and datagram limit.

Why the datagram check lives here: a frame's bundle that does not fit one UDP datagram is dropped
by the kernel every tick, which is a dead show that looks live. vjbridge REFUSES such a mapping
rather than split the bundle: one bundle per frame is the promise that a frame's values arrive
together (one timetag; TouchDesigner's OSC In CHOP and desks rely on it), a split bundle would
arrive as several partial frames, and a mapping that big is a mistake the VJ should hear about
before the show, with the fix in the message (fewer routes per target, a second target, ``bundle:
false`` or ``protocol: tcp``). The limit is 1,472 bytes for a non-loopback host (one 1,500-byte
Ethernet frame minus the IP and UDP headers: a fragmented datagram is lost whole when one fragment
is, and Wi-Fi/VPN links often drop fragments) and 9,216 bytes for loopback (macOS's default
``net.inet.udp.maxdgram``, the smallest loopback datagram limit of the systems vjbridge runs on;
Linux takes 65,507).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from bridge.options import Option, Section
from bridge.sinks.kind import OutputKind, RouteInfo, RouteOutput
from bridge.sinks.messages import OscValue

#: Largest UDP datagram sent to a non-loopback host: 1500 (Ethernet MTU) - 20 (IPv4) - 8 (UDP).
MAX_DATAGRAM_NETWORK = 1472
#: Largest UDP datagram sent on loopback (macOS's default net.inet.udp.maxdgram).
MAX_DATAGRAM_LOOPBACK = 9216

OSC_TARGET = Section("osc target", "Where OSC goes: one receiver (TouchDesigner, Resolume, Eos, ...).", (
    Option("host", "host", "127.0.0.1", "receiver host name or IP address"),
    Option("port", "int", 7000, "receiver port (in TouchDesigner: the OSC In CHOP's Network Port)",
           lo=1, hi=65535),
    Option("protocol", "choice", "udp", "udp, or tcp (ETC Eos prefers tcp, port 3032)",
           choices=("udp", "tcp")),
    Option("framing", "choice", "slip", "TCP framing: slip = OSC 1.1 (SLIP), length = OSC 1.0 "
           "(int32 size prefix); ignored for udp", choices=("slip", "length")),
    Option("bundle", "bool", True, "true: one bundle per output frame, one timetag (immediate) "
           "shared by all its messages; false: plain messages"),
    Option("announce", "bool", True, "send /vjbridge/_info (what this stream carries: version, "
           "addresses, ranges) on start and once a second, and with a genre (run --genre, the "
           "mapping's genre:) /vjbridge/genre and /vjbridge/style; false for a receiver that "
           "takes only its own addresses, such as a lighting console"),
))

OSC_ROUTE = Section("route.osc", "Send the route's value as one OSC message argument.", (
    Option("address", "address", None, "OSC address, e.g. /vjbridge/motion", required=True),
    Option("type", "choice", "float", "argument type: float (f) or int (i, rounded)",
           choices=("float", "int")),
    Option("target", "str", None, "name of an `osc` target; may be left out when there is one",
           nullable=True),
))


class OscOut(RouteOutput):
    """The route's value as one message: a float, or a tuple of floats (a spectrum, a colour)."""

    __slots__ = ("address", "idle_")

    def __init__(self, key, address: str, idle) -> None:
        super().__init__(key)
        self.address, self.idle_ = address, idle

    def emit(self, y):
        return tuple.__new__(OscValue, (self.address, y))

    def idle(self):
        return OscValue(self.address, self.idle_)


class OscIntOut(OscOut):
    """The route's value rounded to an int (type i)."""

    __slots__ = ()

    def emit(self, y):
        return tuple.__new__(OscValue, (self.address, int(round(y))))


def _output(sub: Mapping, info: RouteInfo, target: Mapping) -> RouteOutput:
    key = ("osc", sub["target"])
    if info.size > 1:  # a spectrum or a 3-value colour
        idle = (0, 0, 0) if info.colour == "rgb8" else (float(info.idle),) * info.size
        return OscOut(key, sub["address"], idle)
    if sub["type"] == "int":
        return OscIntOut(key, sub["address"], int(round(info.idle)))
    return OscOut(key, sub["address"], float(info.idle))


def _check_route(sub: Mapping, info: RouteInfo, problems: list) -> None:
    if sub.get("type") != "int":
        return
    if info.spectrum:
        problems.append(f"{info.path}.osc.type: {info.signal!r} is a spectrum of floats; remove "
                        "`type: int`")
    elif info.size > 1:
        problems.append(f"{info.path}.osc.type: int is not used for a colour of 3 values; did you "
                        "mean `colour: {format: rgb8}` (3 ints 0..255)?")


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address literal (no name lookup: this runs before any)."""
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def datagram_limit(host: str) -> int:
    return MAX_DATAGRAM_LOOPBACK if is_loopback(host) else MAX_DATAGRAM_NETWORK


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def message_size(address: str, values: int) -> int:
    """Bytes of one OSC message with ``values`` 32-bit arguments."""
    return _pad4(len(address.encode("utf-8")) + 1) + _pad4(1 + values + 1) + 4 * values


def bundle_problems(targets: Mapping, routes, override=None) -> list[str]:
    """Per UDP target: the bytes one tick sends (a bundle of every route's message, or each plain
    message) against the datagram limit for its host; one problem per target over it.
    ``routes``: (route, its osc table, RouteInfo); ``override``: the ``--osc`` (host, port)."""
    messages: dict[str, list[int]] = {}
    for _route, sub, info in routes:
        messages.setdefault(sub["target"], []).append(message_size(sub["address"], info.size))
    problems = []
    for name, sizes in messages.items():
        target = targets.get(name)
        if not target or target["protocol"] != "udp":
            continue  # TCP is a stream: no datagram to fit
        host = override[0] if override else target["host"]
        limit = datagram_limit(host)
        where = "loopback" if limit == MAX_DATAGRAM_LOOPBACK else f"a network host ({host})"
        if target["bundle"]:
            size = 16 + sum(4 + s for s in sizes)  # "#bundle\0" + timetag, size-prefixed elements
            what = f"one tick's bundle of {len(sizes)} messages is {size:,} bytes"
        else:
            size = max(sizes)
            what = f"its largest message is {size:,} bytes"
        if size > limit:
            problems.append(
                f"osc.{name}: {what}; a UDP datagram to {where} carries at most {limit:,} "
                "(limit: bundle size); send fewer routes to this target, split them over two "
                "targets, or use protocol: tcp")
    return problems


def _open(name: str, cfg: Mapping):
    from bridge.sinks.osc import OscSink

    return OscSink.from_config(name, cfg)


def _override(cfg: Mapping, hostport: tuple[str, int]) -> dict:
    out = dict(cfg)
    out["host"], out["port"] = hostport
    return out


def _describe_target(name: str, t: Mapping) -> str:
    extra = f" framing={t['framing']}" if t["protocol"] == "tcp" else ""
    return (f"osc {name}: {t['protocol']}://{t['host']}:{t['port']} "
            f"{'bundles' if t['bundle'] else 'plain messages'}{extra}")


def _describe_route(sub: Mapping, info: RouteInfo) -> str:
    return (f"osc {sub['target']} {sub['address']} {sub['type'][0]} "
            f"{info.out[0]:g}..{info.out[1]:g}")


OSC_KIND = OutputKind(
    name="osc", description="send as OSC", target=OSC_TARGET, route=OSC_ROUTE, open=_open,
    output=_output, describe_target=_describe_target, describe_route=_describe_route,
    check_route=_check_route, check_mapping=bundle_problems, override=_override)
