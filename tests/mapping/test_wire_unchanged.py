"""OSC and MIDI bytes on the wire are those of the code before output kinds became plug-ins.

The digests were recorded at b9005aa (the last commit before the move) by the same scenario
(:mod:`tests.mapping.wire_record`): every shipped mapping and two mappings with every kind of
route, through early events, a hot swap, an output delay, the idle frame and a reset.
"""

import json
from pathlib import Path

import pytest

from tests.mapping.wire_record import digests

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "wire-b9005aa.json"


@pytest.fixture(scope="module")
def now():
    return digests()


@pytest.mark.parametrize("name", sorted(json.loads(GOLDEN.read_text())))
def test_wire_bytes_unchanged(name, now):
    before = json.loads(GOLDEN.read_text())[name]
    assert now[name]["lines"] == before["lines"]
    assert now[name]["sha256"] == before["sha256"]


def test_the_scenario_sends_every_kind_of_message(now):
    """The digests cover something: OSC bundles and plain messages, CCs, notes on and off."""
    from tests.mapping.wire_record import RICH, run

    lines = run(RICH)
    kinds = {line.split()[0] + " " + line.split()[1] for line in lines if line != "tick"}
    assert kinds == {"osc a", "osc b", "midi desk"}
    midi = [bytes.fromhex(line.split()[2]) for line in lines if line.startswith("midi")]
    status = {m[0] & 0xF0 for m in midi}
    assert status == {0x80, 0x90, 0xB0}
    assert any(line.startswith("osc a 2362756e646c65") for line in lines)  # "#bundle"
    assert any(line.startswith("osc b 2f") for line in lines)  # a plain message
