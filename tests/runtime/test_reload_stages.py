"""A mapping change that routes signals of a stage the run did not start with (the mel spectrum,
the musical signals, energy/morph, WLED's GEQ) gets that stage built and the routes sending: the
daemon used to report such a reload as done while those routes stayed silent.

Real ``vjbridge run --demo`` daemons, a UDP receiver reading every packet; the file is edited as
a user's editor saves it, and the control port switches as TouchDesigner's control panel does.
In-process: the engine adds stages between frames without touching the lists readers iterate,
and a stage that cannot start leaves the switch live and says which routes stay dark.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from bridge.runtime.engine import LIVE_SPEC
from bridge.runtime.optional_stages import OptionalStages
from bridge.runtime.pipeline import SignalsStage, build
from tests.runtime.control_peers import ControlClient, StreamReceiver
from tests.runtime.peers import Bridge, free_udp_port

RMS_ONLY = """\
osc:
  td: {{host: 127.0.0.1, port: {port}}}
routes:
  - {{signal: rms, osc: {{target: td, address: /t/rms}}}}
"""
NEW_ROUTES = """\
  - {signal: mel, osc: {target: td, address: /t/mel}}
  - {signal: pitch, osc: {target: td, address: /t/pitch}}
  - {signal: morph, osc: {target: td, address: /t/morph}}
  - {signal: geq, osc: {target: td, address: /t/geq}}
"""


def rms_only(port: int) -> str:
    return RMS_ONLY.format(port=port)


def more(port: int) -> str:
    return RMS_ONLY.format(port=port) + NEW_ROUTES


def _values(rx: StreamReceiver, address: str, t0: float, n: int = 60, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = rx.values(address, t0)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{address}: {len(rx.values(address, t0))} values since the change, "
                         f"addresses seen: {sorted(rx.addresses(t0))}")


def _assert_new_routes_send(rx: StreamReceiver, t0: float) -> None:
    mel = _values(rx, "/t/mel", t0)
    assert all(len(v) == 64 for v in mel) and np.ptp(np.array(mel)) > 0.1
    geq = _values(rx, "/t/geq", t0)
    assert all(len(v) == 16 for v in geq)
    assert _values(rx, "/t/pitch", t0)  # a pitch class: the demo groove sits on one or two
    morph = _values(rx, "/t/morph", t0, n=120)
    assert len(set(morph)) > 30, morph[:20]  # the ramp advances with the music
    assert _values(rx, "/t/rms", t0)  # the route that was there goes on


@pytest.mark.peers
@pytest.mark.slow
def test_an_edited_mapping_that_routes_new_signals_starts_their_stages_once(tmp_path):
    rx = StreamReceiver()
    path = tmp_path / "show.yaml"
    path.write_text(rms_only(rx.port))
    bridge = Bridge("--log-level", "info", "run", "--demo", "--no-models", "--mapping", str(path),
                    "--no-realtime", "--status-interval", "60")
    try:
        bridge.wait_for("Ctrl-C to stop")
        _values(rx, "/t/rms", 0.0)
        path.write_text(more(rx.port))
        line = bridge.wait_for("reloaded: 5 routes", timeout=20)
        assert "started the spectrum, geq, peak, musical, energy stages it routes" in line, line
        t0 = time.monotonic()
        _assert_new_routes_send(rx, t0)
        # back to rms only, then the richer file again: nothing is built a second time
        path.write_text(rms_only(rx.port) + "  - {signal: low, osc: {target: td, "
                        "address: /t/low}}\n")
        bridge.wait_for("reloaded: 2 routes", timeout=20)
        path.write_text(more(rx.port) + "  - {signal: warmth, osc: {target: td, "
                        "address: /t/warmth}}\n")
        line = bridge.wait_for("reloaded: 6 routes", timeout=20)
        assert "started the" not in line, line
        _values(rx, "/t/warmth", time.monotonic())
        assert bridge.stop() == 0, bridge.stderr
    finally:
        bridge.stop()
        rx.close()
    assert sum("stages added for the new mapping" in ln for ln in bridge.err) == 1
    assert "Traceback" not in bridge.stderr


@pytest.mark.peers
@pytest.mark.slow
def test_a_control_port_switch_starts_the_stages_of_its_routes(tmp_path):
    rx = StreamReceiver()
    cport = free_udp_port()
    start = tmp_path / "start.yaml"
    start.write_text(rms_only(rx.port))
    other = tmp_path / "other.yaml"
    other.write_text(more(rx.port))
    bridge = Bridge("--log-level", "info", "run", "--demo", "--no-models", "--mapping", str(start),
                    "--no-realtime", "--control", f"127.0.0.1:{cport}", "--status-interval", "60")
    client = None
    try:
        bridge.wait_for("control port udp://127.0.0.1:")
        _values(rx, "/t/rms", 0.0)
        client = ControlClient(cport)
        reply = client.call("/vjbridge/control/mapping", str(other), timeout=20)
        assert reply[1] == 1, reply
        assert reply[2].startswith(f"mapping {other}: 5 routes") and \
            "started the spectrum, geq, peak, musical, energy stages it routes" in reply[2], reply
        _assert_new_routes_send(rx, time.monotonic())
    finally:
        if client is not None:
            client.close()
        bridge.stop()
        rx.close()
    assert "Traceback" not in bridge.stderr


# ---- in-process ---------------------------------------------------------------------------


def test_missing_names_only_what_the_run_lacks_in_running_order():
    stages = [SignalsStage(LIVE_SPEC)]
    optional = OptionalStages(LIVE_SPEC, stages, segment=(4.0, "beats"))
    assert optional.missing({"rms"}) == []
    assert optional.missing({"morph", "mel", "pitch"}) == ["spectrum", "musical", "energy"]
    built = optional.build({"morph", "mel"})
    assert [s.name for s in built] == ["spectrum", "energy"]
    optional.adopt(built)
    assert optional.missing({"morph", "mel", "z"}) == ["z"]
    assert stages[1:] == built


def test_engine_adds_stages_between_frames_with_new_lists(tmp_path):
    from bridge.runtime.engine import Engine

    class Source:
        def start(self):
            pass

        def stop(self):
            pass

    stages, outputs, _rate = build(LIVE_SPEC, mapping=_write(tmp_path, rms_only), models=[])
    output = outputs[0]
    engine = Engine(Source(), stages, outputs, spec=LIVE_SPEC)
    assert output.stage_sink == engine.add_stages
    before_stages, before_timers = engine.stages, engine.timers
    built = output.optional_stages.build({"mel"})
    engine.add_stages(built)
    assert engine.stages is not before_stages and engine.timers is not before_timers
    assert [s.name for s in engine.stages][-1] == "spectrum" and "spectrum" in engine.timers
    engine.add_stages(OptionalStages(LIVE_SPEC, [], segment=(4.0, "beats")).build({"mel"}))  # a duplicate
    assert [s.name for s in engine.stages].count("spectrum") == 1


def test_a_stage_that_cannot_start_leaves_the_switch_live_and_names_the_dark_routes(
        tmp_path, caplog, monkeypatch):
    from bridge.runtime import stages as stages_module

    stages, outputs, _rate = build(LIVE_SPEC, mapping=_write(tmp_path, rms_only), models=[])
    output = outputs[0]
    output.stage_sink = lambda new: None
    output.start()
    try:
        def broken(self):
            raise RuntimeError("no FFT plan today")

        monkeypatch.setattr(stages_module.SpectrumStage, "start", broken)
        from bridge.mapping.validate import load_mapping

        path = _write(tmp_path, more, name="more.yaml")
        prepared = output.outputs.prepare(load_mapping(path, signals=output.outputs.signals),
                                          path)
        with caplog.at_level(logging.ERROR):
            output.prepare_stages(prepared)
        assert prepared.stages == []
        assert "the spectrum, geq, musical, energy stage could not start (no FFT plan today): " \
               "its routes stay silent" in caplog.text
        assert output.outputs.switch(prepared) == []  # the rest of the mapping goes live
        assert len(output.outputs.mapping.routes) == 5
    finally:
        output.close()


def _write(tmp_path, text, name: str = "m.yaml") -> str:
    path = tmp_path / name
    path.write_text(text(free_udp_port()))
    return str(path)
