"""A MIDI target's ``rate``: each control change at most that often, its newest value in the next
slot; notes never held back. Through JACK MIDI to jack_midi_dump (an independent receiver).

Without ``rate`` nothing changes (every changed CC on every tick: tests/mapping/test_wire_unchanged
holds the bytes); the test below shows both against the same 60 Hz tick loop.
"""

import statistics
import time

import pytest

from bridge.mapping import Outputs
from bridge.sinks import MidiCC, MidiNote, MidiSink
from tests.peers import JackServer, MidiDump, jack_default_server


@pytest.fixture(scope="module")
def jack():
    with JackServer(period=128, realtime=True) as server, jack_default_server(server):
        yield server


@pytest.fixture
def dump(jack, request):
    with MidiDump(jack, client=f"rt{abs(hash(request.node.name)) % 10**6}") as d:
        yield d


def _show(sink, seconds: float = 2.0, hold: float = 0.3) -> dict:
    """60 Hz ticks: CC 20 changes every tick, CC 21 never, a 14-bit CC 2 every tick, a note on
    every 10th tick and its off 3 ticks later; then ``hold`` s of the last values. Returns what
    was sent and checks each note left in the send() that carried it."""
    t0 = time.monotonic()
    notes = ticks = 0
    total = int(seconds * 60)
    for tick in range(total + int(hold * 60)):
        time.sleep(max(0.0, t0 + tick / 60 - time.monotonic()))
        live = tick < total
        items = [MidiCC(0, 20, (tick % 100) + 1 if live else 77), MidiCC(0, 21, 5),
                 MidiCC(1, 2, (tick * 97) % 16384 if live else 1234, 14)]
        if live and tick % 10 == 0:
            items.append(MidiNote(0, 36, 100, True))
        if live and tick % 10 == 3:
            items.append(MidiNote(0, 36, 0, False))
        before = sink.sent
        sink.send(items)
        note = any(type(i) is MidiNote for i in items)
        if note:
            notes += 1
            assert sink.sent > before  # the note went out in this very send()
        ticks += 1
    return {"notes": notes, "ticks": ticks}


def _times(events, status, data1):
    return [t for t, raw in events if raw[0] == status and raw[1] == data1]


def test_rate_caps_each_cc_and_sends_the_newest_value_notes_untouched(dump):
    sink = MidiSink("desk", port=dump.port, backend="jack", rate=10)
    assert sink.describe() == f"port {dump.port!r} on JACK, CCs at most 10/s"
    shown = _show(sink)
    time.sleep(0.3)
    events = dump.timed_events()
    cc20 = _times(events, 0xB0, 20)
    assert 2.0 * 10 * 0.8 <= len(cc20) <= 2.3 * 10 + 2, len(cc20)  # not 60 a second
    gaps = [(b - a) * 1000 for a, b in zip(cc20, cc20[1:])]
    assert min(gaps) > 45.0 and statistics.mean(gaps) > 90.0, gaps
    values = [raw[2] for _t, raw in events if raw[:2] == [0xB0, 20]]
    assert values[-1] == 77  # the newest value reached the desk after the last change
    assert len(_times(events, 0xB0, 21)) == 1  # unchanged: once
    msb = [raw for _t, raw in events if raw[:2] == [0xB1, 2]]
    lsb = [raw for _t, raw in events if raw[:2] == [0xB1, 34]]
    assert len(msb) == len(lsb) <= 2.3 * 10 + 2 and (msb[-1][2], lsb[-1][2]) == (1234 >> 7,
                                                                                  1234 & 0x7F)
    notes = [raw for _t, raw in events if raw[0] in (0x90, 0x80)]
    assert len(notes) == shown["notes"]  # every note on and off, none dropped
    ons = [t for t, raw in events if raw[0] == 0x90]
    spacing = [(b - a) * 1000 for a, b in zip(ons, ons[1:])]
    assert abs(statistics.median(spacing) - 166.7) < 15, spacing  # on their ticks, not CC slots
    sink.close()


def test_without_rate_every_changed_cc_goes_out_every_tick(dump):
    sink = MidiSink("desk", port=dump.port, backend="jack")
    shown = _show(sink, seconds=1.0, hold=0.1)
    time.sleep(0.3)
    events = dump.timed_events()
    assert len(_times(events, 0xB0, 20)) == 60 + 1  # 60 changes, then the held 77 once
    assert len([1 for _t, raw in events if raw[0] in (0x90, 0x80)]) == shown["notes"]
    sink.close()


def test_the_mapping_sets_the_rate_and_check_shows_it(tmp_path, dump):
    path = tmp_path / "m.yaml"
    path.write_text(f"midi:\n  desk: {{port: '{dump.port}', rate: 20}}\n"
                    "routes:\n  - {signal: low, midi: {cc: 20}}\n")
    from bridge.mapping.validate import load_mapping

    assert "midi desk: port matching" in load_mapping(path).summary()
    assert "each CC at most 20/s" in load_mapping(path).summary()
    with Outputs(path) as outputs:
        sink = outputs.sinks[("midi", "desk")]
        assert sink.rate == 20.0
        t0 = time.monotonic()
        for tick in range(60):
            time.sleep(max(0.0, t0 + tick / 60 - time.monotonic()))
            outputs.tick({"low": (tick % 50) / 50 + 0.01})
    events = dump.timed_events()
    cc = _times(events, 0xB0, 20)
    assert 15 <= len(cc) <= 24, len(cc)  # ~20 in one second (+ the idle value on close)
