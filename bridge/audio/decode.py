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
    if container.streams.audio and not container.streams.audio[0].rate:
        container.close()  # FFmpeg guessed a format but found no sample rate: not real audio
        raise MediaError(f"{path}: its audio track has no sample rate; the file is probably "
                         "corrupt or not what its name says")
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


def iter_audio(path, *, sample_rate: int | None = None,
               whole_file: bool = False) -> Iterator[np.ndarray]:
    """Yield mono float64 blocks of ``path``'s first audio track, resampled to ``sample_rate``.

    ``sample_rate=None`` keeps the file's own rate. Decoded frames are gathered into blocks of about
    :data:`CHUNK_SECONDS` before they are downmixed and resampled (the samples are the same whatever
    the blocks: the downmix is per sample and the resampler's output does not depend on the
    split); their concatenation is the whole track. ``whole_file=True`` (whole-file readers:
    :func:`load_audio`, :func:`extract_file`) resamples with the whole-file kernel (the live filter,
    other rounding: :class:`StreamResampler`); the live ``--file`` source keeps the live kernel.
    Every stage runs on the caller's thread: a pipeline with decoding and resampling on two helper
    threads gave the same wall time for a 207 s Vorbis track (0.33 vs 0.31 s at 8 fps, 0.39-0.41
    vs 0.40-0.41 s at 60 fps, quiet machine, 2026-12-02) for 18-27 % more CPU, so it went.
    """
    av, container = open_media(path)
    with container:
        stream = container.streams.audio[0]
        native = int(stream.rate)
        resampler = StreamResampler(native, sample_rate or native, whole_file=whole_file)
        yield from _resampled(resampler, _decoded(av, container, stream, path))


def _resampled(resampler: StreamResampler, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    for block in blocks:
        yield resampler.process(block)
    tail = resampler.flush()
    if tail.size:
        yield tail


def _decoded(av, container, stream, path) -> Iterator[np.ndarray]:
    """Mono float64 blocks of about :data:`CHUNK_SECONDS` at the file's rate.

    The codec's frames (~1000 samples each, ~45 a second for Vorbis) are gathered in FFmpeg's own
    sample FIFO, so Python touches each frame with one call and numpy sees one array a second: the
    per-frame ``to_ndarray`` that this replaced cost ~0.2 s of CPU on a 207 s Vorbis track, as much
    as FFmpeg's decoding itself (~0.25 s). 16-, 24- and 32-bit integer frames (FLAC, WAV) and packed
    float go into the FIFO as they are and are converted in numpy a chunk at a time, as FFmpeg's
    converter does it: that converter, one call per frame, cost ~0.1-0.2 s on a 207 s FLAC track.
    Other formats (double, unsigned 8-bit) go through FFmpeg's converter to planar float. The
    samples are the same, in the same order, bit for bit (tested)."""
    to_float = None  # FFmpeg's converter, only for decoders that give another format
    chunk = max(1, round(CHUNK_SECONDS * int(stream.rate)))
    fifo = _Samples(av, path)
    decode, write, held = stream.codec_context.decode, fifo.write, 0
    try:
        for packet in container.demux(stream):
            for frame in decode(packet):
                if frame.format.name in fifo.formats:  # planar float (Vorbis, Opus, AAC, MP3),
                    held += write(frame)  # integers (FLAC, WAV), packed float: as they are
                else:
                    if to_float is None:
                        to_float = av.AudioResampler(format="fltp")
                    for converted in to_float.resample(frame):
                        held += write(converted)
                if held >= chunk:
                    yield fifo.read()
                    held = 0
        if to_float is not None:
            for converted in to_float.resample(None):
                held += write(converted)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{os.fspath(path)}: decoding failed ({exc}); the file is probably "
                         "corrupt or truncated") from None
    if held:
        yield fifo.read()


_SCALE = {"s16": np.float32(2.0 ** -15), "s16p": np.float32(2.0 ** -15),
          "s32": np.float32(2.0 ** -31), "s32p": np.float32(2.0 ** -31)}
_DTYPES = {"fltp": np.float32, "flt": np.float32, "s16": np.int16, "s16p": np.int16,
           "s32": np.int32, "s32p": np.int32}


class _Samples:
    """FFmpeg's sample FIFO (``av.AudioFifo``) for one stream's frames, in the decoder's format.

    Timestamps are dropped: the samples follow each other as decoded (a gap in a stream's
    timestamps is not filled, as before). The FIFO holds one channel count, rate and format; PyAV
    18 does not check the channel count (a frame with fewer planes crashed the process), so they
    are checked here (one tuple compare a frame) and a stream that changes them is refused in one
    line."""

    #: Sample formats written as they are (the FIFO holds the first frame's); integers are
    #: converted when read as FFmpeg's converter does (``float(x) * 2**-15`` or ``2**-31``).
    FORMATS = ("fltp", "flt", "s16", "s16p", "s32", "s32p")

    def __init__(self, av, path):
        self._fifo = av.AudioFifo()
        self._path = os.fspath(path)
        self.formats = self.FORMATS  # those the FIFO takes now: its own once it holds one
        self._key = None  # (channels, rate, format) of the first frame
        self._write = self._fifo.write

    @property
    def samples(self) -> int:
        return self._fifo.samples

    def write(self, frame) -> int:
        """Queue ``frame``; returns its sample count (the loop counts them: a property call less a
        frame)."""
        n = frame.samples
        if not n:
            return 0
        if (frame.layout.nb_channels, frame.sample_rate, frame.format.name) != self._key:
            self._check(frame)
        frame.pts = None
        self._write(frame)
        return n

    def _check(self, frame) -> None:
        """The first frame fixes the FIFO's channels, rate and format; a later change is refused."""
        shape = (frame.layout.nb_channels, frame.sample_rate)
        if self._key is None:
            self.formats = (frame.format.name,)  # converted frames are planar float (fltp)
            self._key = (*shape, frame.format.name)
        elif shape != self._key[:2]:
            raise MediaError(f"{self._path}: the audio changes from {self._key[0]} channel(s) at "
                             f"{self._key[1]} Hz to {shape[0]} at {shape[1]} Hz mid-stream; "
                             "convert it to one format first, e.g. ffmpeg -i IN -ac 2 OUT.flac")
        else:  # a decoder that changes sample format
            raise MediaError(f"{self._path}: the audio changes sample format from "
                             f"{self.formats[0]} to {frame.format.name} mid-stream; convert it "
                             "first, e.g. ffmpeg -i IN OUT.flac")

    def read(self) -> np.ndarray:
        """Everything held, as one mono float64 block: each channel's plane read where FFmpeg put it
        (``AudioFrame.to_ndarray`` stacked the planes into a new array first: ~0.3 ms a second of
        audio, ~0.06 s of a 207 s track), integers converted to float32 as FFmpeg's converter does
        (``float(x) * 2**-15`` or ``2**-31``: the power of two is exact), then :func:`_mono`."""
        frame = self._fifo.read()
        fmt, n, channels = self.formats[0], frame.samples, self._key[0]
        dtype = _DTYPES[fmt]
        scale = _SCALE.get(fmt)
        if fmt.endswith("p"):  # planar: one plane a channel
            planes = [np.frombuffer(plane, dtype, n) for plane in frame.planes]
            if scale is not None:
                planes = [np.multiply(p, scale, dtype=np.float32) for p in planes]
        else:  # packed: one plane, the channels interleaved (converted before it is split)
            flat = np.frombuffer(frame.planes[0], dtype, n * channels)
            if scale is not None:
                flat = np.multiply(flat, scale, dtype=np.float32)
            planes = list(flat.reshape(n, channels).T)
        return _mono(planes)


def _mono(planes: list[np.ndarray]) -> np.ndarray:
    """One float32 array per channel -> one mono float64 block: the channels' mean, as
    ``librosa.to_mono`` (the same sum, in float64, in channel order, and division as
    ``np.mean(axis=0)`` of the stacked planes; tested bit for bit)."""
    if len(planes) == 1:
        return planes[0].astype(np.float64)
    total = np.add(planes[0], planes[1], dtype=np.float64)  # one pass: cast and add
    for plane in planes[2:]:
        total += plane
    total /= len(planes)
    return total


def load_audio(path, *, sample_rate: int | None = None) -> np.ndarray:
    """The whole first audio track of ``path`` as one mono float64 array."""
    blocks = list(iter_audio(path, sample_rate=sample_rate, whole_file=True))
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
    for block in iter_audio(path, sample_rate=spec.sample_rate, whole_file=True):
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
