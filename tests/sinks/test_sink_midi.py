"""MIDI sink through JACK MIDI to jack_midi_dump (an independent receiver): exact bytes of 7-bit
and 14-bit control changes, note on/off, panic on close, the virtual port, and clear errors."""

import pytest

from bridge.errors import SinkError
from bridge.sinks import MidiCC, MidiNote, MidiSink
from bridge.sinks.midi import encode, find_output
from tests.peers import JackServer, MidiDump, jack_mido_backend, poll


@pytest.fixture(scope="module")
def jack():
    with JackServer() as server, jack_mido_backend(server):
        yield server


@pytest.fixture
def dump(jack, request):
    with MidiDump(jack, client=f"dump{abs(hash(request.node.name)) % 10**6}") as d:
        yield d


def test_encode_bytes():
    assert encode(MidiCC(0, 20, 10)) == [[0xB0, 20, 10]]
    assert encode(MidiCC(3, 1, 0x2001, 14)) == [[0xB3, 1, 0x40], [0xB3, 33, 0x01]]
    assert encode(MidiNote(9, 36, 100, True)) == [[0x99, 36, 100]]
    assert encode(MidiNote(9, 36, 0, False)) == [[0x89, 36, 0]]


def wait_until_live(sink, dump) -> None:
    """Send one MIDI clock byte past the sink's bookkeeping and wait until it arrives.

    A JACK client that has just joined can wait a second or more for its first process cycle on a
    loaded machine (dummy driver, no realtime). rtmidi's close() waits at most 1 s for that cycle and
    then unregisters the port, dropping what was still queued: a test that opens, sends and closes
    at once then sees nothing (seen once in CI). Users close after a show, not milliseconds after
    opening; the test waits for the path to be live, then checks the exact bytes."""
    sink.port.send(sink._Message("clock"))
    dump.wait_for(1)


def test_cc_and_notes_exact_bytes_at_jack_midi_dump(dump):
    sink = MidiSink("desk", port=dump.port)
    wait_until_live(sink, dump)
    sink.set_idle([MidiCC(0, 20, 0), MidiCC(1, 1, 0, 14)])
    sink.send([MidiCC(0, 20, 10), MidiCC(1, 1, 8193, 14), MidiNote(0, 36, 100, True)])
    sink.send([MidiCC(0, 20, 10), MidiCC(0, 21, 127)])  # CC 20 unchanged: not re-sent
    sink.send([MidiNote(0, 36, 0, False), MidiNote(2, 38, 90, True)])
    sink.close()  # note 38 still held: off, then idle values, then All Notes Off per channel used
    events = dump.wait_for(15)
    assert events == [
        [0xF8],                                 # wait_until_live's clock byte
        [0xB0, 20, 10],
        [0xB1, 1, 64], [0xB1, 33, 1],          # 8193 = 64 * 128 + 1: MSB on CC 1, LSB on CC 33
        [0x90, 36, 100],
        [0xB0, 21, 127],
        [0x80, 36, 0], [0x92, 38, 90],
        [0x82, 38, 0],                          # close: held note off
        [0xB0, 20, 0], [0xB1, 1, 0], [0xB1, 33, 0],   # idle values, always re-sent
        [0xB0, 123, 0], [0xB1, 123, 0], [0xB2, 123, 0],  # All Notes Off on channels 1, 2, 3
    ]
    assert sink.stats() == {"frames": 3, "sent": 14, "drops": 0, "refused": 0}


def test_virtual_port_named_vjbridge(jack, dump):
    sink = MidiSink("desk")  # the default: a virtual output others connect to
    try:
        port = poll(lambda: [p for p in jack.ports() if p == "vjbridge:vjbridge"], what="vjbridge port")
        jack.connect(port[0], dump.port)
        sink.send([MidiCC(15, 7, 100)])
        assert dump.wait_for(1) == [[0xBF, 7, 100]]
    finally:
        sink.close()


def test_validation_names_the_bad_value(dump):
    with MidiSink("desk", port=dump.port) as sink:
        with pytest.raises(ValueError, match="number must be an int 0..31"):
            sink.send([MidiCC(0, 40, 1, 14)])
        with pytest.raises(ValueError, match="value must be an int 0..127"):
            sink.send([MidiCC(0, 1, 128)])
        with pytest.raises(ValueError, match="channel must be an int 0..15"):
            sink.send([MidiNote(16, 1, 1, True)])
        with pytest.raises(TypeError):
            sink.send([("cc", 1)])
    assert dump.events() == []  # nothing reached the wire, and close had nothing to release


def test_unknown_port_is_one_clear_line(jack):
    with pytest.raises(SinkError) as info:
        MidiSink("desk", port="no such desk")
    msg = str(info.value)
    assert msg.startswith("no MIDI output matches 'no such desk'; available: ") and "\n" not in msg


def test_find_output_by_part_of_the_name():
    names = ["dumper:input", "Desk A:in", "Desk B:in"]
    assert find_output("DUMPER", names) == "dumper:input"
    assert find_output("Desk A:in", names) == "Desk A:in"
    with pytest.raises(SinkError, match="matches several outputs"):
        find_output("desk", names)


def test_midi_system_not_running_is_one_clear_line(jack):
    """JACK backend pointed at a server that does not exist: a SinkError line, not a crash."""
    import os

    old = os.environ["JACK_DEFAULT_SERVER"]
    os.environ["JACK_DEFAULT_SERVER"] = "vjb-no-such-server"
    try:
        with pytest.raises(SinkError) as info:
            MidiSink("desk")
    finally:
        os.environ["JACK_DEFAULT_SERVER"] = old
    msg = str(info.value)
    assert msg.startswith("cannot open MIDI virtual port 'vjbridge': ") and "\n" not in msg
