"""The corpus music: three GPL-2+ Debian game soundtracks, fetched, verified and decoded in stereo.

Why Debian packages: no video or music site is reachable here, but Debian ships real, freely
licensed music. ``apt-get download`` + ``dpkg-deb -x`` into the user cache gets the exact files the
committed track list (``lists/tracks.json``) was made from; every track's sha256 is checked before
use, so a different package version fails loudly instead of silently changing the corpus.

Groups: folds are split by group, not by file. A group is a track's own id unless the track is a
re-release of another one (warzone's ``menu_enhanced``/``track3_enhanced``, wesnoth's
``frantic-old``, nexuiz's ``sixtyfour_revisited``): then it shares the original's group.

Held-out music: ``OTHER_PACKAGES`` are soundtracks the shipped models never heard, listed in their
own track list (``vjbridge corpus --write-track-list --package NAME --music LIST``) and rendered with
``--music LIST``, to test that a model generalises rather than memorises the training tracks.

Decoding keeps both channels (projectM draws its waveforms per channel) and resamples with soxr to
44.1 kHz, so every track reaches the visualizer in the same format.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np

from bridge.errors import CorpusError, MediaError
from bridge.training.dataset import sha256_file  # noqa: F401 - also music.sha256_file for build

LISTS = Path(__file__).with_name("lists")
TRACKS_JSON = LISTS / "tracks.json"
SAMPLE_RATE = 44100

#: Package -> (what it is, where its tracks are inside the package, a short id prefix).
PACKAGES = {
    "nexuiz-music": ("electronic / techno / industrial",
                     "usr/share/games/nexuiz/data/music.pk3", "nexuiz"),
    "wesnoth-1.16-music": ("orchestral", "usr/share/games/wesnoth/1.16/data/core/music", "wesnoth"),
    "warzone2100-music": ("electronic / ambient", "usr/share/games/warzone2100/music", "warzone"),
}
#: Music never used for training (the held-out corpus, ``onnx_models/holdout``); same layout.
OTHER_PACKAGES = {
    "hyperrogue-music": ("game soundtrack: orchestral / ambient / world",
                         "usr/share/hyperrogue/music", "hyperrogue"),
}
#: Licence of a package's music when it is not GPL-2+ (from /usr/share/doc/PKG/copyright).
LICENCES = {"hyperrogue-music": "CC-BY-SA-3.0"}
#: Re-releases of another track: id -> the original's id (same fold group).
SAME_GROUP = {
    "warzone/menu_enhanced": "warzone/menu",
    "warzone/track3_enhanced": "warzone/track3",
    "wesnoth/frantic-old": "wesnoth/frantic",
    "nexuiz/sixtyfour_revisited": "nexuiz/sixtyfour_",
}
#: Files in the packages that are not music to learn from.
EXCLUDE = {
    "wesnoth/silence": "digital silence",
    "nexuiz/thunder": "a thunder sound effect (11 kHz), not music",
}
MIN_SECONDS = 20.0  # shorter files are victory/defeat stingers


def music_root() -> Path:
    from bridge.training.corpus.renderer import cache_dir

    return cache_dir() / "music"


def load_tracks(path: Path = TRACKS_JSON) -> list[dict]:
    if not path.exists():
        raise CorpusError(f"track list {path} is missing; it is part of the package (git checkout)")
    return json.loads(path.read_text())["tracks"]


def fetch_package(package: str, root: Path | None = None, *, debs: Path | None = None) -> Path:
    """The extracted tree of ``package`` under ``root`` (default the user cache), fetched if needed.

    ``debs`` is a folder that may already hold the ``.deb`` (saves the download).
    """
    root = Path(root) if root is not None else music_root()
    tree = root / package
    if (tree / ".complete").exists():
        return tree
    root.mkdir(parents=True, exist_ok=True)
    deb = _find_deb(package, [Path(debs)] if debs else []) or _find_deb(package, [root])
    if deb is None:
        if shutil.which("apt-get") is None:
            raise CorpusError(f"{package} is not cached and apt-get is missing; put {package}_*.deb "
                              f"in {root} (from a Debian mirror)")
        got = subprocess.run(["apt-get", "download", package], cwd=root, capture_output=True,
                             text=True)
        deb = _find_deb(package, [root])
        if got.returncode != 0 or deb is None:
            last = (got.stderr.strip().splitlines() or ["no output"])[-1]
            raise CorpusError(f"apt-get download {package} failed ({last}); run `apt-get update` or "
                              f"put {package}_*.deb in {root}")
    partial = root / f"{package}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    done = subprocess.run(["dpkg-deb", "-x", str(deb), str(partial)], capture_output=True, text=True)
    if done.returncode != 0:
        raise CorpusError(f"dpkg-deb -x {deb} failed: {done.stderr.strip()}; delete it and retry")
    (partial / ".complete").write_text(deb.name + "\n")
    shutil.rmtree(tree, ignore_errors=True)
    os.replace(partial, tree)
    return tree


def _find_deb(package: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        hits = sorted(glob.glob(str(folder / f"{package}_*.deb")))
        if hits:
            return Path(hits[-1])
    return None


def track_file(track: dict, root: Path | None = None, *, debs: Path | None = None,
               verify: bool = True) -> Path:
    """Local path of a track from the list (fetching its package if needed), hash-checked."""
    tree = fetch_package(track["package"], root, debs=debs)
    path, _, member = track["path"].partition("!")
    if member:  # inside a zip (nexuiz's music.pk3): extract once next to it
        out = tree / "pk3" / member
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(tree / path) as z, open(f"{out}.partial", "wb") as f:
                f.write(z.read(member))
            os.replace(f"{out}.partial", out)
    else:
        out = tree / path
    if not out.exists():
        raise CorpusError(f"{track['id']}: {track['path']} is not in the {track['package']} package "
                          f"(version {track.get('version')}?)")
    if verify and sha256_file(out) != track["sha256"]:
        raise CorpusError(f"{track['id']}: sha256 of {out} differs from the track list; the "
                          f"package version differs from {track.get('version')}. Delete "
                          f"{tree} to refetch, or rebuild the list")
    return out


def scan_tracks(root: Path | None = None, *, debs: Path | None = None,
                packages: list[str] | None = None) -> list[dict]:
    """Build the track list from the fetched packages (used to write ``lists/tracks.json``).

    ``packages`` (default: the three training soundtracks) may name :data:`OTHER_PACKAGES` too.
    A file FFmpeg cannot decode is listed with ``use: false`` and the reason.
    """
    from bridge.audio.decode import audio_info

    known = {**PACKAGES, **OTHER_PACKAGES}
    unknown = [p for p in packages or () if p not in known]
    if unknown:
        raise CorpusError(f"unknown music package(s) {unknown}; known: {sorted(known)}")
    tracks = []
    for package in packages or list(PACKAGES):
        style, where, prefix = known[package]
        tree = fetch_package(package, root, debs=debs)
        version = _deb_version(tree)
        if where.endswith(".pk3"):
            with zipfile.ZipFile(tree / where) as z:
                members = sorted(m for m in z.namelist() if m.endswith(".ogg"))
            paths = [f"{where}!{m}" for m in members]
        else:
            paths = sorted(os.path.relpath(p, tree) for p in glob.glob(str(tree / where / "**" / "*"),
                                                                         recursive=True)
                           if p.endswith((".ogg", ".opus")))
        for rel in paths:
            name = Path(rel.split("!")[-1]).stem
            tid = f"{prefix}/{name}"
            entry = {"id": tid, "package": package, "version": version, "path": rel,
                     "style": style, "licence": LICENCES.get(package, "GPL-2+")}
            local = track_file({**entry, "sha256": ""}, root, verify=False)
            try:
                info = audio_info(local)
                undecodable = None
            except MediaError as exc:
                why = str(exc).split("] ")[-1].split(":")[0] if "] " in str(exc) else "MediaError"
                info, undecodable = None, f"PyAV/FFmpeg cannot open it ({why})"
            entry.update(duration=round(float(info.duration or 0.0), 3) if info else 0.0,
                         sample_rate=info.sample_rate if info else None,
                         channels=info.channels if info else None,
                         sha256=sha256_file(local), group=SAME_GROUP.get(tid, tid))
            reason = undecodable or EXCLUDE.get(tid)
            if reason is None and entry["duration"] < MIN_SECONDS:
                reason = f"shorter than {MIN_SECONDS:g} s (a stinger)"
            entry["use"] = reason is None
            if reason:
                entry["excluded_because"] = reason
            tracks.append(entry)
    return tracks


def _deb_version(tree: Path) -> str:
    name = (tree / ".complete").read_text().strip()  # e.g. nexuiz-music_2.5.2-12_all.deb
    return name.split("_")[1].replace("%3a", ":")


def excerpt_window(duration: float, seconds: float | None) -> tuple[float, float]:
    """``(start, length)`` in seconds: the middle ``seconds`` of a track (whole seconds), or all."""
    if seconds is None or seconds >= duration:
        return 0.0, float(duration)
    return float(int((duration - seconds) / 2)), float(seconds)


def load_stereo(path, *, start: float = 0.0, seconds: float | None = None,
                sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``(n, 2)`` float32 of ``path`` from ``start`` for ``seconds`` (None: to the end), resampled.

    Decodes from the beginning (seeking in Vorbis/Opus is not sample exact), converts to planar
    float stereo with FFmpeg (mono files are duplicated), cuts at the native rate, then resamples
    the excerpt with soxr. Deterministic: the same file gives the same samples.
    """
    import soxr

    from bridge.audio.decode import open_media

    av, container = open_media(path)
    with container:
        stream = container.streams.audio[0]
        native = int(stream.rate)
        first = int(round(start * native))
        last = None if seconds is None else first + int(round(seconds * native))
        to_stereo = av.AudioResampler(format="fltp", layout="stereo", rate=native)
        blocks, have = [], 0
        try:
            for frame in container.decode(stream):
                for out in to_stereo.resample(frame):
                    blocks.append(out.to_ndarray())
                    have += blocks[-1].shape[1]
                if last is not None and have >= last:
                    break
            else:
                for out in to_stereo.resample(None):
                    blocks.append(out.to_ndarray())
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: decoding failed ({exc})") from None
    audio = np.concatenate(blocks, axis=1).T if blocks else np.zeros((0, 2), np.float32)
    audio = np.ascontiguousarray(audio[first:last], dtype=np.float32)
    if native != sample_rate and len(audio):
        audio = soxr.resample(audio, native, sample_rate, quality="HQ").astype(np.float32)
    return audio


def write_track_list(tracks: list[dict], path: Path = TRACKS_JSON) -> None:
    packages = sorted({t["package"] for t in tracks})
    if not set(packages) <= set(PACKAGES):  # a held-out list: say whose music it is
        licences = ", ".join(f"{p}: {LICENCES.get(p, 'GPL-2+')}" for p in packages)
        about = (f"Music never used to train the shipped models ({licences}; see "
                 "/usr/share/doc/PACKAGE/copyright). Fetched with apt-get download; path is inside "
                 "the package; use=false tracks are not rendered.")
    else:
        about = None
    doc = {"about": about or "Music of the vjbridge projectM corpus: Debian game soundtracks, all GPL-2+ "
                    "(see each package's /usr/share/doc/PACKAGE/copyright). Fetched with apt-get "
                    "download; path is inside the package ('!' = member of a zip); group = fold "
                    "group (re-releases share their original's group); use=false tracks are not "
                    "rendered.",
           "sample_rate_rendered": SAMPLE_RATE, "tracks": tracks}
    path.write_text(json.dumps(doc, indent=1) + "\n")
