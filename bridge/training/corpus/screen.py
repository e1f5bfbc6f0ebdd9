"""Screen Milkdrop presets for audio response before they enter the corpus.

Why: a first projectM sample showed that the preset, not the music, sets a video's motion level,
and that many presets barely follow the audio (auto-gain, their own clocks). A preset that fails to
load, renders black, stands still or ignores the music only adds noise to a model of how visuals
follow music, so each candidate renders a short excerpt of real music and is scored:

- ``motion``: mean |grey frame difference| at 64x64 (the dataset's motion target, in [0, 1]);
- ``r_rms`` / ``r_onset``: Pearson r at lag 0 between motion and the audio's RMS / spectral flux,
  both averaged to 10 Hz (three 30-fps frames) so beat-scale structure dominates frame noise;
  the r at a lag of +-1 such step is recorded to show the response is aligned, not incidental;
- ``score``: the mean over the excerpts of max(r_rms, r_onset).

A preset is *kept* if it loads, is not black (mean brightness >= 0.02), moves (mean motion >=
0.002) and its score is at least :data:`MIN_SCORE`. Results go to a JSON-lines file one preset at
a time, so an interrupted screening resumes where it stopped.

A held-out screening (``onnx_models/holdout``) draws new candidates with another seed, excludes
every preset of an earlier list (by path, content hash and file name: projectm-data ships copies
under other names and edited copies under the same name) and screens on music of another track
list, so its presets share nothing with training.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bridge.errors import CorpusError, PresetError
from bridge.training.dataset import sha256_file
from bridge.training.corpus.renderer import (PRESET_ROOT, frame_bounds, render_frames,
                                             resolve_preset)

MIN_SCORE = 0.25
MIN_BRIGHTNESS = 0.02
MIN_MOTION = 0.002
SCREEN_FPS = 30
SCREEN_SIZE = 128
BLOCK = 3  # frames per scoring step: 10 Hz at 30 fps
#: The screening music: the middle 12 s of two tracks of different styles (ids in tracks.json).
SCREEN_TRACKS = ("nexuiz/infight", "wesnoth/battle")
SCREEN_SECONDS = 12.0


def all_presets(root: Path = PRESET_ROOT) -> list[str]:
    """Every .milk preset in projectm-data, as paths relative to ``root``, sorted."""
    return sorted(os.path.relpath(p, root) for p in root.rglob("*.milk"))


def candidates(n: int, *, seed: int = 0, root: Path = PRESET_ROOT,
               exclude: tuple[set, set] | None = None) -> list[str]:
    """A seeded random sample of ``n`` presets (the same list for the same seed and projectm-data).

    ``exclude`` = (paths, sha256s) from :func:`excluded_presets`: a preset with an excluded path,
    content, or file name (projectm-data has edited copies under the same name in other packs,
    e.g. a 99.6 %-identical ``EoS+Phat - Flare_dig_mix.milk``) is skipped before the sample is
    cut, so the sample still has ``n`` presets."""
    names = all_presets(root)
    order = np.random.default_rng(seed).permutation(len(names))
    names = [names[i] for i in order]
    if exclude:
        paths, hashes = exclude
        stems = {Path(p).name.lower() for p in paths}
        names = [p for p in names if p not in paths and Path(p).name.lower() not in stems
                 and sha256_file(root / p) not in hashes]
    return names[:n]


def excluded_presets(lists) -> tuple[set, set]:
    """Paths and content hashes of every preset named in earlier preset lists (chosen or screened)."""
    paths, hashes = set(), set()
    for path in lists or ():
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CorpusError(f"--exclude {path}: not a readable preset list ({exc})") from None
        for e in list(doc.get("chosen", [])) + list(doc.get("screened", [])):
            paths.add(e["preset"])
            if e.get("sha256"):
                hashes.add(e["sha256"])
    return paths, hashes


def grey64(frame: np.ndarray) -> np.ndarray:
    """Luma in [0, 1] downscaled to 64x64 by block means (nearest rows/cols if not a multiple)."""
    f = frame.astype(np.float32) / 255.0
    grey = f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114
    h, w = grey.shape
    if h % 64 == 0 and w % 64 == 0:
        return grey.reshape(64, h // 64, 64, w // 64).mean(axis=(1, 3))
    return grey[np.linspace(0, h - 1, 64).astype(int)][:, np.linspace(0, w - 1, 64).astype(int)]


def audio_envelopes(audio: np.ndarray, *, fps: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per rendered frame: RMS and spectral flux (positive log-magnitude change) of its audio."""
    mono = np.asarray(audio, dtype=np.float64)
    mono = mono.mean(axis=1) if mono.ndim == 2 else mono
    n = len(mono) * fps // sample_rate
    rms, flux, prev = np.zeros(n), np.zeros(n), None
    for i in range(n):
        a, b = frame_bounds(i, fps=fps, sample_rate=sample_rate)
        chunk = mono[a:b]
        rms[i] = np.sqrt(np.mean(chunk ** 2))
        mag = np.log1p(np.abs(np.fft.rfft(chunk * np.hanning(len(chunk)), n=2048)))
        flux[i] = 0.0 if prev is None else np.maximum(mag - prev, 0).sum()
        prev = mag
    return rms, flux


def _blocks(x: np.ndarray) -> np.ndarray:
    m = len(x) // BLOCK
    return x[: m * BLOCK].reshape(m, BLOCK).mean(axis=1)


def _r(a: np.ndarray, b: np.ndarray, lag: int = 0) -> float:
    if lag > 0:
        a, b = a[lag:], b[:-lag]
    elif lag < 0:
        a, b = a[:lag], b[-lag:]
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def score_render(frames, audio: np.ndarray, *, fps: int, sample_rate: int) -> dict:
    """Brightness, motion and audio correlation of one rendered excerpt."""
    greys, bright = [], []
    for f in frames:
        greys.append(grey64(f))
        bright.append(float(f.mean()) / 255.0)
    g = np.stack(greys)
    motion = np.concatenate([[0.0], np.abs(np.diff(g, axis=0)).mean(axis=(1, 2))])
    rms, flux = audio_envelopes(audio, fps=fps, sample_rate=sample_rate)
    skip = fps  # the first second: the preset warms up from black
    m, r, o = _blocks(motion[skip:]), _blocks(rms[skip:]), _blocks(flux[skip:])
    return {"brightness": round(float(np.mean(bright[skip:])), 4),
            "motion": round(float(motion[skip:].mean()), 5),
            "r_rms": round(_r(m, r), 4), "r_onset": round(_r(m, o), 4),
            "r_rms_lag_m1": round(_r(m, r, -1), 4), "r_rms_lag_p1": round(_r(m, r, 1), 4)}


def screen_preset(preset: str, excerpts: list[np.ndarray], *, sample_rate: int) -> dict:
    """Render every excerpt with ``preset`` and judge it (never raises for a bad preset)."""
    entry = {"preset": preset}
    parts = []
    try:
        entry["sha256"] = sha256_file(resolve_preset(preset))
        for audio in excerpts:
            frames = render_frames(preset, audio, sample_rate=sample_rate, fps=SCREEN_FPS,
                                   size=SCREEN_SIZE)
            parts.append(score_render(frames, audio, fps=SCREEN_FPS, sample_rate=sample_rate))
    except PresetError as exc:
        return {**entry, "status": "failed", "reason": str(exc).split(": ", 1)[-1]}
    for key in parts[0]:
        entry[key] = round(float(np.mean([p[key] for p in parts])), 4)
    entry["score"] = round(float(np.mean([max(p["r_rms"], p["r_onset"]) for p in parts])), 4)
    if entry["brightness"] < MIN_BRIGHTNESS:
        entry["status"] = "black"
    elif entry["motion"] < MIN_MOTION:
        entry["status"] = "frozen"
    elif entry["score"] < MIN_SCORE:
        entry["status"] = "ignores-audio"
    else:
        entry["status"] = "kept"
    return entry


def load_results(path: Path) -> dict[str, dict]:
    """Screening results so far (a JSON-lines file; a torn last line from a kill is ignored)."""
    results = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            results[entry["preset"]] = entry
    return results


def chosen_list(results: dict[str, dict], *, keep: int | None = None) -> list[dict]:
    """Kept presets, best score first (ties by name), one per content hash, at most ``keep``.

    projectm-data ships some presets in several packs under the same or another name; identical
    files would render identical videos, so only the first (by score, then name) is chosen.
    """
    kept = sorted((e for e in results.values() if e.get("status") == "kept"),
                  key=lambda e: (-e["score"], e["preset"]))
    seen, unique = set(), []
    for e in kept:
        if e["sha256"] not in seen:
            seen.add(e["sha256"])
            unique.append(e)
    return unique if keep is None else unique[:keep]


_EXCERPTS: dict[tuple, list[np.ndarray]] = {}


def screening_audio(debs: str | None = None, *, tracks_path=None,
                    screen_tracks=SCREEN_TRACKS) -> list[np.ndarray]:
    """The screening excerpts (stereo, 44.1 kHz), decoded once per process."""
    key = (str(tracks_path), tuple(screen_tracks))
    if key not in _EXCERPTS:
        from bridge.training.corpus import music

        tracks = {t["id"]: t for t in (music.load_tracks(Path(tracks_path)) if tracks_path
                                       else music.load_tracks())}
        missing = [tid for tid in screen_tracks if tid not in tracks]
        if missing:
            raise CorpusError(f"screening track(s) {missing} are not in the track list "
                              f"{tracks_path or music.TRACKS_JSON}; pick ids from it")
        _EXCERPTS[key] = []
        for tid in screen_tracks:
            t = tracks[tid]
            start, length = music.excerpt_window(t["duration"], SCREEN_SECONDS)
            path = music.track_file(t, debs=Path(debs) if debs else None)
            _EXCERPTS[key].append(music.load_stereo(path, start=start, seconds=length))
    return _EXCERPTS[key]


def _screen_worker(preset: str, debs: str | None, tracks_path=None,
                   screen_tracks=SCREEN_TRACKS) -> dict:
    from bridge.training.corpus.music import SAMPLE_RATE

    audio = screening_audio(debs, tracks_path=tracks_path, screen_tracks=screen_tracks)
    return screen_preset(preset, audio, sample_rate=SAMPLE_RATE)


def run_screening(out, n: int, *, seed: int = 0, n_jobs: int = 2, keep: int | None = None,
                  debs: str | None = None, progress: bool = True, tracks_path=None,
                  screen_tracks=SCREEN_TRACKS, exclude=(), fanout=None) -> dict:
    """Screen ``n`` seeded candidates (resuming ``out/screening.jsonl``); write ``out/presets.json``.

    ``tracks_path``/``screen_tracks``: the track list and the ids whose middle excerpts are the
    screening music; ``exclude``: earlier preset lists whose presets are never candidates;
    ``fanout``: where the presets render (:class:`bridge.training.fanout.Options`; default
    ``n_jobs`` local processes)."""
    from bridge.training.fanout import Bar, Fanout, Options, Task
    from bridge.training.workers import folder_lock

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "screening.jsonl"
    results = load_results(log)
    screen_tracks = tuple(screen_tracks)
    skip = excluded_presets(exclude) if exclude else None
    wanted = candidates(n, seed=seed, exclude=skip)
    todo = [p for p in wanted if p not in results]
    # fetch and verify the music once, before the workers start
    screening_audio(debs, tracks_path=tracks_path, screen_tracks=screen_tracks)
    if todo:
        where = (os.path.abspath(debs) if debs else None,  # absolute: for any worker
                 os.path.abspath(tracks_path) if tracks_path else None)
        tasks = [Task(_screen_worker, (p, *where, screen_tracks), label=p) for p in todo]
        with folder_lock(out, "vjbridge corpus --screen"), \
                Fanout(fanout or Options(jobs=max(1, n_jobs)), isolate=True) as fan, \
                open(log, "a") as sink, \
                Bar("screening presets", len(todo), enabled=progress, fan=fan) as bar:
            for _, entry in fan.run(tasks):
                results[entry["preset"]] = entry
                sink.write(json.dumps(entry) + "\n")
                sink.flush()
                bar.advance(f"{entry['status']:>13} {entry.get('score', '')} {entry['preset']}",
                            failed=entry["status"] == "failed")
    screened = {p: e for p, e in results.items() if p in set(wanted)}
    doc = presets_document(screened, seed=seed, n=n, keep=keep, screen_tracks=screen_tracks,
                           exclude=exclude)
    (out / "presets.json").write_text(json.dumps(doc, indent=1) + "\n")
    return doc


def presets_document(results: dict[str, dict], *, seed: int, n: int, keep: int | None,
                     screen_tracks=SCREEN_TRACKS, exclude=()) -> dict:
    counts: dict[str, int] = {}
    for e in results.values():
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    return {
        "about": "Milkdrop presets (projectm-data, paths relative to /usr/share/projectM/presets) "
                 "screened for audio response by vjbridge corpus --screen; see "
                 "bridge/training/corpus/screen.py for the scores and thresholds.",
        "candidates": n, "seed": seed, "screen_tracks": list(screen_tracks),
        **({"excluded_lists": {os.path.basename(str(p)): sha256_file(p) for p in exclude}}
           if exclude else {}),
        "screen_seconds": SCREEN_SECONDS, "fps": SCREEN_FPS, "size": SCREEN_SIZE,
        "thresholds": {"min_score": MIN_SCORE, "min_brightness": MIN_BRIGHTNESS,
                       "min_motion": MIN_MOTION},
        "counts": dict(sorted(counts.items())),
        "chosen": chosen_list(results, keep=keep),
        "screened": sorted(results.values(), key=lambda e: e["preset"]),
    }


