"""``--input-latency auto`` (the default): a real PulseAudio device opens at PortAudio's "low"
input latency and, when the driver reports overflows there, reopens once at "high" and says so.

The overflow count is the one the stream callback keeps from PortAudio's ``input_overflow`` flag; a
null sink never overflows on its own, so the child adds to that counter (as the callback would). It
runs in its own process so it owns its PortAudio, pointed at the test's private server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bridge.commands.run import _latency
from bridge.errors import ConfigError
from tests.runtime.peers import PulseServer

CHILD = r"""
import json, logging, sys, time
from bridge.runtime.events import Events
from bridge.sources import DeviceSource

logging.basicConfig(level=logging.WARNING)
events = Events()
src = DeviceSource("pulse", latency=sys.argv[1])
src.events = events
src.start()
time.sleep(1.3)
first = [src.latency, src.input_latency, src.generation]
src.xruns += 2  # two overflows reported by the driver after the stream's first second
time.sleep(0.6)  # the supervisor reopens the stream
def count(seconds):  # blocks read in `seconds` (the stream never pauses: a bounded drain)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        n += src.read(timeout=0.05) is not None
    return n
count(0.5)
after = count(0.5)
print(json.dumps({"first": first, "now": [src.latency, src.input_latency, src.generation],
                  "state": src.state, "after": after,
                  "events": [e.message for e in events.recent(kind="audio")]}))
src.stop()
"""


@pytest.fixture(scope="module")
def pulse():
    server = PulseServer().start()
    yield server
    server.stop()


def _child(pulse, latency: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, latency], env=pulse.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.peers
def test_auto_opens_low_and_falls_back_to_high_on_overflows_and_says_so(pulse):
    got = _child(pulse, "auto")
    latency, low_s, generation = got["first"]
    assert latency == "low"
    assert got["now"][0] == "high" and got["now"][1] > low_s  # a bigger driver buffer now
    assert got["now"][2] == generation + 1  # a new stream: the engine resets its pipeline
    assert got["state"] == "running" and got["after"] > 10  # audio flows again
    assert len(got["events"]) == 1, got["events"]
    assert "overflowed 2 times at input latency 'low': reopened at 'high'" in got["events"][0]


@pytest.mark.peers
def test_a_chosen_latency_never_changes_by_itself(pulse):
    got = _child(pulse, "low")
    assert got["first"][0] == got["now"][0] == "low"
    assert got["now"][2] == got["first"][2]  # the same stream
    assert got["events"] == []


@pytest.mark.parametrize("text", ["auto", "low", "high", "0.02", "2"])
def test_the_latencies_run_accepts(text):
    assert _latency(text) == (text if text.isalpha() else float(text))


@pytest.mark.parametrize("text", ["", "fast", "0", "-1", "3", "nan", "inf"])
def test_the_latencies_run_refuses_name_the_choices(text):
    with pytest.raises(ConfigError, match=r"--input-latency: .* is not low, high, auto or "
                                          r"seconds in \(0, 2\]"):
        _latency(text)
