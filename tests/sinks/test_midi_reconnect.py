"""A named MIDI port whose receiver quits and comes back (a desk rebooting, QLC+ restarted, a USB
interface replugged): the sink notices, says so once each way, and sends again, with every CC's
current value re-sent (the receiver lost them). Before, MIDI stayed silent for the rest of the show
without a line in the log (rtmidi on JACK sends into a vanished connection without an error).

The receiver is ``jack_midi_dump`` on a real JACK server (not our code); it is stopped and a new
one started under the same client name, as a restarted program comes back.
"""

from __future__ import annotations

import logging
import os

import pytest

from bridge.sinks import MidiCC, MidiSink
from tests.peers import JackServer, MidiDump, jack_default_server, poll
from tests.runtime.peers import Bridge

pytestmark = [pytest.mark.peers]


@pytest.fixture(scope="module")
def jack():
    with JackServer() as server, jack_default_server(server):
        yield server


def test_the_sink_reconnects_to_a_receiver_that_came_back(jack, caplog):
    caplog.set_level(logging.INFO, logger="bridge.sinks.midi_watch")
    with MidiDump(jack, client="desk") as first:
        sink = MidiSink("out", port="desk:input", backend="jack", watch=False)
        from bridge.sinks.midi_watch import PortWatch

        watch = sink.watch = PortWatch(sink)  # checked by hand here; the daemon test runs it
        try:
            sink.send([MidiCC(0, 7, 100)])
            assert first.wait_for(1) == [[0xB0, 7, 100]]
            watch.check()
            assert not watch.lost
            first.stop()  # the receiver quit
            poll(lambda: "desk:input" not in jack.ports(), what="desk:input gone")
            watch.check()
            assert watch.lost and "(gone: waiting for it)" in sink.describe()
            sink.send([MidiCC(0, 7, 101)])  # nobody there: no error, nothing raised
            with MidiDump(jack, client="desk") as second:  # the same log file: count on
                watch.check()
                assert not watch.lost and watch.reconnects == 1
                sink.send([MidiCC(0, 7, 101), MidiCC(0, 8, 5)])  # 101 again: it was lost
                assert second.wait_for(3)[1:] == [[0xB0, 7, 101], [0xB0, 8, 5]]
                sink.send([MidiCC(0, 7, 101)])  # unchanged now: not re-sent
                sink.send([MidiCC(0, 7, 102)])
                assert second.wait_for(4)[-1] == [0xB0, 7, 102]
                assert len(second.events()) == 4
        finally:
            sink.close()
    gone = [r for r in caplog.records if "is gone" in r.getMessage()]
    back = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(gone) == 1 and len(back) == 1
    assert "midi output 'out': port 'desk:input' is gone" in gone[0].getMessage()


@pytest.mark.slow
def test_a_running_daemon_sends_midi_again_after_the_desk_restarts(jack):
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack.name)
    first = MidiDump(jack, client="magicq").start()
    bridge = Bridge("--log-level", "info", "run", "--demo", "--mapping", "magicq", "--midi",
                    "magicq:input", "--midi-backend", "jack", "--no-realtime", env=env)
    try:
        poll(lambda: len(first.events()) > 20, 40, what="MIDI at the first console")
        first.stop()
        bridge.wait_for("port 'magicq:input' is gone", timeout=15)
        with MidiDump(jack, client="magicq") as second:  # the same log file: count on
            n0 = len(second.events())
            bridge.wait_for("port 'magicq:input' is back", timeout=15)
            events = poll(lambda: second.events()[n0:] if len(second.events()) > n0 + 20
                          else None, 20, what="MIDI at the restarted console")
            ccs = {e[1] for e in events if len(e) == 3 and e[0] == 0xB0}
            assert {1, 2, 3} <= ccs, sorted(ccs)  # the faders' values, sent again
        rc = bridge.stop()
    finally:
        bridge.stop()
        first.stop()
    assert rc == 0, bridge.stderr
    assert sum("is gone" in line for line in bridge.err) == 1
    assert sum("is back" in line for line in bridge.err) == 1
    assert "Traceback" not in bridge.stderr

