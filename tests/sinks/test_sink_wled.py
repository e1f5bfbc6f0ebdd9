"""WLED sound sync end to end below the router: real audio -> the extractor -> geq / majorpeak /
magnitude / onset -> the wled kind's route outputs -> WledSink -> a real UDP socket, decoded by
a reader written from WLED's documented v2 layout (not from the encoder): unicast on loopback,
and multicast 239.0.0.1:11988 inside a private network namespace."""

import json
import math
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bridge.audio.features import FeatureExtractor
from bridge.audio.spec import FeatureSpec
from bridge.signals.classic import ClassicSignals
from bridge.signals.geq import WLED_GEQ_HZ, GeqAnalysis
from bridge.sinks.kind import RouteInfo
from bridge.sinks.wled import WledField, WledSink
from bridge.sinks.wled_kind import WLED_KIND
from tests.runtime.peers import require

SPEC = FeatureSpec(fps=60)
SR = SPEC.sample_rate
ROOT = Path(__file__).resolve().parents[2]


def read_v2(data: bytes) -> dict:
    """WLED audioSyncPacket v2 as the usermod documents it: 44 bytes, little-endian, packed;
    header[6] @0, pressure[2] @6 (WLED-MM 8.8 fixed point), float sampleRaw @8, float sampleSmth
    @12, uint8 samplePeak @16, uint8 frameCounter @17, uint8 fftResult[16] @18, uint16
    zeroCrossingCount @34, float FFT_Magnitude @36, float FFT_MajorPeak @40."""
    assert len(data) == 44, f"a v2 packet is 44 bytes, got {len(data)}"
    f32 = lambda at: struct.unpack_from("<f", data, at)[0]  # noqa: E731
    return {"header": data[0:6], "pressure": data[6] + data[7] / 256.0,
            "sampleRaw": f32(8), "sampleSmth": f32(12), "samplePeak": data[16],
            "frameCounter": data[17], "fftResult": list(data[18:34]),
            "zeroCrossingCount": data[34] | data[35] << 8, "FFT_Magnitude": f32(36),
            "FFT_MajorPeak": f32(40)}


def _info(signal, size=1, out=(0.0, 1.0), spectrum=False):
    return RouteInfo(signal=signal, path="routes[0]", size=size, out=out, idle=out[0], rate=60.0,
                     spectrum=spectrum)


def _outputs(target="default"):
    """The kind's route outputs for the shipped-mapping routes (values already in out units)."""
    out = WLED_KIND.output
    return {
        "bands": out({"field": "bands", "target": target}, _info("geq", 16, spectrum=True), {}),
        "volume": out({"field": "volume", "target": target}, _info("rms", out=(0, 255)), {}),
        "peak": out({"field": "peak", "target": target, "threshold": 0.5}, _info("onset"), {}),
        "magnitude": out({"field": "magnitude", "target": target},
                         _info("magnitude", out=(0, 1024)), {}),
        "frequency": out({"field": "frequency", "target": target},
                         _info("majorpeak", out=(0, 11025)), {}),
    }


def show(audio: np.ndarray, sink: WledSink, recv) -> list[dict]:
    """One packet per analysis frame, as the router would send at the frame rate; each packet
    read back from the socket right after it was sent."""
    frames = FeatureExtractor(SPEC).process(audio)
    geq, peaks = GeqAnalysis(SPEC).process(frames)
    classic = ClassicSignals(SPEC)
    onset = classic.process(frames)[:, classic.columns["onset"]]
    outs = _outputs(sink.name)
    packets = []
    for i in range(frames.shape[0]):
        rms = frames[i, SPEC.n_mels]
        sink.send([outs["bands"].emit(tuple(geq[i].tolist())),
                   outs["volume"].emit(min(255.0, rms / 0.3 * 255.0)),
                   outs["peak"].emit(float(onset[i])),
                   outs["magnitude"].emit(float(peaks[i, 1]) * 1024.0),
                   outs["frequency"].emit(float(peaks[i, 0]))])
        packets.append(read_v2(recv()))
    return packets


def tone(hz, seconds=0.5, amp=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return amp * np.sin(2 * np.pi * hz * t)


@pytest.fixture
def loopback():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    sink = WLED_KIND.open("default", {"host": "127.0.0.1", "port": rx.getsockname()[1],
                                      "ttl": 1, "interface": None, "loop": True})
    yield sink, (lambda: rx.recv(1500))
    sink.close()
    rx.close()


@pytest.mark.parametrize("channel", [2, 5, 7, 10, 13, 15])
def test_a_tone_in_a_geq_channel_raises_that_channel_most(loopback, channel):
    sink, recv = loopback
    lo, hi = WLED_GEQ_HZ[channel], WLED_GEQ_HZ[channel + 1]
    hz = math.sqrt(lo * hi)
    packets = show(tone(hz), sink, recv)
    last = packets[-1]
    assert last["header"] == b"00002\x00"
    bands = last["fftResult"]
    assert int(np.argmax(bands)) == channel and bands[channel] >= 200, (hz, bands)
    assert sum(bands) - bands[channel] < 254 * 1.2  # the rest is at most a neighbour's spill
    assert abs(last["FFT_MajorPeak"] - hz) < 0.01 * hz, (hz, last["FFT_MajorPeak"])
    assert last["FFT_Magnitude"] > 500 and 0 < last["sampleSmth"] <= 255
    assert last["sampleRaw"] == last["sampleSmth"]  # no volume_raw route: raw follows volume
    assert last["pressure"] == 0 and last["zeroCrossingCount"] == 0


def test_frame_counter_counts_every_packet_and_wraps(loopback):
    sink, recv = loopback
    counters = []
    for _ in range(300):
        sink.send([WledField("volume", 1.0)])
        counters.append(read_v2(recv())["frameCounter"])
    assert counters == [i % 256 for i in range(300)]
    assert sink.stats()["sent"] == 300 and sink.drops == 0


def test_peak_on_a_click_and_not_in_silence(loopback):
    sink, recv = loopback
    audio = np.zeros(int(1.0 * SR))
    click = int(0.5 * SR)
    audio[click:click + 32] = 0.9  # a 1.5 ms click
    packets = show(audio, sink, recv)
    hop = SPEC.hop_length
    # frame i covers samples i*hop .. i*hop + n_fft: which frames hear the click
    first = next(i for i in range(len(packets)) if i * hop + SPEC.n_fft > click)
    peaks = [p["samplePeak"] for p in packets]
    assert not any(peaks[:first]), "a peak before the click"
    assert any(peaks[first:first + 6]), "no peak on the click"
    assert not any(peaks[first + 12:]), "the peak did not end"
    assert all(b == 0 for p in packets[:first] for b in p["fftResult"])  # silence reads 0
    assert packets[first + 3]["sampleRaw"] > 0


def test_silence_after_close_and_blackout(loopback):
    sink, recv = loopback
    show(tone(1000, 0.2), sink, recv)
    before = sink.counter
    sink.blackout()
    blackout = [read_v2(recv()) for _ in range(3)]
    sink.close()
    # nothing was sent since the blackout: close does not repeat it (the template's rule)
    sink2_rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink2_rx.bind(("127.0.0.1", 0))
    sink2_rx.settimeout(2.0)
    other = WledSink("other", host="127.0.0.1", port=sink2_rx.getsockname()[1])
    other.send([WledField("bands", bytes(range(16))), WledField("volume", 200.0),
                WledField("peak", 1), WledField("frequency", 440.0)])
    assert read_v2(sink2_rx.recv(100))["fftResult"] == list(range(16))
    other.close()
    closing = [read_v2(sink2_rx.recv(100)) for _ in range(3)]
    sink2_rx.close()
    for p in blackout + closing:
        assert p["header"] == b"00002\x00" and p["fftResult"] == [0] * 16
        assert (p["sampleRaw"], p["sampleSmth"], p["samplePeak"], p["FFT_Magnitude"],
                p["FFT_MajorPeak"]) == (0.0, 0.0, 0, 0.0, 0.0)
    assert [p["frameCounter"] for p in blackout] == [before, before + 1, before + 2]
    assert [p["frameCounter"] for p in closing] == [1, 2, 3]  # still counting up: not dropped
    # as duplicates by WLED-MM's sequence check


def test_bad_items_are_refused_before_anything_is_sent(loopback):
    sink, recv = loopback
    for bad in ([("bands", bytes(16))], [WledField("bands", bytes(15))],
                [WledField("volume", float("nan"))], [WledField("peak", 1.0)],
                [WledField("colour", 1.0)]):
        with pytest.raises((TypeError, ValueError)):
            sink.send(bad)
    assert sink.stats()["sent"] == 0


def test_band_levels_become_wled_bytes():
    out = _outputs()["bands"]
    field, data = out.emit((0.0, -0.5, 0.5, 1.0, 2.0, float("nan")) + (0.25,) * 10)
    assert field == "bands" and list(data[:6]) == [0, 0, 127, 254, 254, 0]
    assert data[6] == 64 and out.idle() == WledField("bands", bytes(16))


_MULTICAST_PROBE = """
import json, socket, struct, sys
from tests.sinks.test_sink_wled import SPEC, read_v2, show, tone
from bridge.sinks.wled_kind import WLED_KIND
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
rx.bind(("0.0.0.0", 11988))
rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
              struct.pack("4s4s", socket.inet_aton("239.0.0.1"), socket.inet_aton("0.0.0.0")))
rx.settimeout(2.0)
sink = WLED_KIND.open("room", {"host": "239.0.0.1", "port": 11988, "ttl": 1,
                               "interface": "127.0.0.1", "loop": True})
packets = show(tone(957.0, 0.3), sink, lambda: rx.recv(1500))
sink.close()
silence = [read_v2(rx.recv(1500)) for _ in range(3)]
for p in packets + silence:
    p["header"] = p["header"].decode("latin-1")
print(json.dumps({"packets": packets, "silence": silence, "describe": sink.describe()}))
"""


def test_multicast_239_0_0_1_in_a_private_network_namespace():
    require("unshare", "util-linux")
    require("ip", "iproute2")
    setup = "ip link set lo up; ip route add local 0.0.0.0/0 dev lo"
    out = subprocess.run(["unshare", "-n", "sh", "-c", f'{setup}; exec "$0" -c "$1"',
                          sys.executable, _MULTICAST_PROBE],
                         capture_output=True, text=True, timeout=120, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    packets, silence = doc["packets"], doc["silence"]
    assert "multicast ttl 1 via 127.0.0.1" in doc["describe"]
    assert all(p["header"] == "00002\x00" for p in packets + silence)
    assert [p["frameCounter"] for p in packets + silence] == list(range(len(packets) + 3))
    assert int(np.argmax(packets[-1]["fftResult"])) == 7  # 818-1120 Hz
    assert abs(packets[-1]["FFT_MajorPeak"] - 957.0) < 10
    assert all(p["fftResult"] == [0] * 16 and p["sampleSmth"] == 0 for p in silence)
