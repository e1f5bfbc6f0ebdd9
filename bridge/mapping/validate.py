"""Validate a mapping against :mod:`.schema`, collecting every problem with its key path.

Why collect everything: a broken edit during a soundcheck should be fixed in one pass, not one
error per run. Each problem reads ``key.path: what is wrong`` and, for a misspelt key, choice or
signal name, suggests the nearest valid spelling.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Iterable, Mapping as AbcMapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bridge.errors import MappingError
from bridge.mapping.schema import COLOUR_ROUTE, MAPPING, ROUTE, Option, Section
from bridge.options import host_problem
from bridge.sinks import KINDS, RouteInfo

#: Signal kinds; model outputs auto-range by default.
MODEL = "model"
ROUTE_COLOUR_OPTIONS = COLOUR_ROUTE.options

_OSC_BAD = re.compile(r"[\s#*,?\[\]{}]")
_BAD = object()  # marks a value already reported, so cross-checks neither repeat nor trip on it
_ORDER = re.compile(r"^([^.\[:]*)(?:\[(\d+)\])?")


@dataclass(frozen=True)
class Mapping:
    """A validated mapping: every default filled in, every reference resolved.

    ``targets``: output kind -> target name -> its table (kinds in :data:`bridge.sinks.KINDS`
    order, each present, maybe empty); each route holds one table per kind it sends to, under the
    kind's name."""

    rate: float
    delay_ms: float
    targets: AbcMapping[str, AbcMapping[str, AbcMapping]]  # read-only views (validate() freezes)
    routes: tuple[AbcMapping, ...]
    source: str = "mapping"
    signals_checked: bool = True
    genre: str | None = None  # canonical (bridge.genres), or None

    def summary(self) -> str:
        """Human summary: targets, then one line per route, as `vjbridge check` prints it."""
        lines = [f"{self.source}: {len(self.routes)} routes at {self.rate:g} Hz, "
                 f"delay {self.delay_ms:g} ms"]
        if self.genre is not None:
            lines.append(f"  genre {self.genre}: /vjbridge/genre and /vjbridge/style to the OSC "
                         "targets that announce")
        for kind, targets in self.targets.items():
            for name, t in targets.items():
                lines.append("  " + KINDS[kind].describe_target(name, t))
        for i, r in enumerate(self.routes):
            info = route_info(r, self.rate, f"routes[{i}]")
            outs = [k.describe_route(r[k.name], info) for k in KINDS.values() if r.get(k.name)]
            tags = ["autorange"] if r["autorange"] else []
            part = r.get("colour_part")
            if part == "channel":
                tags.append(f"channel {r['colour_index']} of the processed colour")
            elif part:
                tags.append(f"colour as {part}" + (f", {len(r['colour']['palette'])} palette "
                                                    "colours" if part == "palette" else ""))
            lines.append(f"  routes[{i}] {r['signal']} -> " + "; ".join(outs)
                         + (f" [{', '.join(tags)}]" if tags else ""))
        if not self.signals_checked:
            lines.append("  (signal names not checked: no signal catalog available)")
        return "\n".join(lines)

    def sink_keys(self) -> list[tuple[str, str]]:
        """Every sink this mapping sends to: (kind, target name), in kind order."""
        return [(kind, name) for kind, targets in self.targets.items() for name in targets]


def route_info(route: AbcMapping, rate: float, path: str) -> RouteInfo:
    """What an output kind is told about a (validated) route: values per tick, colour format,
    output range and idle value."""
    from bridge.mapping.colour import FORMATS

    signal = route.get("signal")
    signal = signal if isinstance(signal, str) else "?"
    part = route.get("colour_part")
    spectrum = route.get("spectrum", False)
    if spectrum:
        size = _spectrum_size(signal)
    else:
        size = 1 if part in (None, "channel") else FORMATS[part]
    out = route.get("out")
    out = out if isinstance(out, tuple) else (0.0, 1.0)
    idle = route.get("idle")
    idle = idle if isinstance(idle, float) else out[0]
    return RouteInfo(signal=signal, path=path, size=size, out=out, idle=idle, rate=rate,
                     colour=part, spectrum=spectrum)


def _spectrum_size(signal: str) -> int:
    try:
        from bridge.signals.catalog import SPECTRUM
    except ImportError:
        return 1
    sig = SPECTRUM.get(signal)
    return sig.size if sig is not None else 1


#: Outputs of the shipped models, assumed when the catalog has none declared yet (models declare their
#: outputs into the catalog only when loaded; `vjbridge check` should not need to load them).
SHIPPED_MODEL_OUTPUTS = ("motion", "weight", "r", "g", "b")
#: The colour the shipped light model declares (``vjbridge.colours``), assumed like the outputs.
SHIPPED_COLOURS = ("colour",)


class ColourKind(str):
    """The kind of a whole colour in a signal table (name -> kind): equal to ``"model"`` (a model
    output: auto-ranged by default) and carrying the ``channels`` that hold its r, g, b; ``()`` for
    a placeholder no loaded model produces (its routes validate and stay silent)."""

    channels: tuple[str, ...]

    def __new__(cls, channels=()):
        obj = super().__new__(cls, MODEL)
        obj.channels = tuple(channels)
        return obj


def add_placeholders(kinds: dict) -> dict:
    """The shipped model outputs and colours that no model declared, added to ``kinds`` so a
    mapping routing them validates (such routes stay silent)."""
    missing = {name for name in SHIPPED_MODEL_OUTPUTS if name not in kinds}
    for name in SHIPPED_MODEL_OUTPUTS:
        kinds.setdefault(name, MODEL)
    # the shipped colour is r, g, b when they are placeholders too; a model that outputs r, g, b
    # without declaring a colour keeps them plain outputs (`colour` then has no channels: silent)
    rgb = ("r", "g", "b") if {"r", "g", "b"} <= missing else ()
    for name in SHIPPED_COLOURS:
        kinds.setdefault(name, ColourKind(rgb))
    return kinds


def signal_kinds(signals) -> dict[str, str]:
    """Normalise a signal table to name -> kind ("model" for model outputs).

    Accepts a :class:`bridge.signals.catalog.Catalog` (or anything with a ``signals`` dict of
    objects with ``source``/``kind``), a dict name -> kind string or object, or plain names.
    """
    table = getattr(signals, "signals", signals)
    if isinstance(table, AbcMapping):
        out = {}
        for name, v in table.items():
            if isinstance(v, str):
                out[str(name)] = v
            elif getattr(v, "channels", ()):
                out[str(name)] = ColourKind(v.channels)
            else:
                out[str(name)] = MODEL if getattr(v, "source", "") == MODEL else str(
                    getattr(v, "kind", ""))
        return out
    return {str(n): "" for n in table}


def known_signals() -> dict[str, str] | None:
    """Signal name -> kind from ``bridge.signals.catalog.CATALOG``, plus the shipped model outputs
    when no model has declared its outputs yet; None when there is no catalog."""
    try:
        from bridge.signals.catalog import CATALOG
    except ImportError:
        return None
    kinds = signal_kinds(CATALOG)
    if MODEL not in kinds.values():
        add_placeholders(kinds)
    return kinds


def _fmt(x: Any, limit: int = 80) -> str:
    """A value as the problem line shows it, cut to ``limit`` characters (a value can be a huge
    table or a 400-digit number; the line stays one line)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, int) and abs(x) > 10 ** 30:
        return f"an integer of {len(str(abs(x)))} digits"
    if isinstance(x, (dict, list)):
        x = _shallow(x)
    text = repr(x) if isinstance(x, str) else str(x)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _shallow(x: Any, items: int = 6) -> Any:
    """At most ``items`` entries of a table or list, nested values summarised: str() of a large
    value (an expanded alias) must not build the whole text."""
    if isinstance(x, dict):
        out = {}
        for i, (k, v) in enumerate(x.items()):
            if i == items:
                out["..."] = "..."
                break
            out[k if isinstance(k, (str, int, float, bool)) else "?"] = (
                v if isinstance(v, (str, int, float, bool, type(None))) else "...")
        return out
    out = [v if isinstance(v, (str, int, float, bool, type(None))) else "..." for v in x[:items]]
    return out + ["..."] if len(x) > items else out


def _suggest(word: Any, candidates: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    best = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=0.6)
    return f"; did you mean {best[0]!r}?" if best else ""


def _key(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else str(name)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    """A finite number a float can hold (an int of 400 digits cannot: no OverflowError later)."""
    if isinstance(v, int):
        return abs(v) <= 1e300
    return math.isfinite(v)


def _check_value(opt: Option, v: Any, path: str, problems: list[str], signals) -> Any:
    kind = opt.kind
    if kind in ("number", "int"):
        if kind == "int" and not (isinstance(v, int) and not isinstance(v, bool)):
            problems.append(f"{path}: expected a whole number, got {_fmt(v)}")
            return _BAD
        if not _is_number(v) or not _finite(v):
            problems.append(f"{path}: expected a number, got {_fmt(v)}")
            return _BAD
        if opt.lo is not None and not (opt.lo <= v <= opt.hi):
            problems.append(f"{path}: {_fmt(v)} is out of range {opt.lo:g}..{opt.hi:g}")
            return _BAD
        return float(v) if kind == "number" else int(v)
    if kind == "bool":
        if not isinstance(v, bool):
            problems.append(f"{path}: expected true or false, got {_fmt(v)}")
            return _BAD
        return v
    if kind in ("str", "signal", "address", "host"):
        if not isinstance(v, str) or not v.strip():
            problems.append(f"{path}: expected a non-empty string, got {_fmt(v)}")
            return _BAD
        if kind == "address" and (not v.startswith("/") or _OSC_BAD.search(v)):
            problems.append(f"{path}: {v!r} is not an OSC address: start with '/', no spaces or "
                            "any of #*,?[]{}")
            return _BAD
        if kind == "host" and (problem := host_problem(v)):
            problems.append(f"{path}: {problem}")
            return _BAD
        if kind == "signal" and signals is not None and v not in signals:
            problems.append(f"{path}: unknown signal {_fmt(v)}{_suggest(v, signals)}")
            return _BAD
        return v
    if kind == "choice":
        for c in opt.choices:
            if type(c) is type(v) and c == v:
                return c
        shown = ", ".join(_fmt(c) for c in opt.choices)
        problems.append(f"{path}: {_fmt(v)} is not one of {shown}"
                        + _suggest(v, [c for c in opt.choices if isinstance(c, str)]))
        return _BAD
    if kind == "range":
        if (not isinstance(v, (list, tuple)) or len(v) != 2
                or not all(_is_number(x) and _finite(x) for x in v)):
            problems.append(f"{path}: expected [low, high] (two numbers), got {_fmt(v)}")
            return _BAD
        if v[0] == v[1]:
            problems.append(f"{path}: low and high are both {_fmt(v[0])}; they must differ")
            return _BAD
        return (float(v[0]), float(v[1]))
    if kind == "palette":
        from bridge.mapping.colour import parse_colour

        if not isinstance(v, list) or not v:
            problems.append(f"{path}: expected a list of colours ('#rrggbb' or [r, g, b]), "
                            f"got {_fmt(v)}")
            return _BAD
        if len(v) > 256:
            problems.append(f"{path}: {len(v)} colours; a palette has at most 256")
            return _BAD
        out, bad = [], False
        for i, entry in enumerate(v):
            rgb, problem = parse_colour(entry)
            if problem:
                problems.append(f"{_key(path, i)}: {problem}")
                bad = True
            out.append(rgb)
        return _BAD if bad else tuple(out)
    if kind == "section":
        return _check_section(opt.section, v, path, problems, signals)
    if kind == "named":
        if not isinstance(v, dict):
            problems.append(f"{path}: expected a table of name: {{...}}, got {_fmt(v)}")
            return _BAD
        return {str(k): _check_section(opt.section, sub, _key(path, str(k)), problems, signals)
                for k, sub in v.items()}
    if kind == "list":
        if not isinstance(v, list):
            problems.append(f"{path}: expected a list, got {_fmt(v)}")
            return _BAD
        return [_check_section(opt.section, sub, _key(path, i), problems, signals)
                for i, sub in enumerate(v)]
    raise AssertionError(f"schema kind {kind!r} has no validator")  # a schema bug, not user input


def _check_section(sec: Section, raw: Any, path: str, problems: list[str], signals) -> dict | None:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{path or 'mapping'}: expected a table of keys ({sec.name}), "
                        f"got {_fmt(raw)}")
        return None
    for key in raw:
        if key not in sec.names:
            problems.append(f"{_key(path, str(key))}: unknown key{_suggest(key, sec.names)}")
    out: dict[str, Any] = {}
    for opt in sec.options:
        p = _key(path, opt.name)
        if opt.name not in raw:
            if opt.required:
                problems.append(f"{p}: required key is missing ({opt.description})")
            out[opt.name] = opt.default
        elif raw[opt.name] is None:
            if not opt.nullable:
                problems.append(f"{p}: needs a value ({opt.description})")
            out[opt.name] = opt.default
        else:
            out[opt.name] = _check_value(opt, raw[opt.name], p, problems, signals)
    return out


def _resolve_target(sub: dict, table: dict, path: str, kind: str, problems: list[str]) -> None:
    name = sub.get("target")
    if name is None:
        if len(table) == 1:
            sub["target"] = next(iter(table))
        elif table:
            problems.append(f"{path}.target: required when there are several {kind} targets "
                            f"({', '.join(table)})")
    elif name not in table:
        problems.append(f"{path}.target: unknown {kind} target {name!r}{_suggest(name, table)}"
                        + ("" if table else f"; declare it under `{kind}:`"))


def _no_output(p: str) -> str:
    names = [f"`{k}:`" for k in KINDS]
    which = " and/or ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + f" or {names[-1]}"
    return f"{p}: no output; add {which}"


def _cross_check(m: dict, problems: list[str], signals: dict | None) -> None:
    if not isinstance(m.get("routes"), list):
        m["routes"] = []  # missing or not a list: already reported
    elif not m["routes"]:
        problems.append("routes: the list is empty; add at least one route")
    routes = [r for r in m["routes"] if r]
    for kind in KINDS.values():
        name = kind.name
        if not isinstance(m.get(name), dict):
            m[name] = {}
        if kind.default_target and any(r.get(name) for r in routes) and not m[name]:
            m[name]["default"] = {o.name: o.default for o in kind.target.options}
        for target, cfg in m[name].items():
            if cfg:
                kind.check_target(target, cfg, _key(name, target), problems)
    for i, r in enumerate(m["routes"]):
        if not r:
            continue
        p = f"routes[{i}]"
        used = [k for k in KINDS.values() if r.get(k.name)]
        if not any(r.get(k) is not None for k in KINDS):
            problems.append(_no_output(p))
        for kind in used:
            _resolve_target(r[kind.name], {k: v for k, v in m[kind.name].items() if v is not None},
                            f"{p}.{kind.name}", kind.name, problems)
        r["spectrum"] = (signals or {}).get(r.get("signal")) == "spectrum"
        if r["spectrum"]:
            r["autorange"] = False
        _check_colour(r, p, problems, signals)
        _raw_value(r, used, p, problems)
        info = route_info(r, m["rate"] if isinstance(m.get("rate"), float) else 60.0, p)
        if signals is not None and isinstance(r.get("signal"), str):
            kind = signals.get(r["signal"])
            info = dataclasses.replace(info, kind=kind if isinstance(kind, str) else None)
        for kind in used:
            kind.check_route(r[kind.name], info, problems)
        if r.get("autorange") == "auto":
            kind = (signals or {}).get(r.get("signal"), "")
            r["autorange"] = kind == MODEL


#: The route keys that transform a value (all of them off for an output that takes the raw value).
_TRANSFORMS = ("in", "out", "clamp", "invert", "gamma", "attack_ms", "release_ms", "deadband",
               "autorange", "autorange_window_s", "colour")


def _raw_value(r: dict, used, p: str, problems: list[str]) -> None:
    """A route whose output takes the signal's own value (``OutputKind.raw_value``): no
    transforms (one problem naming those set), clamp and auto-range off so the value passes."""
    takes = [k for k in used if k.raw_value is not None and k.raw_value(r[k.name])]
    if not takes:
        return
    defaults = {o.name: o.default for o in ROUTE.options}
    changed = [k for k in _TRANSFORMS if k in r and r[k] != defaults.get(k)
               and not (k == "autorange" and r[k] in ("auto", False))]
    if changed:
        problems.append(f"{p}.{changed[0]}: this route's {takes[0].name} output takes "
                        f"the signal's own value, so transforms do not apply; remove "
                        + ", ".join(f"`{k}`" for k in changed))
    r["clamp"], r["autorange"] = False, False


def _colour_of(name, signals) -> tuple[str, int] | None:
    """(colour, channel index) when ``name`` is a channel of a colour in ``signals``."""
    for colour, kind in (signals or {}).items():
        channels = getattr(kind, "channels", ())
        if name in channels:
            return colour, channels.index(name)
    return None


def _check_colour(r: dict, p: str, problems: list[str], signals) -> None:
    """A route's colour: its channels and wire part (``colour_channels``, ``colour_part``,
    ``colour_index``, derived here for the router and the schema) and the problems of its
    ``colour:`` table against its signal."""
    r["colour_channels"], r["colour_part"], r["colour_index"] = None, None, 0
    signal, sub = r.get("signal"), r.get("colour")
    if sub is _BAD or signal is _BAD or not isinstance(signal, str):
        return
    kinds = signals or {}
    kind = kinds.get(signal)
    whole = isinstance(kind, ColourKind)
    colours = [n for n, k in kinds.items() if isinstance(k, ColourKind)]
    parent = None if whole else _colour_of(signal, kinds)
    if sub is None and not whole and parent is None:
        return  # a plain scalar route
    if sub is None:
        sub = r["colour"] = {o.name: o.default for o in ROUTE_COLOUR_OPTIONS}
    fmt = sub.get("format")
    if parent is not None:
        r["colour_channels"], r["colour_part"], r["colour_index"] = (
            kinds[parent[0]].channels, "channel", parent[1])
        if fmt != "rgb" or sub.get("palette") is not None:
            problems.append(f"{p}.colour: {signal!r} is one channel of colour {parent[0]!r}; "
                            f"route `signal: {parent[0]}` to send the colour in another format")
        return
    if fmt is _BAD:
        return
    if not whole and fmt != "palette":
        hint = f" (e.g. {', '.join(repr(c) for c in colours[:3])})" if colours else ""
        problems.append(f"{p}.colour.format: {signal!r} is not a colour{hint}; only format "
                        "palette turns a level into a colour")
        return
    if kind == "spectrum":
        problems.append(f"{p}.colour: {signal!r} is a spectrum; a palette needs one value")
        return
    palette = sub.get("palette")
    if fmt == "palette" and palette is None:
        problems.append(f"{p}.colour.palette: required for format palette: a list of '#rrggbb' "
                        "or [r, g, b] (0..1), e.g. ['#000040', '#ff0080', '#ffff00']")
    elif palette is not None and palette is not _BAD and fmt != "palette":
        problems.append(f"{p}.colour.palette: used only with format palette (format is "
                        f"{fmt!r}); did you mean `format: palette`?")
    r["colour_part"] = fmt
    r["colour_channels"] = kind.channels if whole else None


def _problem_order(problem: str) -> tuple:
    top, index = _ORDER.match(problem).groups()
    names = MAPPING.names
    return (names.index(top) if top in names else -1, int(index) if index else -1)


def validate(raw: Any, signals: AbcMapping[str, str] | Iterable[str] | None = None,
             source: str = "mapping") -> Mapping:
    """Validate a parsed mapping; raise :class:`MappingError` holding every problem.

    ``signals``: the known signals (a Catalog, name -> kind, or just names); None = the catalog
    (:func:`known_signals`), and skip the name check if there is none.
    """
    checked = True
    if signals is None:
        signals = known_signals()
        checked = signals is not None
    else:
        signals = signal_kinds(signals)
    problems: list[str] = []
    m = _check_section(MAPPING, raw, "", problems, signals)
    if m is not None:
        _cross_check(m, problems, signals)
        m["genre"] = _check_genre(m.get("genre"), problems)
    if problems:
        problems.sort(key=_problem_order)  # stable: schema order within a route
        raise MappingError(problems, source)
    return Mapping(rate=m["rate"], delay_ms=m["delay_ms"],
                   targets=_freeze({k: m[k] for k in KINDS}),
                   routes=tuple(_freeze(r) for r in m["routes"]), source=source,
                   signals_checked=checked, genre=m["genre"])


def _check_genre(value: Any, problems: list[str]) -> str | None:
    """The mapping's ``genre`` as :mod:`bridge.genres` spells it (``Hip Hop`` -> ``hip-hop``);
    an unknown one is a problem with a did-you-mean."""
    if value is None or value is _BAD:
        return None
    from bridge.genres import GenreError, canonical

    try:
        return canonical(value)
    except GenreError as exc:
        problems.append(f"genre: {exc}")
        return None


def _freeze(value: Any) -> Any:
    """Read-only views all the way down: a validated mapping is shared by the reload thread, the
    engine and the readers of the schema, so nobody may change it in place."""
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def load_mapping(path: str | os.PathLike, signals=None,
                 overrides: AbcMapping[str, Any] | None = None) -> Mapping:
    """Read and validate a mapping YAML file under the limits of :mod:`bridge.mapping.limits`
    (file size, YAML nodes and depth, routes) and each output kind's checks of the whole mapping
    (e.g. the bundle size per UDP OSC target); errors: :class:`MappingError`, never a traceback.
    ``overrides``: kind -> its command-line override (``{"osc": (host, port)}`` for ``--osc``),
    which those checks take into account."""
    from bridge.mapping.limits import read_yaml, route_count_problem

    source = os.fspath(path)
    raw = read_yaml(source)
    too_many = route_count_problem(raw)
    if too_many:
        raise MappingError([too_many], source)
    mapping = validate(raw, signals=signals, source=source)
    problems = kind_problems(mapping, overrides)
    if problems:
        raise MappingError(problems, source)
    return mapping


def kind_problems(mapping: Mapping, overrides: AbcMapping[str, Any] | None = None) -> list[str]:
    """What each output kind finds wrong with the mapping as a whole (:attr:`OutputKind.
    check_mapping`), given the command-line ``overrides`` (kind -> value)."""
    problems: list[str] = []
    overrides = overrides or {}
    for kind in KINDS.values():
        routes = [(r, r[kind.name], route_info(r, mapping.rate, f"routes[{i}]"))
                  for i, r in enumerate(mapping.routes) if r.get(kind.name)]
        if routes or mapping.targets[kind.name]:
            problems += kind.check_mapping(mapping.targets[kind.name], routes,
                                           overrides.get(kind.name))
    return problems


#: The problem reported for a file that is not UTF-8 text.
NOT_TEXT = "not a UTF-8 text file (a binary file?): a mapping is YAML text"


def yaml_problem(exc) -> str:
    """A ``yaml.YAMLError`` as one problem: ``line L, column C: not valid YAML: what``."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    what = getattr(exc, "problem", None) or str(exc)
    what = " ".join(str(what).split())  # one line: a reader error spans two
    if len(what) > 200:
        what = what[:197] + "..."
    return f"{where}not valid YAML: {what}"
