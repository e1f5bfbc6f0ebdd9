"""A colour processed as one value: hue kept by auto-range and smoothing (where r, g, b processed
each on its own drift), palettes, the wire formats through the router, and the schema's errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bridge.errors import MappingError
from bridge.mapping.colour import (ColourChain, hsv, hsv_of, palette_at, palette_colours,
                                   parse_colour)
from bridge.mapping.router import Router
from bridge.mapping.transforms import AutoRange, Smoother
from bridge.mapping.validate import validate
from tests.mapping.conftest import SIGNALS

RATE = 60.0


def route(**kw) -> dict:
    """A validated colour route (the validator fills what the chain reads)."""
    r = {"signal": "colour", "osc": {"address": "/c"}, **kw}
    return dict(validate({"routes": [r]}, signals=SIGNALS).routes[0])


def constant_hue_colours(n: int = 900, seed: int = 0) -> np.ndarray:
    """An orange (hue vector (1, 0.5, 0)) whose brightness and saturation both move: the case
    where channels rise and fall at the same time."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    v = 0.4 + 0.3 * np.sin(2 * np.pi * 0.7 * t) + 0.05 * rng.normal(size=n)
    s = 0.15 + 0.1 * np.sin(2 * np.pi * 1.3 * t + 1.0) + 0.02 * rng.normal(size=n)
    v, s = np.clip(v, 0.05, 1), np.clip(s, 0.01, 1)
    u = np.array([1.0, 0.5, 0.0])
    return v[:, None] * (1 - s[:, None] * (1 - u[None]))


def hue_error(rgb: np.ndarray, hue: float) -> float:
    """Largest hue distance (0..0.5, in turns) of the coloured frames from ``hue``."""
    h = hsv_of(rgb)
    coloured = h[:, 1] > 1e-6
    d = np.abs(h[coloured, 0] - hue)
    return float(np.minimum(d, 1 - d).max())


def run_chain(chain, colours) -> np.ndarray:
    return np.array([chain.process(*c) for c in colours.tolist()])


def test_autorange_and_smoothing_keep_the_hue():
    x = constant_hue_colours()
    hue = hsv(*x[0])[0]
    assert hue_error(x, hue) < 1e-9
    chain = ColourChain(route(attack_ms=30, release_ms=400, gamma=0.7), RATE)
    y = run_chain(chain, x)
    assert hue_error(y[1:], hue) < 1e-9
    # and the colour was really processed: brightness and saturation stretched to their range
    hx, hy = hsv_of(x), hsv_of(y)
    assert np.ptp(hy[:, 2]) > 1.2 * np.ptp(hx[:, 2])
    assert hy[:, 1].max() > 2.5 * hx[:, 1].max()


def test_the_same_transforms_on_r_g_b_each_on_its_own_shift_the_hue():
    """The failure the colour chain exists to avoid, measured on the same input."""
    x = constant_hue_colours()
    hue = hsv(*x[0])[0]
    ars = [AutoRange(window_s=10.0, rate=RATE) for _ in range(3)]
    stretched = np.array([[ar.process(v) for ar, v in zip(ars, c)] for c in x.tolist()])
    assert hue_error(stretched[60:], hue) > 0.05  # auto-range per channel: hue moves
    sms = [Smoother(attack_ms=30, release_ms=400, rate=RATE) for _ in range(3)]
    smoothed = np.array([[sm.process(v) for sm, v in zip(sms, c)] for c in x.tolist()])
    assert hue_error(smoothed, hue) > 0.005  # attack on rising, release on falling channels


def test_smoothing_uses_one_coefficient_chosen_by_brightness():
    chain = ColourChain(route(autorange=False, attack_ms=100, release_ms=1000), RATE)
    chain.process(0.0, 0.0, 0.0)
    up = chain.process(1.0, 0.5, 0.0)  # brightness rises: attack for all three channels
    a = math.exp(-1000.0 / (100 * RATE))
    assert up == pytest.approx((1 - a, 0.5 * (1 - a), 0.0))
    down = chain.process(0.0, 0.0, 0.0)
    rel = math.exp(-1000.0 / (1000 * RATE))
    assert down == pytest.approx(tuple(rel * v for v in up))


def test_without_transforms_the_colour_passes_through():
    chain = ColourChain(route(autorange=False), RATE)
    for c in constant_hue_colours(50).tolist() + [[0.2, 0.9, 0.4], [0, 0, 0], [1, 1, 1]]:
        assert chain.process(*c) == pytest.approx(tuple(c), abs=1e-12)
    assert chain.process(-0.5, 2.0, 0.5) == pytest.approx((0.0, 1.0, 0.25))  # clamped, hue kept


def test_autorange_saturation_can_be_off():
    x = constant_hue_colours()
    y = run_chain(ColourChain(route(colour={"autorange_saturation": False}), RATE), x)
    lit = hsv_of(y)[:, 2] > 1e-3  # a frame auto-ranged to black has no saturation left
    assert lit.sum() > 800
    assert np.allclose(hsv_of(y[lit])[:, 1], hsv_of(x[lit])[:, 1], atol=1e-9)


def test_palette_interpolation():
    pal = ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert palette_at(pal, 0.0) == (0.0, 0.0, 0.0)
    assert palette_at(pal, 0.25) == pytest.approx((0.5, 0.0, 0.0))
    assert palette_at(pal, 0.5) == pytest.approx((1.0, 0.0, 0.0))
    assert palette_at(pal, 0.75) == pytest.approx((1.0, 0.5, 0.5))
    assert palette_at(pal, 1.0) == (1.0, 1.0, 1.0)
    assert palette_at(pal, -3.0) == (0.0, 0.0, 0.0) and palette_at(pal, 7.0) == (1.0, 1.0, 1.0)
    assert palette_at(((0.2, 0.3, 0.4),), 0.9) == (0.2, 0.3, 0.4)
    p = np.linspace(-0.2, 1.2, 301)
    assert np.allclose(palette_colours(pal, positions=p), [palette_at(pal, q) for q in p])


def test_parse_colour():
    assert parse_colour("#ff8000") == ((1.0, 128 / 255, 0.0), "")
    assert parse_colour([0, 0.5, 1]) == ((0.0, 0.5, 1.0), "")
    assert "did you mean '#ff0000'" in parse_colour("red")[1]
    assert "did you mean [1, 0.502, 0]" in parse_colour([255, 128, 0])[1]
    assert "did you mean '#aabbcc'" in parse_colour("#abc")[1]
    assert parse_colour([1, 2, -1])[0] is None and parse_colour(True)[0] is None


def frame_of(router, values) -> dict:
    (items,) = router.tick(values).values()
    return dict(items)


def test_router_formats_share_one_processed_colour():
    mapping = validate({"routes": [
        {"signal": "colour", "osc": {"address": "/rgb"}, "attack_ms": 50},
        {"signal": "r", "osc": {"address": "/r"}, "attack_ms": 50},
        {"signal": "g", "osc": {"address": "/g"}, "attack_ms": 50},
        {"signal": "b", "osc": {"address": "/b"}, "attack_ms": 50},
        {"signal": "colour", "osc": {"address": "/hsv"}, "colour": {"format": "hsv"},
         "autorange": False},
        {"signal": "colour", "osc": {"address": "/8"}, "colour": {"format": "rgb8"},
         "autorange": False},
        {"signal": "colour", "osc": {"address": "/v"}, "colour": {"format": "brightness"},
         "autorange": False, "out": [0, 100]},
        {"signal": "spectralcentroid", "osc": {"address": "/pal"}, "in": [0, 10000],
         "colour": {"format": "palette", "palette": ["#000000", [0, 0, 1]]}},
        {"signal": "colour", "osc": {"address": "/palv"}, "autorange": False,
         "colour": {"format": "palette", "palette": ["#000000", "#ffffff"]}},
    ]}, signals=SIGNALS)
    router = Router(mapping)
    assert len(router._chains) == 2  # rgb + r + g + b share one, hsv/rgb8/v/palv another
    for c in constant_hue_colours(300).tolist():
        out = frame_of(router, {"r": c[0], "g": c[1], "b": c[2], "spectralcentroid": 2500.0})
        assert out["/rgb"] == (out["/r"], out["/g"], out["/b"])
    assert out["/8"] == tuple(int(round(v * 255)) for v in c)
    assert all(type(v) is int for v in out["/8"])
    assert out["/hsv"] == pytest.approx(hsv(*c))
    assert out["/v"] == pytest.approx(100 * max(c))
    assert out["/pal"] == pytest.approx((0.0, 0.0, 0.25))
    assert out["/palv"] == pytest.approx((max(c),) * 3)
    idle = dict(router.idle()[("osc", "default")])
    assert idle["/rgb"] == (0.0, 0.0, 0.0) and idle["/8"] == (0, 0, 0) and idle["/v"] == 0.0


def test_router_holds_the_colour_when_a_channel_is_missing_or_not_finite():
    router = Router(validate({"routes": [{"signal": "colour", "osc": {"address": "/c"},
                                          "autorange": False}]}, signals=SIGNALS))
    assert router.tick({"r": 0.1}) == {}
    assert frame_of(router, {"r": 0.1, "g": 0.2, "b": 0.3}) == {"/c": pytest.approx((0.1, 0.2, 0.3))}
    assert frame_of(router, {"r": float("nan"), "g": 0.9, "b": 0.9}) == {
        "/c": pytest.approx((0.1, 0.2, 0.3))}


BAD = {"routes": [
    {"signal": "spectralcentroidnorm", "osc": {"address": "/p"},
     "colour": {"format": "palette", "palette": ["#ff0000", "orange", [255, 0, 0], "ff00ff", 3]}},
    {"signal": "colour", "osc": {"address": "/c", "type": "int"}, "midi": {"cc": 1},
     "colour": {"format": "hsv", "pallete": []}},
    {"signal": "rms", "osc": {"address": "/x"}, "colour": {"format": "rgb"}},
    {"signal": "colour", "osc": {"address": "/y"}, "colour": {"format": "palette"}},
    {"signal": "colour", "osc": {"address": "/z"}, "colour": {"format": "rgb", "palette": ["#000000"]}},
    {"signal": "r", "osc": {"address": "/r"}, "colour": {"format": "hsv"}},
    {"signal": "colour", "osc": {"address": "/w"}, "colour": {"format": "hsb"}},
]}


def test_schema_errors_name_the_key_path_with_a_did_you_mean():
    signals = dict(SIGNALS, spectralcentroidnorm="continuous")
    with pytest.raises(MappingError) as err:
        validate(BAD, signals=signals)
    problems = err.value.problems
    want = [
        "routes[0].colour.palette[1]: 'orange' is not a colour: give '#rrggbb' or [r, g, b] "
        "(each 0..1); did you mean '#ff8000'?",
        "routes[0].colour.palette[2]: [255, 0, 0] is out of range: r, g, b are 0..1; did you "
        "mean [1, 0, 0] (8-bit values / 255)?",
        "routes[0].colour.palette[3]: 'ff00ff' is not a colour: give '#rrggbb' or [r, g, b] "
        "(each 0..1); did you mean '#ff00ff'?",
        "routes[1].colour.pallete: unknown key; did you mean 'palette'?",
        "routes[1].midi: a colour sent as hsv is 3 values and a MIDI CC one; use "
        "`colour: {format: brightness}`, or route its channels (r, g, b) to three CCs",
        "routes[1].osc.type: int is not used for a colour of 3 values; did you mean "
        "`colour: {format: rgb8}` (3 ints 0..255)?",
        "routes[2].colour.format: 'rms' is not a colour (e.g. 'colour'); only format palette "
        "turns a level into a colour",
        "routes[3].colour.palette: required for format palette: a list of '#rrggbb' or "
        "[r, g, b] (0..1), e.g. ['#000040', '#ff0080', '#ffff00']",
        "routes[4].colour.palette: used only with format palette (format is 'rgb'); did you "
        "mean `format: palette`?",
        "routes[5].colour: 'r' is one channel of colour 'colour'; route `signal: colour` to send "
        "the colour in another format",
        "routes[6].colour.format: 'hsb' is not one of 'rgb', 'hsv', 'rgb8', 'brightness', "
        "'palette'; did you mean 'hsv'?",
    ]
    for line in want:
        assert line in problems, (line, problems)
    assert any(p.startswith("routes[0].colour.palette[4]: 3 is not a colour") for p in problems)
    assert all("\n" not in p for p in problems)


def test_check_schema_documents_the_colour_options():
    from bridge.mapping.schema import schema_markdown

    doc = schema_markdown()
    assert "## route.colour" in doc
    for key in ("routes[i].colour.format", "routes[i].colour.palette",
                "routes[i].colour.autorange_saturation"):
        assert f"`{key}`" in doc
    assert "rgb \\| hsv \\| rgb8 \\| brightness \\| palette" in doc


def test_midi_cc_routes_of_the_channels_send_one_processed_colour():
    """The lighting-desk mapping's r, g, b CCs: channels of one chain, so the desk's colour keeps
    the model's hue."""
    from bridge.mapping.validate import load_mapping
    from tests.mapping.test_mapping_validate import ROOT

    router = Router(load_mapping(ROOT / "mappings" / "lighting-desk-midi.yaml", signals=SIGNALS))
    assert len(router._chains) == 1
    chain = router._chains[0][0]
    x = constant_hue_colours(600)
    for c in x.tolist():
        frame = router.tick({"r": c[0], "g": c[1], "b": c[2]})
    ccs = {m.control: m.value for items in frame.values() for m in items
           if type(m).__name__ == "MidiCC"}
    assert [ccs[26], ccs[27], ccs[28]] == [int(round(v * 127)) for v in chain.last]
    assert abs(hsv(*chain.last)[0] - hsv(*x[0])[0]) < 1e-9


def test_a_router_built_elsewhere_takes_over_its_colour_chains():
    """A reload builds the new Router on the watcher thread; swap() must carry its colour
    chains and plan over, not only the scalar routes."""
    old = Router(validate({"routes": [{"signal": "low", "osc": {"address": "/low"}}]},
                          signals=SIGNALS))
    mapping = validate({"routes": [{"signal": "colour", "osc": {"address": "/c"},
                                    "autorange": False}]}, signals=SIGNALS)
    old.swap(mapping, Router(mapping, signals=SIGNALS))
    assert frame_of(old, {"r": 0.3, "g": 0.2, "b": 0.1, "low": 0.5}) == {
        "/c": pytest.approx((0.3, 0.2, 0.1))}
    old.reset()
    assert old._chains[0][0].last is None
