"""The shipped four-par DMX mapping as a user runs it: ``vjbridge run --demo --mapping
mappings/dmx-rgb-pars.yaml`` drives olad (a real sACN receiver in a private network namespace),
the pars follow the music, and they go to black on exit and when the audio is lost with
``on_loss: idle``.

The only edit to the shipped file is its ``host`` (olad's E1.31 address in the namespace instead of
the example node's 192.168.1.50); everything else, fixtures, profiles, routes, is what ships.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import yaml

from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.pipeline import MappingOutput, SignalsStage
from tests.peers.ola import E131_IP, NetNamespace, Olad
from tests.runtime.conftest import StalledDemo
from tests.runtime.peers import Bridge

SHIPPED = Path(__file__).resolve().parents[2] / "mappings" / "dmx-rgb-pars.yaml"
PARS = 4  # dimmer, red, green, blue at 1, 5, 9, 13


def shipped_mapping(tmp_path: Path, **edit) -> Path:
    doc = yaml.safe_load(SHIPPED.read_text())
    doc["dmx"]["pars"]["host"] = E131_IP
    doc.update(edit)
    path = tmp_path / "dmx-rgb-pars.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def pars(data: list[int]) -> list[tuple[int, ...]]:
    """(dimmer, red, green, blue) of each par."""
    return [tuple(data[4 * i:4 * i + 4]) for i in range(PARS)]


def test_demo_drives_four_pars_that_olad_sees_change_then_blackout_on_exit(tmp_path):
    mapping = shipped_mapping(tmp_path)
    with NetNamespace(), Olad() as ola:
        ola.patch("e131", 0, 1)
        bridge = Bridge("run", "--demo", "--mapping", str(mapping))
        try:
            ola.wait_for(1, lambda d: any(d[:16]), timeout=30, what="the pars to light")
            seen = []
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                seen.append(pars(ola.fetch(1)))
                time.sleep(0.05)
        finally:
            rc = bridge.stop()
        assert rc == 0, bridge.stderr
        # the outer pair's dimmer pumps with the bass, the inner pair's flashes on kicks: each
        # dimmer takes many levels in 4 s of music (a frozen or stepped output would not)
        for i in range(PARS):
            dimmers = {p[i][0] for p in seen}
            assert len(dimmers) >= 5, f"par{i + 1} dimmer levels {sorted(dimmers)}"
        # the light model's colour reaches every par, the same on all four (one route)
        colours = {p[0][1:] for p in seen}
        assert len(colours) >= 3 and any(sum(c) > 0 for c in colours), colours
        assert all(p[0][1:] == p[3][1:] for p in seen[len(seen) // 2:])
        # outer pair on one route, inner pair on another: they differ somewhere in the run
        assert any(p[0][0] != p[1][0] for p in seen)
        # exit: every par black (the routes' idle values)
        data = ola.wait_for(1, lambda d: not any(d[:16]), timeout=5, what="the blackout on exit")
        assert data[:16] == [0] * 16


def test_pars_go_black_when_the_audio_is_lost_with_on_loss_idle(tmp_path):
    # the shipped routes minus the colour (its model is not what this test is about)
    doc = yaml.safe_load(SHIPPED.read_text())
    routes = [r for r in doc["routes"] if r["signal"] != "colour"]
    mapping = shipped_mapping(tmp_path, routes=routes)
    with NetNamespace(), Olad() as ola:
        ola.patch("e131", 0, 1)
        outputs = MappingOutput(mapping)
        engine = Engine(StalledDemo(LIVE_SPEC.sample_rate, seconds=2.0), [SignalsStage(LIVE_SPEC)],
                        [outputs], hold_after=0.2, on_loss="idle")
        runner = threading.Thread(target=engine.run, kwargs={"duration": 6.0}, daemon=True)
        runner.start()
        try:
            lit = ola.wait_for(1, lambda d: d[0] > 0 and d[4] > 0, timeout=5,
                               what="the dimmers while audio plays")
            assert lit[0] >= 38  # the outer pair's floor: 0.15 of 255
            # the audio stops at 2 s; the engine keeps running, the pars go black
            dark = ola.wait_for(1, lambda d: not any(d[:16]), timeout=4,
                                what="the blackout after the audio was lost")
            assert runner.is_alive(), "the engine stopped instead of idling"
            assert dark[:16] == [0] * 16
        finally:
            runner.join(timeout=10)
        assert not runner.is_alive()
