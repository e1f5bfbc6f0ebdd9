"""The unmodified Script CHOP callbacks against a real ``vjbridge run --demo`` stream, in stand-in
projects cooking at 24, 30, 60 and 120 fps at the same time (plus a 30 fps project that zeroes on
silence and one that smooths). A tee between the daemon and the projects decodes every datagram with
python-osc and counts the trigger events the daemon really sent."""

from __future__ import annotations

import json
import signal
import statistics
import time

import pytest

from tests.td.helpers import Daemon, Project, Tee, free_udp_port, run

pytestmark = [pytest.mark.peers, pytest.mark.slow]

RATES = (24, 30, 60, 120)
SIGNALS = {"motion", "weight", "low", "mid", "high", "rms", "onset", "kick", "snare", "beat",
           "bpm", "spectralcentroid_hz"}
ALIASES = {"low", "mid", "high", "spectralcentroid", "kick", "snare", "rythm"}
STATUS = {"connected", "packets_per_sec", "last_packet_age", "version_match", "dropped_packets",
          "daemon_running"}
UNIT = ("motion", "weight", "low", "mid", "high", "rms", "onset", "spectralcentroid")


def live_frames(run_, p):
    """Frames from half a second after the first data to the daemon's death."""
    first = next(i for i, f in enumerate(p.frames) if "motion" in f)
    return p.frames[first + int(p.fps * 0.5):run_["marks"][id(p)]]


def total_variation(xs):
    return sum(abs(b - a) for a, b in zip(xs, xs[1:]))


@pytest.fixture(scope="module")
def session_run():
    projects = {fps: Project(fps, free_udp_port()) for fps in RATES}
    zero = Project(30, free_udp_port(), Silence="zero")
    smooth = Project(30, free_udp_port(), Smoothing=0.5)
    every = [*projects.values(), zero, smooth]
    tee = Tee([p.chop.par.Port.val for p in every])
    daemon = Daemon(tee.port)
    try:
        # a loaded CI box can take tens of seconds to start the daemon: wait for its stream, then
        # cook 10 s of it
        run(every, 90.0, until=lambda: tee.datagrams > 0)
        run(every, 10.0)
        marks = {id(p): len(p.frames) for p in every}
        before_kill = {id(p): dict(p.frames[-1]) for p in every}
        daemon.stop(signal.SIGKILL)  # no idle values at exit: silence as a crash leaves it
        time.sleep(0.2)
        run(every, 1.8)
        yield {"projects": projects, "zero": zero, "smooth": smooth, "tee": tee, "marks": marks,
               "before_kill": before_kill, "daemon": daemon}
    finally:
        daemon.stop()
        tee.close()
        for p in every:
            p.close()


def test_channel_names_at_every_rate(session_run):
    tee = session_run["tee"]
    assert tee.infos, "the daemon sent no /vjbridge/_info"
    for fps, p in session_run["projects"].items():
        names = set(p.frames[-1])
        missing = (SIGNALS | ALIASES | STATUS | {"kick_count", "snare_count", "beat_count"}) - names
        assert not missing, f"{fps} fps: missing {sorted(missing)}"
        assert p.chop.rate == fps and p.chop.numSamples == 1
        # order is stable: the daemon's schema order (its _info), r g b included though the
        # default mapping's colour model is not loaded (live: false)
        # a message of n values (the colour: 3) is n channels, name0 .. name{n-1}
        schema = [s["address"].rsplit("/", 1)[1] + (str(i) if s["n"] > 1 else "")
                  for s in json.loads(tee.infos[0][3])["signals"] for i in range(s["n"])]
        shown = [n if n != "spectralcentroid" else "spectralcentroid_hz" for n in schema]
        assert [n for n in p.frames[-1] if n in shown] == shown
        assert {"r", "g", "b"} <= names


def test_value_ranges(session_run):
    for fps, p in session_run["projects"].items():
        live = live_frames(session_run, p)
        for name in UNIT:
            xs = [f[name] for f in live]
            assert min(xs) >= 0.0 and max(xs) <= 1.0, (fps, name, min(xs), max(xs))
        for name in ("low", "rms", "spectralcentroid"):
            assert max(f[name] for f in live) > 0.05, (fps, name)  # the groove really moves them
        assert all(0.0 <= f["bpm"] <= 200.0 for f in live)
        assert max(f["bpm"] for f in live) > 60.0
        assert all(0.0 <= f["spectralcentroid_hz"] <= 11025.0 for f in live)
        ratio = [f["spectralcentroid"] * 11025.0 - f["spectralcentroid_hz"] for f in live]
        assert max(abs(r) for r in ratio) < 1e-3  # normalised = Hz / 11025 (clipped)
        for name in ("kick", "snare", "beat", "rythm"):
            assert {f[name] for f in live} <= {0.0, 1.0}


def test_every_trigger_arrives_once_and_lasts_one_frame(session_run):
    tee = session_run["tee"]
    sent = {a.rsplit("/", 1)[1]: tee.count(a) for a in ("/vjbridge/kick", "/vjbridge/snare",
                                                       "/vjbridge/beat")}
    assert sent["kick"] >= 8 and sent["snare"] >= 8 and sent["beat"] >= 3, sent
    for p in [*session_run["projects"].values(), session_run["zero"], session_run["smooth"]]:
        for name, n in sent.items():
            xs = p.series(name)
            assert sum(xs) == n, f"{p.fps} fps {name}: {sum(xs)} pulses, daemon sent {n}"
            assert p.frames[-1][f"{name}_count"] == n
            assert not any(a == 1.0 and b == 1.0 for a, b in zip(xs, xs[1:])), \
                f"{p.fps} fps {name}: a pulse lasted more than one frame"
        both = [(f["rythm"], f["beat"]) for f in p.frames if "beat" in f]
        assert all(r == b for r, b in both)  # audioAnalysis's rythm is vjbridge's beat
        assert sum(r for r, _ in both) == sent["beat"]


def test_status_channels(session_run):
    tee = session_run["tee"]
    for fps, p in session_run["projects"].items():
        live = live_frames(session_run, p)
        assert all(f["connected"] == 1.0 for f in live), fps
        pps = statistics.median(f["packets_per_sec"] for f in live)
        rate = json.loads(tee.infos[0][3])["rate"]  # the daemon's output rate: a bundle a tick
        # ...plus the event packets sent ahead of their tick: what the tee counted, per second
        seen = (len(tee.stamps) - 1) / (tee.stamps[-1] - tee.stamps[0])
        assert rate <= seen <= 1.5 * rate, (seen, rate)
        assert abs(pps - seen) <= 0.15 * seen, (fps, pps, seen)
        assert statistics.median(f["last_packet_age"] for f in live) < 0.1
        assert live[-1]["dropped_packets"] == 0.0
        assert live[-1]["version_match"] == 1.0  # the daemon's _info says 0.1.0, as we are
        after = p.frames[-1]
        assert after["connected"] == 0.0 and after["last_packet_age"] > 1.0
        assert after["packets_per_sec"] == 0.0


def test_hold_or_zero_after_the_daemon_dies(session_run):
    hold = session_run["projects"][30]
    zero = session_run["zero"]
    before = session_run["before_kill"]
    last = session_run["tee"].last
    for name in ("bpm", "low", "rms"):
        assert hold.frames[-1][name] == last[f"/vjbridge/{name}"]  # the last value sent, held
        assert hold.frames[-1][name] > 0.0
        assert zero.frames[-1][name] == 0.0
    assert before[id(zero)]["bpm"] > 60.0  # it had live values before the silence


def test_smoothing_follows_the_signal_slower(session_run):
    raw = session_run["projects"][30]
    smooth = session_run["smooth"]
    a = [f["low"] for f in live_frames(session_run, raw)]
    b = [f["low"] for f in live_frames(session_run, smooth)]
    assert total_variation(b) < 0.5 * total_variation(a)
    assert abs(statistics.mean(a) - statistics.mean(b)) < 0.1
    assert smooth.series("kick") and sum(smooth.series("kick")) == sum(raw.series("kick"))
