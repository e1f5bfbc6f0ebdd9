"""Validation: every problem with its key path and a did-you-mean; the shipped mappings pass
`vjbridge check`; the generated reference covers every declared option."""

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.errors import MappingError
from bridge.mapping.schema import COLOUR_ROUTE, MAPPING, ROUTE, schema_markdown
from bridge.sinks import KINDS
from bridge.mapping.validate import load_mapping, validate
from tests.mapping.conftest import SIGNALS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "mappings").glob("*.yaml"))

BAD = """\
rate: fast
delay: 10
osc:
  td: {host: 127.0.0.1, port: 70000, protocl: tcp}
routes:
  - {signal: moton, osc: {address: vjbridge/motion}}
  - {signal: low, midi: {cc: 130, chanel: 2}}
  - {signal: kick, midi: {note: 36, cc: 3}, gama: 2}
  - {signal: rms, midi: {cc: 40, bits: 14}, autorange: maybe, in: [1, 1]}
  - {signal: rms}
  - {signal: rms, osc: {address: /x, target: tdd}}
"""

EXPECTED = [
    "delay: unknown key; did you mean 'delay_ms'?",
    "rate: expected a number, got 'fast'",
    "osc.td.protocl: unknown key; did you mean 'protocol'?",
    "osc.td.port: 70000 is out of range 1..65535",
    "routes[0].signal: unknown signal 'moton'; did you mean 'motion'?",
    "routes[0].osc.address: 'vjbridge/motion' is not an OSC address",
    "routes[1].midi.chanel: unknown key; did you mean 'channel'?",
    "routes[1].midi.cc: 130 is out of range 0..127",
    "routes[2].gama: unknown key; did you mean 'gamma'?",
    "routes[2].midi: give exactly one of `cc` (control change) and `note` (trigger)",
    "routes[3].in: low and high are both 1; they must differ",
    "routes[3].autorange: 'maybe' is not one of 'auto', true, false",
    "routes[3].midi.cc: 40 is out of range 0..31 for 14-bit",
    "routes[4]: no output; add `osc:`, `midi:`",
    "routes[5].osc.target: unknown osc target 'tdd'; did you mean 'td'?",
]


def test_every_problem_with_its_key_path(write_yaml):
    with pytest.raises(MappingError) as info:
        load_mapping(write_yaml(BAD), signals=SIGNALS)
    problems = info.value.problems
    assert len(problems) == len(EXPECTED), problems
    for got, want in zip(problems, EXPECTED):
        assert got.startswith(want), (got, want)


def test_check_cli_prints_every_error_and_exits_1(write_yaml):
    path = write_yaml(BAD)
    done = subprocess.run([sys.executable, "-m", "bridge.cli", "check", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith(f"{path}: ") and "problems:" not in ln]
    # the catalog (not the test table) is used here; the same 15 problems must come out
    assert len(lines) == len(EXPECTED), done.stderr
    assert f"{path}: routes[1].midi.cc: 130 is out of range 0..127" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_mappings_pass_check(path):
    names = {p.name for p in SHIPPED}
    assert {"default.yaml", "lighting-desk-midi.yaml", "touchdesigner-audioanalysis.yaml"} <= names
    done = subprocess.run([sys.executable, "-m", "bridge.cli", "check", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"{path}: OK")
    assert "signal names not checked" not in done.stdout


def test_default_mapping_content():
    m = load_mapping(ROOT / "mappings" / "default.yaml", signals=SIGNALS)
    assert m.rate == 60.0
    (target,) = m.targets["osc"].values()
    assert (target["host"], target["port"], target["protocol"]) == ("127.0.0.1", 7000, "udp")
    signals = {r["signal"] for r in m.routes}
    assert signals == {"motion", "weight", "colour", "r", "g", "b", "low", "mid", "high", "rms", "onset",
                       "kick", "snare", "beat", "bpm", "spectralcentroid"}
    auto = {r["signal"] for r in m.routes if r["autorange"]}
    # on by default for model outputs only
    assert auto == {"motion", "weight", "colour", "r", "g", "b"}
    parts = {r["signal"]: r["colour_part"] for r in m.routes if r["colour_part"]}
    assert parts == {"colour": "rgb", "r": "channel", "g": "channel", "b": "channel"}


def test_lighting_desk_mapping_uses_7bit_cc_and_notes():
    m = load_mapping(ROOT / "mappings" / "lighting-desk-midi.yaml", signals=SIGNALS)
    midis = [r["midi"] for r in m.routes]
    assert all(x is not None for x in midis)
    assert all(x["bits"] == 7 for x in midis if x["cc"] is not None)
    assert sum(x["note"] is not None for x in midis) >= 3


def test_defaults_and_target_resolution():
    m = validate({"routes": [{"signal": "low", "osc": {"address": "/low"}},
                             {"signal": "kick", "midi": {"note": 36}}]}, signals=SIGNALS)
    assert m.targets["osc"] == {"default": {"host": "127.0.0.1", "port": 7000, "protocol": "udp",
                                 "framing": "slip", "bundle": True, "announce": True}}
    assert m.targets["midi"] == {"default": {"port": None, "virtual_name": "vjbridge",
                                             "backend": "auto", "rate": None}}
    assert m.routes[0]["osc"]["target"] == "default" and m.routes[1]["midi"]["target"] == "default"
    assert m.routes[1]["midi"]["channel"] == 1 and m.routes[1]["midi"]["length_ms"] == 100.0


def test_several_targets_need_a_name():
    raw = {"osc": {"a": {}, "b": {"port": 7001}},
           "routes": [{"signal": "low", "osc": {"address": "/low"}}]}
    with pytest.raises(MappingError) as info:
        validate(raw, signals=SIGNALS)
    assert info.value.problems == ["routes[0].osc.target: required when there are several osc "
                                   "targets (a, b)"]


@pytest.mark.parametrize("text, problem", [
    ("routes: [\n", "line 2, column 1: not valid YAML"),
    ("[1, 2]", "mapping: expected a table of keys"),
    ("", "routes: required key is missing"),
    ("routes: []", "routes: the list is empty"),
    ("routes: [{signal: low, osc: {address: /a}, in: [0, x]}]", "routes[0].in: expected [low, high]"),
    ("routes: [{signal: low, midi: {cc: 1.5}}]", "routes[0].midi.cc: expected a whole number"),
    ("routes: [{signal: low, midi: {cc: true}}]", "routes[0].midi.cc: expected a whole number"),
    ("routes: [{signal: low, osc: {address: /a, type: flaot}}]",
     "routes[0].osc.type: 'flaot' is not one of 'float', 'int'; did you mean 'float'?"),
    ("routes: [{signal: low, osc: {address: /a}, gamma: 0}]", "routes[0].gamma: 0 is out of range"),
    ("routes: [{signal: low, osc: {address: '/a b'}}]", "routes[0].osc.address: '/a b' is not"),
    ("routes: [{signal: low, osc: {address: /a}, clamp: 1}]",
     "routes[0].clamp: expected true or false, got 1"),
    ("rate: 60\nrate2: 5\nroutes: [{signal: low, osc: {address: /a}}]",
     "rate2: unknown key; did you mean 'rate'?"),
])
def test_single_problems(write_yaml, text, problem):
    with pytest.raises(MappingError) as info:
        load_mapping(write_yaml(text), signals=SIGNALS)
    assert len(info.value.problems) == 1, info.value.problems
    assert info.value.problems[0].startswith(problem), info.value.problems


def test_signal_table_forms_and_autorange():
    raw = {"routes": [{"signal": "x", "osc": {"address": "/x"}}]}
    assert validate(raw, signals=["x"]).routes[0]["autorange"] is False
    assert validate(raw, signals={"x": "model"}).routes[0]["autorange"] is True
    raw["routes"][0]["autorange"] = False
    assert validate(raw, signals={"x": "model"}).routes[0]["autorange"] is False


def test_catalog_is_used_by_default():
    from bridge.signals.catalog import CATALOG

    raw = {"routes": [{"signal": name, "osc": {"address": f"/{name}"}} for name in CATALOG.names()]}
    assert len(validate(raw).routes) == len(CATALOG)
    with pytest.raises(MappingError, match=r"routes\[0\].signal: unknown signal 'lwo'; did you mean 'low'"):
        validate({"routes": [{"signal": "lwo", "osc": {"address": "/a"}}]})


def test_reference_documents_every_option():
    doc = schema_markdown()
    prefixes = {MAPPING: "", ROUTE: "routes[i].", COLOUR_ROUTE: "routes[i].colour."}
    for kind in KINDS.values():  # each output kind's own sections
        prefixes[kind.target] = f"{kind.name}.NAME."
        prefixes[kind.route] = f"routes[i].{kind.name}."
    assert {"osc", "midi"} <= set(KINDS)
    # nested sections under their full key path (a DMX target's patch and profiles)
    from bridge.sinks.dmx_kind import DMX_CHANNEL, DMX_FIXTURE, DMX_PROFILE

    prefixes[DMX_FIXTURE] = "dmx.NAME.fixtures.NAME."
    prefixes[DMX_PROFILE] = "dmx.NAME.profiles.NAME."
    prefixes[DMX_CHANNEL] = "dmx.NAME.profiles.NAME.channels[i]."
    for section, prefix in prefixes.items():
        for opt in section.options:
            assert f"| `{prefix}{opt.name}` |" in doc
            assert opt.description in doc
    done = subprocess.run([sys.executable, "-m", "bridge.cli", "check", "--schema"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == doc.strip()


def test_validate_returns_frozen_tables_and_leaves_its_input_alone():
    import copy

    raw = {"osc": {"td": {"port": 7001}}, "routes": [
        {"signal": "low", "osc": {"address": "/low"}, "midi": {"cc": 3}},
        {"signal": "colour", "osc": {"address": "/c"}}]}
    before = copy.deepcopy(raw)
    m = validate(raw, signals=SIGNALS)
    assert raw == before  # defaults, targets and derived keys went into new tables only
    with pytest.raises(TypeError):
        m.routes[0]["osc"]["address"] = "/x"
    with pytest.raises(TypeError):
        m.targets["osc"]["td"]["port"] = 1
    with pytest.raises(TypeError):
        m.targets["midi"]["other"] = {}
    assert m.routes[0]["osc"]["target"] == "td" and m.routes[0]["midi"]["target"] == "default"


PROBE_KIND = """
import json
from bridge.errors import MappingError
from bridge.options import Option, Section
from bridge.sinks import KINDS, kind as k

class Out(k.RouteOutput):
    def emit(self, y):
        return ("probe", y)

KINDS["probe"] = k.OutputKind(
    name="probe", description="send to a probe",
    target=Section("probe target", "A probe.", (Option("gain", "number", 1.0, "gain", lo=0, hi=10),)),
    route=Section("route.probe", "Probe route.", (
        Option("target", "str", None, "target", nullable=True),
        Option("slot", "int", 0, "slot", lo=0, hi=7))),
    open=lambda name, cfg: None, output=lambda sub, info, t: Out(("probe", sub["target"])),
    describe_target=lambda n, c: f"probe {n}: gain {c['gain']:g}",
    describe_route=lambda sub, info: f"probe slot {sub['slot']}")

from bridge.mapping.router import Router
from bridge.mapping.schema import schema_markdown
from bridge.mapping.validate import validate

out = {}
m = validate({"routes": [{"signal": "low", "probe": {"slot": 3}}]}, signals=["low"])
out["default"] = dict(m.targets["probe"]["default"])
out["summary"] = m.summary()
out["frame"] = [list(map(list, Router(m).tick({"low": 0.25})[("probe", "default")]))]
try:
    validate({"probe": {"p": {"gian": 2}}, "routes": [
        {"signal": "low", "probe": {"slot": 9, "target": "q"}}]}, signals=["low"])
except MappingError as exc:
    out["problems"] = exc.problems
out["doc"] = "`routes[i].probe.slot`" in schema_markdown()
print(json.dumps(out))
"""


def test_a_kind_declares_its_sections_and_the_mapping_layer_follows():
    """A kind added to the registry (before the mapping layer is imported, as a plug-in
    registers) gets its top-level and route sections, a default target, validation with key
    paths and did-you-mean, routing and its summary lines, with nothing in bridge/mapping
    changed: the registry is the only list of kinds."""
    import json

    done = subprocess.run([sys.executable, "-c", PROBE_KIND], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["default"] == {"gain": 1.0}
    assert "probe default: gain 1" in out["summary"] and "low -> probe slot 3" in out["summary"]
    assert out["frame"] == [[["probe", 0.25]]]
    assert out["problems"] == ["probe.p.gian: unknown key; did you mean 'gain'?",
                               "routes[0].probe.slot: 9 is out of range 0..7",
                               "routes[0].probe.target: unknown probe target 'q'"]
    assert out["doc"]


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1", True), ("::1", True), ("fe80::1%eth0", True), ("desk.local", True),
    ("desk.local.", True), ("_os2l.example", True), ("bühne.local", True), ("a" * 63, True),
    ("a" * 64, False), ("a..b", False), ("-desk", False), ("desk-", False), ("desk\x00", False),
    ("desk 2", False), (" desk", False), ("desk/1", False), (".".join(["ab"] * 100), False),
])
def test_host_values_are_names_or_ip_addresses(host, ok):
    from bridge.options import host_problem

    assert (host_problem(host) is None) is ok, host_problem(host)
