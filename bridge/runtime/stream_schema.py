"""The stream schema: every address a run sends, with its type, range, unit and kind, and a digest.

Why it is generated, never written: a receiver (the TouchDesigner component, a desk preset, a
user's own patch) must know what is live before any data moves, and a hand-kept address list drifts
from the code. ``describe(mapping, catalog, ...)`` reads the validated mapping's routes and the
signal catalog (classic signals plus the outputs the loaded models declared) and says, per route,
what goes on the wire. ``vjbridge schema`` prints it; the daemon sends the part for each OSC target
as ``/vjbridge/_info`` (see :func:`info_message_args`) on start and about once a second.

Wire format of ``/vjbridge/_info`` (all OSC strings): ``"vjbridge"``, the daemon version, the digest
(16 hex digits), and the target's schema as compact JSON::

    {"schema": 1, "version": "0.1.0", "digest": "...", "rate": 60.0, "mapping": "default.yaml",
     "control": {"host": "127.0.0.1", "port": 7001} | null,
     "signals": [{"address": "/vjbridge/kick", "signal": "kick", "type": "f", "n": 1,
                  "range": [0.0, 1.0], "kind": "trigger", "unit": "trigger", "live": true}, ...]}

``range`` is the value's range on the wire (after the route's ``out`` scaling; ``null`` for an
unbounded end: raw model outputs with ``--mapping none``, whose training range is then given as
``typical``); ``live`` is false
for a route whose signal nothing in this run produces (r/g/b without a light model): such an
address carries only its idle value, at exit or when the input is lost. The digest covers what a
receiver depends on (addresses, types, sizes, ranges, kinds, liveness, MIDI outputs, the rate), not
the version or the descriptions, so it changes exactly when the stream changes.

Standard library only, like the catalog it reads.
"""

from __future__ import annotations

import hashlib
import json
import math
import os

SCHEMA_VERSION = 1
INFO_ADDRESS = "/vjbridge/_info"
INFO_MAGIC = "vjbridge"
#: Keys of a signal entry that a receiver depends on: the digest is computed over these.
_DIGEST_KEYS = ("target", "address", "signal", "type", "n", "range", "kind", "live")


def _version() -> str:
    from bridge import __version__

    return __version__


def _wire_unit(signal, route: dict) -> str:
    """The signal's unit when the route passes it through unchanged (``in`` = ``out``), 'relative'
    when it is auto-ranged (0..1 of its own recent range), else 'scaled'."""
    if route["autorange"]:
        return "relative"
    if tuple(route["in"]) == tuple(route["out"]):
        return signal.unit
    return "scaled"


def _bound(x) -> float | None:
    """A range end for JSON: None (null) for an unbounded end (JSON has no infinity)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _entry(signal, *, address: str, target: str, osc_type: str, wire_range, unit: str,
           live: bool, typical=None, n: int | None = None, kind: str | None = None) -> dict:
    entry = {"target": target, "address": address, "signal": signal.name, "type": osc_type,
             "n": signal.size if n is None else n, "range": [_bound(wire_range[0]), _bound(wire_range[1])],
             "kind": kind or signal.kind, "unit": unit, "live": bool(live), "source": signal.source,
             "model": signal.model, "description": signal.description}
    if typical is not None:
        entry["typical"] = [_bound(typical[0]), _bound(typical[1])]
    return entry


def describe(mapping, catalog, *, produced=None, mapping_name: str | None = None,
             control: tuple[str, int] | None = None, osc_override: tuple[str, int] | None = None
             ) -> dict:
    """The full schema of a run with ``mapping`` (a validated :class:`~bridge.mapping.Mapping`).

    ``catalog``: the run's :class:`~bridge.signals.catalog.Catalog` (model outputs declared);
    ``produced``: the names the run's stages compute (None: everything in the catalog that is not a
    placeholder); ``control``: the control port, if open; ``osc_override``: ``--osc``'s host/port.
    """
    produced = set(catalog.names()) if produced is None else set(produced)
    targets = {}
    for name, t in mapping.targets["osc"].items():
        host, port = osc_override if osc_override else (t["host"], t["port"])
        targets[name] = {"host": host, "port": int(port), "protocol": t["protocol"],
                         "bundle": bool(t["bundle"])}
    signals, midi = [], []
    for route in mapping.routes:
        sig = _known(catalog, route["signal"])
        live = sig.name in produced
        osc = route.get("osc")
        part = route.get("colour_part")
        if osc and part not in (None, "channel"):  # a colour: its format's values (and kind)
            from bridge.mapping.validate import route_info

            signals.append(_entry(sig, address=osc["address"], target=osc["target"],
                                  osc_type="i" if part == "rgb8" else "f",
                                  wire_range=(0.0, 255.0) if part == "rgb8" else route["out"],
                                  unit=f"{part}, " + _wire_unit(sig, route), live=live,
                                  n=route_info(route, mapping.rate, "").size, kind="colour"))
        elif osc:
            is_int = osc["type"] == "int" and sig.size == 1
            signals.append(_entry(sig, address=osc["address"], target=osc["target"],
                                  osc_type="i" if is_int else "f",
                                  wire_range=sig.range if sig.size > 1 else route["out"],
                                  unit=sig.unit if sig.size > 1 else _wire_unit(sig, route),
                                  live=live))
        m = route.get("midi")
        if m:
            entry = {"target": m["target"], "signal": sig.name, "channel": m["channel"],
                     "kind": sig.kind, "live": live}
            if m.get("clock"):
                entry.update(message="clock")
            elif m["cc"] is not None:
                entry.update(message="cc", cc=m["cc"], bits=m["bits"])
            else:
                entry.update(message="note", note=m["note"], threshold=m["threshold"])
            midi.append(entry)
    schema = {"schema": SCHEMA_VERSION, "version": _version(), "digest": "",
              "rate": float(mapping.rate), "mapping": mapping_name or mapping.source,
              "control": _control(control), "osc": targets, "signals": signals, "midi": midi}
    schema["digest"] = digest(schema)
    return schema


def describe_raw(catalog, names, *, prefix: str = "/vjbridge", host: str = "127.0.0.1",
                 port: int = 7000, rate: float = 60.0, control=None) -> dict:
    """The schema of ``vjbridge run --mapping none``: every produced signal, raw, as
    ``<prefix>/<name>`` to one target named ``raw``."""
    prefix = prefix.rstrip("/")
    signals = []
    for name in names:
        sig = _known(catalog, name)
        # a model's raw prediction can leave the range of its training targets: unbounded on the
        # wire, with that range as the typical one (a mapping's routes clamp it instead)
        model = sig.source == "model"
        signals.append(_entry(sig, address=f"{prefix}/{name}", target="raw", osc_type="f",
                              wire_range=(-math.inf, math.inf) if model else sig.range,
                              unit=sig.unit, live=True, typical=sig.range if model else None))
    schema = {"schema": SCHEMA_VERSION, "version": _version(), "digest": "", "rate": float(rate),
              "mapping": None, "control": _control(control),
              "osc": {"raw": {"host": host, "port": int(port), "protocol": "udp", "bundle": True}},
              "signals": signals, "midi": []}
    schema["digest"] = digest(schema)
    return schema


def _known(catalog, name: str):
    """The catalog's signal, or the placeholder of a shipped model output no model declared."""
    if name in catalog:
        return catalog[name]
    from bridge.signals.catalog import Signal

    if name == "colour":  # the shipped light model's colour
        return Signal(name=name, kind="colour", range=(0.0, 1.0), unit="linear RGB",
                      source="model", size=3, channels=("r", "g", "b"),
                      description="colour of a shipped model that is not loaded in this run")
    return Signal(name=name, kind="colour" if name in ("r", "g", "b") else "continuous",
                  range=(0.0, 1.0), unit="", source="model",
                  description="output of a shipped model that is not loaded in this run")


def _control(control) -> dict | None:
    if control is None:
        return None
    host, port = control
    return {"host": str(host), "port": int(port)}


def digest(schema: dict) -> str:
    """16 hex digits of SHA-256 over what a receiver depends on (see the module docstring)."""
    core = {"rate": schema["rate"],
            "signals": [[e.get(k) for k in _DIGEST_KEYS] for e in schema["signals"]],
            "midi": [sorted(e.items()) for e in schema["midi"]]}
    text = json.dumps(core, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def for_target(schema: dict, target: str) -> dict:
    """The compact schema an OSC target receives in ``/vjbridge/_info``: its own addresses, the
    keys a receiver needs (no descriptions), the run's digest."""
    keep = ("address", "signal", "type", "n", "range", "kind", "unit", "live")
    return {"schema": schema["schema"], "version": schema["version"], "digest": schema["digest"],
            "rate": schema["rate"],
            "mapping": os.path.basename(schema["mapping"]) if schema["mapping"] else None,
            "control": schema["control"],
            "signals": [{k: e[k] for k in keep} for e in schema["signals"]
                        if e["target"] == target]}


def info_message_args(schema: dict, target: str) -> list[str]:
    """The arguments of ``/vjbridge/_info`` for ``target``: magic, version, digest, JSON."""
    compact = json.dumps(for_target(schema, target), separators=(",", ":"))
    return [INFO_MAGIC, schema["version"], schema["digest"], compact]


def to_text(schema: dict) -> str:
    """A human table of the schema, as ``vjbridge schema`` prints it without ``--json``."""
    lines = [f"vjbridge {schema['version']} stream schema {schema['digest']} "
             f"({schema['mapping'] or 'raw signals'}, {schema['rate']:g} Hz)"]
    for name, t in schema["osc"].items():
        lines.append(f"osc {name}: {t['protocol']}://{t['host']}:{t['port']} "
                     f"{'bundles' if t['bundle'] else 'messages'}, plus {INFO_ADDRESS} about "
                     "once a second")
    for e in schema["signals"]:
        lo, hi = e["range"]
        n = f"{e['type']}x{e['n']}" if e["n"] > 1 else e["type"]
        live = "" if e["live"] else "  (not produced in this run: idle value only)"
        lines.append(f"  {e['address']:<28} {n:<5} {lo:g}..{hi:g} {e['unit'] or '-'} "
                     f"[{e['kind']}] {e['signal']}{live}")
    for e in schema["midi"]:
        what = ("beat clock (24 ppq)" if e["message"] == "clock" else
                f"ch{e['channel']}c{e['cc']}" + (" 14-bit" if e["bits"] == 14 else "")
                if e["message"] == "cc" else f"ch{e['channel']}n{e['note']}")
        lines.append(f"midi {e['target']}: {what} [{e['kind']}] {e['signal']}")
    if schema["control"]:
        lines.append(f"control: udp://{schema['control']['host']}:{schema['control']['port']}")
    return "\n".join(lines)
