"""The CPPN latent z: offline and live are the same frames (causal), normalised per song offline
and with running statistics live; /vjbridge/z reaches a real OSC receiver as 32 floats."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.audio.decode import load_audio
from bridge.audio.features import FeatureExtractor
from bridge.audio.spec import FeatureSpec
from bridge.audio.zlatent import NORM, RunningNorm, mel_db, song_z, z_spec
from bridge.errors import SpecMismatchError
from bridge.runtime.z_stage import ZStage
from tests.conftest import MUSIC

LIVE = FeatureSpec(fps=60)


def test_the_z_spec_is_neuromv_hop_and_window():
    s = z_spec()
    assert s.hop_length == 735 and s.n_fft == 1470 and s.n_mels == 32
    assert s.frame_rate == pytest.approx(30.0) and s.window_seconds == pytest.approx(1 / 15)
    assert s.center is False  # causal: a frame is ready when its last sample arrives


def _live_run(audio: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Feed the stage as the engine does: resampled blocks, then the live frames they complete."""
    stage, live = ZStage(LIVE), FeatureExtractor(LIVE)
    rows, ends, pos, t = [], [], 0, 0
    while pos < audio.size:
        n = int(rng.integers(50, 1500))
        block = audio[pos:pos + n]
        pos += n
        stage.feed(block)
        frames = live.process(block)
        for i in range(frames.shape[0]):
            rows.append(stage.process(frames[i:i + 1])["z"][0])
            ends.append(t * LIVE.hop_length + LIVE.n_fft)
            t += 1
    return np.array(rows), np.array(ends)


def test_live_z_is_the_offline_z_frame_that_ended_last_normalised_as_it_went():
    audio = load_audio(MUSIC / "wesnoth-battle.ogg", sample_rate=22050)
    spec = z_spec()
    offline = mel_db(audio, spec)  # the whole file through the extractor at once
    running = RunningNorm(spec.n_mels, spec.frame_rate).process(offline)
    live, ends = _live_run(audio, np.random.default_rng(3))
    z_ends = np.arange(len(offline)) * spec.hop_length + spec.n_fft
    k = np.searchsorted(z_ends, ends, side="right") - 1  # newest z frame ended by each live frame
    assert (k >= 0).sum() > 800
    np.testing.assert_allclose(live[k >= 0], running[k[k >= 0]], atol=1e-6)
    assert np.all(live[k < 0] == 0)  # before the first z frame: z = 0, never a future frame
    # the running normalisation has converged to the song's own after its time constant
    tail = slice(int(NORM["tau"] * 30), None)
    gap = np.abs(running[tail] - song_z(offline)[tail]).mean()
    assert gap < 0.35, gap
    assert np.abs(song_z(offline)).max() <= NORM["clip"]


def test_a_z_spec_at_another_rate_is_refused():
    with pytest.raises(SpecMismatchError, match="44100 Hz"):
        ZStage(LIVE, z_spec(32, 44100))


@pytest.mark.peers
def test_z_is_one_osc_message_of_32_floats_when_the_mapping_routes_it(tmp_path):
    from tests.runtime.test_stream_schema import run_and_dump

    mapping = tmp_path / "z.yaml"
    mapping.write_text("version: 1\nosc:\n  td: {host: 127.0.0.1, port: 7000}\nroutes:\n"
                       "  - {signal: low, osc: {address: /vjbridge/low}}\n"
                       "  - {signal: z, osc: {address: /vjbridge/z}}\n")
    _, messages, _ = run_and_dump(["--mapping", str(mapping), "--no-models"])
    z = [m for m in messages if m.address == "/vjbridge/z"]
    assert len(z) > 100 and all(m.types == "f" * 32 for m in z)
    values = np.array([m.args for m in z])
    assert np.abs(values).max() <= 3.0 + 1e-6
    assert values[len(values) // 2:].std(axis=0).mean() > 0.2  # it moves with the demo groove
