"""The mapping schema: every option declared once, driving validation, `vjbridge check` and docs.

Why one declaration: a VJ edits YAML during a soundcheck. The option list, its defaults, its ranges
and its descriptions must never drift apart between the validator, the generated reference and the
code that reads the values, so all three read the tables below. Validation (in :mod:`.validate`)
walks these tables and collects *every* problem with its key path (``routes[3].midi.cc``) instead of
stopping at the first, in the manner of Mopidy's config schemas.
"""

from __future__ import annotations

from bridge.options import Option, Section

OSC_TARGET = Section("osc target", "Where OSC goes: one receiver (TouchDesigner, Resolume, Eos, ...).", (
    Option("host", "str", "127.0.0.1", "receiver host name or IP address"),
    Option("port", "int", 7000, "receiver port (in TouchDesigner: the OSC In CHOP's Network Port)",
           lo=1, hi=65535),
    Option("protocol", "choice", "udp", "udp, or tcp (ETC Eos prefers tcp, port 3032)",
           choices=("udp", "tcp")),
    Option("framing", "choice", "slip", "TCP framing: slip = OSC 1.1 (SLIP), length = OSC 1.0 "
           "(int32 size prefix); ignored for udp", choices=("slip", "length")),
    Option("bundle", "bool", True, "true: one bundle per output frame, one timetag (immediate) "
           "shared by all its messages; false: plain messages"),
))

MIDI_PORT = Section("midi port", "Where MIDI goes: a virtual port others connect to, or a named port.", (
    Option("port", "str", None, "name (or case-insensitive part of the name) of an existing MIDI "
           "output; null = create a virtual output port named `virtual_name`", nullable=True),
    Option("virtual_name", "str", "vjbridge", "name of the virtual output port created when `port` "
           "is null"),
))

OSC_ROUTE = Section("route.osc", "Send the route's value as one OSC message argument.", (
    Option("address", "address", None, "OSC address, e.g. /vjbridge/motion", required=True),
    Option("type", "choice", "float", "argument type: float (f) or int (i, rounded)",
           choices=("float", "int")),
    Option("target", "str", None, "name of an `osc` target; may be left out when there is one",
           nullable=True),
))

MIDI_ROUTE = Section("route.midi", "Send the route's value as a MIDI control change or a note "
                     "trigger (give exactly one of `cc` and `note`).", (
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
))

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
    Option("osc", "section", None, "send as OSC", nullable=True, section=OSC_ROUTE),
    Option("midi", "section", None, "send as MIDI", nullable=True, section=MIDI_ROUTE),
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
    Option("osc", "named", None, "OSC targets by name (default: one target `default`, "
           "127.0.0.1:7000 udp, when a route sends OSC)", nullable=True, section=OSC_TARGET),
    Option("midi", "named", None, "MIDI ports by name (default: one virtual port `default` named "
           "vjbridge, when a route sends MIDI)", nullable=True, section=MIDI_PORT),
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


def schema_markdown() -> str:
    """The mapping reference as Markdown tables, generated from the declarations above."""
    lines = ["# Mapping reference (generated from bridge/mapping/schema.py)", ""]
    prefixes = {"mapping": "", "osc target": "osc.NAME.", "midi port": "midi.NAME.",
                "route": "routes[i].", "route.osc": "routes[i].osc.", "route.midi": "routes[i].midi.",
                "route.colour": "routes[i].colour."}
    for sec in (MAPPING, OSC_TARGET, MIDI_PORT, ROUTE, OSC_ROUTE, MIDI_ROUTE, COLOUR_ROUTE):
        lines += [f"## {sec.name}", "", sec.description, "",
                  "| key | accepts | default | description |", "|---|---|---|---|"]
        for opt in sec.options:
            lines.append(f"| `{prefixes[sec.name]}{opt.name}` | {_fmt_accepts(opt)} | "
                         f"{_fmt_default(opt)} | {opt.description} |")
        lines.append("")
    return "\n".join(lines)
