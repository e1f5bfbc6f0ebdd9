"""FeatureSpec: validation, derived values, JSON round trip, digest stability."""

import json
import subprocess
import sys

import pytest

from bridge import FeatureSpec
from bridge.errors import SpecError


def test_defaults_are_the_research_features():
    spec = FeatureSpec()
    assert (spec.sample_rate, spec.n_fft, spec.n_mels, spec.center) == (22050, 2048, 64, False)
    assert spec.fmin == 0.0 and spec.fmax == 11025.0
    assert spec.n_features == 66
    assert spec.feature_names[0] == "mel_00" and spec.feature_names[-2:] == ("rms", "onset")


@pytest.mark.parametrize("fps, hop", [(1, 22050), (2, 11025), (4, 5512), (8, 2756), (16, 1378),
                                      (30, 735), (60, 368)])
def test_hop_is_rounded_from_fps_and_actual_rate_reported(fps, hop):
    spec = FeatureSpec(fps=fps)
    assert spec.hop_length == hop
    assert spec.frame_rate == pytest.approx(22050 / hop)


def test_frame_geometry():
    spec = FeatureSpec(fps=60)
    assert spec.n_frames_for(2047) == 0
    assert spec.n_frames_for(2048) == 1
    assert spec.n_frames_for(2048 + 367) == 1
    assert spec.n_frames_for(2048 + 368) == 2
    assert spec.frame_end_times(2).tolist() == [2048 / 22050, (2048 + 368) / 22050]


def test_json_round_trip_preserves_everything():
    spec = FeatureSpec(fps=30, n_mels=40, fmax=8000.0, mel_htk=True)
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec and again.digest == spec.digest
    data = json.loads(spec.to_json())
    assert data["hop_length"] == 735 and data["digest"] == spec.digest


def test_digest_depends_on_what_changes_the_numbers_only():
    assert FeatureSpec(fps=60).digest == FeatureSpec(fps=59.95).digest  # both hop 368
    assert FeatureSpec(fps=60).digest != FeatureSpec(fps=30).digest
    assert FeatureSpec().digest != FeatureSpec(n_mels=63).digest
    assert FeatureSpec().digest != FeatureSpec(amin=1e-9).digest


def test_digest_is_stable_across_processes():
    code = "from bridge import FeatureSpec; print(FeatureSpec(fps=8).digest)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == FeatureSpec(fps=8).digest
    assert len(FeatureSpec().digest) == 64


@pytest.mark.parametrize("kwargs, field, accepted", [
    ({"fps": 0}, "fps", "in [0.1,"),
    ({"fps": float("nan")}, "fps", "a number"),
    ({"sample_rate": 22050.5}, "sample_rate", "an int in [4000, 192000]"),
    ({"n_fft": 0}, "n_fft", "an int in [16, 65536]"),
    ({"n_mels": 0}, "n_mels", "[1, 512]"),
    ({"fmin": -1.0}, "fmin", "[0, 11025]"),
    ({"fmax": 20000.0}, "fmax", "(0, 11025]"),
    ({"fmin": 500.0, "fmax": 400.0}, "fmax", "(500, 11025]"),
    ({"center": True}, "center", "False"),
    ({"window": "hamming"}, "window", "'hann'"),
    ({"power": 1.0}, "power", "2.0"),
    ({"amin": 0.0}, "amin", "(0, 1]"),
    ({"onset_lag": 0}, "onset_lag", "[1, 64]"),
    ({"mel_norm": "area"}, "mel_norm", "'slaney' or None"),
    ({"version": 2}, "version", "1"),
])
def test_bad_values_name_the_field_and_the_accepted_range(kwargs, field, accepted):
    with pytest.raises(SpecError) as info:
        FeatureSpec(**kwargs)
    message = str(info.value)
    assert f"'{field}' field of FeatureSpec" in message
    assert accepted in message
    assert "Got" in message


def test_from_json_rejects_unknown_keys_with_a_suggestion():
    data = json.loads(FeatureSpec().to_json())
    data["n_mel"] = data.pop("n_mels")
    with pytest.raises(SpecError, match="no field 'n_mel'. Did you mean 'n_mels'"):
        FeatureSpec.from_dict(data)


def test_from_json_rejects_edited_derived_values_and_garbage():
    data = json.loads(FeatureSpec().to_json())
    data["hop_length"] = 512
    with pytest.raises(SpecError, match="hop_length=512"):
        FeatureSpec.from_dict(data)
    with pytest.raises(SpecError, match="not valid JSON"):
        FeatureSpec.from_json("{nope")
    with pytest.raises(SpecError, match="must be a JSON object"):
        FeatureSpec.from_json("[1, 2]")


def test_frozen_and_replace_validates():
    spec = FeatureSpec()
    with pytest.raises(AttributeError):
        spec.n_fft = 1024  # type: ignore[misc]
    assert spec.replace(fps=60).hop_length == 368
    assert spec.replace(sample_rate=44100).fmax == 22050.0  # "up to Nyquist" follows the rate
    with pytest.raises(SpecError):
        spec.replace(n_fft=3)
