"""The musical signals (and energy, morph) as a receiver gets them: ``vjbridge run --demo
--mapping musical`` to liblo's oscdump, and the stage added to a run only when its mapping
routes one of them."""

from __future__ import annotations

from bridge.runtime.engine import LIVE_SPEC
from bridge.runtime.musical_stage import MusicalStage
from bridge.runtime.pipeline import build
from tests.peers.osc import OscDump
from tests.runtime.peers import Bridge


def test_the_stage_runs_only_when_the_mapping_routes_a_musical_signal():
    default, _, _ = build(LIVE_SPEC, mapping="default", models=[], osc="127.0.0.1:9")
    assert not any(isinstance(s, MusicalStage) for s in default)
    musical, _, _ = build(LIVE_SPEC, mapping="musical", models=[], osc="127.0.0.1:9")
    (stage,) = [s for s in musical if isinstance(s, MusicalStage)]
    signals = next(i for i, s in enumerate(musical) if s.name == "signals")
    assert musical.index(stage) > signals  # after the stage that has the tempo
    assert [s.name for s in stage.tempo_from] == ["signals"]


def test_musical_mapping_streams_the_musical_signals_energy_morph_and_the_palettes():
    with OscDump("udp") as td:
        bridge = Bridge("run", "--demo", "--no-models", "--mapping", "musical",
                        "--osc", f"127.0.0.1:{td.port}", "--duration", "9")
        try:
            bridge.proc.wait(timeout=40)  # --duration: it stops by itself
        finally:
            rc = bridge.stop()
        got = td.messages()
    assert rc == 0, "\n".join(bridge.err)
    by: dict[str, list] = {}
    for line in got:
        if line.address != "/vjbridge/_info":
            by.setdefault(line.address, []).append(line.args)
    for name in ("pitch", "warmth", "roughness", "speed", "energy", "morph"):
        values = [a[0] for a in by[f"/vjbridge/{name}"]]
        assert len(values) > 300, name  # ~60 a second for 9 s
        hi = 2.0 if name == "speed" else 1.0
        assert all(0.0 <= v <= hi for v in values), (name, min(values), max(values))
    assert len({round(a[0], 3) for a in by["/vjbridge/warmth"]}) > 50  # it moves with the music
    assert max(a[0] for a in by["/vjbridge/roughness"]) > 0.3
    assert len({round(a[0], 3) for a in by["/vjbridge/energy"]}) > 50
    morph = [a[0] for a in by["/vjbridge/morph"]]
    assert min(morph) < 0.1 and max(morph) > 0.9  # ramps 0..1 every 4 beats
    assert by["/vjbridge/speed"][0][0] == 1.0  # before the tracker has a tempo
    assert abs(by["/vjbridge/speed"][-30][0] - 124 / 120) < 0.01  # the demo groove is 124 BPM
    assert by["/vjbridge/speed"][-1][0] == 1.0  # idle: the reference pace
    for address in ("/vjbridge/palette", "/vjbridge/pitchcolour"):
        colours = by[address]
        assert all(len(c) == 3 and all(0.0 <= v <= 1.0 for v in c) for c in colours), address
    assert len({tuple(round(v, 2) for v in c) for c in by["/vjbridge/palette"]}) > 10


def test_speed_takes_the_tempo_of_the_last_stage_that_has_one():
    import numpy as np

    from bridge.runtime.stages import Columns

    class Tempo:  # the tracker's and the Link session's results, as the engine leaves them
        def __init__(self, bpm):
            self.last = {} if bpm is None else Columns(("bpm",), np.array([[bpm]]), {"bpm": 0})

    frame = np.full((1, LIVE_SPEC.n_features), -20.0)
    tracker, link = Tempo(90.0), Tempo(None)  # Link not followed: the tracker's tempo
    stage = MusicalStage(LIVE_SPEC, tempo_from=[tracker, link])
    assert stage.process(frame)["speed"][0] == 0.75
    link.last = Tempo(150.0).last  # a session with another peer: its tempo wins
    assert stage.process(frame)["speed"][0] == 1.25
