"""Fixtures for the live-engine tests: a private PulseAudio server, real music as a 48 kHz WAV, the
offline reference columns."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from bridge import extract_file, load_audio
from bridge.runtime.engine import LIVE_SPEC
from bridge.runtime.stages import FeatureColumns
from bridge.sources import DemoSource
from tests.conftest import MUSIC
from tests.runtime.peers import PulseServer


class StalledDemo(DemoSource):
    """Demo audio that stops after ``seconds`` without finishing: a device that went silent."""

    @property
    def finished(self) -> bool:
        return False


def write_wav(path, y: np.ndarray, rate: int) -> None:
    """16-bit stereo WAV (both channels equal): what paplay plays and the offline side reads."""
    pcm = np.clip(np.round(y * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(pcm[:, None], 2, axis=1).tobytes())


@pytest.fixture
def pulse():
    """A private PulseAudio server with a null sink (the daemon's audio device in these tests)."""
    server = PulseServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def music_wav(tmp_path_factory):
    """8 s of a real music excerpt (tests/data/music) at 48 kHz, as a WAV file."""
    y = load_audio(MUSIC / "wesnoth-battle.ogg", sample_rate=48000)[:8 * 48000]
    path = tmp_path_factory.mktemp("music") / "wesnoth-8s-48k.wav"
    write_wav(path, y * 0.9 / max(1e-9, np.abs(y).max()), 48000)
    return path


@pytest.fixture(scope="session")
def demo_wav(tmp_path_factory):
    """6 s of the built-in demo groove at 48 kHz, as a WAV file."""
    from bridge.audio.demo import DemoMusic

    path = tmp_path_factory.mktemp("demo") / "demo-6s-48k.wav"
    write_wav(path, DemoMusic(48000).read(6 * 48000), 48000)
    return path


def offline_columns(path) -> dict[str, np.ndarray]:
    """The offline pipeline on a file: extract_file at the live spec, then the same columns."""
    return FeatureColumns(LIVE_SPEC).process(extract_file(path, LIVE_SPEC))


def offline_mapped(path, mapping, models=()) -> dict[str, np.ndarray]:
    """The offline pipeline through a mapping: extract_file at the live spec -> classic signals and
    models -> the Router, one tick per frame (the live rate) -> OSC address -> values."""
    from bridge.mapping import Router, load_mapping
    from bridge.runtime.pipeline import ModelStage, SignalsStage

    frames = extract_file(path, LIVE_SPEC)
    stages = ([ModelStage(models, LIVE_SPEC)] if models else []) + [SignalsStage(LIVE_SPEC)]
    values: dict[str, np.ndarray] = {}
    for stage in stages:
        stage.start()
        values.update(stage.process(frames))
    router = Router(load_mapping(mapping))
    out: dict[str, list] = {}
    for i in range(frames.shape[0]):
        frame = router.tick({k: float(v[i]) for k, v in values.items()})
        for items in frame.values():
            for item in items:
                out.setdefault(item.address, []).append(float(item.value))
    return {k: np.array(v) for k, v in out.items()}


def mapping_for_test_model(tmp_dir) -> str:
    """mappings/default.yaml without the colour routes (r, g, b): the small test model of
    tests/models/helpers.py produces only motion and weight, and a mapping naming an output no
    loaded model produces is refused."""
    from bridge.resources import shipped_mapping

    lines = [line for line in shipped_mapping("default").read_text().splitlines()
             if not any(f"{{signal: {c}," in line for c in "rgb")]
    path = tmp_dir / "default-motion-weight.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)
