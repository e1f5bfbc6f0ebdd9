"""The bytes a mapping puts on the wire over a fixed, seeded run: OSC packets as the OSC sink
encodes them, MIDI messages as the MIDI sink encodes them, per tick, with early events, a hot swap
(held notes go off), an output delay and the idle frame.

Why: moving OSC and MIDI onto the output-kind plug-ins must not change one byte. The digests of
this run at the commit before the move are in ``tests/data/golden/wire-b9005aa.json``
(``python -m tests.mapping.wire_record > that file`` at b9005aa); ``test_wire_unchanged`` runs the
same scenario on today's code and compares. The scenario uses only the router's public API, which
did not change.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("default", "lighting-desk-midi", "touchdesigner-audioanalysis")

#: A mapping with every kind of route: OSC float/int, bundles and plain messages, two OSC targets,
#: MIDI CC 7/14-bit and notes (fixed and value velocity, held and timed), colours in every format,
#: a palette, colour channels, transforms.
RICH = {
    "rate": 60,
    "osc": {"a": {"port": 7001}, "b": {"port": 7002, "bundle": False}},
    "midi": {"desk": {}},
    "routes": [
        {"signal": "motion", "osc": {"address": "/m", "target": "a"}, "attack_ms": 30,
         "release_ms": 120},
        {"signal": "low", "osc": {"address": "/low", "target": "a"},
         "midi": {"cc": 20}, "gamma": 2.0},
        {"signal": "mid", "osc": {"address": "/mid", "target": "b", "type": "int"},
         "out": [0, 127]},
        {"signal": "high", "midi": {"cc": 3, "bits": 14, "channel": 4}, "invert": True},
        {"signal": "rms", "osc": {"address": "/rms", "target": "b"}, "in": [0.0, 0.5],
         "deadband": 0.02},
        {"signal": "kick", "osc": {"address": "/kick", "target": "a"},
         "midi": {"note": 36, "length_ms": 50}},
        {"signal": "snare", "midi": {"note": 38, "length_ms": 0, "velocity": 100,
                                     "channel": 10}},
        {"signal": "onset", "midi": {"note": 40, "threshold": 0.3, "hysteresis": 0.2}},
        {"signal": "bpm", "osc": {"address": "/bpm", "target": "a"}, "in": [60, 180],
         "clamp": False},
        {"signal": "colour", "osc": {"address": "/c/rgb", "target": "a"}},
        {"signal": "colour", "osc": {"address": "/c/hsv", "target": "a"},
         "colour": {"format": "hsv"}},
        {"signal": "colour", "osc": {"address": "/c/rgb8", "target": "b"},
         "colour": {"format": "rgb8"}, "attack_ms": 40},
        {"signal": "colour", "midi": {"cc": 30}, "colour": {"format": "brightness"}},
        {"signal": "r", "midi": {"cc": 1, "bits": 14}},
        {"signal": "g", "osc": {"address": "/c/g", "target": "a", "type": "int"},
         "out": [0, 255]},
        {"signal": "spectralcentroid", "osc": {"address": "/pal", "target": "a"},
         "colour": {"format": "palette", "palette": ["#000040", "#ff0080", [1.0, 1.0, 0.0]]},
         "in": [500, 5000]},
        {"signal": "weight", "osc": {"address": "/w", "target": "a"}, "idle": 0.25,
         "out": [1, -1]},
    ],
}
DELAYED = {"rate": 30, "delay_ms": 100, "routes": [
    {"signal": "kick", "osc": {"address": "/k"}, "midi": {"note": 36}},
    {"signal": "low", "osc": {"address": "/l"}, "midi": {"cc": 7}, "release_ms": 200}]}


def _signals():
    """The catalog's signals with the shipped model outputs and colour as placeholders (as
    ``vjbridge check`` sees them)."""
    from bridge.mapping.validate import known_signals

    return known_signals()


def _values(rng: random.Random, tick: int, spectrum: dict) -> dict:
    v = {name: rng.random() for name in ("low", "mid", "high", "rms", "onset", "motion",
                                         "weight", "r", "g", "b")}
    v["kick"] = 1.0 if tick % 7 == 0 else 0.0
    v["snare"] = 1.0 if tick % 11 < 3 else 0.0
    v["beat"] = 1.0 if tick % 30 == 0 else 0.0
    v["bpm"] = 100 + 40 * math.sin(tick / 20)
    v["spectralcentroid"] = 200 + 6000 * rng.random()
    if tick % 13 == 5:
        v["low"] = float("nan")
    if tick % 17 == 3:
        del v["motion"]
    if tick % 19 == 0:
        v["g"] = float("inf")
    for name, size in spectrum.items():
        v[name] = tuple(round(rng.random(), 4) for _ in range(size))
    return v


def _targets(mapping, kind):
    targets = getattr(mapping, "targets", None)
    return targets[kind] if targets is not None else getattr(mapping, kind)


class _Wire:
    """Every OSC packet (through real OscSinks, transport captured) and MIDI message."""

    def __init__(self):
        self.lines: list[str] = []
        self.osc: dict = {}

    def send(self, mapping, frame) -> None:
        from bridge.sinks.midi import encode
        from bridge.sinks.osc import OscSink

        for (kind, name), items in frame.items():
            if kind == "osc":
                sink = self.osc.get((name, id(mapping)))
                if sink is None:
                    sink = OscSink.from_config(name, dict(_targets(mapping, "osc")[name]))
                    sink.transport.send_packet = lambda b, n=name: self.lines.append(
                        f"osc {n} {b.hex()}")
                    self.osc[(name, id(mapping))] = sink
                sink.send(items)
            else:
                for item in items:
                    for msg in encode(item):
                        self.lines.append(f"{kind} {name} {bytes(msg).hex()}")
        self.lines.append("tick")

    def close(self) -> None:
        for sink in self.osc.values():
            sink.closed = True  # no blackout: the idle frame is recorded explicitly


def run(raw: dict, swap_to: dict | None = None, ticks: int = 240, seed: int = 7) -> list[str]:
    from bridge.mapping.router import Router
    from bridge.mapping.validate import validate
    from bridge.signals.catalog import SPECTRUM

    signals = _signals()
    mapping = validate(raw, signals=signals)
    spectrum = {r["signal"]: SPECTRUM[r["signal"]].size for r in mapping.routes
                if r["signal"] in SPECTRUM}
    router = Router(mapping, signals=signals)
    rng = random.Random(seed)
    wire = _Wire()
    try:
        for tick in range(ticks):
            if swap_to is not None and tick == ticks // 2:
                mapping = validate(swap_to, signals=signals)
                router.swap(mapping)
            if tick % 9 == 4:
                wire.send(mapping, router.early({"kick": 1.0, "onset": 0.9}))
            wire.send(mapping, router.tick(_values(rng, tick, spectrum)))
        wire.send(mapping, router.idle())
        router.reset()
        wire.send(mapping, router.tick(_values(rng, 0, spectrum)))
    finally:
        wire.close()
    return wire.lines


def scenarios() -> dict:
    import yaml

    out = {}
    for name in SHIPPED:
        raw = yaml.safe_load((ROOT / "mappings" / f"{name}.yaml").read_text())
        out[name] = (raw, None)
    out["rich"] = (RICH, None)
    out["rich-swapped-to-delayed"] = (RICH, DELAYED)
    out["delayed"] = (DELAYED, None)
    return out


def digests() -> dict:
    result = {}
    for name, (raw, swap_to) in scenarios().items():
        lines = run(raw, swap_to)
        result[name] = {"lines": len(lines),
                        "sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest()}
    return result


if __name__ == "__main__":
    print(json.dumps(digests(), indent=1, sort_keys=True))
