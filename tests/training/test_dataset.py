"""`vjbridge dataset` on real (synthetic, PyAV-written) videos with known answers."""

import json

import numpy as np
import pytest

from bridge.audio.spec import FeatureSpec
from bridge.cli import main
from bridge.training.dataset import build_dataset, load_table
from bridge.training.targets import TARGET_NAMES
from tests.training.synthetic import noise_audio, write_video

M = TARGET_NAMES.index("motion")


def still(k):
    f = np.zeros((64, 64, 3), np.uint8)
    f[:, :48] = (255, 0, 0)
    f[:, 48:] = (0, 0, 255)
    return f


def test_still_two_colour_video_targets(tmp_path):
    p = write_video(tmp_path / "still.mkv", still, 72, fps=24, audio=noise_audio(3.0))
    build_dataset([p], str(tmp_path / "data"), fps=[8, 16], jobs=1, progress=False)
    for fps in (8, 16):
        table = load_table(str(tmp_path / "data"), FeatureSpec(fps=fps).hop_length)
        y = table.Y[table.valid]
        assert len(y) >= 3 * fps - 3
        assert np.all(y[:, M] == 0.0)
        assert np.allclose(y[:, 1:], [0.75, 0.0, 1.0, 1.0, 0.75, 0.0, 0.25], atol=1e-6)
        # the features are the foundation extractor's on the decoded audio track
        assert table.X.shape[1] == 66 and np.isfinite(table.X).all()


def test_bad_inputs_are_skipped_with_a_message(tmp_path, capsys):
    good = write_video(tmp_path / "good.mkv", still, 48, audio=noise_audio(2.0))
    silent = write_video(tmp_path / "noaudio.mkv", still, 48, audio=None)
    short = write_video(tmp_path / "short.mkv", still, 2, audio=noise_audio(0.05))
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)
    rc = main(["dataset", str(tmp_path), "--fps", "8", "--out", str(tmp_path / "data"),
               "--jobs", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = [ln for ln in out.splitlines() if ln.startswith("skipped")]
    assert len(lines) == 3, out
    assert any("noaudio.mkv" in ln and "no audio track" in ln for ln in lines)
    assert any("short.mkv" in ln and "shorter than one analysis window" in ln for ln in lines)
    assert any("corrupt.mp4" in ln for ln in lines)
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert [v["path"] for v in manifest["videos"]] == [good]
    assert len(manifest["skipped"]) == 3


def test_cached_and_resumable_and_grouped_by_corpus_manifest(tmp_path):
    a = write_video(tmp_path / "a.mkv", still, 48, audio=noise_audio(2.0, seed=1))
    b = write_video(tmp_path / "b.mkv", lambda k: np.full((64, 64, 3), 7 * k % 256, np.uint8), 48,
                    audio=noise_audio(2.0, seed=2))
    corpus = tmp_path / "manifest.json"
    corpus.write_text(json.dumps({"videos": [{"video": "a.mkv", "group": "track1"},
                                             {"video": "b.mkv", "group": "track1"}]}))
    out = str(tmp_path / "data")
    m1 = build_dataset([str(corpus)], out, fps=[8], jobs=1, progress=False)
    assert {v["group"] for v in m1["videos"]} == {"track1"}
    t1 = load_table(out, FeatureSpec(fps=8).hop_length)
    stamp = (tmp_path / "data" / "videos" / m1["videos"][0]["id"] / "hop2756.npz").stat().st_mtime_ns
    m2 = build_dataset([str(corpus)], out, fps=[8], jobs=1, progress=False)
    assert m2["data_hash"] == m1["data_hash"]
    again = (tmp_path / "data" / "videos" / m1["videos"][0]["id"] / "hop2756.npz").stat().st_mtime_ns
    assert again == stamp  # cached, not rebuilt
    t2 = load_table(out, FeatureSpec(fps=8).hop_length)
    assert np.array_equal(t1.X, t2.X) and np.array_equal(t1.Y, t2.Y)
    assert t1.Y[t1.valid & (t1.video == 1), M].min() > 0  # the ramp video moves every frame


def test_alignment_motion_peaks_with_audio_at_lag_zero(tmp_path):
    """Flashes start on the frame where a click is heard: motion follows onset at lag 0, not +-1."""
    fps_v, sr, seconds = 25, 22050, 24.0
    rng = np.random.default_rng(5)
    frames = np.arange(int(seconds * fps_v))
    clicks = np.sort(rng.choice(frames[10:-10], 30, replace=False))
    clicks = clicks[np.concatenate(([True], np.diff(clicks) > 8))]
    audio = 1e-3 * rng.standard_normal(int(seconds * sr))
    for c in clicks:
        s = round(c / fps_v * sr)
        audio[s:s + 66] += 0.5 * rng.standard_normal(66)
    last = np.full(len(frames), -1e9)
    for c in clicks:
        last[c:] = c
    level = np.exp(-(frames - last) / fps_v / 0.4)

    def frame_at(k):
        return np.full((64, 64, 3), round(255 * level[k]), np.uint8)

    p = write_video(tmp_path / "flash.mkv", frame_at, len(frames), fps=fps_v, audio=audio, sr=sr)
    build_dataset([p], str(tmp_path / "data"), fps=[16], jobs=1, progress=False)
    table = load_table(str(tmp_path / "data"), FeatureSpec(fps=16).hop_length)
    v = table.valid
    motion, onset = table.Y[:, M], table.X[:, 65]

    def corr(lag):
        a = motion[20:-20]
        b = np.roll(onset, lag)[20:-20]
        keep = v[20:-20]
        return np.corrcoef(a[keep], b[keep])[0, 1]

    r = {lag: corr(lag) for lag in (-2, -1, 0, 1, 2)}
    print("lag correlations", r)
    assert r[0] > 0.6, r
    assert r[0] > r[1] + 0.3 and r[0] > r[-1] + 0.3, r


def test_sidecar_json_gives_group_and_preset(tmp_path):
    a = write_video(tmp_path / "x1.mkv", still, 24, audio=noise_audio(1.0))
    (tmp_path / "x1.json").write_text(json.dumps({"group": "trackA", "preset": "p/one.milk"}))
    m = build_dataset([str(tmp_path)], str(tmp_path / "data"), fps=[8], jobs=1, progress=False)
    assert m["videos"][0]["group"] == "trackA" and m["videos"][0]["info"]["preset"] == "p/one.milk"
    assert m["videos"][0]["path"] == a
