"""kick / snare triggers on synthesized drums: one trigger per hit, none in silence or hiss."""

import numpy as np
import pytest

from bridge.audio.spec import FeatureSpec
from bridge.signals import OnsetTriggers
from tests.signals.conftest import SPEC, SR, frame_of_time, frames_of, kick, place, snare, tone

HITS = [0.5, 1.3, 2.1, 2.9, 3.7, 5.0, 5.8]  # isolated hits, 0.8 s apart or more
T = 7.0


def _bed(seconds: float = T, seed: int = 3) -> np.ndarray:
    """What a hit sits on in a mix: a bass note and quiet hiss (-50 dBFS)."""
    hiss = 0.003 * np.random.default_rng(seed).standard_normal(int(seconds * SR))
    return hiss + tone(55, seconds, 0.2)


def _assert_one_trigger_per_hit(column: np.ndarray, hits, spec: FeatureSpec = SPEC):
    fired = np.flatnonzero(column)
    expected = [frame_of_time(t, spec) for t in hits]
    assert len(fired) == len(expected), (fired, expected)
    # on the first frame whose window holds the hit, or at most 3 frames (50 ms) later
    assert all(0 <= f - e <= 3 for f, e in zip(fired, expected)), (fired, expected)


def test_kick_triggers_once_per_synthesized_kick_and_never_on_the_bed():
    y = place(T, [(t, kick(0.8)) for t in HITS]) + _bed()
    out = OnsetTriggers(SPEC).process(frames_of(y))
    assert set(np.unique(out)) <= {0.0, 1.0}
    _assert_one_trigger_per_hit(out[:, 0], HITS)
    assert out[:, 1].sum() == 0  # a kick is not a snare


def test_snare_triggers_once_per_synthesized_snare_and_not_as_kick():
    y = place(T, [(t, snare(seed=i)) for i, t in enumerate(HITS)]) + _bed()
    out = OnsetTriggers(SPEC).process(frames_of(y))
    _assert_one_trigger_per_hit(out[:, 1], HITS)
    assert out[:, 0].sum() == 0


def test_fast_repeated_kicks_each_trigger_once():
    hits = [0.5, 0.7, 0.9, 1.1]  # 200 ms apart, each on the tail of the last
    y = place(2.5, [(t, kick(0.8)) for t in hits]) + _bed(2.5)
    _assert_one_trigger_per_hit(OnsetTriggers(SPEC).process(frames_of(y))[:, 0], hits)


@pytest.mark.parametrize("name, y", [
    ("digital silence", np.zeros(5 * SR)),
    ("hiss at -70 dBFS", 3e-4 * np.random.default_rng(0).standard_normal(5 * SR)),
    ("the bed alone", _bed(5.0)),
    ("a steady tone", tone(100, 5.0, 0.5)),
])
def test_no_triggers_without_hits(name, y):
    assert OnsetTriggers(SPEC).process(frames_of(y)).sum() == 0, name


def test_quiet_kicks_trigger_like_loud_ones():
    y = place(T, [(t, kick(0.8)) for t in HITS]) + _bed()
    _assert_one_trigger_per_hit(OnsetTriggers(SPEC).process(frames_of(y * 0.03))[:, 0], HITS)


def test_kicks_at_another_frame_rate():
    spec = FeatureSpec(fps=30)
    y = place(T, [(t, kick(0.8)) for t in HITS]) + _bed()
    out = OnsetTriggers(spec).process(frames_of(y, spec))
    fired = np.flatnonzero(out[:, 0])
    expected = [frame_of_time(t, spec) for t in HITS]
    assert len(fired) == len(expected) and all(0 <= f - e <= 2 for f, e in zip(fired, expected))


def test_demo_kicks_land_on_every_beat(demo_frames):
    out = OnsetTriggers(SPEC).process(demo_frames)
    times = SPEC.frame_end_times(len(demo_frames))[out[:, 0] > 0]
    beat = 60.0 / 124.0
    offset = times / beat - np.round(times / beat)
    assert len(times) == pytest.approx(times[-1] / beat, abs=1.5)  # one per beat
    assert np.all((offset > 0) & (offset < 0.15))  # 0-70 ms after each kick starts
