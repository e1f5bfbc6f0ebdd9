"""OscSink.send's fused validate+encode path: the bytes python-osc builds, the errors _validate
raises, nothing on the wire when any item of a frame is bad."""

import socket

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.sinks import OscSink, OscValue


def _builder_message(address, value):
    b = OscMessageBuilder(address=address)
    b.add_arg(value, "i" if type(value) is int else "f")
    return b.build()


@pytest.fixture()
def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


@pytest.mark.parametrize("bundle", [True, False])
def test_repeated_frames_are_python_osc_bytes(receiver, bundle):
    sink = OscSink("t", port=receiver.getsockname()[1], bundle=bundle)
    frames = [[OscValue("/a", 0.25), OscValue("/b/long/address", 7), OscValue("/a", -1e30)],
              [OscValue("/a", 1.5), OscValue("/b/long/address", -2**31), OscValue("/c", 3.0)],
              [OscValue("/c", 0.0), OscValue("/a", 2.0 ** 100)]]
    for items in frames * 2:  # the second round runs on cached prefixes
        sink.send(items)
        msgs = [_builder_message(a, v) for a, v in items]
        if bundle:
            b = OscBundleBuilder(IMMEDIATELY)
            for m in msgs:
                b.add_content(m)
            assert receiver.recv(65536) == b.build().dgram
        else:
            assert [receiver.recv(65536) for _ in msgs] == [m.dgram for m in msgs]
    assert sink.frames == 6
    sink.close()


def test_a_bad_item_after_cached_ones_sends_nothing(receiver):
    sink = OscSink("t", port=receiver.getsockname()[1])
    sink.send([OscValue("/a", 1.0), OscValue("/n", 2)])
    receiver.recv(65536)
    for bad, err in [(OscValue("/a", float("nan")), ValueError), (OscValue("/a", float("inf")), ValueError),
                     (OscValue("/a", 3.5e38), ValueError), (OscValue("/n", 2**31), ValueError),
                     (OscValue("/a", True), TypeError), (("/a", 1.0), TypeError),
                     (OscValue("no-slash", 1.0), ValueError)]:
        with pytest.raises(err):
            sink.send([OscValue("/a", 1.0), OscValue("/n", 2), bad])
    receiver.settimeout(0.2)
    with pytest.raises(socket.timeout):
        receiver.recv(65536)
    assert sink.frames == 1
    sink.close()
