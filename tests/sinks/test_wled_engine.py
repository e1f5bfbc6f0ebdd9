"""The live engine with the geq stages and a WLED sink: a tone file through the real engine
(resampler, extractor, SignalsStage, GeqStage, PeakStage) becomes v2 packets on a real socket.
The route outputs stand in for the router until the wled kind is registered (plug-in refactor)."""

import socket

import numpy as np

from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.geq_stage import geq_stages
from bridge.runtime.pipeline import SignalsStage
from bridge.sources import FileSource
from tests.runtime.conftest import write_wav
from tests.sinks.test_sink_wled import _outputs, read_v2
from bridge.sinks.wled_kind import WLED_KIND


class WledOutput:
    """The engine's Output protocol over the wled kind's route outputs and its sink."""

    drops = 0

    def __init__(self, sink):
        self.sink, self.outs = sink, _outputs(sink.name)

    def start(self):
        pass

    def send(self, v):
        o = self.outs
        self.sink.send([o["bands"].emit(v["geq"]), o["volume"].emit(min(255.0, v["rms"] * 850)),
                        o["peak"].emit(v["kick"]), o["magnitude"].emit(v["magnitude"] * 1024),
                        o["frequency"].emit(v["majorpeak"])])

    def idle(self):
        self.sink.blackout()

    def close(self):
        self.sink.close()

    def describe(self):
        return self.sink.describe()


def test_a_tone_file_through_the_engine_reaches_wled(tmp_path):
    sr, hz = 48000, 957.0
    t = np.arange(2 * sr) / sr
    path = tmp_path / "tone.wav"
    write_wav(path, 0.4 * np.sin(2 * np.pi * hz * t), sr)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    rx.settimeout(2.0)
    sink = WLED_KIND.open("default", {"host": "127.0.0.1", "port": rx.getsockname()[1],
                                      "ttl": 1, "interface": None, "loop": True})
    engine = Engine(FileSource(path, speed=0), [SignalsStage(LIVE_SPEC), *geq_stages(LIVE_SPEC)],
                    [WledOutput(sink)])
    engine.run()
    packets = []
    rx.settimeout(0.5)
    try:
        while True:
            packets.append(read_v2(rx.recv(100)))
    except socket.timeout:
        pass
    rx.close()
    assert len(packets) >= engine.frames  # one per tick, then silence
    assert [p["frameCounter"] for p in packets] == [i % 256 for i in range(len(packets))]
    mid = packets[len(packets) // 2]
    assert int(np.argmax(mid["fftResult"])) == 7 and abs(mid["FFT_MajorPeak"] - hz) < 10
    assert mid["sampleSmth"] > 100
    assert packets[-1]["fftResult"] == [0] * 16 and packets[-1]["sampleSmth"] == 0.0
