"""Building a training dataset from any folder of videos: audio features + visual targets per frame.

Why this shape: the study and the exported models need, for every audio feature frame, the visual
targets of the video frame a viewer *saw* when that audio had just been heard. The features come from
the one :class:`~bridge.audio.features.FeatureExtractor` the live daemon uses (never librosa), so a
model sees the same numbers offline and live.

**Alignment rule** (exact). The audio track is decoded and resampled to the spec rate; its first
sample is presented at ``a0`` = the audio stream's ``start_time`` (seconds, container clock). Feature
frame ``t`` covers resampled samples ``[t*hop, t*hop + n_fft)``, so its last sample plays at
``now_t = a0 + (t*hop + n_fft - 1) / sr``. Its targets are those of the video frame *shown* at
``now_t``: the last frame whose presentation time is ``<= now_t`` (frame times on the same container
clock). ``motion`` compares that frame with the one shown at ``now_t - hop/sr`` (one feature frame,
1/fps, earlier). A row is invalid (kept for the causal context, masked out of training) when
``now_t - hop/sr`` precedes the first video frame or ``now_t`` lies beyond the last frame's display
interval.

Layout of ``DATA``::

    manifest.json                 specs, target definitions, videos (hash, group, rows), skipped
    videos/<id>/meta.json         per-video cache key: content sha256, spec digests, targets version
    videos/<id>/hop<H>.npz        X float32 (n, 66), Y float32 (n, 8), valid bool (n,), time (n,)

Videos run as tasks of :mod:`bridge.training.fanout` (local processes, or a Dask cluster whose
workers read the videos by path and write their results into ``DATA`` when they share it, or
return them to the command when they do not; one thread each); a finished video is never recomputed while its
content, specs and target definitions are unchanged, so an interrupted run resumes where it stopped.
A video without audio, a corrupt file, or a clip shorter than one window is reported on one line and
skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bridge.audio.spec import FeatureSpec
from bridge.errors import BridgeError, ClusterError, DatasetError, MediaError
from bridge.training import targets as T

FORMAT = "vjbridge-dataset"
FORMAT_VERSION = 1
#: Corpus manifest fields copied into the dataset manifest (the study can split by preset).
INFO_KEYS = ("track", "preset", "style", "package")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".ogv", ".mpg", ".mpeg", ".flv")


@dataclass(frozen=True)
class VideoJob:
    path: str
    group: str
    info: dict = field(default_factory=dict, compare=False)  # e.g. preset, track from a corpus


# ---------------------------------------------------------------------------------------------------
def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return h.hexdigest()
            h.update(block)


def discover(inputs: list[str], group_regex: str | None = None) -> list[VideoJob]:
    """Videos from directories (recursive), single files, or a corpus ``manifest.json``.

    ``group_regex`` (for files and folders) takes a video's fold group from the first capture group
    of a search in its file name (e.g. ``^(.*)__`` for ``track__preset.mp4``); default: the video.

    In folders, a ``<stem>.json`` sidecar with a ``group`` (and ``preset``...) is honoured. A corpus
    manifest is any JSON object with a list of entries under ``videos`` (or ``items``,
    ``entries``, ``renders``), each naming its file (``video``/``path``/``file``, relative to the
    manifest) and optionally its fold group (``group``/``track_group``/``track``). Without a group, a
    video is its own group.
    """
    jobs: list[VideoJob] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file():
                    jobs.append(_with_sidecar(f))
        elif p.suffix.lower() == ".json":
            jobs.extend(_from_manifest(p))
        elif p.is_file():
            jobs.append(VideoJob(str(p), p.stem))
        else:
            raise DatasetError(f"{item}: not a video, a folder of videos or a corpus manifest.json")
    if group_regex:
        import re

        try:
            rx = re.compile(group_regex)
        except re.error as exc:
            raise DatasetError(f"--group-regex {group_regex!r} is not a valid regex ({exc})") from None
        jobs = [VideoJob(j.path, _regex_group(rx, j), j.info) for j in jobs]
    if not jobs:
        raise DatasetError(f"no videos found in {' '.join(inputs)} (looked for "
                           f"{', '.join(VIDEO_EXTENSIONS)})")
    return jobs


def _with_sidecar(f: Path) -> VideoJob:
    """A video found in a folder; a ``<stem>.json`` beside it (as `vjbridge corpus` writes while it
    renders) may name its group and preset, so a corpus still being built can be used."""
    side = f.with_suffix(".json")
    if side.is_file():
        try:
            e = json.loads(side.read_text())
        except (OSError, json.JSONDecodeError):
            e = None
        if isinstance(e, dict) and e.get("group") is not None:
            info = {k: e[k] for k in INFO_KEYS if isinstance(e.get(k), (str, int, float))}
            return VideoJob(str(f), str(e["group"]), info)
    return VideoJob(str(f), f.stem)


def _regex_group(rx, job: VideoJob) -> str:
    m = rx.search(Path(job.path).name)
    if m is None:
        return job.group
    return m.group(1) if m.groups() else m.group(0)


def _from_manifest(path: Path) -> list[VideoJob]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the corpus manifest ({exc})") from None
    entries = None
    if isinstance(data, list):
        entries = data
    elif isinstance(data, dict):
        for key in ("videos", "items", "entries", "renders"):
            if isinstance(data.get(key), list):
                entries = data[key]
                break
    if entries is None:
        raise DatasetError(f"{path}: a corpus manifest needs a list under 'videos'")
    jobs = []
    for i, e in enumerate(entries):
        if isinstance(e, str):
            e = {"video": e}
        rel = next((e[k] for k in ("video", "path", "file") if isinstance(e.get(k), str)), None)
        if rel is None:
            raise DatasetError(f"{path}: entry {i} names no file ('video', 'path' or 'file')")
        f = (path.parent / rel) if not os.path.isabs(rel) else Path(rel)
        group = next((str(e[k]) for k in ("group", "track_group", "track") if e.get(k) is not None),
                     f.stem)
        info = {k: e[k] for k in INFO_KEYS if isinstance(e.get(k), (str, int, float))}
        jobs.append(VideoJob(str(f), group, info))
    return jobs


# ---------------------------------------------------------------------------------------------------
def sample_targets(frames, now_times: np.ndarray, before_times: np.ndarray):
    """Targets ``(n, 8)`` and validity ``(n,)`` for query times, streaming over ``frames``.

    ``frames`` yields ``(time, rgb uint8 (64, 64, 3))`` in presentation order. The frame shown at time
    ``x`` is the last frame with ``time <= x``. Only a few seconds of frames are held in memory, and
    colour clustering runs once per frame that some query shows.
    """
    now_times = np.asarray(now_times, dtype=np.float64)
    before_times = np.asarray(before_times, dtype=np.float64)
    n = now_times.size
    out = np.zeros((n, len(T.TARGET_NAMES)))
    valid = np.zeros(n, dtype=bool)
    if n == 0:
        return out, valid
    order = np.argsort(now_times, kind="stable")
    lookback = float(np.max(now_times - before_times)) + 1e-9
    buf: deque = deque()  # (time, grey, rgb, index)
    colour_cache: dict[int, np.ndarray] = {}
    q = 0  # next query (in order) to answer

    def shown(x: float):
        best = None
        for item in buf:
            if item[0] <= x:
                best = item
            else:
                break
        return best

    def answer_until(limit: float, current) -> None:
        nonlocal q
        while q < n and now_times[order[q]] < limit:
            i = order[q]
            q += 1
            if current is None or now_times[i] < current[0]:
                continue  # before the first frame
            before = shown(before_times[i])
            if before is None:
                continue
            idx = current[3]
            if idx not in colour_cache:
                colour_cache[idx] = T.colour_targets(T.area_downscale(current[2], T.CLUSTER_SIZE)
                                                     / 255.0)
            out[i, 0] = T.motion(current[1], before[1])
            out[i, 1:] = colour_cache[idx]
            valid[i] = True

    current, last_gap = None, None
    for k, (t, rgb) in enumerate(frames):
        if current is not None:
            answer_until(t, current)
            last_gap = t - current[0]
            colour_cache.pop(current[3] - 1, None)
        current = (t, T.grey(rgb), rgb, k)
        buf.append(current)
        while len(buf) > 1 and buf[1][0] <= t - lookback:
            buf.popleft()
        if q >= n:
            break
    if current is not None:
        answer_until(current[0] + (last_gap if last_gap is not None else 0.0), current)
    return out, valid


def _process_video(job: VideoJob, out_dir: str, specs: list[FeatureSpec], token: str | None = None,
                   hint: str | None = None) -> dict:
    """Worker: features and targets of one video at every spec; returns its meta or a skip reason.

    ``token`` (distributed runs): the run's token in ``out_dir/.fanout-token``. A worker that reads
    it there shares the output folder and writes the video's files itself (as local workers always
    do); one that does not returns them in the meta (``blobs``: file name -> bytes, a few MB) for
    the client to write, and trusts ``hint``, the content hash the client's cache holds for this
    path, instead of the cache it cannot see."""
    os.environ["OMP_NUM_THREADS"] = "1"
    from bridge.audio.decode import audio_info, load_audio
    from bridge.audio.features import FeatureExtractor
    from bridge.training.video import iter_frames, video_info

    path = job.path
    shared = token is None or _read_token(out_dir) == token
    try:
        sha = sha256_file(path)
    except OSError as exc:
        return {"path": path, "skipped": f"cannot read ({exc.strerror or exc})",
                "unreadable_on": socket.gethostname()}
    vid = sha[:16]
    vdir = Path(out_dir) / "videos" / vid
    key = _cache_key(sha, specs)
    if not shared and hint == sha:
        return {"path": path, "group": job.group, "info": job.info, "cached_id": vid}
    meta_path = vdir / "meta.json"
    if shared and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("key") == key and all((vdir / f).exists() for f in meta["files"].values()):
                meta.update(path=path, group=job.group, info=job.info, cached=True)
                return meta
        except (OSError, json.JSONDecodeError, KeyError):
            pass
    t0 = time.perf_counter()
    try:
        vinfo = video_info(path)
        ainfo = audio_info(path)
        sr = specs[0].sample_rate
        audio = load_audio(path, sample_rate=sr)
        shortest = min(s.n_fft for s in specs)
        if audio.size < shortest:
            return {"path": path, "skipped": f"shorter than one analysis window "
                    f"({shortest / sr * 1000:.0f} ms of audio)"}
        feats, nows, befores, bounds = {}, [], [], [0]
        for spec in specs:
            x = FeatureExtractor(spec).process(audio)
            t = np.arange(len(x))
            now = ainfo.start_time + (t * spec.hop_length + spec.n_fft - 1) / sr
            feats[spec.hop_length] = (x, now)
            nows.append(now)
            befores.append(now - spec.hop_length / sr)
            bounds.append(bounds[-1] + len(x))
        y, valid = sample_targets(iter_frames(path, size=T.MOTION_SIZE),
                                  np.concatenate(nows), np.concatenate(befores))
    except BridgeError as exc:
        return {"path": path, "skipped": str(exc).replace(path + ": ", "")}
    if not valid.any():
        return {"path": path, "skipped": "no video frame overlaps the audio (empty or corrupt video)"}
    files, rows, blobs = {}, {}, {}
    for j, spec in enumerate(specs):
        a, b = bounds[j], bounds[j + 1]
        x, now = feats[spec.hop_length]
        name = f"hop{spec.hop_length}.npz"
        buf = io.BytesIO()
        np.savez_compressed(buf, X=x.astype(np.float32), Y=y[a:b].astype(np.float32),
                            valid=valid[a:b], time=now)
        blobs[name] = buf.getvalue()
        files[str(spec.hop_length)] = name
        rows[str(spec.hop_length)] = int(valid[a:b].sum())
    meta = {"id": vid, "key": key, "files": files, "rows": rows,
            "audio_seconds": audio.size / sr, "audio_start": ainfo.start_time,
            "video": {"width": vinfo.width, "height": vinfo.height, "rate": vinfo.rate},
            "seconds_to_build": round(time.perf_counter() - t0, 2)}
    if shared:
        _store(Path(out_dir), meta, blobs)
    else:
        meta["blobs"] = blobs
    meta.update(path=path, group=job.group, info=job.info, cached=False)
    return meta


def _cache_key(sha: str, specs) -> dict:
    return {"sha256": sha, "targets_version": T.TARGETS_VERSION,
            "specs": sorted(s.digest for s in specs)}


def _store(out: Path, meta: dict, blobs: dict[str, bytes]) -> None:
    """One video's files and then its ``meta.json`` (each renamed into place: a kill leaves no
    half-written file that looks finished)."""
    vdir = out / "videos" / meta["id"]
    vdir.mkdir(parents=True, exist_ok=True)
    for name, data in blobs.items():
        tmp = vdir / (name + ".tmp.npz")
        tmp.write_bytes(data)
        os.replace(tmp, vdir / name)
    tmp = vdir / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, vdir / "meta.json")


def _cached_meta(out: Path, vid: str, key: dict) -> dict | None:
    """The meta of a finished video in ``out`` if it matches ``key`` and its files are there."""
    vdir = out / "videos" / vid
    try:
        meta = json.loads((vdir / "meta.json").read_text())
        if meta.get("key") == key and all((vdir / f).exists() for f in meta["files"].values()):
            return meta
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        pass
    return None


def _read_token(out_dir: str) -> str | None:
    try:
        return (Path(out_dir) / ".fanout-token").read_text().strip()
    except OSError:
        return None


def _hints(out: Path, specs) -> dict[str, str]:
    """Path -> content hash of the videos the previous run's manifest lists and ``out`` still
    holds finished (what a worker that cannot see ``out`` may skip)."""
    try:
        previous = json.loads((out / "manifest.json").read_text()).get("videos", [])
    except (OSError, json.JSONDecodeError):
        return {}
    return {v["path"]: v["sha256"] for v in previous
            if isinstance(v, dict) and "sha256" in v and "path" in v
            and _cached_meta(out, v["sha256"][:16], _cache_key(v["sha256"], specs))}


def _write_manifest(out: Path, specs, done: list[dict], skipped: list[dict]) -> None:
    videos = sorted(({k: m[k] for k in ("id", "path", "group", "files", "rows", "audio_seconds",
                                        "audio_start", "video", "info")}
                     | {"sha256": m["key"]["sha256"]}
                     for m in done), key=lambda m: m["path"])
    digest = hashlib.sha256(json.dumps([v["sha256"] for v in videos]).encode()).hexdigest()
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "specs": {str(s.hop_length): s.to_dict() for s in specs},
                "target_names": list(T.TARGET_NAMES), "targets": T.TARGET_DEFINITIONS,
                "targets_version": T.TARGETS_VERSION,
                "alignment": "targets of the video frame shown when the window's last sample "
                             "plays: last frame with pts <= a0 + (t*hop + n_fft - 1)/sr",
                "data_hash": digest, "videos": videos,
                "skipped": sorted(skipped, key=lambda s: s["path"])}
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / "manifest.json")


def build_dataset(inputs: list[str], out: str, *, fps: list[float], jobs: int = 2,
                  sample_rate: int = 22050, report=print, progress: bool = True,
                  group_regex: str | None = None, fanout=None) -> dict:
    """Build (or resume) ``out`` from ``inputs``; returns the manifest dict. One run at a time
    writes a folder (:func:`bridge.training.workers.folder_lock`). ``fanout``: where the videos
    run (:class:`bridge.training.fanout.Options`; default ``jobs`` local processes)."""
    from bridge.training.fanout import Options
    from bridge.training.workers import folder_lock

    with folder_lock(out, "vjbridge dataset"):
        return _build_dataset(inputs, out, fps=fps, sample_rate=sample_rate, report=report,
                              progress=progress, group_regex=group_regex,
                              fanout=fanout or Options(jobs=max(1, int(jobs))))


def _build_dataset(inputs, out, *, fps, sample_rate, report, progress, group_regex,
                   fanout) -> dict:
    import uuid

    from bridge.training.fanout import Bar, Fanout, Task

    videos = discover(inputs, group_regex)
    seen, unique = set(), []
    for v in videos:
        if v.path not in seen:
            seen.add(v.path)
            unique.append(v)
    specs = sorted({FeatureSpec(fps=f, sample_rate=sample_rate).hop_length:
                    FeatureSpec(fps=f, sample_rate=sample_rate) for f in fps}.values(),
                   key=lambda s: -s.hop_length)
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    done, skipped = [], []
    os.environ["OMP_NUM_THREADS"] = "1"
    token, hints = None, {}
    if fanout.distributed:  # workers elsewhere may not see `out`: see _process_video
        token = _read_token(str(outp))  # kept: the same tasks keep the same keys across runs
        if not token:
            token = uuid.uuid4().hex
            tmp = outp / ".fanout-token.tmp"
            tmp.write_text(token + "\n")
            os.replace(tmp, outp / ".fanout-token")
        hints = _hints(outp, specs)

    def collect(meta):
        if "unreadable_on" in meta and fanout.distributed and os.path.isfile(meta["path"]):
            raise ClusterError(f"a Dask worker on {meta['unreadable_on']} cannot read "
                               f"{meta['path']} ({meta['skipped']}), which this machine can: the "
                               "workers must see the videos at the same path (a shared folder)")
        meta.pop("unreadable_on", None)
        if "skipped" in meta:
            skipped.append({"path": meta["path"], "reason": meta["skipped"]})
            report(f"skipped {meta['path']}: {meta['skipped']}")
            return False
        if "cached_id" in meta:
            cached = _cached_meta(outp, meta["cached_id"], _cache_key(hints[meta["path"]], specs))
            if cached is None:  # gone since the hint: rebuild it here
                cached = _process_video(VideoJob(meta["path"], meta["group"], meta["info"]),
                                        str(outp), specs)
            meta = {**cached, "path": meta["path"], "group": meta["group"],
                    "info": meta["info"], "cached": True}
        elif "blobs" in meta:
            blobs = meta.pop("blobs")
            _store(outp, {k: v for k, v in meta.items()
                          if k not in ("path", "group", "info", "cached")}, blobs)
        done.append(meta)
        _write_manifest(outp, specs, done, skipped)
        return True

    if fanout.distributed:  # a worker's working folder is not this one: absolute paths
        tasks = [Task(_process_video, (VideoJob(os.path.abspath(v.path), v.group, v.info),
                                       os.path.abspath(outp), specs, token, hints.get(v.path)),
                      label=v.path) for v in unique]
    else:
        tasks = [Task(_process_video, (v, str(outp), specs), label=v.path) for v in unique]
    with Fanout(fanout, report=report) as fan, \
            Bar("videos", len(unique), enabled=progress, fan=fan) as bar:
        for task, meta in fan.run(tasks):
            meta["path"] = task.label  # as given (the manifest's), whatever the worker read
            ok = collect(meta)
            bar.advance(f"{Path(task.label).name}: {'ok' if ok else 'skipped'}", failed=not ok)
    if not (outp / "manifest.json").exists():
        _write_manifest(outp, specs, done, skipped)
    manifest = json.loads((outp / "manifest.json").read_text())
    dup = len(done) - len({m["id"] for m in done})
    if dup:
        report(f"note: {dup} video(s) have identical content to another one")
    return manifest


# ---------------------------------------------------------------------------------------------------
@dataclass
class Table:
    """One hop of a dataset, concatenated: rows of every video in manifest order."""

    spec: FeatureSpec
    X: np.ndarray  # (n, 66) float32, every frame (valid or not)
    Y: np.ndarray  # (n, 8)
    valid: np.ndarray  # (n,) bool
    video: np.ndarray  # (n,) int index into `videos`
    group: np.ndarray  # (n,) int group index
    videos: list[dict]
    groups: list[str]
    data_hash: str

    @property
    def target_names(self):
        return T.TARGET_NAMES

    def video_slices(self):
        """``(video index, slice)`` of each video's contiguous rows."""
        edges = np.flatnonzero(np.diff(self.video)) + 1
        starts = np.concatenate(([0], edges))
        stops = np.concatenate((edges, [len(self.video)]))
        return [(int(self.video[a]), slice(int(a), int(b))) for a, b in zip(starts, stops)]


def load_manifest(data: str) -> dict:
    path = Path(data) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{data}: no manifest.json; build the dataset with `vjbridge dataset "
                           f"VIDEOS --out {data}` first") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable ({exc}); rebuild the dataset") from None
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"{path}: not a vjbridge dataset manifest")
    if not manifest.get("videos"):
        raise DatasetError(f"{data}: the dataset holds no usable video (all skipped?)")
    return manifest


def available_hops(data: str) -> list[int]:
    return sorted(int(h) for h in load_manifest(data)["specs"])


def hop_for(data: str, fps: float) -> int:
    """The dataset hop matching a requested fps (exact hop of that fps, else an error)."""
    manifest = load_manifest(data)
    hops = sorted(int(h) for h in manifest["specs"])
    sr = next(iter(manifest["specs"].values()))["sample_rate"]
    want = max(1, round(sr / fps))
    if want not in hops:
        rates = ", ".join(f"{sr / h:.4g}" for h in hops)
        raise DatasetError(f"{data} has no {fps:g} fps data (hop {want}); it has {rates} fps; "
                           f"rebuild with --fps including {fps:g}")
    return want


def load_table(data: str, hop: int) -> Table:
    manifest = load_manifest(data)
    spec_dict = manifest["specs"].get(str(hop))
    if spec_dict is None:
        raise DatasetError(f"{data} has no hop {hop}; available: {sorted(manifest['specs'])}")
    spec = FeatureSpec.from_dict(spec_dict)
    groups = sorted({v["group"] for v in manifest["videos"]})
    gidx = {g: i for i, g in enumerate(groups)}
    xs, ys, vs, vi, gi = [], [], [], [], []
    for i, v in enumerate(manifest["videos"]):
        f = Path(data) / "videos" / v["id"] / v["files"][str(hop)]
        try:
            with np.load(f) as z:
                xs.append(z["X"])
                ys.append(z["Y"])
                vs.append(z["valid"])
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"{f}: unreadable ({exc}); rerun `vjbridge dataset` to rebuild "
                               "it") from None
        vi.append(np.full(len(xs[-1]), i))
        gi.append(np.full(len(xs[-1]), gidx[v["group"]]))
    return Table(spec, np.concatenate(xs), np.concatenate(ys), np.concatenate(vs),
                 np.concatenate(vi), np.concatenate(gi), manifest["videos"], groups,
                 manifest["data_hash"])


__all__ = ["build_dataset", "discover", "sample_targets", "load_table", "load_manifest",
           "hop_for", "available_hops", "Table", "MediaError"]
