"""MIDI beat clock from the tempo, through JACK MIDI to jack_midi_dump (an independent receiver).

A mapping with ``{signal: bpm, midi: {target: desk, clock: true}}`` runs through the real router and
MIDI sink; the test ticks it at 60 Hz as the engine does and reads the bytes and their times back
from ``jack_midi_dump -a``. The JACK server runs 128-frame cycles (2.67 ms), realtime so that the
other tests on this 2-core machine do not make it drop events in xruns: rtmidi hands JACK each
event at the start of a cycle, so single spacings are quantised to that; the mean over seconds is
what a desk's speed master locks to.
"""

import statistics
import time

import pytest

from bridge.errors import MappingError
from bridge.mapping import Outputs
from bridge.mapping.router import Router
from bridge.mapping.validate import validate
from bridge.sinks import MidiCC, MidiSink
from bridge.sinks.messages import MidiClock
from tests.peers import JackServer, MidiDump, jack_default_server

CLOCK, START, STOP = [0xF8], [0xFA], [0xFC]


@pytest.fixture(scope="module")
def jack():
    with JackServer(period=128, realtime=True) as server, jack_default_server(server):
        yield server


@pytest.fixture
def dump(jack, request):
    with MidiDump(jack, client=f"ck{abs(hash(request.node.name)) % 10**6}") as d:
        yield d


def _mapping(tmp_path, dump) -> str:
    path = tmp_path / "clock.yaml"
    path.write_text(f"midi:\n  desk: {{port: '{dump.port}'}}\nroutes:\n"
                    "  - {signal: bpm, midi: {target: desk, clock: true}}\n")
    return str(path)


def _tick(outputs, bpm, seconds: float, rate: float = 60.0, marks: list | None = None) -> None:
    """The engine's part: route and send the tempo ``rate`` times a second. ``marks``: also send
    a marker CC (channel 16, CC 119) on the first tick and after the last, appending the
    monotonic time each was sent at."""
    t0 = time.monotonic()
    n = 0
    while True:
        due = t0 + n / rate
        if due - t0 >= seconds:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        outputs.tick({"bpm": bpm(time.monotonic() - t0) if callable(bpm) else bpm})
        if marks is not None and n == 0:
            _mark(outputs, marks)
        n += 1
    if marks is not None:
        _mark(outputs, marks)


def _mark(outputs, marks: list) -> None:
    marks.append(time.monotonic())
    outputs.sinks[("midi", "desk")].send([MidiCC(15, 119, len(marks))])


def _jack_seconds(timed, marks: list) -> tuple[float, float, float]:
    """(first marker's dump time, last marker's, JACK seconds per real second between them).

    The dummy driver has no sound card clock: under CPU load (other tests, 2 cores) its cycles
    run late and its frame clock - jack_midi_dump's timestamps - falls 2-4 % behind real time.
    The markers went out at known monotonic times through the same port, so their spacing at the
    dump measures that; the clock spacing is converted back to real time with it."""
    at = [t for t, raw in timed if raw[:2] == [0xBF, 119]]
    assert len(at) == len(marks) == 2, (at, marks, [ln for ln in timed if ln[1][0] not in (0xF8,)][:12])
    ratio = (at[1] - at[0]) / (marks[1] - marks[0])
    assert 0.8 < ratio < 1.05, ratio  # a JACK clock far off would say the test is broken
    return at[0], at[1], ratio


def _clocks(timed, lo: float, hi: float, ratio: float) -> list[float]:
    """The real times (s, from lo) of the timing clocks the dump saw between lo and hi."""
    return [(t - lo) / ratio for t, raw in timed if raw == CLOCK and lo <= t <= hi]


def _wait_for_stop(dump, after: int = 0, timeout: float = 10.0) -> None:
    """Until the newest event (past the first ``after``; the channel-16 markers and the All
    Notes Off on close left out) is a Stop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = [e for e in dump.events()[after:] if e[0] != 0xBF]
        if events and events[-1] == STOP:
            return
        time.sleep(0.02)
    raise AssertionError(f"no Stop at jack_midi_dump; last events {dump.events()[-5:]}; "
                         f"jackd: {dump.jack.log.read_text()[-600:]}")


def _gaps(times: list[float]) -> list[float]:
    return [(b - a) * 1000.0 for a, b in zip(times, times[1:])]


def _most_in_window(times: list[float], window: float) -> int:
    """The most clocks within any ``window`` seconds: a burst (catching up) packs many."""
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        most = max(most, i - j + 1)
    return most


def test_120_bpm_is_24_evenly_spaced_clocks_per_beat_with_start_and_stop(tmp_path, dump):
    marks: list = []
    with Outputs(_mapping(tmp_path, dump)) as outputs:
        _tick(outputs, 0.0, 0.3)  # no tempo yet: nothing at all
        assert dump.events() == []
        _tick(outputs, 120.0, 1.0)  # the first beats (a new JACK client's first cycles can lag)
        _tick(outputs, 120.0, 4.0, marks=marks)  # measured: marker, 4 s of clock, marker
        _tick(outputs, 0.0, 0.3)  # the tracker lost the tempo: Stop
        _wait_for_stop(dump)
        timed = dump.timed_events()
        kinds = [raw for _t, raw in timed if raw[0] != 0xBF]
        assert kinds[0] == START and kinds[1] == CLOCK and kinds[-1] == STOP
        assert set(map(tuple, kinds[1:-1])) == {tuple(CLOCK)}
        assert 5.0 * 48 * 0.9 <= len(kinds) - 2 <= 5.0 * 48 * 1.05  # 48 a second at 120 BPM
        lo, hi, ratio = _jack_seconds(timed, marks)
        times = _clocks(timed, lo, hi, ratio)
        mean = (times[-1] - times[0]) * 1000.0 / (len(times) - 1)
        assert abs(mean - 60000 / (120 * 24)) < 0.02 * 20.833, (mean, ratio)  # within 2 %
        gaps = _gaps(times)
        # generous bounds for single spacings: JACK delivers on 2.67 ms cycles, and on a loaded
        # machine a late cycle carries two clocks; but not the 16.7/33.3 ms of 60 Hz ticks
        assert abs(statistics.median(gaps) - 20.833) < 3.0, gaps
        assert sum(abs(g - 20.833) < 8.0 for g in gaps) >= 0.8 * len(gaps), gaps
        assert max(gaps) < 150.0, gaps
        # a new tempo: Start again, then on exit (close) Stop
        count = len(timed)
        _tick(outputs, 100.0, 1.0)
    _wait_for_stop(dump, count)
    kinds = [raw for _t, raw in dump.timed_events()[count:] if raw[0] != 0xBF]
    assert kinds[0] == START and kinds[-1] == STOP
    assert kinds[1:-1] == [CLOCK] * (len(kinds) - 2)


def test_a_tempo_change_takes_effect_without_a_burst(tmp_path, dump):
    marks: list = []
    with Outputs(_mapping(tmp_path, dump)) as outputs:
        _tick(outputs, 120.0, 1.0)
        _tick(outputs, lambda t: 120.0 if t < 2.0 else 90.0, 4.0, marks=marks)
    _wait_for_stop(dump)
    timed = dump.timed_events()
    lo, hi, ratio = _jack_seconds(timed, marks)
    times = _clocks(timed, lo, hi, ratio)
    # no catching up: in any 200 ms at most the 9.6 clocks of 120 BPM and a late cycle's extra
    assert _most_in_window(times, 0.2) <= 12, _most_in_window(times, 0.2)
    # 0..1.8 s at 120 BPM: 20.83 ms apart; the last 1.8 s at 90 BPM: 27.78 ms
    early = [t for t in times if t < 1.8]
    late = [t for t in times if t > times[-1] - 1.8]
    assert abs((early[-1] - early[0]) / (len(early) - 1) * 1000 - 20.833) < 0.03 * 20.833
    assert abs((late[-1] - late[0]) / (len(late) - 1) * 1000 - 27.778) < 0.03 * 27.778


def test_blackout_stops_the_clock_and_a_stalled_engine_stops_it_too(dump):
    sink = MidiSink("desk", port=dump.port, backend="jack")
    try:
        sink.set_idle([MidiClock(0.0)])
        for _ in range(30):
            sink.send([MidiClock(125.0)])
            time.sleep(1 / 60)
        sink.blackout()  # on_loss: idle, or the control port's blackout
        events = dump.wait_for(3)
        time.sleep(0.2)
        events = dump.events()
        assert events[0] == START and events[-1] == STOP
        count = len(events)
        time.sleep(0.3)
        assert len(dump.events()) == count  # stopped stays stopped
        sink.send([MidiClock(125.0)])  # the tempo again, then the engine stops sending
        started = time.monotonic()
        dump.wait_for(count + 2)
        while dump.events()[-1] != STOP and time.monotonic() - started < 10:
            time.sleep(0.05)
        waited = time.monotonic() - started
        events = dump.events()
        assert events[count] == START and events[-1] == STOP
        assert 1.5 < waited < 5.0, waited  # the clock's 2 s timeout, not for ever
    finally:
        sink.close()
    assert dump.events()[-1] == STOP  # nothing after the Stop: close had no clock to stop


def test_the_router_hands_the_clock_the_tempo_itself():
    """The route's default in/out (0..1, clamped) would make 120 BPM a 1.0: a clock route's
    transforms are off, so the tempo passes as it is."""
    m = validate({"midi": {"desk": {}}, "routes": [{"signal": "bpm", "midi": {"clock": True}}]})
    router = Router(m)
    assert router.tick({"bpm": 0.0}) == {("midi", "desk"): [MidiClock(0.0)]}
    assert router.tick({"bpm": 123.5}) == {("midi", "desk"): [MidiClock(123.5)]}
    assert router.tick({}) == {("midi", "desk"): [MidiClock(123.5)]}  # held
    assert router.idle() == {("midi", "desk"): [MidiClock(0.0)]}


@pytest.mark.parametrize("route, problem", [
    ({"signal": "bpm", "midi": {"clock": True, "cc": 3}},
     "routes[0].midi.cc: a clock route sends beat clock only; remove `cc` (route the signal "
     "again for a CC or a note)"),
    ({"signal": "bpm", "midi": {"clock": True, "note": 36}},
     "routes[0].midi.note: a clock route sends beat clock only; remove `note` (route the signal "
     "again for a CC or a note)"),
    ({"signal": "kick", "midi": {"clock": True}},
     "routes[0].midi.clock: 'kick' is not a tempo signal (it is trigger); route `signal: bpm` to "
     "the clock"),
    ({"signal": "bpm", "midi": {"clock": True}, "in": [60, 180], "attack_ms": 50},
     "routes[0].in: this route's midi output takes the signal's own value, so transforms do not "
     "apply; remove `in`, `attack_ms`"),
])
def test_a_bad_clock_route_is_one_line_with_its_key_path(route, problem):
    with pytest.raises(MappingError) as info:
        validate({"routes": [route]})
    assert info.value.problems == [problem]


def test_one_clock_per_target(tmp_path):
    from bridge.mapping.validate import load_mapping

    path = tmp_path / "two.yaml"
    path.write_text("routes:\n  - {signal: bpm, midi: {clock: true}}\n"
                    "  - {signal: bpm, midi: {clock: true}}\n")
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert info.value.problems == ["routes[1].midi.clock: midi target 'default' already has a "
                                   "clock (routes[0]); one clock per target"]


def test_the_clock_thread_ends_on_close(dump):
    sink = MidiSink("desk", port=dump.port, backend="jack")
    sink.send([MidiClock(140.0)])
    thread = sink.clock._thread
    assert thread.is_alive() and thread.daemon
    sink.close()
    assert not thread.is_alive()


def test_a_reload_keeps_a_running_clock_and_one_without_the_route_stops_it(tmp_path, dump):
    path = _mapping(tmp_path, dump)
    with Outputs(path) as outputs:
        _tick(outputs, 120.0, 0.5)
        # the same clock route plus a CC: the clock runs on, no Stop/Start in between
        with open(path, "a") as f:
            f.write("  - {signal: low, midi: {target: desk, cc: 7}}\n")
        assert outputs.reload() == []
        _tick(outputs, 120.0, 0.5)
        kinds = [raw for raw in dump.events() if raw[0] != 0xB0]
        assert kinds[0] == START and set(map(tuple, kinds[1:])) == {tuple(CLOCK)}
        # a mapping without the clock route: Stop at once (not after the 2 s timeout)
        path2 = tmp_path / "cc.yaml"
        path2.write_text(f"midi:\n  desk: {{port: '{dump.port}'}}\nroutes:\n"
                         "  - {signal: low, midi: {target: desk, cc: 7}}\n")
        assert outputs.reload(path2) == []
        started = time.monotonic()
        _tick(outputs, 120.0, 0.3)
        while dump.events()[-1] != STOP and time.monotonic() - started < 5:
            time.sleep(0.02)
        assert dump.events()[-1] == STOP and time.monotonic() - started < 1.0  # timeout: 2 s


def test_vjbridge_run_drives_the_clock_from_the_beat_tracker(tmp_path, jack, dump):
    """The user's path: ``vjbridge run --demo`` (a 124 BPM groove) with a clock route; the
    tracker finds the tempo after a few seconds, the desk sees Start, clocks at that tempo, and
    Stop on exit."""
    import subprocess
    import sys
    from pathlib import Path

    mapping = tmp_path / "clock.yaml"
    mapping.write_text("midi: {desk: {}}\nroutes:\n  - {signal: bpm, midi: {clock: true}}\n")
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "bridge.cli", "run", "--demo", "--no-models",
                           "--mapping", str(mapping), "--midi", dump.port, "--duration", "12",
                           "--no-realtime"], env=dict(jack.env, PYTHONPATH=str(repo)), cwd=repo,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    time.sleep(0.3)
    timed = dump.timed_events()
    kinds = [raw for _t, raw in timed]
    assert kinds[0] == START and kinds[-1] == STOP and kinds.count(START) == 1, kinds[:5]
    clocks = [t for t, raw in timed if raw == CLOCK]
    assert len(clocks) > 100, len(clocks)  # seconds of clock after the tracker locked
    bpm = 60.0 / 24 / ((clocks[-1] - clocks[0]) / (len(clocks) - 1))
    assert 118.0 < bpm < 130.0, bpm  # the groove's 124 BPM, as the tracker estimates it


def test_the_stream_schema_names_a_clock_route():
    """What /vjbridge/_info and `vjbridge schema`-style text say about a clock route."""
    from bridge.runtime.stream_schema import describe, to_text
    from bridge.signals.catalog import CATALOG

    m = validate({"midi": {"desk": {}}, "routes": [{"signal": "bpm", "midi": {"clock": True}}]},
                 signals=CATALOG)
    schema = describe(m, CATALOG)
    assert schema["midi"] == [{"target": "desk", "signal": "bpm", "channel": 1, "kind": "tempo",
                               "live": True, "message": "clock"}]
    assert "midi desk: beat clock (24 ppq) [tempo] bpm" in to_text(schema)
