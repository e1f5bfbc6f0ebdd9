"""The ``link`` output kind: vjbridge's tempo (and, from its beats, the beat phase) into an
Ableton Link session, declared once.

Link is how Ableton Live, Resolume, TouchDesigner (its Link CHOP), Traktor, Bitwig and phone apps
share one tempo and beat grid on a network, with no addresses to set: every Link peer on the
LAN finds the others (multicast 224.76.78.75:20808). A mapping::

    link:
      session: {quantum: 4}                          # one target: vjbridge is one Link peer
    routes:
      - {signal: bpm, link: {}, in: [0, 200], out: [0, 200]}   # field tempo (BPM)
      - {signal: beat, link: {field: beat}}          # phase: align the session to the beats

``tempo`` routes need their value in BPM (``in``/``out`` as above pass ``bpm`` through; 0 means
no tempo yet and is not sent); ``beat`` routes fire on a value at or above 0.5 (a trigger).
What the session does with them, and why that follows Link's rules: :mod:`bridge.sinks.
link_session`. To *follow* a session instead (Live or a DJ app leads), run ``vjbridge run
--link``.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.options import Option, Section
from bridge.sinks.kind import OutputKind, RouteInfo, RouteOutput
from bridge.sinks.link import FIELDS, LinkSink, LinkValue
from bridge.sinks.link_session import TEMPO_RANGE

TARGET = Section("link target", "vjbridge as a peer of the Ableton Link session on this network "
                 "(Live, Resolume, TouchDesigner's Link CHOP, ...): no address to set, peers "
                 "find each other by multicast. One target: a process is one Link peer.", (
    Option("quantum", "number", 4.0, "beats per bar for Link's phase alignment (4 = 4/4; the "
           "same quantum as the other peers keeps bars aligned)", lo=1, hi=16),
    Option("align_tolerance", "number", 0.05, "beat routes only: shift the session's beat "
           "phase to the detected beats when two beats in a row find it off by more than this "
           "fraction of a beat (0.05 = 25 ms at 120 BPM)", lo=0.01, hi=0.5),
))

ROUTE = Section("route.link", "Send the route's value to the Link session: its tempo in BPM, "
                "or its beats (which align the session's beat phase).", (
    Option("field", "choice", "tempo", "tempo: the route's value is the session tempo in BPM "
           "(20..999; 0 = none yet, not sent); beat: a trigger (>= 0.5) marks a beat, to which "
           "the session's phase is aligned", choices=FIELDS),
    Option("target", "str", None, "name of the `link` target; may be left out (there is one)",
           nullable=True),
))


class TempoOutput(RouteOutput):
    __slots__ = ()

    def emit(self, y) -> LinkValue:
        return LinkValue("tempo", float(y))


class BeatOutput(RouteOutput):
    """A beat on the tick its trigger is 1 (>= 0.5); nothing otherwise."""

    __slots__ = ()

    def emit(self, y) -> LinkValue | None:
        return LinkValue("beat", 1.0) if y >= 0.5 else None


def output(sub: Mapping, info: RouteInfo, target_cfg: Mapping) -> RouteOutput:
    key = ("link", sub.get("target") or "default")
    return BeatOutput(key) if sub.get("field", "tempo") == "beat" else TempoOutput(key)


def open_target(name: str, cfg: Mapping) -> LinkSink:
    return LinkSink.from_config(name, cfg)


def check_route(sub: Mapping, info: RouteInfo, problems: list) -> None:
    field, p = sub.get("field", "tempo"), f"{info.path}.link"
    if field not in FIELDS:
        return  # the choice check reported it, with a did-you-mean
    if info.size != 1 or info.spectrum:
        what = "a spectrum" if info.spectrum else "a colour"
        problems.append(f"{p}.field: {field} takes one value; {info.signal!r} is {what} of "
                        f"{info.size} values; route bpm (tempo) or beat (beat)")
        return
    lo, hi = sorted(info.out)
    if field == "tempo":
        if lo < 0 or hi > TEMPO_RANGE[1] or hi < TEMPO_RANGE[0]:
            problems.append(f"{info.path}.out: Link's tempo is in BPM ({TEMPO_RANGE[0]:g}.."
                            f"{TEMPO_RANGE[1]:g}); this route sends {info.out[0]:g}..{info.out[1]:g}"
                            "; for the bpm signal set in: [0, 200] and out: [0, 200]")
    elif not lo < 0.5 <= hi:
        problems.append(f"{info.path}.out: a beat is a value >= 0.5, outside this route's out "
                        f"range [{info.out[0]:g}, {info.out[1]:g}], so no beat would reach "
                        "Link; keep out: [0, 1] for a trigger such as beat")


def check_mapping(targets: Mapping, routes, override=None) -> list[str]:
    """One Link target, and at most one route per field: each would overwrite the other."""
    problems = []
    if len(targets) > 1:
        problems.append(f"link: {len(targets)} targets ({', '.join(targets)}); vjbridge is one "
                        "Link peer: declare one link target")
    seen: dict[str, str] = {}
    for _route, sub, info in routes:
        field = sub.get("field", "tempo")
        if field in seen:
            problems.append(f"{info.path}.link.field: {field} is already sent by {seen[field]}; "
                            "send one signal per field")
        else:
            seen[field] = info.path
    return problems


def describe_target(name: str, cfg: Mapping) -> str:
    return (f"link.{name}: Ableton Link session on this network, quantum "
            f"{cfg.get('quantum', 4.0):g}")


def describe_route(sub: Mapping, info: RouteInfo) -> str:
    field = sub.get("field", "tempo")
    what = "session tempo (BPM)" if field == "tempo" else (
        "beats (align the session's phase)")
    return f"link {sub.get('target') or 'default'}.{field}: {what}"


LINK_KIND = OutputKind(
    name="link",
    description="Ableton Link: vjbridge's detected tempo, and its beats as the beat phase, "
                "shared with Live, Resolume, TouchDesigner's Link CHOP and every other Link "
                "peer on the network (vjbridge run --link follows a session instead)",
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
