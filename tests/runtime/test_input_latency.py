"""``--input-latency auto`` (the default): a real PulseAudio device opens at PortAudio's "low"
latency and, when the driver reports overflows there, reopens once at "high" and says so.

The overflow count is the one the stream callback keeps from PortAudio's ``input_overflow`` flag;
a null sink never overflows on its own, so the test adds to that counter (as the callback would)
in a child process that owns its own PortAudio (pointed at the test's private server)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.runtime.peers import PulseServer

CHILD = r"""
import json, logging, time
from bridge.runtime.events import Events
from bridge.sources import DeviceSource

logging.basicConfig(level=logging.WARNING)
events = Events()
src = DeviceSource("pulse", latency="low", fallback_latency="high")
src.events = events
src.start()
time.sleep(1.3)
first = (src.latency, src.input_latency, src.generation)
src.xruns += 2  # two overflows reported by the driver after the first second
time.sleep(0.6)
blocks = 0
while src.read(timeout=0.2) is not None:
    blocks += 1
time.sleep(0.3)
after = 0
while src.read(timeout=0.2) is not None:
    after += 1
print(json.dumps({"first": first, "now": [src.latency, src.input_latency, src.generation],
                  "state": src.state, "after": after,
                  "events": [e.message for e in events.recent(kind="audio")]}))
src.stop()
"""


@pytest.mark.peers
def test_low_latency_falls_back_to_high_on_overflows_and_says_so():
    pulse = PulseServer().start()
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD], env=pulse.env, capture_output=True,
                              text=True, timeout=60)
    finally:
        pulse.stop()
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    latency, low_s, generation = got["first"]
    assert latency == "low"
    assert got["now"][0] == "high" and got["now"][1] > low_s  # a bigger driver buffer now
    assert got["now"][2] == generation + 1  # a new stream: the engine resets its pipeline
    assert got["state"] == "running" and got["after"] > 10  # audio flows again
    assert len(got["events"]) == 1 and "reopened at 'high'" in got["events"][0]
    assert "overflowed 2 times" in got["events"][0]
