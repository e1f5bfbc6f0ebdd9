"""The projectM corpus: real libprojectM renders, deterministic, with the audio inside the video.

Music here is the built-in DemoMusic groove (no music files in git from this step, nothing read from
outside the repository); presets come from Debian's projectm-data. Alignment against the audio
envelope is the dataset step's test; these check rendering, the clock, the file format and failures.
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from bridge.audio.demo import DemoMusic
from bridge.errors import ConfigError, CorpusError, PresetError
from bridge.training.corpus import build, music, screen
from bridge.training.corpus.renderer import (frame_bounds, render_frames, renderer_path,
                                             source_hash)
from bridge.training.corpus.video import ClipWriter

SR, FPS, SIZE = 44100, 30, 128
PRESET = "presets_stock/Geiss - Cepiasound.milk"  # black in silence, follows the bass


@pytest.fixture(scope="module")
def groove():
    """3 s of stereo demo music (right channel delayed a little, so the channels differ)."""
    mono = DemoMusic(SR).read(3 * SR + 100).astype(np.float32)
    return np.stack([mono[100:], mono[:-100]], axis=1)


def render_clip(path, preset, audio):
    with ClipWriter(path, size=SIZE, fps=FPS, sample_rate=SR) as writer:
        for i, frame in enumerate(render_frames(preset, audio, sample_rate=SR, fps=FPS, size=SIZE)):
            a, b = frame_bounds(i, fps=FPS, sample_rate=SR)
            writer.write(frame, audio[a:b])
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_renderer_is_built_into_a_cache_keyed_by_the_source_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    exe = renderer_path()
    assert exe == tmp_path / "vjbridge" / f"render-{source_hash()[:16]}" / "render"
    assert exe.stat().st_mode & 0o111
    # the clock functions are exported so they interpose libc's for libprojectM
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(exe)], capture_output=True,
                             text=True).stdout
    for name in ("gettimeofday", "time", "_ZNSt6chrono3_V212system_clock3nowEv"):
        assert f" T {name}\n" in symbols
    assert renderer_path() == exe  # second call reuses it


def test_two_renders_are_byte_identical_frames_and_files(tmp_path, groove):
    first = np.stack(list(render_frames(PRESET, groove, sample_rate=SR, fps=FPS, size=SIZE)))
    second = np.stack(list(render_frames(PRESET, groove, sample_rate=SR, fps=FPS, size=SIZE)))
    assert first.shape == (90, SIZE, SIZE, 3) and first.dtype == np.uint8
    assert first[30:].mean() > 5  # the music makes it draw something
    assert np.array_equal(first, second)
    assert render_clip(tmp_path / "a.mkv", PRESET, groove) == render_clip(tmp_path / "b.mkv",
                                                                            PRESET, groove)


def test_video_decodes_with_every_frame_and_exactly_the_pushed_audio(tmp_path, groove):
    path = tmp_path / "clip.mkv"
    render_clip(path, PRESET, groove)
    with av.open(str(path)) as c:
        times = [f.time for f in c.decode(video=0)]
    assert len(times) == 90
    # frame i is on screen from (i+1)/fps: it has seen the audio of [0, (i+1)/fps)
    assert np.allclose(times, (np.arange(90) + 1) / FPS, atol=0.0011)
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        assert stream.rate == SR and stream.channels == 2
        audio = np.concatenate([f.to_ndarray().reshape(-1, 2) for f in c.decode(audio=0)])
    assert audio.shape == groove.shape  # 3 s = 90 frames x 1470 samples, nothing more or less
    assert np.abs(audio / 32768.0 - groove).max() < 1e-4  # 16-bit FLAC: lossless up to rounding


def test_frame_gets_exactly_its_own_audio_slice():
    bounds = [frame_bounds(i, fps=FPS, sample_rate=SR) for i in range(90)]
    assert bounds[0] == (0, 1470) and bounds[-1] == (89 * 1470, 90 * 1470)
    assert all(b[1] == n[0] for b, n in zip(bounds, bounds[1:]))
    uneven = [frame_bounds(i, fps=7, sample_rate=SR) for i in range(7)]
    assert uneven[-1][1] == SR and all(b[1] == n[0] for b, n in zip(uneven, uneven[1:]))


def test_silence_renders_black_and_mono_is_accepted():
    frames = list(render_frames(PRESET, np.zeros(SR, np.float32), sample_rate=SR, fps=FPS, size=64))
    assert len(frames) == 30 and frames[0].shape == (64, 64, 3)
    assert max(int(f.max()) for f in frames) <= 8


def test_missing_preset_raises_a_one_line_preset_error(groove):
    with pytest.raises(PresetError, match="not found.*projectm-data"):
        next(render_frames("presets_stock/does-not-exist.milk", groove))


def test_screening_skips_a_missing_preset_and_rejects_a_broken_one(tmp_path, groove):
    broken = tmp_path / "broken.milk"
    broken.write_text("this is not a preset\n[[[ per_frame_1=zoom=\n")
    entry = screen.screen_preset(str(broken), [groove], sample_rate=SR)
    assert entry["status"] == "black"  # projectM 3.1 loads anything; it just draws nothing
    missing = screen.screen_preset(str(tmp_path / "gone.milk"), [groove], sample_rate=SR)
    assert missing["status"] == "failed" and "not found" in missing["reason"]


def test_screening_scores_a_responsive_preset(groove):
    long = np.concatenate([groove, groove])  # 6 s: one second of warm-up is skipped
    entry = screen.screen_preset(PRESET, [long], sample_rate=SR)
    assert entry["brightness"] > screen.MIN_BRIGHTNESS and entry["motion"] > screen.MIN_MOTION
    assert -1 <= entry["r_rms"] <= 1 and entry["status"] in ("kept", "ignores-audio")


def test_plan_from_the_committed_lists_is_deterministic_and_grouped():
    tracks = music.load_tracks()
    by_id = {t["id"]: t for t in tracks}
    assert by_id["warzone/menu_enhanced"]["group"] == "warzone/menu"
    assert by_id["warzone/track3_enhanced"]["group"] == "warzone/track3"
    assert all(t["licence"] == "GPL-2+" and len(t["sha256"]) == 64 for t in tracks)
    if not build.PRESETS_JSON.exists():
        pytest.fail("lists/presets.json is missing: run the screening")
    jobs = build.plan(presets_per_track=3, seconds=150)
    assert jobs == build.plan(presets_per_track=3, seconds=150)
    used = [t for t in tracks if t["use"]]
    assert len(jobs) == 3 * len(used)
    assert len({j.name for j in jobs}) == len(jobs)
    for track in used:
        mine = [j for j in jobs if j.track == track["id"]]
        assert len({j.preset for j in mine}) == 3
        assert all(j.group == track["group"] for j in mine)
        assert all(j.seconds <= 150 and j.start + j.seconds <= track["duration"] + 1e-6
                   for j in mine)
    assert len(build.plan(tracks=5, presets_per_track=2)) == 10


def test_cli_reports_a_missing_preset_list_on_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "corpus", "--out", str(tmp_path),
                          "--presets", str(tmp_path / "none.json")], capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "preset list" in lines[0] and "--screen" in lines[0]


def test_manifest_lists_completed_videos_with_hashes(tmp_path, groove):
    jobs = build.plan(tracks=1, presets_per_track=1, seconds=150) \
        if build.PRESETS_JSON.exists() else []
    assert jobs, "lists/presets.json is missing"
    job = jobs[0]
    video = build.video_path(tmp_path, job)
    video.parent.mkdir(parents=True)
    sha = render_clip(video, PRESET, groove)  # stands in for the track excerpt (no music in git)
    entry = {"video": str(video.relative_to(tmp_path)), "sha256": sha, "track": job.track,
             "group": job.group, "settings": job.settings(), "status": "ok"}
    video.with_suffix(".json").write_text(json.dumps(entry))
    assert build.is_complete(tmp_path, job) == entry
    path = build.write_manifest(tmp_path, jobs, [entry], [])
    manifest = json.loads(path.read_text())
    assert manifest["format"] == "vjbridge-corpus" and manifest["complete"] == 1
    assert manifest["videos"][0]["video"].endswith(".mkv") and "pts (i+1)/fps" in manifest["alignment"]
    with open(video, "r+b") as f:  # a damaged file is no longer complete: it will be re-rendered
        f.seek(100)
        f.write(b"\xff")
    assert build.is_complete(tmp_path, job) is None


def test_missing_projectm_development_files_name_the_apt_get_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing built yet
    empty = tmp_path / "pkgconfig"
    empty.mkdir()
    monkeypatch.setenv("PKG_CONFIG_LIBDIR", str(empty))  # pkg-config now finds no libprojectM
    monkeypatch.setenv("PKG_CONFIG_PATH", str(empty))
    with pytest.raises(CorpusError, match="apt-get install -y libprojectm-dev projectm-data"):
        renderer_path()


def test_chosen_presets_are_kept_ones_best_first_without_duplicate_files():
    results = {
        "a/x.milk": {"preset": "a/x.milk", "sha256": "1", "status": "kept", "score": 0.3},
        "b/x.milk": {"preset": "b/x.milk", "sha256": "1", "status": "kept", "score": 0.3},
        "c/y.milk": {"preset": "c/y.milk", "sha256": "2", "status": "kept", "score": 0.5},
        "d/z.milk": {"preset": "d/z.milk", "sha256": "3", "status": "black", "score": 0.9},
    }
    assert [e["preset"] for e in screen.chosen_list(results)] == ["c/y.milk", "a/x.milk"]
    assert [e["preset"] for e in screen.chosen_list(results, keep=1)] == ["c/y.milk"]
    committed = json.loads(build.PRESETS_JSON.read_text())["chosen"]
    assert len({e["sha256"] for e in committed}) == len(committed)
    assert all(e["status"] == "kept" and e["score"] >= screen.MIN_SCORE for e in committed)


# ---- the held-out corpus (onnx_models/holdout): other music, presets never screened before ------
HOLDOUT = build.PRESETS_JSON.parents[4] / "onnx_models" / "holdout"


def test_excluded_presets_never_become_candidates_by_path_or_content():
    paths, hashes = screen.excluded_presets([build.PRESETS_JSON])
    committed = json.loads(build.PRESETS_JSON.read_text())
    assert len(paths) == len(committed["screened"]) and len(hashes) >= len(committed["chosen"])
    fresh = screen.candidates(200, seed=1, exclude=(paths, hashes))
    assert len(fresh) == 200 and fresh == screen.candidates(200, seed=1, exclude=(paths, hashes))
    assert not set(fresh) & paths
    assert not {Path(p).name.lower() for p in fresh} & {Path(p).name.lower() for p in paths}
    root = screen.PRESET_ROOT
    assert not {hashlib.sha256((root / p).read_bytes()).hexdigest() for p in fresh} & hashes
    # without the exclusion the same seed does draw some of them (the filter is doing the work)
    assert set(screen.candidates(200, seed=1)) & paths


def test_unreadable_exclude_list_is_one_line(tmp_path):
    with pytest.raises(CorpusError, match="--exclude .*not a readable preset list"):
        screen.excluded_presets([tmp_path / "none.json"])


def test_holdout_lists_share_nothing_with_the_training_lists():
    tracks = music.load_tracks(HOLDOUT / "tracks.json")
    training = music.load_tracks()
    assert {t["package"] for t in tracks}.isdisjoint({t["package"] for t in training})
    assert {t["sha256"] for t in tracks}.isdisjoint({t["sha256"] for t in training})
    assert all(t["licence"] == "CC-BY-SA-3.0" and len(t["sha256"]) == 64 for t in tracks)
    presets = json.loads((HOLDOUT / "presets.json").read_text())
    trained = json.loads(build.PRESETS_JSON.read_text())
    seen = {e["preset"] for e in trained["screened"]}
    seen_hashes = {e["sha256"] for e in trained["screened"] if e.get("sha256")}
    assert presets["chosen"] and all(e["status"] == "kept" for e in presets["chosen"])
    assert not {e["preset"] for e in presets["screened"]} & seen
    assert not ({Path(e["preset"]).name for e in presets["screened"]}
                & {Path(p).name for p in seen})
    assert not {e["sha256"] for e in presets["screened"] if e.get("sha256")} & seen_hashes
    assert set(presets["screen_tracks"]) <= {t["id"] for t in tracks}


def test_holdout_plan_skips_the_screening_music(tmp_path):
    lists = HOLDOUT / "tracks.json", HOLDOUT / "presets.json"
    screened_on = json.loads(lists[1].read_text())["screen_tracks"]
    jobs = build.plan(presets_per_track=2, seconds=75, tracks_path=lists[0], presets_path=lists[1],
                      skip_tracks=screened_on)
    used = [t for t in music.load_tracks(lists[0]) if t["use"] and t["id"] not in screened_on]
    assert len(jobs) == 2 * len(used) and not {j.track for j in jobs} & set(screened_on)
    assert all(j.package == "hyperrogue-music" for j in jobs)
    with pytest.raises(ConfigError, match="not in the track list"):
        build.plan(tracks_path=lists[0], presets_path=lists[1], skip_tracks=["nexuiz/infight"])


def test_save_list_refuses_to_overwrite_the_training_list_from_a_holdout_screening(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bridge.cli", "corpus", "--out", str(tmp_path),
                          "--screen", "1", "--save-list", "--exclude", str(build.PRESETS_JSON)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--save-list" in lines[0]
