"""Build the corpus: every (track excerpt, preset) pair of the plan rendered to one video, in parallel.

Why cached per video with a sidecar: a full build is an hour or more on two cores and gets
interrupted. Each finished video has ``<name>.json`` next to it holding its render settings and the
video's sha256; a video is rendered again only if its sidecar is missing, its settings changed
(track or preset hash, excerpt, size, fps, CRF, renderer source) or the file no longer matches the
hash. Videos are written to a ``.partial`` name of the rendering process's own and renamed when
complete, so a kill leaves nothing that looks finished. ``DIR/manifest.json`` is rewritten from the
sidecars at the end of every run. Renders are tasks of :mod:`bridge.training.fanout` (local
processes, or Dask workers that see ``DIR`` and the music cache at the same paths).

The plan is deterministic: tracks in a seeded order (so ``--tracks 10`` is a mix of the three
soundtracks), each track's excerpt is its middle ``seconds``, and presets are dealt round-robin
from a seeded order of the chosen list, so each track gets K distinct presets and every preset is
used about equally often.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bridge.errors import ConfigError, CorpusError, PresetError
from bridge.training.corpus import music
from bridge.training.corpus.renderer import frame_bounds, n_frames_for, render_frames, source_hash

FORMAT = "vjbridge-corpus"
FORMAT_VERSION = 1
PRESETS_JSON = music.LISTS / "presets.json"
ALIGNMENT = ("audio sample 0 has pts 0; video frame i (0-based, in decode order of presentation) "
             "has pts (i+1)/fps and shows projectM after exactly the audio of [0, (i+1)/fps) was "
             "pushed (frame i's own audio is [i/fps, (i+1)/fps)); the frame on screen at time t "
             "has seen exactly the audio before t. Matroska stores pts in whole milliseconds.")


@dataclass(frozen=True)
class Job:
    name: str            # file stem, unique in the corpus
    track: str           # track id from tracks.json
    group: str
    package: str
    style: str
    track_sha256: str
    preset: str          # relative to /usr/share/projectM/presets
    preset_sha256: str
    start: float         # excerpt start in the track, seconds
    seconds: float       # excerpt length, seconds (before trimming to whole frames)
    size: int
    fps: int
    sample_rate: int
    crf: int
    renderer: str        # sha256 of render.cpp

    def settings(self) -> dict:
        return asdict(self)


def load_presets(path: Path = PRESETS_JSON) -> list[dict]:
    if not Path(path).exists():
        raise CorpusError(f"preset list {path} is missing; screen presets first: "
                          "vjbridge corpus --screen 300 --out DIR --save-list")
    chosen = json.loads(Path(path).read_text()).get("chosen", [])
    if not chosen:
        raise CorpusError(f"{path} chooses no presets; rerun the screening")
    return chosen


def plan(*, tracks: int | None = None, presets_per_track: int = 3, seconds: float | None = 150.0,
         size: int = 128, fps: int = 30, crf: int = 23, seed: int = 0,
         presets_path: Path = PRESETS_JSON, tracks_path: Path = music.TRACKS_JSON,
         skip_tracks=()) -> list[Job]:
    """The list of videos to render (deterministic for the same lists and arguments).

    ``skip_tracks``: track ids left out (e.g. the music a held-out preset list was screened on)."""
    if presets_per_track < 1:
        raise ConfigError(f"--presets-per-track must be >= 1; got {presets_per_track}")
    if seconds is not None and seconds < 2:
        raise ConfigError(f"--seconds must be at least 2 (or omitted for whole tracks); got {seconds}")
    listed = music.load_tracks(Path(tracks_path))
    unknown = sorted(set(skip_tracks) - {t["id"] for t in listed})
    if unknown:
        raise ConfigError(f"--skip-tracks {unknown} are not in the track list {tracks_path}")
    usable = sorted((t for t in listed if t["use"] and t["id"] not in set(skip_tracks)),
                    key=lambda t: t["id"])
    order = np.random.default_rng(seed).permutation(len(usable))
    usable = [usable[i] for i in order]
    if tracks is not None:
        if tracks < 1:
            raise ConfigError(f"--tracks must be >= 1; got {tracks}")
        usable = usable[:tracks]
    chosen = sorted(load_presets(presets_path), key=lambda p: p["preset"])
    if presets_per_track > len(chosen):
        raise ConfigError(f"--presets-per-track {presets_per_track} exceeds the {len(chosen)} "
                          "chosen presets")
    porder = np.random.default_rng(seed + 1).permutation(len(chosen))
    chosen = [chosen[i] for i in porder]
    renderer = source_hash()
    jobs = []
    for j, t in enumerate(usable):
        start, length = music.excerpt_window(t["duration"], seconds)
        for k in range(presets_per_track):
            p = chosen[(j * presets_per_track + k) % len(chosen)]
            jobs.append(Job(
                name=f"{_slug(t['id'])}__{_slug(Path(p['preset']).stem)[:40]}_{p['sha256'][:8]}",
                track=t["id"], group=t["group"], package=t["package"], style=t["style"],
                track_sha256=t["sha256"], preset=p["preset"], preset_sha256=p["sha256"],
                start=start, seconds=length, size=int(size), fps=int(fps),
                sample_rate=music.SAMPLE_RATE, crf=int(crf), renderer=renderer))
    return jobs


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.replace("/", "__")).strip("-")


def video_path(out: Path, job: Job) -> Path:
    return out / "videos" / job.package / f"{job.name}.mkv"


def is_complete(out: Path, job: Job) -> dict | None:
    """The sidecar entry if ``job``'s video is finished with the same settings and intact."""
    video = video_path(out, job)
    side = video.with_suffix(".json")
    if not (video.exists() and side.exists()):
        return None
    try:
        entry = json.loads(side.read_text())
    except json.JSONDecodeError:
        return None
    if entry.get("settings") != job.settings() or entry.get("sha256") != music.sha256_file(video):
        return None
    return entry


def render_job(out: Path, job: Job, *, debs: str | None = None,
               tracks_path: str | None = None) -> dict:
    """Render one video (worker process). Returns its manifest entry, or a failure record."""
    from bridge.training.corpus.video import ClipWriter

    video = video_path(out, job)
    video.parent.mkdir(parents=True, exist_ok=True)
    # a name of this process's own: a task of a stopped run still finishing on a cluster worker
    # never writes into the file of the same task re-run by the next one
    partial = video.with_name(f"{video.name}.{socket.gethostname()}-{os.getpid()}.partial")
    track = {"id": job.track, "package": job.package, "sha256": job.track_sha256,
             "path": _track_paths(tracks_path)[job.track]}
    audio = music.load_stereo(music.track_file(track, debs=Path(debs) if debs else None),
                              start=job.start, seconds=job.seconds, sample_rate=job.sample_rate)
    n = n_frames_for(len(audio), fps=job.fps, sample_rate=job.sample_rate)
    audio = audio[: frame_bounds(n - 1, fps=job.fps, sample_rate=job.sample_rate)[1]] if n else audio[:0]
    try:
        with ClipWriter(partial, size=job.size, fps=job.fps, sample_rate=job.sample_rate,
                        crf=job.crf) as writer:
            for i, frame in enumerate(render_frames(job.preset, audio, sample_rate=job.sample_rate,
                                                    fps=job.fps, size=job.size)):
                a, b = frame_bounds(i, fps=job.fps, sample_rate=job.sample_rate)
                writer.write(frame, audio[a:b])
    except PresetError as exc:
        partial.unlink(missing_ok=True)
        return {"name": job.name, "track": job.track, "preset": job.preset, "status": "failed",
                "reason": str(exc)}
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, video)
    entry = {"video": os.path.relpath(video, out), "sha256": music.sha256_file(video),
             "bytes": video.stat().st_size, "track": job.track, "group": job.group,
             "package": job.package, "style": job.style, "preset": job.preset,
             "frames": n, "samples": int(len(audio)), "duration": len(audio) / job.sample_rate,
             "settings": job.settings(), "status": "ok"}
    tmp = video.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(entry, indent=1))
    os.replace(tmp, video.with_suffix(".json"))
    return entry


_TRACK_PATHS: dict[str, dict[str, str]] = {}


def _track_paths(tracks_path: str | None = None) -> dict[str, str]:
    key = str(tracks_path or music.TRACKS_JSON)
    if key not in _TRACK_PATHS:
        _TRACK_PATHS[key] = {t["id"]: t["path"] for t in music.load_tracks(Path(key))}
    return _TRACK_PATHS[key]


def write_manifest(out: Path, jobs: list[Job], entries: list[dict], failed: list[dict], *,
                   tracks_path: Path = music.TRACKS_JSON, presets_path: Path = PRESETS_JSON) -> Path:
    by_name = {e["settings"]["name"]: e for e in entries}
    videos = [by_name[j.name] for j in jobs if j.name in by_name]
    first = jobs[0] if jobs else None
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "about": "projectM 3.1.12 renders of Debian game soundtracks (licences in the track "
                 "list); rebuild with `vjbridge corpus`. Fold groups: 'group' (re-released tracks "
                 "share one).",
        "alignment": ALIGNMENT,
        "video_format": {"container": "matroska", "video": "h264 yuv420p", "audio": "flac s16 stereo",
                         "size": first.size if first else None, "fps": first.fps if first else None,
                         "sample_rate": first.sample_rate if first else None,
                         "crf": first.crf if first else None},
        "renderer_sha256": source_hash(),
        "tracks_list_sha256": music.sha256_file(tracks_path),
        "presets_list_sha256": (music.sha256_file(presets_path) if Path(presets_path).exists()
                                else None),
        "planned": len(jobs), "complete": len(videos),
        "videos": videos, "failed": failed,
    }
    path = out / "manifest.json"
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def remove_stale_partials(out: Path) -> list[Path]:
    """Delete the ``.partial`` files of renders that were killed on this machine (their process is
    gone); a name of another host may still be written by a cluster worker and stays."""
    host = socket.gethostname()
    gone = []
    for p in Path(out).glob("videos/*/*.partial"):
        stem = p.name[: -len(".partial")]  # NAME.mkv (before per-process names) or NAME.mkv.HOST-PID
        owner, _, pid = stem.rsplit(".mkv.", 1)[-1].rpartition("-")
        if not stem.endswith(".mkv") and not (owner == host and pid.isdigit()
                                              and not _alive(int(pid))):
            continue
        p.unlink(missing_ok=True)
        gone.append(p)
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build(out, jobs: list[Job], *, n_jobs: int = 2, debs: str | None = None,
          progress: bool = True, tracks_path: Path = music.TRACKS_JSON,
          presets_path: Path = PRESETS_JSON, fanout=None) -> dict:
    """Render every job not already complete in ``out``; write ``out/manifest.json``.
    ``fanout``: where the renders run (:class:`bridge.training.fanout.Options`; default
    ``n_jobs`` local processes); cluster workers must see ``out`` and the music at the same paths."""
    from bridge.training.fanout import Options
    from bridge.training.workers import folder_lock

    out = Path(out)
    with folder_lock(out, "vjbridge corpus"):
        return _build(out, jobs, debs=debs, progress=progress, tracks_path=tracks_path,
                      presets_path=presets_path, fanout=fanout or Options(jobs=max(1, n_jobs)))


def _build(out: Path, jobs: list[Job], *, debs, progress, tracks_path, presets_path,
           fanout) -> dict:
    from bridge.training.fanout import Bar, Fanout, Task

    for package in sorted({j.package for j in jobs}):  # fetch once, here, not in every worker
        music.fetch_package(package, debs=Path(debs) if debs else None)
    remove_stale_partials(out)
    entries, todo, failed = [], [], []
    for job in jobs:
        done = is_complete(out, job)
        (entries.append(done) if done else todo.append(job))
    cached = len(entries)
    where = {"debs": os.path.abspath(debs) if debs else None,  # absolute: for any worker
             "tracks_path": os.path.abspath(tracks_path)}
    tasks = [Task(render_job, (out.absolute(), job), where, label=job.name) for job in todo]
    try:
        with Fanout(fanout, isolate=True) as fan, \
                Bar("corpus", len(jobs), done=cached, enabled=progress, fan=fan) as bar:
            for task, result in fan.run(tasks):
                ok = result["status"] == "ok"
                (entries if ok else failed).append(result)
                bar.advance(f"{task.label}: " + ("ok" if ok else f"FAILED: {result['reason']}"),
                            failed=not ok)
    finally:
        failed.sort(key=lambda f: f["name"])  # the same manifest whatever order they finished in
        write_manifest(out, jobs, entries, failed, tracks_path=Path(tracks_path),
                       presets_path=Path(presets_path))
    return {"planned": len(jobs), "cached": cached, "rendered": len(entries) - cached,
            "failed": failed, "manifest": str(out / "manifest.json")}
