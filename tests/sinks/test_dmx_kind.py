"""The dmx kind's declaration and checks, without a network: profiles, patch problems, route
problems with did-you-mean, the route output's bytes, and the shipped mapping's DMX parts.

Until the mapping layer walks the kinds registry, the shipped mapping is checked here with the
kind's own checks on tables filled with the sections' defaults (what the validator will hand them).
"""

from __future__ import annotations

import yaml

from bridge.sinks import dmx_kind
from bridge.sinks.fixtures import shipped_profiles
from bridge.sinks.kind import RouteInfo
from tests.sinks.test_sink_dmx import info, route, target

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_shipped_profiles():
    p = shipped_profiles()
    assert {"dimmer", "rgb", "rgbw", "dimmer-rgb", "rgb-strobe", "wash-pantilt"} <= set(p)
    assert p["wash-pantilt"].footprint == 9  # pan, tilt 16-bit, then 5 x 8-bit
    assert p["wash-pantilt"].offsets()["dimmer"] == (4, 8)
    assert p["dimmer16"].footprint == 2 and "colour" in p["rgbw"].attributes


def test_target_problems_name_the_key_and_the_fix():
    fx = {"a": {"profile": "rgbw", "universe": 1, "address": 510},
          "b": {"profile": "rgb", "universe": 1, "address": 1},
          "c": {"profile": "rgb", "universe": 1, "address": 3},
          "d": {"profile": "rbg", "universe": 1, "address": 100},
          "e": {"profile": "mine", "universe": 0, "address": 200}}
    problems: list = []
    dmx_kind.check_target("t", target(fixtures=fx, keepalive_s=2.0, mode="broadcast"), "dmx.t",
                          problems)
    text = "\n".join(problems)
    assert "dmx.t.mode: broadcast is not used by sacn" in text
    assert "dmx.t.keepalive_s: 2 s" in text
    assert "dmx.t.fixtures.a.address: rgbw takes 4 slots, so at 510 it ends at 513" in text
    assert "dmx.t.fixtures.c.address: c (3-5) overlaps b (1-3)" in text
    assert "dmx.t.fixtures.d.profile: unknown profile 'rbg'; did you mean 'rgb'?" in text
    assert "dmx.t.fixtures.e.universe: 0 is out of range 1..63999 for sacn" in text
    mine = {"mine": {"description": None, "channels": [
        {"attribute": "uv", "bits": 8, "default": 0.0},
        {"attribute": "zoom", "bits": 16, "default": 0.5}]}}
    problems = []
    dmx_kind.check_target("t", target(protocol="artnet", fixtures={"e": fx["e"]},
                                      profiles=mine), "dmx.t", problems)
    assert problems == []


def test_route_problems():
    cfg = target(fixtures={"par1": {"profile": "rgb", "universe": 1, "address": 1},
                           "par2": {"profile": "rgb", "universe": 1, "address": 4}})
    colour = info("colour", 3, colour="rgb")
    routes = [({}, route(fixture="par1, parr3"), colour),
              ({}, route(fixture="par2", attribute="dimmer"), info("rms", path="routes[1]")),
              ({}, route(fixture="par2", attribute="red"), info("colour", 3, colour="rgb",
                                                                path="routes[2]")),
              ({}, route(fixture="par*", attribute="colour"), info("rms", path="routes[3]"))]
    text = "\n".join(dmx_kind.check_mapping({"lights": cfg}, routes))
    assert "routes[0].dmx.fixture: no fixture 'parr3' in the target; did you mean 'par2'?" in text
    assert "routes[1].dmx.attribute: par2 (rgb) has no 'dimmer'" in text
    assert "routes[2].dmx.attribute: 'colour' is a colour of 3 values and 'red' one channel" \
        in text
    assert "routes[3].dmx.attribute: colour takes a 3-value colour" in text
    both = [({}, route(fixture="par1"), colour),
            ({}, route(universe=1, address=2), info("rms", path="routes[1]"))]
    assert "routes[1].dmx: drives universe 1 address 2, as routes[0]" in \
        "\n".join(dmx_kind.check_mapping({"lights": cfg}, both))
    problems: list = []
    dmx_kind.check_route(route(fixture="par1", address=3), colour, problems)
    dmx_kind.check_route(route(universe=1, address=511, bits=16), info("rms"), problems)
    dmx_kind.check_route(route(fixture="par1"), info("colour", 3, colour="hsv"), problems)
    dmx_kind.check_route(route(fixture="par1"), RouteInfo("mel", "routes[0]", 64, (0, 1), 0,
                                                          60, spectrum=True), problems)
    text = "\n".join(problems)
    assert "give `fixture` (with `attribute`) or `universe` + `address`" in text
    assert "1 channel(s) of 16 bits from 511 end at 512" not in text  # 511-512 fits
    assert "hsv is not DMX channels" in text and "'mel' is 64 values" in text
    problems = []
    dmx_kind.check_route(route(universe=1, address=512, bits=16), info("rms"), problems)
    assert problems == ["routes[0].dmx.address: 1 channel(s) of 16 bits from 512 end at 513, "
                        "past 512"]


def test_route_output_bytes():
    cfg = target(fixtures={"p": {"profile": "rgb16", "universe": 2, "address": 10},
                           "q": {"profile": "rgb", "universe": 2, "address": 16}})
    out = dmx_kind.output(route(fixture="p q"), info("colour", 3, out=(0, 2), colour="rgb"), cfg)
    item = out.emit((2.0, 1.0, 0.0))
    # p: 6 slots from slot 9 (16-bit r, g, b), q right after: one run
    assert item.runs == ((2, 9, b"\xff\xff\x80\x00\x00\x00\xff\x80\x00"),)
    assert out.emit((2.0, 1.0, 0.0)) is item  # unchanged value: the same item, no work
    assert out.idle().runs == ((2, 9, bytes(9)),)
    assert out.key == ("dmx", "lights")
    nan = dmx_kind.output(route(fixture="q", attribute="green"), info("x"), cfg)
    assert nan.emit(float("nan")).runs == ((2, 16, b"\x00"),)
    assert nan.emit(7.0).runs == ((2, 16, b"\xff"),)  # clamped


def test_shipped_mapping_dmx_parts_pass_the_kinds_checks():
    raw = yaml.safe_load((ROOT / "mappings" / "dmx-rgb-pars.yaml").read_text())
    targets = {}
    for name, t in raw["dmx"].items():
        assert set(t) <= set(dmx_kind.DMX_TARGET.names)
        cfg = target(**t)
        problems: list = []
        dmx_kind.check_target(name, cfg, f"dmx.{name}", problems)
        assert problems == []
        targets[name] = cfg
    routes = []
    for i, r in enumerate(raw["routes"]):
        sub = route(target=None, **r["dmx"])
        colour = r["signal"] == "colour"
        out = tuple(r.get("out", (0.0, 1.0)))
        ri = RouteInfo(r["signal"], f"routes[{i}]", 3 if colour else 1, out,
                       r.get("idle", out[0]), 60.0, colour="rgb" if colour else None)
        problems = []
        dmx_kind.check_route(sub, ri, problems)
        assert problems == []
        routes.append((r, sub, ri))
    assert dmx_kind.check_mapping(targets, routes) == []
    text = dmx_kind.describe_target("pars", targets["pars"])
    assert "par4: dimmer-rgb universe 1 13-16" in text
    assert dmx_kind.describe_route(routes[1][1], routes[1][2]) == \
        "dmx par1, par4 dimmer"
