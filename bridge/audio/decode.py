"""Reading audio from files (wav, flac, ogg, opus, mp3, and the audio track of videos) with PyAV.

Why one decoder: training reads the audio track of visualizer videos, ``vjbridge features`` reads
music files, and the live ``--file`` source plays files; all of them decode here, downmix by the mean
of the channels (as ``librosa.to_mono``) and resample with :class:`StreamResampler`, then feed the one
:class:`FeatureExtractor`. PyAV (FFmpeg) is imported only when a file is read, so the live daemon
started on a device never loads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from bridge.audio.features import FeatureExtractor
from bridge.audio.resample import StreamResampler
from bridge.audio.spec import FeatureSpec
from bridge.errors import MediaError


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    duration: float | None  # seconds, when the container says
    start_time: float  # seconds: presentation time of the first audio sample
    codec: str


_NEEDS = {"audio": "vjbridge needs the music that goes with it",
          "video": "the dataset needs videos with their audio"}


def open_media(path, *, track: str = "audio"):
    """Open ``path`` with PyAV and check it has a ``track`` ("audio"/"video") stream.

    Returns ``(av, container)``; every failure is a :class:`MediaError` naming the file.
    """
    try:
        import av
    except ImportError:  # pragma: no cover - av is a dependency; this guards broken installs
        raise MediaError("reading media files needs PyAV: pip install av") from None
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MediaError(f"{path}: no such file; check the path")
    try:
        container = av.open(path)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(f"{path}: cannot be opened as audio or video ({exc}); is the file "
                         "complete and a supported format?") from None
    if not getattr(container.streams, track):
        container.close()
        raise MediaError(f"{path}: has no {track} track; {_NEEDS[track]}")
    return av, container


def stream_duration(stream, container) -> float | None:
    """Seconds, from the stream if it says, else from the container, else None."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def audio_info(path) -> AudioInfo:
    """Rate, channels, duration and start time of the first audio track of ``path``."""
    _, container = open_media(path)
    with container:
        stream = container.streams.audio[0]
        duration = stream_duration(stream, container)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        return AudioInfo(path=os.fspath(path), sample_rate=int(stream.rate),
                         channels=stream.channels, duration=duration, start_time=start,
                         codec=stream.codec_context.name)


#: Decoded samples gathered before downmixing and resampling (per-codec-frame numpy work, ~1000
#: samples a frame, used to cost more than the decoding itself).
CHUNK_SECONDS = 1.0


def iter_audio(path, *, sample_rate: int | None = None, ahead: bool = False) -> Iterator[np.ndarray]:
    """Yield mono float64 blocks of ``path``'s first audio track, resampled to ``sample_rate``.

    ``sample_rate=None`` keeps the file's own rate. Decoded frames are gathered into blocks of about
    :data:`CHUNK_SECONDS` before they are downmixed and resampled (the samples are the same whatever
    the blocks: the downmix is per sample and the resampler's output does not depend on the
    split); their concatenation is the whole track. ``ahead=True`` (whole-file readers:
    :func:`load_audio`, :func:`extract_file`) decodes on a helper thread while the caller works; the
    live ``--file`` source keeps it off (a second busy thread starved the paced player: overruns).
    """
    av, container = open_media(path)
    with container:
        stream = container.streams.audio[0]
        native = int(stream.rate)
        resampler = StreamResampler(native, sample_rate or native)
        blocks = _decoded(av, container, stream, path)
        for block in (_ahead(blocks) if ahead else blocks):
            yield resampler.process(block)
        tail = resampler.flush()
        if tail.size:
            yield tail


def _decoded(av, container, stream, path) -> Iterator[np.ndarray]:
    """Mono float64 blocks of about :data:`CHUNK_SECONDS` at the file's rate."""
    to_float = None  # FFmpeg's converter, only for decoders that do not give planar float
    chunk = max(1, round(CHUNK_SECONDS * int(stream.rate)))
    pending, held = [], 0
    try:
        for frame in container.decode(stream):
            if frame.format.name == "fltp":  # (Vorbis, Opus, AAC, MP3): the planes as they are
                n = frame.samples
                planes = [np.stack([np.frombuffer(p, np.float32, n) for p in frame.planes])]
            else:
                if to_float is None:
                    to_float = av.AudioResampler(format="fltp")
                planes = [p.to_ndarray() for p in to_float.resample(frame)]
            for planar in planes:
                if planar.shape[-1]:
                    pending.append(planar)
                    held += planar.shape[-1]
            if held >= chunk:
                yield _mono(pending)
                pending, held = [], 0
        if to_float is not None:
            pending += [p.to_ndarray() for p in to_float.resample(None)]
    except av.error.FFmpegError as exc:
        raise MediaError(f"{os.fspath(path)}: decoding failed ({exc}); the file is probably "
                         "corrupt or truncated") from None
    if pending:
        yield _mono(pending)


def _ahead(blocks: Iterator[np.ndarray], depth: int = 4) -> Iterator[np.ndarray]:
    """``blocks``, produced by a helper thread up to ``depth`` ahead: FFmpeg's decoding and numpy's
    resampling both release the GIL, so a whole file decodes on one core while the previous
    second is resampled (and its features computed) on the other. Errors reach the caller; closing
    this generator early stops the helper."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for block in blocks:
                while not stop.is_set():
                    try:
                        q.put(block, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item = end
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            item = exc
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    helper = threading.Thread(target=produce, name="vjbridge-decode", daemon=True)
    helper.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        helper.join()


def _mono(planes: list) -> np.ndarray:
    """Planar ``(channels, n)`` float32 frames -> one mono float64 block (the channels' mean, as
    ``librosa.to_mono``)."""
    planar = np.concatenate(planes, axis=-1) if len(planes) > 1 else planes[0]
    planar = np.asarray(planar, dtype=np.float64)
    if planar.ndim == 2 and planar.shape[0] == 1:
        return planar[0]
    return planar.mean(axis=0) if planar.ndim == 2 else planar


def load_audio(path, *, sample_rate: int | None = None) -> np.ndarray:
    """The whole first audio track of ``path`` as one mono float64 array."""
    blocks = list(iter_audio(path, sample_rate=sample_rate, ahead=True))
    return np.concatenate(blocks) if blocks else np.zeros(0)


def extract_file(path, spec: FeatureSpec | None = None, *, threads: int | None = None) -> np.ndarray:
    """Features of a whole file, through the same streaming extractor the live daemon uses.

    Returns ``(n_frames, spec.n_features)``; frame ``t`` ends at ``spec.frame_end_times(n)[t]``
    seconds after the first audio sample. ``threads`` defaults to 2 FFT threads where the machine
    has them (results do not depend on it).
    """
    spec = spec if spec is not None else FeatureSpec()
    if threads is None:
        threads = min(2, os.cpu_count() or 1)
    extractor = FeatureExtractor(spec, threads=threads)
    chunk = 30 * spec.sample_rate  # codec blocks are tiny; feed ~30 s at a time to vectorise
    frames, pending, held = [], [], 0
    for block in iter_audio(path, sample_rate=spec.sample_rate, ahead=True):
        pending.append(block)
        held += block.size
        if held >= chunk:
            frames.append(extractor.process(np.concatenate(pending)))
            pending, held = [], 0
    if pending:
        frames.append(extractor.process(np.concatenate(pending)))
    frames = [f for f in frames if f.size]
    if not frames:
        raise MediaError(f"{os.fspath(path)}: shorter than one analysis window "
                         f"({spec.window_seconds * 1000:.0f} ms); nothing to extract")
    return np.concatenate(frames)
