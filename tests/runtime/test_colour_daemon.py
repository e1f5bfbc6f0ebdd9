"""The real daemon (`vjbridge run --demo`) with a real light model (tests/models/colour_fixture.py:
r, g, b outputs and ``vjbridge.colours``) sending to liblo's oscdump: every colour format's packets
checked for shape, OSC types and ranges, the channels of one processed colour agreeing within a
bundle, and no warning about missing outputs."""

from __future__ import annotations

import json
import time
from collections import defaultdict

import numpy as np
import pytest

from bridge.mapping.colour import hsv
from tests.models.colour_fixture import write_colour_model
from tests.peers.osc import OscDump
from tests.runtime.peers import Bridge
from tests.runtime.test_stream_schema import ROOT, info_lines, schema_json

SAME = "attack_ms: 60, release_ms: 200"  # one set of transforms: one chain for these routes
MAPPING = f"""\
version: 1
osc:
  td: {{host: 127.0.0.1, port: 7000}}
routes:
  - {{signal: colour, osc: {{address: /c/rgb}}, {SAME}}}
  - {{signal: r, osc: {{address: /c/r}}, {SAME}}}
  - {{signal: g, osc: {{address: /c/g}}, {SAME}}}
  - {{signal: b, osc: {{address: /c/b}}, {SAME}}}
  - {{signal: colour, osc: {{address: /c/hsv}}, colour: {{format: hsv}}, {SAME}}}
  - {{signal: colour, osc: {{address: /c/rgb8}}, colour: {{format: rgb8}}, {SAME}}}
  - {{signal: colour, osc: {{address: /c/v}}, colour: {{format: brightness}}, {SAME}}}
  - {{signal: spectralcentroidnorm, osc: {{address: /c/pitch}}, release_ms: 300,
     colour: {{format: palette, palette: ['#000000', [0, 0, 1]]}}}}
  - {{signal: colour, osc: {{address: /c/pal}}, out: [0, 2], {SAME},
     colour: {{format: palette, palette: ['#ff0000', '#00ff00', '#0000ff']}}}}
  - {{signal: low, osc: {{address: /c/low}}}}
"""


def run(args, seconds: float = 4.0):
    with OscDump("udp") as dump:
        bridge = Bridge("run", "--demo", "--osc", f"127.0.0.1:{dump.port}",
                        "--duration", str(seconds), *args)
        assert bridge.proc.wait(timeout=90) == 0, "\n".join(bridge.err)
        bridge.stop()
        time.sleep(0.3)
        return dump.port, dump.messages(), dump.text(), bridge.err


def bundles(messages) -> list[dict]:
    """Data messages grouped by bundle (timetag), in order: address -> args."""
    out = defaultdict(dict)
    for m in messages:
        if not m.address.startswith("/vjbridge/_"):
            out[m.timetag][m.address] = (m.types, m.args)
    return list(out.values())


@pytest.mark.peers
def test_every_colour_format_on_the_wire(tmp_path):
    model = write_colour_model(tmp_path / "light.onnx")
    mapping = tmp_path / "colour.yaml"
    mapping.write_text(MAPPING)
    port, messages, text, err = run(["--mapping", str(mapping), "--model", model])
    assert not any("no loaded model produces" in line for line in err), err
    frames = [b for b in bundles(messages) if "/c/rgb" in b and "/c/low" in b]
    assert len(frames) > 150  # ~4 s at 60 Hz
    types = {a: t for f in frames for a, (t, _) in f.items()}
    assert types == {"/c/rgb": "fff", "/c/r": "f", "/c/g": "f", "/c/b": "f", "/c/hsv": "fff",
                     "/c/rgb8": "iii", "/c/v": "f", "/c/pitch": "fff", "/c/pal": "fff",
                     "/c/low": "f"}
    rgb = np.array([f["/c/rgb"][1] for f in frames])
    assert ((rgb >= 0) & (rgb <= 1)).all() and np.ptp(rgb, axis=0).min() > 0.05  # it moves
    for f in frames:
        c = f["/c/rgb"][1]
        # the channels are the processed colour's (oscdump prints 6 decimals)
        assert (f["/c/r"][1][0], f["/c/g"][1][0], f["/c/b"][1][0]) == pytest.approx(c, abs=2e-6)
        assert f["/c/hsv"][1] == pytest.approx(hsv(*c), abs=1e-4)
        assert all(0 <= v <= 255 for v in f["/c/rgb8"][1])
        assert f["/c/rgb8"][1] == pytest.approx([round(v * 255) for v in c], abs=1)
        assert f["/c/v"][1][0] == pytest.approx(max(c), abs=2e-6)
        r, g, b = f["/c/pitch"][1]
        assert r == 0 and g == 0 and 0 <= b <= 1  # black -> blue by pitch
        assert all(0 <= v <= 2 for v in f["/c/pal"][1])  # `out` scales the palette colour
    hue = np.array([f["/c/hsv"][1][0] for f in frames])
    assert np.ptp(hue) > 0.05
    assert np.ptp([f["/c/pitch"][1][2] for f in frames]) > 0.05  # the centroid moves the palette
    # the daemon's /vjbridge/_info says what went on the wire
    listed = {e["address"]: e for e in json.loads(info_lines(text)[0][3])["signals"]}
    assert {a: e["type"] * e["n"] for a, e in listed.items()} == types
    assert all(e["live"] for e in listed.values())
    assert listed["/c/rgb8"]["range"] == [0.0, 255.0] and listed["/c/rgb"]["kind"] == "colour"
    schema = schema_json("--mapping", str(mapping), "--model", model, "--osc", f"127.0.0.1:{port}")
    assert {e["address"]: e["type"] * e["n"] for e in schema["signals"]} == types


@pytest.mark.peers
def test_the_default_mapping_carries_the_model_colour_without_a_warning(tmp_path):
    model = write_colour_model(tmp_path / "light.onnx")
    _, messages, _, err = run(["--model", str(ROOT / "onnx_models" / "motion-weight.onnx"),
                               "--model", model], seconds=3.0)
    assert not any("no loaded model produces" in line for line in err), err
    frames = [b for b in bundles(messages) if "/vjbridge/colour" in b]
    assert len(frames) > 100
    for f in frames:
        types, c = f["/vjbridge/colour"]
        assert types == "fff" and all(0 <= v <= 1 for v in c)
        assert tuple(f[f"/vjbridge/{n}"][1][0] for n in "rgb") == pytest.approx(c, abs=2e-6)
        assert "/vjbridge/motion" in f
    # without a light model (only motion-weight, not the shipped light-rgb) the colour routes are silent, and the start-up line says so
    _, messages, _, err = run(["--model", str(ROOT / "onnx_models" / "motion-weight.onnx")],
                              seconds=1.5)
    assert any("routes b, g, r, which no loaded model produces" in line for line in err), err
    sent = [m for m in messages if m.address == "/vjbridge/colour"]
    assert len(sent) == 1 and sent[0].args == (0.0, 0.0, 0.0)  # its idle value, once, at exit


def test_the_shipped_light_model_moves_the_default_colour(tmp_path):
    """`vjbridge run --demo` as a new user starts it: the shipped models (light-rgb among them) and
    the default mapping send a colour that moves, and nobody is told a route has no model."""
    _, messages, _, err = run([], seconds=4.0)
    assert not any("no loaded model produces" in line for line in err), err
    frames = [b for b in bundles(messages) if "/vjbridge/colour" in b]
    assert len(frames) > 150
    colours = np.array([f["/vjbridge/colour"][1] for f in frames[60:]])  # after the first second
    brightness = colours.max(axis=1)
    assert brightness.std() > 0.02, colours.std(axis=0)  # the colour moves with the groove
    for f in frames:
        assert tuple(f[f"/vjbridge/{n}"][1][0] for n in "rgb") == \
            pytest.approx(f["/vjbridge/colour"][1], abs=2e-6)
