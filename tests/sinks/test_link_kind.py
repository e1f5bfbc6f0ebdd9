"""The link kind's declaration and checks through the mapping validator (key paths, did-you-mean),
the run config's ``link`` key, the --link stage's beat logic on given session states, and the one
line a missing aalink gives. The session itself is tested against a real second Link peer in
tests/runtime/test_link_peers.py."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bridge.errors import MappingError, RunConfigError
from bridge.mapping.schema import schema_markdown
from bridge.mapping.validate import kind_problems, validate
from bridge.runtime.runconfig import validate_config
from bridge.sinks import KINDS
from bridge.sinks.kind import RouteInfo
from bridge.sinks.link import LinkValue
from bridge.sinks.link_kind import LINK_KIND, BeatOutput, TempoOutput
from bridge.sinks.link_session import LinkState

ROOT = Path(__file__).resolve().parents[2]


def _problems(text: str) -> list[str]:
    try:
        mapping = validate(yaml.safe_load(text))
    except MappingError as exc:
        return exc.problems
    return kind_problems(mapping)


def test_registered_with_both_sections():
    assert KINDS["link"] is LINK_KIND
    assert LINK_KIND.target.names == ["quantum", "align_tolerance"]
    assert LINK_KIND.route.option("field").choices == ("tempo", "beat")
    assert LINK_KIND.route.option("field").default == "tempo"
    doc = schema_markdown()
    assert "`link.NAME.quantum`" in doc and "`routes[i].link.field`" in doc


def test_a_good_mapping_validates_and_gives_tempo_and_beat_outputs():
    mapping = validate(yaml.safe_load("""
link: {session: {quantum: 3}}
routes:
  - {signal: bpm, link: {}, in: [0, 200], out: [0, 200]}
  - {signal: beat, link: {field: beat}}
"""))
    assert kind_problems(mapping) == []
    assert dict(mapping.targets["link"]["session"]) == {"quantum": 3.0, "align_tolerance": 0.05}
    tempo_route, beat_route = mapping.routes
    info = RouteInfo("bpm", "routes[0]", 1, (0.0, 200.0), 0.0, 60.0)
    tempo = LINK_KIND.output(tempo_route["link"], info, {})
    beat = LINK_KIND.output(beat_route["link"], info, {})
    assert type(tempo) is TempoOutput and type(beat) is BeatOutput
    assert tempo.key == beat.key == ("link", "session")
    assert tempo.emit(124.0) == LinkValue("tempo", 124.0)
    assert beat.emit(1.0) == LinkValue("beat", 1.0) and beat.emit(0.0) is None
    assert tempo.idle() is None and beat.idle() is None  # blackout leaves the session alone
    assert "link session.tempo" in LINK_KIND.describe_route(tempo_route["link"], info)
    assert "quantum 3" in LINK_KIND.describe_target("session", mapping.targets["link"]["session"])


def test_a_default_target_when_routes_use_link_without_one():
    mapping = validate(yaml.safe_load(
        "routes: [{signal: bpm, link: {}, in: [0, 200], out: [0, 200]}]"))
    assert dict(mapping.targets["link"]["default"])["quantum"] == 4.0


def test_problems_name_the_key_path_with_did_you_mean():
    said = "\n".join(_problems("""
link: {session: {quantm: 4, align_tolerance: 0.9}}
routes:
  - {signal: bpm, link: {feild: tempo}, in: [0, 200], out: [0, 200]}
  - {signal: beat, link: {field: beats}}
  - {signal: bpm, link: {target: sesion}, in: [0, 200], out: [0, 200]}
"""))
    assert "link.session.quantm: unknown key; did you mean 'quantum'?" in said
    assert "link.session.align_tolerance: 0.9 is out of range 0.01..0.5" in said
    assert "routes[0].link.feild: unknown key; did you mean 'field'?" in said
    assert "routes[1].link.field: 'beats' is not one of 'tempo', 'beat'; did you mean 'beat'?" \
        in said
    assert "routes[2].link.target: unknown link target 'sesion'; did you mean 'session'?" in said


def test_cross_checks_say_what_to_fix():
    said = _problems("routes: [{signal: bpm, link: {}}]")  # in/out left at 0..1
    assert said == ["routes[0].out: Link's tempo is in BPM (20..999); this route sends 0..1; for "
                    "the bpm signal set in: [0, 200] and out: [0, 200]"]
    said = _problems("routes: [{signal: beat, link: {field: beat}, out: [0, 0.2]}]")
    assert said and said[0].startswith("routes[0].out: a beat is a value >= 0.5")
    said = _problems("routes: [{signal: mel, link: {}}]")
    assert said and "routes[0].link.field: tempo takes one value; 'mel' is a spectrum" in said[0]
    said = _problems("""
link: {a: {}, b: {}}
routes:
  - {signal: bpm, link: {target: a}, in: [0, 200], out: [0, 200]}
  - {signal: bpm, link: {target: b}, in: [0, 200], out: [0, 200]}
""")
    assert "link: 2 targets (a, b); vjbridge is one Link peer: declare one link target" in said
    assert "routes[1].link.field: tempo is already sent by routes[0]; send one signal per field" \
        in said


def test_run_config_link_key():
    assert validate_config({"link": True})["link"] is True
    assert validate_config({})["link"] is False
    with pytest.raises(RunConfigError) as err:
        validate_config({"lnk": True})
    assert "lnk: unknown key; did you mean 'link'?" in str(err.value)
    with pytest.raises(RunConfigError) as err:
        validate_config({"link": "yes"})
    assert "link: expected true or false, got 'yes'" in str(err.value)


def _follow(state):
    """The stage on a LinkSession whose thread is not started: its ``state`` set as the Link
    thread would leave it (all the stage reads on the engine thread)."""
    from bridge.runtime.engine import LIVE_SPEC
    from bridge.runtime.link_follow import LinkFollow
    from bridge.sinks.link_session import LinkSession

    stage = LinkFollow(LIVE_SPEC)
    stage.session = LinkSession()
    stage.session.state = state
    return stage


def test_follow_stage_fires_once_per_session_beat_and_gives_the_phase(monkeypatch):
    import bridge.runtime.link_follow as lf

    frame = np.zeros((1, 66))
    clock = [100.0]
    monkeypatch.setattr(lf.time, "perf_counter", lambda: clock[0])
    # 130 BPM, beat 7.9 at t = 100: beat 8 at t = 100 + 0.1 * 60 / 130
    stage = _follow(LinkState(100.0, 7.9, 130.0, 1, 4.0, True))
    rows, times = [], np.arange(0.0, 2.0, 1 / 60)
    for i, t in enumerate(times):
        clock[0] = 100.0 + t
        if i % 30 == 0:  # renewed as the Link thread does (every 20 ms; extrapolated between)
            stage.session.state = LinkState(clock[0], 7.9 + t * 130 / 60, 130.0, 1, 4.0, True)
        out = stage.process(frame)
        rows.append(out.matrix[0].tolist())
    rows = np.array(rows)
    assert np.all(rows[:, 0] == 130.0)
    fired = times[rows[:, 1] == 1.0]
    expected = (np.arange(8, 13) - 7.9) * 60 / 130  # beats 8..12 within 2 s (to 12.23)
    assert len(fired) == len(expected) and np.all(np.abs(fired - expected) < 1 / 60 + 1e-9)
    phase = (7.9 + times * 130 / 60) % 1.0
    assert np.allclose(rows[:, 2], phase, atol=1e-9)
    # the session steps back a little (a peer shifted the phase): beat 11 does not fire twice
    # (beat 12.23 now, 12 fired): it says 11.95 from here
    start = clock[0]
    stage.session.state = LinkState(start, 11.95, 130.0, 1, 4.0, True)
    again = []
    for t in np.arange(1, 60) / 60:  # 11.95 .. 14.1 beats
        clock[0] = start + t
        if stage.process(frame).matrix[0, 1] == 1.0:
            again.append(11.95 + t * 130 / 60)
    assert [math.floor(b) for b in again] == [13, 14]  # 12 not again
    # nobody else in the session: the stage gives nothing, so the tracker's values stand
    stage.session.state = LinkState(clock[0], 11.5, 130.0, 0, 4.0, False)
    assert stage.process(frame) == {}
    assert math.isclose(stage.session.state.beat_at(clock[0] + 60 / 130), 12.5)
    # a state the Link thread stopped renewing is not followed
    stage.session.state = LinkState(clock[0], 11.5, 130.0, 1, 4.0, True)
    assert stage.process(frame) != {}
    clock[0] += 1.5
    assert stage.process(frame) == {}


def test_missing_aalink_is_one_line():
    """aalink made unimportable in a fresh interpreter: the link output and --link say so."""
    probe = """
import sys
sys.modules["aalink"] = None  # import aalink raises ImportError
from bridge.errors import BridgeError
from bridge.sinks import KINDS
try:
    KINDS["link"].open("session", {"quantum": 4.0, "align_tolerance": 0.05})
except BridgeError as exc:
    print(exc)
from bridge.runtime.engine import LIVE_SPEC
from bridge.runtime.pipeline import build
try:
    build(LIVE_SPEC, mapping=None, models=[], link=True)
except BridgeError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines == [
        "link target 'session': Ableton Link needs the aalink package, which is not installed: "
        "pip install aalink (or pip install 'vjbridge[link]')",
        "--link: Ableton Link needs the aalink package, which is not installed: pip install "
        "aalink (or pip install 'vjbridge[link]')"]
