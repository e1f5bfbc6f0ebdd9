"""Mapping test fixtures: a fixed signal table (the catalog's shape, name -> kind)."""

import textwrap

import pytest

from bridge.mapping.validate import ColourKind

#: ``colour``: the light model's colour (``vjbridge.colours``), its channels r, g, b
SIGNALS = {"colour": ColourKind(("r", "g", "b")), "motion": "model", "weight": "model", "r": "model", "g": "model", "b": "model",
           "low": "continuous", "mid": "continuous", "high": "continuous", "rms": "continuous",
           "onset": "continuous", "kick": "trigger", "snare": "trigger", "beat": "trigger",
           "bpm": "tempo", "spectralcentroid": "continuous"}


@pytest.fixture
def write_yaml(tmp_path):
    def write(text: str, name: str = "m.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    return write
