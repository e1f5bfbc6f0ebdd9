"""The component's OSC codec against python-osc (an independent implementation), and hostile
input: nothing but OscError ever comes out of decode."""

from __future__ import annotations

import random
import struct

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from tests.td.helpers import SRC  # noqa: F401 - puts nothing on sys.path by itself


@pytest.fixture(scope="module")
def osc():
    import importlib.util
    spec = importlib.util.spec_from_file_location("vjb_osc", SRC / "vjb_osc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def message(address, *args):
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build()


def test_message_types(osc):
    msg = message("/vjbridge/x", 0.25, 7, "hi", b"\x01\x02\x03", True, False, None)
    ((address, args),) = osc.decode(msg.dgram)
    assert address == "/vjbridge/x"
    assert args == [0.25, 7, "hi", b"\x01\x02\x03", True, False, None]


def test_double_and_int64(osc):
    b = OscMessageBuilder(address="/d")
    b.add_arg(1.5, OscMessageBuilder.ARG_TYPE_DOUBLE)
    b.add_arg(2**40, OscMessageBuilder.ARG_TYPE_INT64)
    ((_, args),) = osc.decode(b.build().dgram)
    assert args == [1.5, 2**40]


def test_nested_bundles_keep_order(osc):
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(message("/b", 2.0))
    inner.add_content(message("/c", 3.0))
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(message("/a", 1.0))
    outer.add_content(inner.build())
    outer.add_content(message("/mel", *[i / 64 for i in range(64)]))
    got = osc.decode(outer.build().dgram)
    assert [a for a, _ in got] == ["/a", "/b", "/c", "/mel"]
    assert len(got[3][1]) == 64 and got[3][1][63] == pytest.approx(63 / 64)


def test_encode_is_read_by_python_osc(osc):
    data = osc.encode_message("/vjbridge/control/band/kick", [40.0, 160.0])
    msg = OscMessage(data)
    assert msg.address == "/vjbridge/control/band/kick" and msg.params == [40.0, 160.0]
    data = osc.encode_message("/vjbridge/control/mapping", ["/tmp/m.yaml"])
    assert OscMessage(data).params == ["/tmp/m.yaml"]
    assert OscMessage(osc.encode_message("/vjbridge/control/ping")).params == []
    with pytest.raises(ValueError):
        osc.encode_message("no-slash", [])
    with pytest.raises(ValueError):
        osc.encode_message("/x", [object()])


@pytest.mark.parametrize("data", [
    b"", b"/a", b"/abc\0\0\0\0,f\0\0", b"/abc\0\0\0\0,q\0\0\0\0\0\0", b"abc\0,f\0\0\0\0\0\0",
    b"#bundle\0" + b"\0" * 8 + struct.pack(">i", 1000) + b"/x\0\0",
    b"#bundle\0" + b"\0" * 4, b"/abc\0\0\0\0,b\0\0" + struct.pack(">i", 99), b"/x\0\0,s\0\0abc",
    b"/\xff\xfe\0,f\0\0" + b"\0" * 4, "not bytes",
])
def test_malformed_packets_raise_only_osc_error(osc, data):
    with pytest.raises(osc.OscError):
        osc.decode(data)


def test_deep_nesting_is_refused(osc):
    data = message("/x", 1.0).dgram
    for _ in range(osc.MAX_DEPTH + 2):
        data = b"#bundle\0" + b"\0" * 8 + struct.pack(">i", len(data)) + data
    with pytest.raises(osc.OscError, match="nested"):
        osc.decode(data)


def test_random_bytes_and_truncations_never_escape(osc):
    rng = random.Random(8)
    good = OscBundleBuilder(IMMEDIATELY)
    good.add_content(message("/vjbridge/kick", 1.0))
    good.add_content(message("/vjbridge/name", "text", 3, b"blob"))
    data = good.build().dgram
    cases = [data[:n] for n in range(len(data))]
    cases += [bytes(rng.randrange(256) for _ in range(rng.randrange(64))) for _ in range(2000)]
    for _ in range(2000):
        mutated = bytearray(data)
        mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        cases.append(bytes(mutated))
    for case in cases:
        try:
            osc.decode(case)
        except osc.OscError:
            pass
