"""OscSink.send's fused validate+encode path: the bytes python-osc builds, the errors _validate
raises, nothing on the wire when any item of a frame is bad."""

import socket

import numpy as np
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


def _python_osc_bundle(items):
    b = OscBundleBuilder(IMMEDIATELY)
    for a, v in items:
        b.add_content(_builder_message(a, v))
    return b.build().dgram


def test_repeated_layouts_switching_layouts_and_edge_values_are_python_osc_bytes(receiver):
    """Frames with the last frame's layout go through the precompiled pack: same bytes."""
    sink = OscSink("t", port=receiver.getsockname()[1])
    f32_max = 3.4028234663852886e38
    a = [OscValue("/a", 0.25), OscValue("/b/long/address", 7), OscValue("/c", -0.0)]
    frames = [a, a, [OscValue("/a", f32_max), OscValue("/b/long/address", -2**31),
                     OscValue("/c", -f32_max)],
              [OscValue("/a", 1e-45), OscValue("/b/long/address", 2**31 - 1), OscValue("/c", 5e-324)],
              [OscValue("/a", 3), OscValue("/b/long/address", 7.5), OscValue("/c", 1.0)],  # types
              [OscValue("/c", 1.0), OscValue("/a", 2.0)], [OscValue("/c", 1.5), OscValue("/a", 2.5)],
              a, a]
    for items in frames:
        sink.send(items)
        assert receiver.recv(65536) == _python_osc_bundle(items)
    assert sink.frames == len(frames)
    sink.close()


@pytest.mark.parametrize("bad, err", [
    (float("nan"), ValueError), (float("inf"), ValueError), (-float("inf"), ValueError),
    (3.5e38, ValueError), (-3.5e38, ValueError), (3.4028235e38, ValueError), (1e308, ValueError),
    (True, TypeError), (np.float64(0.5), TypeError), (np.float32(0.5), TypeError), ("1", TypeError),
])
def test_a_bad_value_in_a_known_layout_raises_and_sends_nothing(receiver, bad, err):
    sink = OscSink("t", port=receiver.getsockname()[1])
    good = [OscValue("/a", 1.0), OscValue("/b", 2.0), OscValue("/n", 3)]
    for _ in range(2):  # the layout is known now
        sink.send(good)
        receiver.recv(65536)
    for position in range(2):
        items = list(good)
        items[position] = OscValue(items[position].address, bad)
        with pytest.raises(err):
            sink.send(items)
    for item in [OscValue("/n", 2**31), OscValue("/n", -2**31 - 1)]:  # int slot out of range
        with pytest.raises(ValueError):
            sink.send(good[:2] + [item])
    with pytest.raises(TypeError):  # the same address and value, but not an OscValue
        sink.send([("/a", 1.0)] + good[1:])
    receiver.settimeout(0.2)
    with pytest.raises(socket.timeout):
        receiver.recv(65536)
    sink.send(good)  # and the layout still works
    receiver.settimeout(2.0)
    assert receiver.recv(65536) == _python_osc_bundle(good)
    assert sink.frames == 3
    sink.close()
