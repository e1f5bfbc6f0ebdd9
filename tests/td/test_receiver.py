"""The receiver core with hand-made packets (python-osc builds them) and a fake clock: channel
names, trigger latching, smoothing at any frame rate, silence, subsets, aliases, spectrum, the
_info handshake and hostile input."""

from __future__ import annotations

import json
import math
import socket

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from tests.td.helpers import free_udp_port


def msg(address, *args):
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def bundle(*items):
    b = OscBundleBuilder(IMMEDIATELY)
    for address, value in items:
        m = OscMessageBuilder(address=address)
        m.add_arg(value)
        b.add_content(m.build())
    return b.build().dgram


def info(version="0.1.0", signals=None, digest="0123456789abcdef", control=None):
    schema = {"schema": 1, "version": version, "digest": digest, "rate": 60.0,
              "mapping": "default.yaml", "control": control, "signals": signals or []}
    return msg("/vjbridge/_info", "vjbridge", version, digest, json.dumps(schema))


def sig(address, kind="continuous", n=1, signal=None, rng=(0.0, 1.0), unit=""):
    return {"address": address, "signal": signal or address.rsplit("/", 1)[1], "type": "f",
            "n": n, "range": list(rng), "kind": kind, "unit": unit, "live": True, "extra": 1}


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def rx():
    import vjb_receiver
    clock = Clock()
    lines = []
    r = vjb_receiver.Receiver(port=0, log=lines.append, clock=clock)
    r.clock_ = clock
    r.lines = lines
    return r


def settings(**kw):
    import vjb_channels
    return vjb_channels.Settings(**kw)


def frame(r, s=None, dt=1 / 30):
    r.clock_.t += dt
    return dict(r.frame(s or settings()))


def test_channel_names():
    from vjb_channels import channel_name
    assert channel_name("/vjbridge/motion", "/vjbridge/") == "motion"
    assert channel_name("/low", "/vjbridge/") == "low"
    assert channel_name("/vjbridge/a/b", "/vjbridge/") == "a_b"
    assert channel_name("/other/x-y z", "/vjbridge/") == "other_x_y_z"
    assert channel_name("/vjbridge/", "/vjbridge/") == ""


def test_two_events_between_frames_are_two_pulses(rx):
    rx.feed(bundle(("/vjbridge/kick", 1.0)))
    rx.feed(bundle(("/vjbridge/kick", 0.0)))
    rx.feed(bundle(("/vjbridge/kick", 1.0)))
    out = [frame(rx)["kick"] for _ in range(5)]
    assert out == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert frame(rx)["kick_count"] == 2.0


def test_a_flood_of_events_is_counted_but_not_replayed_for_ever(rx):
    import vjb_channels
    for _ in range(100):
        rx.feed(msg("/vjbridge/kick", 1.0))
    pulses = [frame(rx)["kick"] for _ in range(4 * vjb_channels.MAX_PENDING)]
    assert sum(pulses) == vjb_channels.MAX_PENDING and pulses[-4:] == [0.0] * 4
    assert frame(rx)["kick_count"] == 100.0


def test_same_frame_cooked_twice_keeps_the_pulse():
    import vjb_session
    clock = Clock()
    s = vjb_session.Session(clock=clock, printer=lambda _l: None)
    import vjb_params
    values = {name: default for _p, kind, name, _l, default, _e, _h in vjb_params.all_parameters()
              if kind != "pulse"}
    values["Port"] = free_udp_port()
    s.apply(values)
    s.receiver.feed(msg("/vjbridge/kick", 1.0))
    first = dict(s.frame(7, values))
    second = dict(s.frame(7, values))  # a second cook in the same TouchDesigner frame
    third = dict(s.frame(8, values))
    assert first["kick"] == second["kick"] == 1.0 and third["kick"] == 0.0
    s.close()


def test_trigger_guess_needs_exact_zero_one_values(rx):
    rx.feed(bundle(("/vjbridge/onset", 0.47), ("/vjbridge/beatphase", 1.0)))
    rx.feed(bundle(("/vjbridge/onset", 1.0), ("/vjbridge/beatphase", 0.3)))
    f = frame(rx)
    assert "onset_count" not in f and "beatphase_count" not in f  # both continuous
    assert f["onset"] == 1.0 and f["beatphase"] == pytest.approx(0.3)


def test_schema_kinds_and_order(rx):
    rx.feed(msg("/vjbridge/zzz", 0.5))
    rx.feed(info(signals=[sig("/vjbridge/hit", "trigger"), sig("/vjbridge/motion"),
                          sig("/vjbridge/mel", "spectrum", n=4)]))
    rx.feed(msg("/vjbridge/hit", 1.0))
    rx.feed(msg("/vjbridge/hit", 1.0))
    names = list(frame(rx))
    assert names[:8] == ["hit", "hit_count", "motion", "mel0", "mel1", "mel2", "mel3", "zzz"]
    assert [frame(rx)["hit"] for _ in range(3)] == [0.0, 1.0, 0.0]  # the 2nd queued event


@pytest.mark.parametrize("fps", [24, 30, 60, 120])
def test_smoothing_means_the_same_at_any_frame_rate(rx, fps):
    s = settings(smoothing=0.5)
    rx.feed(msg("/vjbridge/low", 0.0))
    frame(rx, s, 1 / fps)
    for _ in range(fps):  # one second of a step from 0 to 1, fed every frame
        rx.feed(msg("/vjbridge/low", 1.0))
        rx.feed(msg("/vjbridge/kick", 1.0))
        out = frame(rx, s, 1 / fps)
    assert out["low"] == pytest.approx(1 - math.exp(-1 / 0.5), abs=1e-6)
    assert out["kick"] in (0.0, 1.0)  # triggers are never smoothed


def test_smoothing_per_channel_overrides(rx):
    s = settings(smoothing=0.0, smoothing_overrides="mid=1.0 bad=x")
    assert s.bad_overrides == ["bad=x"]
    rx.feed(bundle(("/vjbridge/low", 0.0), ("/vjbridge/mid", 0.0)))
    frame(rx, s, 0.1)
    rx.feed(bundle(("/vjbridge/low", 1.0), ("/vjbridge/mid", 1.0)))
    f = frame(rx, s, 0.1)
    assert f["low"] == 1.0 and f["mid"] == pytest.approx(1 - math.exp(-0.1))


def test_hold_or_zero_on_silence(rx):
    rx.feed(bundle(("/vjbridge/bpm", 124.0), ("/vjbridge/kick", 0.0)))
    assert frame(rx)["bpm"] == 124.0
    rx.clock_.t += 2.0
    assert frame(rx, settings(silence="hold", timeout=1.0))["bpm"] == 124.0
    assert frame(rx, settings(silence="zero", timeout=1.0))["bpm"] == 0.0
    assert frame(rx, settings(silence="zero", timeout=5.0))["bpm"] == 124.0
    f = frame(rx)
    assert f["connected"] == 0.0 and f["last_packet_age"] > 2.0


def test_channel_subset(rx):
    rx.feed(bundle(("/vjbridge/low", 0.1), ("/vjbridge/kick", 0.0), ("/vjbridge/motion", 0.2)))
    f = frame(rx, settings(channels="low kick* ^kick_count"))
    signals = [n for n in f if n not in ("connected", "packets_per_sec", "last_packet_age",
                                         "version_match", "dropped_packets")]
    assert signals == ["low", "kick"]


def test_audioanalysis_aliases_from_the_default_mapping(rx):
    rx.feed(bundle(("/vjbridge/beat", 1.0), ("/vjbridge/spectralcentroid", 5512.5),
                   ("/vjbridge/low", 0.4)))
    f = frame(rx)
    assert f["rythm"] == 1.0 and f["beat"] == 1.0
    assert f["spectralcentroid"] == pytest.approx(0.5) and f["spectralcentroid_hz"] == 5512.5
    assert f["mid"] == 0.0 and f["high"] == 0.0 and f["kick"] == 0.0  # always offered
    rx.feed(msg("/vjbridge/spectralcentroid", 30000.0))
    assert frame(rx)["spectralcentroid"] == 1.0  # clipped
    rx.feed(msg("/vjbridge/spectralcentroidnorm", 0.25))
    assert frame(rx)["spectralcentroid"] == 0.25  # the daemon's own normalised value wins


def test_audioanalysis_mapping_addresses(rx):
    rx.feed(bundle(("/low", 0.3), ("/spectralcentroid", 0.2), ("/rythm", 1.0), ("/kick", 0.0)))
    f = frame(rx)
    assert f["low"] == pytest.approx(0.3) and f["spectralcentroid"] == pytest.approx(0.2)
    assert "spectralcentroid_hz" not in f
    assert f["rythm"] == 1.0 and f["rythm_count"] == 1.0


def test_schema_says_hz(rx):
    rx.feed(info(signals=[sig("/vjbridge/spectralcentroid", rng=(0, 11025), unit="Hz")]))
    rx.feed(msg("/vjbridge/spectralcentroid", 0.5))  # a quiet frame: still Hz, per the schema
    f = frame(rx)
    assert f["spectralcentroid_hz"] == 0.5 and f["spectralcentroid"] == pytest.approx(0.5 / 11025)


def test_spectrum_channels_and_toggle(rx):
    rx.feed(msg("/vjbridge/mel", *[i / 63 for i in range(64)]))
    f = frame(rx)
    assert [f"mel{i}" for i in range(64)] == [n for n in f if n.startswith("mel")]
    assert f["mel63"] == pytest.approx(1.0)
    assert not any(n.startswith("mel") for n in frame(rx, settings(spectrum=False)))


def test_colour_channels_stay_when_the_spectrum_is_off(rx):
    rx.feed(info(signals=[sig("/vjbridge/colour", "colour", n=3), sig("/vjbridge/mel", "spectrum", n=4)]))
    rx.feed(msg("/vjbridge/colour", 1.0, 0.5, 0.25))
    rx.feed(msg("/vjbridge/mel", 0.1, 0.2, 0.3, 0.4))
    f = frame(rx, settings(spectrum=False))
    assert [f[f"colour{i}"] for i in range(3)] == [1.0, 0.5, 0.25]
    assert not any(n.startswith("mel") for n in f)


def test_version_mismatch_warns_once(rx):
    for _ in range(5):
        rx.feed(info(version="9.9.9"))
        f = frame(rx)
    warnings = [l for l in rx.lines if "version mismatch" in l]
    assert len(warnings) == 1 and "9.9.9" in warnings[0] and "0.1.0" in warnings[0]
    assert f["version_match"] == 0.0
    rx.feed(info(version="0.1.0"))
    assert frame(rx)["version_match"] == 1.0
    rx.feed(info(version="2.0.0"))
    assert len([l for l in rx.lines if "version mismatch" in l]) == 2


def test_info_exposes_digest_control_and_live_signals(rx):
    rx.feed(info(signals=[sig("/vjbridge/motion"), dict(sig("/vjbridge/r"), live=False)],
                 control={"host": "127.0.0.1", "port": 7001}))
    assert rx.info.digest == "0123456789abcdef" and rx.info.control == ("127.0.0.1", 7001)
    assert [s.address for s in rx.info.live_signals()] == ["/vjbridge/motion"]


@pytest.mark.parametrize("args", [
    ["vjbridge", "0.1.0", "0123456789abcdef", "{not json"],
    ["vjbridge", "0.1.0", "0123456789abcdef", json.dumps({"signals": "x"})],
    ["vjbridge", "0.1.0", "0123456789abcdef", json.dumps({"signals": [{"address": 3}]})],
    ["vjbridge", "0.1.0", "0123456789abcdef", json.dumps({"signals": [{"address": "/a",
                                                                       "kind": "boom"}]})],
    ["vjbridge", "0.1.0", "0123456789abcdef", json.dumps({"signals": [{"address": "/a",
                                                                       "n": True}]})],
    ["vjbridge", "0.1.0", "0123456789abcdef", json.dumps({"signals": [{"address": "/a",
                                                                       "range": [0, "x"]}]})],
    ["vjbridge", "0.1.0", "0123456789abcdef", "[" * 100000 + "]" * 100000],
    ["vjbridge", "0.1.0", "0123456789abcdef", json.dumps([1, 2])],
    ["vjbridge", "0.1.0", "0123456789abcdef", json.dumps({"pad": "x" * 300000})],
    ["vjbridge", "0.1.0", "NOTHEX", "{}"],
    ["other", "0.1.0", "0123456789abcdef", "{}"],
    ["vjbridge", 1, "0123456789abcdef", "{}"],
    ["vjbridge"],
])
def test_hostile_info_is_one_log_line_never_an_exception(rx, args):
    import vjb_osc
    packet = vjb_osc.encode_message("/vjbridge/_info", args)
    for _ in range(3):
        rx.feed(packet)
        f = frame(rx)
    assert len([l for l in rx.lines if "bad _info" in l]) == 1, rx.lines
    assert rx.info is None and f["version_match"] == -1.0


def test_malformed_and_huge_packets_are_dropped_and_counted(rx):
    rx.feed(b"\x00garbage")
    rx.feed(b"/x\0\0,f\0\0")  # truncated float
    rx.feed(b"#bundle\0" + b"\xff" * 65000)
    rx.feed(msg("/vjbridge/low", "a string, not a number"))
    rx.feed(msg("/vjbridge/low", 0.5))
    f = frame(rx)
    assert f["dropped_packets"] == 3.0 and f["low"] == 0.5


def test_packets_per_second(rx):
    for _ in range(60):
        rx.feed(msg("/vjbridge/low", 0.5))
        rx.clock_.t += 1 / 60
    f = dict(rx.frame(settings()))
    assert 58 <= f["packets_per_sec"] <= 60 and f["connected"] == 1.0


def test_port_in_use_is_a_clear_status():
    import vjb_receiver
    port = free_udp_port()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", port))
    lines = []
    try:
        r = vjb_receiver.Receiver(port=port, log=lines.append)
        assert r.open() is False
        assert r.status == (f"port {port} is in use by another program (another OSC In CHOP/DAT?): "
                            "choose another Port on the component and the daemon")
        assert lines == [r.status]
        assert dict(r.frame(settings()))["connected"] == 0.0  # still cooks
    finally:
        blocker.close()
    assert r.open() is True
    r.close()
    assert r.sock is None and r.status == "closed"
    again = vjb_receiver.Receiver(port=port)
    assert again.open()  # close() really released the port
    again.close()


def test_real_socket_drains_everything_waiting():
    import vjb_receiver
    port = free_udp_port()
    r = vjb_receiver.Receiver(port=port)
    assert r.open()
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(200):
        out.sendto(msg("/vjbridge/kick", 1.0 if i % 2 else 0.0), ("127.0.0.1", port))
    out.close()
    import time
    time.sleep(0.2)
    f = dict(r.frame(settings()))
    assert f["kick_count"] == 100.0 and r.packets == 200
    r.close()
