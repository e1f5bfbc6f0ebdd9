"""A model's colour declaration (``vjbridge.colours``) read from a real ONNX file: good, absent,
and each bad shape as one ModelError line; two models with one output name reported with both
files; ``vjbridge predict`` writing the colour curves and a colour-strip PNG read back."""

from __future__ import annotations

import csv
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from bridge.errors import ConfigError, ModelError
from bridge.models.onnx_model import Colour, OnnxModel
from bridge.runtime.engine import LIVE_SPEC
from bridge.runtime.pipeline import ModelStage
from tests.models.colour_fixture import write_colour_model

ROOT = Path(__file__).resolve().parents[2]
MUSIC = ROOT / "tests" / "data" / "music" / "wesnoth-battle.ogg"


def test_a_declared_colour_is_read(tmp_path):
    model = OnnxModel.load(write_colour_model(tmp_path / "light.onnx"))
    assert model.colours == (Colour("colour", ("r", "g", "b")),)
    assert "colour colour = r, g, b" in model.describe()
    rows = np.random.default_rng(0).normal(-30, 10, (5, model.n_inputs))
    out = model.predict(rows)
    assert out.shape == (5, 3) and ((out > 0) & (out < 1)).all()


def test_no_key_means_no_colours(tmp_path):
    assert OnnxModel.load(write_colour_model(tmp_path / "m.onnx", colours=None)).colours == ()
    assert OnnxModel.load(ROOT / "onnx_models" / "motion-weight.onnx").colours == ()


@pytest.mark.parametrize("kwargs, expect", [
    (dict(raw_colours="[{name: colour}"), "vjbridge.colours is not JSON"),
    (dict(raw_colours='{"name": "colour"}'), "vjbridge.colours must be a JSON list like"),
    (dict(colours=[{"name": "colour", "channels": ["r", "g", "x"]}]),
     "names channel 'x', which is not in vjbridge.outputs (r, g, b)"),
    (dict(colours=[{"name": "colour", "channels": ["r", "g"]}]), "needs exactly 3 channel names"),
    (dict(colours=[{"name": "colour", "channels": ["r", "r", "g"]}]), "repeats a channel"),
    (dict(colours=[{"name": "r", "channels": ["r", "g", "b"]}]), "has the name of an output"),
    (dict(colours=[{"name": "Colour!", "channels": ["r", "g", "b"]}]), "must be {\"name\""),
    (dict(colours=[{"channels": ["r", "g", "b"]}]), "must be {\"name\""),
])
def test_bad_declarations_are_one_model_error_line(tmp_path, kwargs, expect):
    path = write_colour_model(tmp_path / "bad.onnx", **kwargs)
    with pytest.raises(ModelError) as err:
        OnnxModel.load(path)
    text = str(err.value)
    assert expect in text and "\n" not in text and text.startswith(str(path))


def test_two_models_with_one_output_name_name_both_files(tmp_path):
    a = write_colour_model(tmp_path / "a.onnx")
    b = write_colour_model(tmp_path / "b.onnx")
    with pytest.raises(ConfigError) as err:
        ModelStage([a, b], LIVE_SPEC).start()
    text = str(err.value)
    assert "two models produce an output named 'r'" in text
    assert a in text and b in text and "\n" not in text
    stage = ModelStage([ROOT / "onnx_models" / "motion-weight.onnx", a], LIVE_SPEC)
    stage.start()  # different names: both load, the colour is declared
    assert stage.names == ("motion", "weight", "r", "g", "b") and stage.colours == ["colour"]
    assert stage.catalog["colour"].channels == ("r", "g", "b")


def test_the_daemon_refuses_two_models_with_one_output_in_one_line(tmp_path):
    a = write_colour_model(tmp_path / "a.onnx")
    b = write_colour_model(tmp_path / "b.onnx")
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "run", "--demo", "--model", a,
                          "--model", b, "--duration", "1", "--osc", "127.0.0.1:9"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 1
    lines = [ln for ln in out.stderr.splitlines() if "two models" in ln]
    assert len(lines) == 1 and a in lines[0] and b in lines[0] and "'r'" in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def read_png(path) -> np.ndarray:
    """An 8-bit RGB PNG written with filter 0 rows, decoded with the standard library."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        pos += 12 + n
    w, h, depth, ctype, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, ctype) == (8, 2) and b"IEND" in chunks
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(h, 1 + 3 * w)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, 3)


def test_predict_writes_colour_curves_and_a_strip(tmp_path):
    model = write_colour_model(tmp_path / "light.onnx")
    curves, strip = tmp_path / "curves.csv", tmp_path / "strip.png"
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "predict", model, str(MUSIC),
                          "--out", str(curves), "--strip", str(strip), "--rate", "60",
                          "--strip-width", "300"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(curves.open()))
    assert rows[0] == ["time", "r", "g", "b", "colour_h", "colour_s", "colour_v", "energy",
                       "cumulative", "morph"]
    table = np.array(rows[1:], dtype=float)
    rgb, h, s, v = table[:, 1:4], table[:, 4], table[:, 5], table[:, 6]
    assert len(table) > 800 and np.allclose(v, rgb.max(axis=1), atol=2e-6)
    assert np.allclose(s, 1 - rgb.min(axis=1) / rgb.max(axis=1), atol=5e-6)
    assert ((h >= 0) & (h < 1)).all() and np.ptp(h) > 0.1  # the colour moves with the music
    img = read_png(strip)
    assert img.shape == (84, 300, 3)
    # the top band is the colour as sent: column means of the frames, 0..1 -> 0..255
    edges = np.linspace(0, len(rgb), 301).astype(int)
    first = rgb[edges[0]:edges[1]].mean(axis=0)
    assert np.abs(img[0, 0].astype(int) - np.round(first * 255)).max() <= 1
    assert (img[:40] == img[0][None]).all()  # each column one colour down the band
    assert (img[40:80].max(axis=2) >= 254).all()  # the same hue at full brightness
    assert ((img[80:, :, 0] == 200).any(axis=0)).sum() == 1  # a mark at 10 s of a 15 s song


def test_predict_strip_needs_a_light_model(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "predict",
                          str(ROOT / "onnx_models" / "motion-weight.onnx"), str(MUSIC),
                          "--out", str(tmp_path / "c.csv"), "--strip", str(tmp_path / "s.png")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 1 and "declares no colour" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
