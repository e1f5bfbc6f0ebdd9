"""`vjbridge render` on a real 15 s clip: a playable video that carries the song's audio, whose
frame changes follow the music (onset strength), resumable, and stems side by side."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest

from bridge.audio.zlatent import z_spec
from bridge.cli import main
from bridge.video.follow import follow
from tests.conftest import MUSIC

SONG = MUSIC / "wesnoth-battle.ogg"


def _streams(path):
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        return (v.codec_context.name, v.width, v.height, v.frames,
                a.codec_context.name, float(a.duration * a.time_base))


def _frame(path, i):
    with av.open(str(path)) as c:
        for k, f in enumerate(c.decode(video=0)):
            if k == i:
                return f.to_ndarray(format="rgb24")


@pytest.mark.slow
def test_render_follows_the_music_carries_the_audio_and_resumes(tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["render", str(SONG), "--out", str(out), "--size", "96", "--seed", "3",
                 "--no-progress"]) == 0
    vcodec, w, h, frames, acodec, adur = _streams(out)
    assert (vcodec, w, h, frames, acodec) == ("h264", 96, 96, 450, "aac")
    assert adur == pytest.approx(15.0, abs=0.1)
    r = follow(str(out), str(SONG), z_spec())
    assert r["r_onset"] > 0.4, r  # measured 0.68 at 256 px (seed 0)
    # resumable: a lost segment is rendered again, the kept one is not, the video is the same
    first = _frame(out, 400)
    os.remove(tmp_path / "v.mp4.parts" / "seg-00001.mp4")
    os.remove(out)
    capsys.readouterr()
    assert main(["render", str(SONG), "--out", str(out), "--size", "96", "--seed", "3",
                 "--no-progress"]) == 0
    assert "(1/2 segments rendered now" in capsys.readouterr().out
    assert _streams(out)[3] == 450 and np.array_equal(_frame(out, 400), first)


@pytest.mark.slow
def test_stems_are_panels_side_by_side(tmp_path):
    out = tmp_path / "s.mp4"
    assert main(["render", str(SONG), "--out", str(out), "--size", "64", "--stems",
                 f"{SONG},{MUSIC / 'nexuiz-neuronal-diving.ogg'}", "--no-progress"]) == 0
    assert _streams(out)[1:3] == (128, 64)
    f = _frame(out, 200).astype(float)
    assert np.abs(f[:, :64] - f[:, 64:]).mean() > 5  # two songs, two pictures


def test_bad_arguments_are_one_line(tmp_path, capsys):
    assert main(["render", str(SONG), "--out", str(tmp_path / "v.avi")]) == 1
    assert "--out must end in .mp4" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "none.ogg"), "--out", str(tmp_path / "v.mp4")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["render", str(SONG), "--out", str(tmp_path / "v.mp4"), "--stems",
                 "nothere.wav", "--size", "32", "--no-progress"]) == 1
    assert "--stems: nothere.wav: no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_hpss_stems_the_percussive_panel_follows_the_onsets_more(tmp_path):
    from bridge.video.follow import audio_curves

    out = tmp_path / "h.mp4"
    assert main(["render", str(SONG), "--out", str(out), "--size", "48", "--stems", "hpss",
                 "--no-progress"]) == 0
    assert _streams(out)[1:3] == (96, 48)
    prev, dh, dp = None, [], []
    with av.open(str(out)) as c:
        for f in c.decode(video=0):
            a = f.to_ndarray(format="rgb24").astype(float)
            if prev is not None:
                dh.append(np.abs(a[:, :48] - prev[:, :48]).mean())
                dp.append(np.abs(a[:, 48:] - prev[:, 48:]).mean())
            prev = a
    onset = audio_curves(str(SONG), z_spec())["onset"]
    n = min(len(dh), len(onset))
    r_h, r_p = (np.corrcoef(d[1:n], onset[1:n])[0, 1] for d in (dh, dp))
    assert r_p > r_h + 0.1 and r_p > 0.4, (r_h, r_p)  # measured 0.30 / 0.59 at 128 px


def test_the_linear_baseline_moves_at_constant_speed_between_keyframes():
    from bridge.audio.decode import load_audio
    from bridge.video.render import latent_track

    audio = load_audio(SONG, sample_rate=22050)
    z = latent_track(audio, z_spec(), 450, schedule="linear")
    step = np.diff(z, axis=0)
    # constant velocity inside each 60-frame (2 s) stretch, a new one at each keyframe
    inside = [i for i in range(1, len(step)) if i % 60 and i < 420]
    assert np.abs(step[inside] - step[[i - 1 for i in inside]]).max() < 1e-5
    assert np.abs(step[60] - step[59]).max() > 1e-3
    live = latent_track(audio, z_spec(), 450)
    assert np.abs(np.diff(live, axis=0)).mean() > 3 * np.abs(step).mean()


@pytest.mark.slow
def test_a_linear_z_video_does_not_follow_the_onsets(tmp_path):
    out = tmp_path / "lin.mp4"
    assert main(["render", str(SONG), "--out", str(out), "--size", "48", "--z", "linear",
                 "--no-progress"]) == 0
    r = follow(str(out), str(SONG), z_spec())
    assert r["r_onset"] < 0.25, r  # the audio-driven render of the same CPPN: > 0.4 (above)


@pytest.mark.slow
def test_image_fits_the_cppn_to_the_cover_first(tmp_path):
    from bridge.models.cppn import CppnModel

    cover = MUSIC.parent.parent.parent / "onnx_models" / "cppn" / "cover.png"
    out = tmp_path / "c.mp4"
    assert main(["render", str(MUSIC / "warzone-track4.opus"), "--out", str(out), "--size", "32",
                 "--image", str(cover), "--fit-steps", "40", "--no-progress"]) == 0
    fit = CppnModel.load(tmp_path / "c.mp4.parts" / "model.onnx").info["fit"]
    assert fit["steps"] == 40 and fit["image"] == "cover.png"
    assert fit["tradeoff"][-1]["psnr"] > fit["tradeoff"][0]["psnr"] + 3
    assert _streams(out)[4] == "aac"


def test_the_energy_schedule_keeps_the_keyframes_and_advances_with_the_energy():
    from bridge.audio.decode import load_audio
    from bridge.runtime.energy_stage import energy_curves
    from bridge.audio.spec import FeatureSpec
    from bridge.video.render import latent_track, song_progress, warp

    n = 450  # 15 s: the song's first 7 keyframe stretches
    audio = load_audio(SONG, sample_rate=22050)[:22050 * 15]
    progress = song_progress(str(SONG), n)
    times, values = energy_curves(str(SONG), FeatureSpec(fps=60))  # `vjbridge energy`'s numbers
    assert np.allclose(progress, np.interp((np.arange(n) + 1) / 30, times, values[:, 1], left=0))
    lin = latent_track(audio, z_spec(), n, schedule="linear")
    en = latent_track(audio, z_spec(), n, schedule="energy", progress=progress)
    starts = np.arange(0, n, 60)
    assert np.allclose(en[starts], lin[starts], atol=1e-6)  # the same keyframes, reached on time
    t = warp(progress, starts, n)
    for a, b in zip(starts[:-1], starts[1:]):
        u = (t[a:b + 1] - a) / (b - a)  # the interpolation parameter, 0 at a, 1 at b
        u[-1] = 1.0
        assert u[0] == 0 and np.all(np.diff(u) >= 0), (a, u)
    # not linear: the parameter runs ahead of time where the energy is high
    assert np.abs(t - np.arange(n)).max() > 5
    speed = np.diff(t)  # 1.0: linear; > 1: ahead
    e = np.interp((np.arange(n) + 0.5) / 30, times, values[:, 0])[1:]  # energy inside each step
    for a, b in zip(starts[:-1], starts[1:]):
        r = np.corrcoef(speed[a:b - 1], e[a:b - 1])[0, 1]
        assert r > 0.8, (a, r)


def test_the_energy_schedule_under_constant_energy_is_the_linear_schedule():
    from bridge.audio.decode import load_audio
    from bridge.video.render import latent_track

    audio = load_audio(SONG, sample_rate=22050)[:22050 * 10]
    lin = latent_track(audio, z_spec(), 300, schedule="linear")
    flat = latent_track(audio, z_spec(), 300, schedule="energy",
                        progress=0.37 * (np.arange(300) + 1) / 30)  # constant 0.37: a ramp
    assert np.allclose(flat, lin, atol=1e-6)
    silent = latent_track(audio, z_spec(), 300, schedule="energy", progress=np.zeros(300))
    assert np.allclose(silent, lin, atol=1e-6)  # no energy at all: linear, not frozen


@pytest.mark.slow
def test_render_z_energy_writes_a_video_with_its_audio(tmp_path):
    out = tmp_path / "en.mp4"
    assert main(["render", str(SONG), "--out", str(out), "--size", "32", "--z", "energy",
                 "--no-progress"]) == 0
    assert _streams(out)[4] == "aac"
