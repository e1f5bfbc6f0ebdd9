"""The wled kind's declaration: its sections validate with key paths and did-you-mean (through
the mapping layer's public validator, which walks the kind registry), its cross-checks
catch a field fed the wrong shape or units, and its descriptions say what `vjbridge check` shows."""

import pytest

from bridge.errors import MappingError
from bridge.mapping.validate import validate

from bridge.sinks.kind import OutputKind, RouteInfo
from bridge.sinks.wled import FIELDS
from bridge.sinks.wled_kind import WLED_KIND, BandsOutput, PeakOutput, ScalarOutput


def _info(signal="rms", size=1, out=(0.0, 1.0), spectrum=False, colour=None, path="routes[3]"):
    return RouteInfo(signal=signal, path=path, size=size, out=out, idle=out[0], rate=60.0,
                     colour=colour, spectrum=spectrum)


def _route_problems(sub, info):
    problems = []
    WLED_KIND.check_route(sub, info, problems)
    return problems


def test_declaration_is_an_output_kind_with_both_sections():
    assert isinstance(WLED_KIND, OutputKind) and WLED_KIND.name == "wled"
    assert WLED_KIND.target.names == ["host", "port", "ttl", "interface", "loop"]
    assert WLED_KIND.route.option("field").choices == FIELDS
    assert WLED_KIND.route.option("field").required
    assert WLED_KIND.target.option("host").default == "239.0.0.1"
    assert WLED_KIND.target.option("port").default == 11988


def _problems(doc) -> list[str]:
    with pytest.raises(MappingError) as err:
        validate(doc, signals=["rms", "geq"])
    return err.value.problems


def test_sections_validate_with_paths_and_did_you_mean():
    """Through the mapping layer's public validator, from the kind's own declaration."""
    said = "\n".join(_problems({"routes": [{"signal": "rms"}] * 3 + [
        {"signal": "rms", "wled": {"field": "bnds", "treshold": 1}}]}))
    assert "routes[3].wled.field: 'bnds' is not one of" in said and "did you mean 'bands'" in said
    assert "routes[3].wled.treshold: unknown key; did you mean 'threshold'" in said
    routes = [{"signal": "rms", "wled": {"field": "volume", "target": "room"}}]
    assert _problems({"wled": {"room": {"host": "239.0.0.1", "ttl": 300}}, "routes": routes}) \
        == ["wled.room.ttl: 300 is out of range 0..255"]
    cfg = validate({"wled": {"room": {}}, "routes": routes}, signals=["rms"]).targets["wled"]["room"]
    assert cfg["port"] == 11988 and cfg["interface"] is None and cfg["host"] == "239.0.0.1"


def test_bands_needs_a_16_value_signal():
    assert _route_problems({"field": "bands"}, _info("geq", 16, spectrum=True)) == []
    said = _route_problems({"field": "bands"}, _info("low"))
    assert said == ["routes[3].wled.field: bands takes a 16-value signal (geq); 'low' is one "
                    "value; route geq here, or 'low' to another field"]
    assert "a spectrum of 64" in _route_problems({"field": "bands"},
                                                 _info("mel", 64, spectrum=True))[0]


def test_scalar_fields_need_one_value_in_wled_units():
    assert "volume takes one value; 'geq' is a spectrum of 16" in _route_problems(
        {"field": "volume"}, _info("geq", 16, spectrum=True))[0]
    assert _route_problems({"field": "volume"}, _info(out=(0, 255))) == []
    assert _route_problems({"field": "volume"}, _info(out=(0, 300))) == [
        "routes[3].out: WLED reads volume as 0..255; got [0, 300]; set out within [0, 255]"]
    assert _route_problems({"field": "frequency"}, _info("majorpeak", out=(0, 11025))) == []
    assert "0..11025" in _route_problems({"field": "frequency"}, _info(out=(0, 20000)))[0]
    assert "magnitude is >= 0" in _route_problems({"field": "magnitude"}, _info(out=(-1, 1)))[0]
    assert "never change" in _route_problems({"field": "peak", "threshold": 2.0}, _info())[0]
    assert _route_problems({"field": "peak", "threshold": 0.5}, _info("kick")) == []


def test_target_interface_and_mapping_checks():
    problems = []
    WLED_KIND.check_target("room", {"interface": "wlan0"}, "wled.room", problems)
    assert problems and problems[0].startswith("wled.room.interface: 'wlan0' is not an IPv4")
    problems = []
    WLED_KIND.check_target("room", {"interface": "192.168.1.20"}, "wled.room", problems)
    assert problems == []
    routes = [({}, {"field": "bands", "target": "room"}, _info("geq", 16, path="routes[0]")),
              ({}, {"field": "bands", "target": "room"}, _info("mel", 16, path="routes[4]")),
              ({}, {"field": "bands", "target": "hall"}, _info("geq", 16, path="routes[5]"))]
    assert WLED_KIND.check_mapping({}, routes) == [
        "routes[4].wled.field: bands of wled target 'room' is already filled by routes[0]; "
        "route one signal per field"]


def test_outputs_and_descriptions():
    bands = WLED_KIND.output({"field": "bands", "target": "room"}, _info("geq", 16), {})
    peak = WLED_KIND.output({"field": "peak", "target": "room", "threshold": 0.5}, _info(), {})
    vol = WLED_KIND.output({"field": "volume", "target": None}, _info(out=(0, 255)), {})
    assert isinstance(bands, BandsOutput) and bands.key == ("wled", "room")
    assert isinstance(peak, PeakOutput) and isinstance(vol, ScalarOutput)
    assert vol.key == ("wled", "default")
    assert peak.emit(0.5).value == 1 and peak.emit(0.49).value == 0 and peak.idle().value == 0
    assert vol.emit(-3.0).value == 0.0 and vol.emit(128).value == 128.0
    with pytest.raises(AttributeError):  # immutable items
        vol.emit(1.0).value = 2.0
    assert WLED_KIND.describe_target("room", {"host": "239.0.0.1", "port": 11988, "ttl": 1}) == (
        "wled.room: udp://239.0.0.1:11988 multicast ttl 1, WLED audio sync v2 (set the "
        "controllers' audio sync mode to Receive)")
    assert "unicast" in WLED_KIND.describe_target("desk", {"host": "192.168.1.50", "port": 11988})
    assert WLED_KIND.describe_route({"field": "volume", "target": "room"},
                                    _info(out=(0, 255))) == "wled room.volume (0..255)"
