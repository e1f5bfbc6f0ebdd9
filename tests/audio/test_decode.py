"""extract_file and friends: every supported container, downmixing, and clear errors."""

import av
import numpy as np
import pytest

from bridge import FeatureExtractor, FeatureSpec, audio_info, extract_file, load_audio
from bridge.audio.reference import librosa_features
from bridge.errors import MediaError
from tests.audio.conftest import MUSIC_FILES


def write_audio(path, stereo, rate, codec, fmt=None):
    """Encode a (2, n) float array with PyAV (FFmpeg) into ``path``."""
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        sample_fmt = stream.codec_context.codec.audio_formats[0].name
        data = stereo.astype(np.float32)
        for i in range(0, data.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, i:i + 1024]),
                                               format="fltp", layout="stereo")
            frame.sample_rate = rate
            frame.pts = i
            resampler = av.AudioResampler(format=sample_fmt, layout="stereo", rate=rate)
            for f in resampler.resample(frame):
                for packet in stream.encode(f):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.fixture(scope="module")
def stereo():
    music = load_audio(MUSIC_FILES[0], sample_rate=44100)[: 44100 * 4]
    return np.vstack([music, 0.5 * music[::-1]])


@pytest.mark.parametrize("ext, codec", [("wav", "pcm_s16le"), ("flac", "flac"), ("opus", "libopus"),
                                        ("mp3", "libmp3lame"), ("ogg", None)])
def test_every_format_decodes_and_matches_librosa_on_the_decoded_signal(tmp_path, stereo, ext, codec):
    if codec is None:  # Ogg Vorbis: PyAV's FFmpeg has no Vorbis encoder; use a real excerpt
        path, rate, seconds = MUSIC_FILES[0], 44100, 15.0
    else:
        rate = 48000 if codec == "libopus" else 44100
        src = stereo if rate == 44100 else np.vstack(
            [np.interp(np.arange(0, stereo.shape[1], 44100 / 48000), np.arange(stereo.shape[1]), ch)
             for ch in stereo])
        path, seconds = tmp_path / f"music.{ext}", src.shape[1] / rate
        write_audio(path, src, rate, codec)
    info = audio_info(path)
    assert info.sample_rate == rate and info.channels == 2
    spec = FeatureSpec(fps=8)
    y = load_audio(path, sample_rate=spec.sample_rate)
    assert abs(y.size / spec.sample_rate - seconds) < 0.1
    frames = extract_file(path, spec)
    assert np.abs(frames - FeatureExtractor(spec).process(y)).max() <= 1e-9
    ref = librosa_features(y, spec)
    assert np.abs(frames[:, :64] - ref[:, :64]).max() <= 1e-3


def test_wav_decodes_exactly_and_downmixes_by_the_mean(tmp_path):
    t = np.arange(22050) / 22050
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)
    path = tmp_path / "tone.wav"
    write_audio(path, np.vstack([left, right]), 22050, "pcm_f32le")
    y = load_audio(path)
    assert y.size == 22050
    assert np.abs(y - (left + right) / 2).max() < 1e-7  # float32 storage


def test_video_audio_track(tmp_path, stereo):
    """The audio track of a video goes through the same path as a music file."""
    path = tmp_path / "clip.mp4"
    rate, fps = 44100, 25
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        a = out.add_stream("aac", rate=rate, layout="stereo")
        n_video = int(stereo.shape[1] / rate * fps)
        for i in range(n_video):
            img = np.full((64, 64, 3), (i * 7) % 255, dtype=np.uint8)
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for i in range(0, stereo.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, i:i + 1024].astype(np.float32)),
                                               format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, i
            for packet in a.encode(frame):
                out.mux(packet)
        for s in (v, a):
            for packet in s.encode(None):
                out.mux(packet)
    spec = FeatureSpec(fps=16)
    frames = extract_file(path, spec)
    y = load_audio(path, sample_rate=22050)
    assert frames.shape == (spec.n_frames_for(y.size), 66) and len(frames) > 50
    expected = FeatureExtractor(spec).process(load_audio(MUSIC_FILES[0], sample_rate=22050)[: y.size])
    # AAC is lossy and adds priming; the louder bands must still follow the original closely
    assert np.corrcoef(frames[:, 64], expected[: len(frames), 64])[0, 1] > 0.9


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        extract_file(tmp_path / "nope.ogg")


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.ogg"
    path.write_bytes(MUSIC_FILES[0].read_bytes()[:300] + b"\x00garbage" * 200)
    with pytest.raises(MediaError, match="broken.ogg"):
        extract_file(path)


def test_not_media_at_all(tmp_path):
    path = tmp_path / "notes.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(MediaError, match="notes.bin: (cannot be opened|has no audio track)"):
        extract_file(path)


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_named_as_audio(tmp_path, seed):
    """Bytes FFmpeg half-recognises (it may guess FLAC from the name and find no sample rate):
    one line naming the file, from every reader, never the resampler's rate complaint."""
    path = tmp_path / "junk.flac"
    path.write_bytes(np.random.default_rng(seed).bytes(2000))
    for read in (extract_file, load_audio, audio_info):
        with pytest.raises(MediaError, match="junk.flac: "):
            read(path)


def test_video_without_audio(tmp_path):
    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        for _ in range(10):
            for packet in v.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in v.encode(None):
            out.mux(packet)
    with pytest.raises(MediaError, match="no audio track"):
        extract_file(path)


def test_shorter_than_one_window(tmp_path):
    path = tmp_path / "blip.wav"
    write_audio(path, np.zeros((2, 1000)), 22050, "pcm_s16le")
    with pytest.raises(MediaError, match="shorter than one analysis window"):
        extract_file(path)


def test_extract_file_equals_the_live_block_path():
    """No train/serve skew: a file through ``extract_file`` and the same file at its own rate in
    10 ms blocks through the live path (StreamResampler, then FeatureExtractor, one block per call
    as the engine does) resample to the same samples (bit for bit with the live kernel, to 1e-12
    with the whole-file kernel that ``load_audio``/``extract_file`` use: the same filter, other
    rounding) and give the same features (to 1e-9: the whole-file kernel's rounding, measured
    ~1e-11, and the extractor's own block-size invariance, 1e-12: its one-frame path rounds a dot
    product differently from the batch path), for a 44.1 kHz Vorbis and a 48 kHz Opus file."""
    import numpy as np

    from bridge import (FeatureExtractor, FeatureSpec, StreamResampler, extract_file, iter_audio,
                        load_audio)
    from bridge.audio.decode import audio_info
    from tests.conftest import MUSIC

    spec = FeatureSpec(fps=60)
    for name in ("wesnoth-battle.ogg", "warzone-track4.opus"):
        path = MUSIC / name
        rate = audio_info(path).sample_rate
        native = np.concatenate(list(iter_audio(path)))
        block = rate // 100
        resampler, extractor = StreamResampler(rate, spec.sample_rate), FeatureExtractor(spec)
        samples, live = [], []
        for i in range(0, native.size + block, block):
            y = resampler.process(native[i:i + block]) if i < native.size else resampler.flush()
            samples.append(y)
            live.append(extractor.process(y))
        samples = np.concatenate(samples)
        assert np.array_equal(samples, np.concatenate(list(iter_audio(path, sample_rate=22050))))
        whole = load_audio(path, sample_rate=22050)
        assert whole.size == samples.size and np.abs(whole - samples).max() <= 1e-12, name
        live = np.concatenate(live)
        offline = extract_file(path, spec)
        assert offline.shape == live.shape and len(live) > 800
        assert np.abs(offline - live).max() <= 1e-9, name
