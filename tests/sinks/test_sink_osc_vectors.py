"""Bundles holding vectors (a colour as 3 floats or 3 ints, the 64 mel bands) through the OSC
sink's precompiled path: byte for byte what python-osc builds, frame after frame, and a bad value
still refused."""

from __future__ import annotations

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.sinks import OscSink, OscValue


def python_osc_bundle(items) -> bytes:
    bundle = OscBundleBuilder(IMMEDIATELY)
    for address, v in items:
        msg = OscMessageBuilder(address=address)
        for x in (v if type(v) is tuple else (v,)):
            msg.add_arg(x, msg.ARG_TYPE_INT if type(x) is int else msg.ARG_TYPE_FLOAT)
        bundle.add_content(msg.build())
    return bundle.build().dgram


def frames(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        c = rng.random(3)
        yield [OscValue("/vjbridge/motion", float(rng.random())),
               OscValue("/vjbridge/colour", tuple(float(x) for x in c)),
               OscValue("/vjbridge/colour8", tuple(int(x) for x in np.round(c * 255))),
               OscValue("/vjbridge/mel", tuple(float(x) for x in rng.random(64))),
               OscValue("/vjbridge/kick", 1.0), OscValue("/n", int(rng.integers(0, 9)))]


def test_vector_bundles_equal_python_osc_frame_after_frame():
    sink = OscSink("t", port=9)
    sent = []
    sink.transport.send_packet = sent.append  # the precompiled path
    sink.transport.send = sent.extend  # the general path (the first frame of a layout)
    items = list(frames(50))
    for f in items:
        sink.send(f)
    assert type(sink._layout).__name__ == "_VectorLayout"
    assert len(sent) == 50
    for f, packet in zip(items, sent):
        assert packet == python_osc_bundle(f)
    sink.close()


def test_a_bad_vector_value_is_refused_on_the_fast_path_too():
    sink = OscSink("t", port=9)
    sink.transport.send_packet = lambda p: None
    sink.transport.send = lambda ps: None
    good = next(frames(1))
    sink.send(good)
    sink.send(good)
    bad = list(good)
    bad[1] = OscValue("/vjbridge/colour", (float("nan"), 0.0, 0.0))
    with pytest.raises(ValueError, match="vector"):
        sink.send(bad)
    bad[1] = OscValue("/vjbridge/colour", (1, 2.0, 3))
    with pytest.raises(ValueError, match="vector"):
        sink.send(bad)
    sink.close()
