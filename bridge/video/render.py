"""``vjbridge render``: a song's NeuroMV video, frames from an ONNX CPPN, the song's audio muxed in.

Why segments: a 4-minute song at 512 px is minutes of CPU; an interrupted render must not start
over. Frames are encoded (H.264, PyAV) in segments of :data:`SEGMENT_FRAMES` under ``OUT.parts/``,
each written to a temporary name and renamed when complete; a run with the same settings (recorded
in ``OUT.parts/settings.json``) skips the segments it finds. The final step remuxes the segments'
packets into ``OUT`` (no re-encoding) and encodes the song's audio (AAC) beside them.

Timing: video frame ``i`` is shown during ``[i/30, (i+1)/30)`` s and uses the newest z frame that
is complete by the end of that interval (z frame ``i - 1``: window ``[(i-1)/30, (i+1)/30)``,
centred on the frame's start), i.e. what the live stream has at that moment.

Stems: each stem (``hpss``: harmonic and percussive, librosa's median-filter separation; or the
user's files) gets its own z, normalised on its own, and its own panel, side by side. With
``--z energy`` every panel's keyframes are its own, their timing the mix's cumulative energy.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time

import numpy as np

from bridge.audio.zlatent import mel_db, song_z
from bridge.errors import ConfigError, MediaError
from bridge.models.cppn import CppnModel, grid

SEGMENT_FRAMES = 300
FPS = 30
#: The energy vector's frame rate for ``--z energy``: ``vjbridge energy``'s default, the live rate.
ENERGY_FPS = 60.0


def stems_of(audio: np.ndarray, stems: str | None, sample_rate: int) -> list[tuple[str, np.ndarray]]:
    """``[(name, mono audio)]``: the mix, ``hpss``'s two stems, or the comma-separated files."""
    if not stems:
        return [("mix", audio)]
    if stems == "hpss":
        try:
            import librosa
        except ImportError:
            raise ConfigError("--stems hpss needs librosa: pip install 'vjbridge[train]'") from None
        harmonic, percussive = librosa.effects.hpss(audio.astype(np.float32))
        return [("harmonic", harmonic.astype(np.float64)),
                ("percussive", percussive.astype(np.float64))]
    from bridge.audio.decode import load_audio

    out = []
    for path in stems.split(","):
        if not os.path.isfile(path):
            raise MediaError(f"--stems: {path}: no such file; give 'hpss' or stem files "
                             "separated by commas")
        out.append((os.path.splitext(os.path.basename(path))[0],
                    load_audio(path, sample_rate=sample_rate)))
    return out


def song_progress(audio_path: str, n_frames: int) -> np.ndarray:
    """``(n_frames,)`` the song's cumulative energy (energy-seconds, monotonic) at the end of each
    video frame's interval, from :func:`bridge.runtime.energy_stage.energy_curves`: the live
    ``energy`` stage over the file, at its live rate (the same numbers ``vjbridge energy`` writes)."""
    from bridge.audio.spec import FeatureSpec
    from bridge.runtime.energy_stage import energy_curves

    times, values = energy_curves(audio_path, FeatureSpec(fps=ENERGY_FPS))
    return np.interp((np.arange(n_frames) + 1) / FPS, times, values[:, 1], left=0.0)


def warp(progress: np.ndarray, starts: np.ndarray, n_frames: int) -> np.ndarray:
    """Frame times ``(n_frames,)`` re-timed so that between keyframes ``starts[k]`` and
    ``starts[k + 1]`` they advance with ``progress`` (monotonic: the cumulative energy) instead of
    linearly; the keyframe frames themselves are unchanged. A stretch where ``progress`` does not
    grow (digital silence) stays linear; after the last keyframe time is unchanged (z holds)."""
    t = np.arange(n_frames, dtype=np.float64)
    out = t.copy()
    for a, b in zip(starts[:-1], starts[1:]):
        span = progress[b] - progress[a]
        if span > 1e-9:
            out[a:b] = a + (b - a) * (progress[a:b] - progress[a]) / span
    return out


def latent_track(audio: np.ndarray, spec, n_frames: int, *, schedule: str = "audio",
                 keyframe_seconds: float = 2.0, progress: np.ndarray | None = None) -> np.ndarray:
    """``(n_frames, n_z)`` z per video frame (frame i <- z frame i - 1, clamped at the ends).

    ``schedule="linear"``: the baseline of the diffusion-visualiser study instead: keyframes every
    ``keyframe_seconds`` (the song's mean z over that stretch) and z moving linearly between them,
    at a constant speed that ignores the music's onsets. ``schedule="energy"``: the study's method,
    the same keyframes, but between two of them z advances with ``progress`` (the cumulative
    energy per frame, :func:`song_progress`): fast where the music hits, slowly where it sustains;
    under constant energy it is the linear schedule."""
    z = song_z(mel_db(audio, spec))
    if len(z) == 0:
        return np.zeros((n_frames, spec.n_mels), np.float32)
    idx = np.clip(np.arange(n_frames) - 1, 0, len(z) - 1)
    track = z[idx]
    if schedule in ("linear", "energy"):
        k = max(1, round(keyframe_seconds * FPS))
        starts = np.arange(0, n_frames, k)
        keys = np.stack([track[a:a + k].mean(axis=0) for a in starts])
        t = np.arange(n_frames, dtype=np.float64)
        if schedule == "energy":
            if progress is None or len(progress) != n_frames:
                raise ValueError("schedule='energy' needs progress, one value per frame")
            t = warp(np.asarray(progress, dtype=np.float64), starts, n_frames)
        track = np.stack([np.interp(t, starts, keys[:, j]) for j in range(keys.shape[1])], axis=1)
    elif schedule != "audio":
        raise ConfigError(f"--z must be 'audio', 'linear' or 'energy'; got {schedule!r}")
    return track.astype(np.float32)


def _settings_hash(model_path: str, settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    with open(model_path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def render(audio_path: str, out: str, *, model_path: str, size: int = 512,
           stems: str | None = None, schedule: str = "audio", progress: bool = True,
           log=print) -> dict:
    """Render ``audio_path`` to ``out`` (.mp4); returns timings and paths."""
    import av

    from bridge.audio.decode import load_audio

    if size < 16 or size % 2:
        raise ConfigError(f"--size must be an even number >= 16; got {size}")
    model = CppnModel.load(model_path, threads=1)
    spec = model.spec
    audio = load_audio(audio_path, sample_rate=spec.sample_rate)
    duration = audio.size / spec.sample_rate
    if duration <= 0:
        raise MediaError(f"{audio_path}: no audio samples")
    n_frames = math.ceil(duration * FPS)
    panels = stems_of(audio, stems, spec.sample_rate)
    cumulative = song_progress(audio_path, n_frames) if schedule == "energy" else None
    z = np.stack([latent_track(a, spec, n_frames, schedule=schedule, progress=cumulative)
                  for _, a in panels])  # (panels, F, n_z)
    parts = out + ".parts"
    os.makedirs(parts, exist_ok=True)
    settings = {"audio": os.path.abspath(audio_path), "size": size, "stems": stems,
                "panels": [n for n, _ in panels], "frames": n_frames, "segment": SEGMENT_FRAMES,
                "schedule": schedule}
    key = _settings_hash(model_path, settings)
    sfile = os.path.join(parts, "settings.json")
    if os.path.exists(sfile):
        with open(sfile) as f:
            old = json.load(f)
        if old.get("key") != key:  # other settings: the old segments are not this video's
            for name in os.listdir(parts):
                if name.startswith("seg-"):
                    os.remove(os.path.join(parts, name))
    with open(sfile, "w") as f:
        json.dump({"key": key, **settings}, f)
    coords = grid(size)
    batch = max(1, 2 ** 19 // coords.shape[0])
    n_seg = math.ceil(n_frames / SEGMENT_FRAMES)
    segs = [os.path.join(parts, f"seg-{s:05d}.mp4") for s in range(n_seg)]
    todo = [s for s in range(n_seg) if not os.path.exists(segs[s])]
    times: list[float] = []  # model seconds per frame (per panel frame), per batch
    bar = task = None
    if progress:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        bar = Progress(TextColumn("render"), BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn(), transient=False)
        bar.start()
        done = sum(min(n_frames, (s + 1) * SEGMENT_FRAMES) - s * SEGMENT_FRAMES
                   for s in range(n_seg) if s not in todo)
        task = bar.add_task("frames", total=n_frames, completed=done)
    try:
        for s in todo:
            a, b = s * SEGMENT_FRAMES, min(n_frames, (s + 1) * SEGMENT_FRAMES)
            _segment(av, segs[s], model, coords, z[:, a:b], size, batch, times,
                     lambda n: bar.advance(task, n) if bar else None)
    finally:
        if bar:
            bar.stop()
    _mux(av, out, segs, audio_path)
    result = {"out": out, "frames": n_frames, "panels": len(panels), "size": size,
              "rendered_segments": len(todo), "segments": n_seg, "duration": duration}
    if times:
        med = float(np.median(times))
        result.update(frame_ms=med * 1e3, ns_per_pixel=med / coords.shape[0] * 1e9)
    return result


def _segment(av, path, model, coords, z, size, batch, times, advance) -> None:
    n_panels, n = z.shape[:2]
    tmp = path + ".tmp.mp4"
    with av.open(tmp, "w") as c:
        st = c.add_stream("libx264", rate=FPS)
        st.width, st.height, st.pix_fmt = size * n_panels, size, "yuv420p"
        st.options = {"crf": "20", "preset": "veryfast"}
        for a in range(0, n, batch):
            k = min(batch, n - a)
            t0 = time.perf_counter()
            imgs = [model.frames(z[p, a:a + k], coords).reshape(k, size, size, 3)
                    for p in range(n_panels)]
            times.append((time.perf_counter() - t0) / (k * n_panels))
            frames = np.concatenate(imgs, axis=2)
            frames = (frames * 255 + 0.5).astype(np.uint8)
            for f in frames:
                for packet in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    c.mux(packet)
            advance(k)
        for packet in st.encode():
            c.mux(packet)
    os.replace(tmp, path)


def _mux(av, out, segs, audio_path) -> None:
    """The segments' video packets, in order and re-timed, plus the song's audio as AAC."""
    tmp = out + ".tmp.mp4"
    with av.open(tmp, "w") as c:
        with av.open(segs[0]) as first:
            v = c.add_stream_from_template(first.streams.video[0])
            v.time_base = first.streams.video[0].time_base
        with av.open(audio_path) as src:  # every stream before the first packet (the header)
            rate = int(src.streams.audio[0].rate)
        rate = rate if rate in (44100, 48000) else 48000
        a = c.add_stream("aac", rate=rate, layout="stereo")
        offset = 0
        for seg in segs:
            with av.open(seg) as src:
                sv = src.streams.video[0]
                last = 0
                for packet in src.demux(sv):
                    if packet.dts is None:
                        continue
                    pts = packet.pts
                    packet.pts = None if pts is None else pts + offset
                    packet.dts = packet.dts + offset
                    last = max(last, (pts or 0) + (packet.duration or 0))
                    packet.stream = v
                    c.mux(packet)
                offset += last
        with av.open(audio_path) as src:
            sa = src.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
            for frame in src.decode(sa):
                for r in resampler.resample(frame):
                    for packet in a.encode(r):
                        c.mux(packet)
            for packet in a.encode():
                c.mux(packet)
    os.replace(tmp, out)
