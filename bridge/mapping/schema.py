"""The mapping schema: every option declared once, driving validation, `vjbridge check` and docs.

Why one declaration: a VJ edits YAML during a soundcheck. The option list, its defaults, its ranges
and its descriptions must never drift apart between the validator, the generated reference and the
code that reads the values, so all three read the tables below. Validation (in :mod:`.validate`)
walks these tables and collects *every* problem with its key path (``routes[3].midi.cc``) instead of
stopping at the first, in the manner of Mopidy's config schemas.
"""

from __future__ import annotations

from bridge.genres import STYLES
from bridge.options import Option, Section
from bridge.sinks import KINDS

COLOUR_ROUTE = Section("route.colour", "How a colour goes on the wire. A model's colour (e.g. "
                       "`signal: colour`) is one value: auto-range, `in`, clamp, invert, gamma, "
                       "smoothing and deadband act on its brightness (auto-range also on its "
                       "saturation), never on r, g and b each on its own, so the hue is kept. "
                       "Routes of its channels (`signal: r`, `g`, `b`) send one channel of that "
                       "processed colour. Any other signal becomes a colour through a palette.", (
    Option("format", "choice", "rgb", "rgb: 3 floats r, g, b (0..1, scaled by `out`, as are the "
           "other floats); hsv: 3 floats hue (0..1 = 0..360 degrees), saturation, value; rgb8: 3 ints 0..255 (`out` "
           "ignored); brightness: 1 float, the colour's HSV value; palette: 3 floats, the "
           "`palette` colour at the position the route gives (a colour: its processed brightness; "
           "any other signal, e.g. spectralcentroidnorm: its value after the route's transforms)",
           choices=("rgb", "hsv", "rgb8", "brightness", "palette")),
    Option("palette", "palette", None, "the palette for format palette: colours evenly spaced from "
           "position 0 to 1, blended linearly, each '#rrggbb' or [r, g, b] (0..1)", nullable=True),
    Option("autorange_saturation", "bool", True, "when the route auto-ranges, map the saturation "
           "relative to its own recent range too (a grey-ish model colour becomes a visible tint, "
           "hue kept); false: the saturation the model gives"),
))

ROUTE = Section("route", "One signal to one or more outputs, through the transforms in this order: "
                "auto-range or `in` range -> clamp -> invert -> gamma -> smoothing -> deadband -> "
                "`out` range.", (
    Option("signal", "signal", None, "signal name (see the signal catalog), e.g. motion, rms, kick",
           required=True),
    *(Option(k.name, "section", None, k.description, nullable=True, section=k.route)
      for k in KINDS.values()),
    Option("colour", "section", None, "a colour route's wire format and palette (a model's colour "
           "defaults to format rgb)", nullable=True, section=COLOUR_ROUTE),
    Option("in", "range", (0.0, 1.0), "input range [low, high] mapped to 0..1 (ignored when "
           "auto-ranging)"),
    Option("out", "range", (0.0, 1.0), "output range [low, high] the 0..1 value is mapped to "
           "(reversed = inverted); MIDI CC scales 0..1 to the full CC range"),
    Option("clamp", "bool", True, "clamp the normalised value to 0..1"),
    Option("invert", "bool", False, "use 1 - value"),
    Option("gamma", "number", 1.0, "curve: value ** gamma (<1 lifts quiet parts, >1 favours peaks)",
           lo=0.05, hi=20),
    Option("attack_ms", "number", 0.0, "one-pole smoothing time constant while rising; 0 = none",
           lo=0, hi=60000),
    Option("release_ms", "number", 0.0, "one-pole smoothing time constant while falling; 0 = none",
           lo=0, hi=60000),
    Option("deadband", "number", 0.0, "hold the last output until the value moves more than this "
           "(in 0..1 units)", lo=0, hi=1),
    Option("autorange", "choice", "auto", "map the value relative to its own recent min..max; auto = "
           "on for model outputs, off for the rest", choices=("auto", True, False)),
    Option("autorange_window_s", "number", 10.0, "auto-range window in seconds", lo=0.1, hi=3600),
    Option("idle", "number", None, "value sent on blackout and exit, in output units; null = the "
           "low end of `out`", lo=-1e9, hi=1e9, nullable=True),
))

MAPPING = Section("mapping", "A mapping file (mappings/*.yaml): global timing, targets, routes.", (
    Option("version", "int", 1, "mapping format version", lo=1, hi=1),
    Option("rate", "number", 60.0, "output rate in Hz: every route is evaluated and sent this often",
           lo=1, hi=1000),
    Option("delay_ms", "number", 0.0, "delay every output by this much, to line up with a PA or a "
           "projector", lo=0, hi=5000),
    *(Option(k.name, "named", None, f"{k.target.name}s by name"
             + (f" (default: one named `default` with the defaults below, when a route uses "
                f"`{k.name}:`)" if k.default_target else ""), nullable=True, section=k.target)
      for k in KINDS.values()),
    Option("genre", "str", None, "the music's genre: sends /vjbridge/genre and /vjbridge/style "
           "(its style description, for a diffusion visualiser) as OSC strings to every OSC "
           "target without `announce: false`, on start, at each reload and once a second; "
           "`vjbridge run --genre` overrides it; one of " + ", ".join(STYLES), nullable=True),
    Option("routes", "list", None, "the routes", required=True, section=ROUTE),
))


def _fmt_default(opt: Option) -> str:
    if opt.required:
        return "required"
    if opt.kind in ("section", "named", "list"):
        return ""
    if opt.default is None:
        return "null"
    if isinstance(opt.default, bool):
        return "true" if opt.default else "false"
    if isinstance(opt.default, tuple):
        return "[" + ", ".join(f"{v:g}" for v in opt.default) + "]"
    return str(opt.default)


def _fmt_accepts(opt: Option) -> str:
    if opt.kind == "choice":
        return " \\| ".join(("true" if c is True else "false" if c is False else str(c))
                            for c in opt.choices)
    if opt.lo is not None and opt.hi is not None and abs(opt.hi) < 1e9:
        return f"{opt.kind} {opt.lo:g}..{opt.hi:g}"
    if opt.kind == "palette":
        return "list of '#rrggbb' or [r, g, b]"
    if opt.kind in ("section", "named", "list"):
        return {"section": "table", "named": "name: table", "list": "list of tables"}[opt.kind]
    return opt.kind


#: how a nested section's key path continues after its option's name
_NESTED = {"section": ".", "named": ".NAME.", "list": "[i]."}


def schema_markdown() -> str:
    """The mapping reference as Markdown tables, generated from the declarations above and each
    output kind's own (:data:`bridge.sinks.KINDS`)."""
    lines = ["# Mapping reference (generated from bridge/mapping/schema.py and the output kinds "
             "in bridge/sinks/)", ""]
    top = [(MAPPING, ""), *((k.target, f"{k.name}.NAME.") for k in KINDS.values()),
           (ROUTE, "routes[i]."), *((k.route, f"routes[i].{k.name}.") for k in KINDS.values()),
           (COLOUR_ROUTE, "routes[i].colour.")]
    listed = {id(sec) for sec, _ in top}
    sections: list = []

    def add(sec: Section, prefix: str) -> None:
        # a section, then the nested ones only it declares (a DMX target's fixtures and
        # profiles, a profile's channels), each under its full key path
        sections.append((sec, prefix))
        for opt in sec.options:
            if opt.section is not None and id(opt.section) not in listed:
                listed.add(id(opt.section))
                add(opt.section, prefix + opt.name + _NESTED[opt.kind])

    for sec, prefix in top:
        add(sec, prefix)
    for sec, prefix in sections:
        lines += [f"## {sec.name}", "", sec.description, "",
                  "| key | accepts | default | description |", "|---|---|---|---|"]
        for opt in sec.options:
            lines.append(f"| `{prefix}{opt.name}` | {_fmt_accepts(opt)} | "
                         f"{_fmt_default(opt)} | {opt.description} |")
        lines.append("")
    return "\n".join(lines)
