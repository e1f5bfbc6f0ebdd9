"""The faster offline path computes what main computed: the features of a file, the decoded samples,
and the resampled samples (issue 9, part 7).

A training dataset built with main's code and the live daemon must see the same features as any
file extracted now. What could have moved them: decoding through FFmpeg's sample FIFO, with integer
and packed-float frames converted in numpy (the samples must be the same, bit for bit), the mono
downmix written without ``np.mean`` (the same sum and division), BLAS on one thread for the
extractor's batches (OpenBLAS's partition of a product by thread moves the last bit: allowed to
1e-9, measured ~1e-14 dB), and the resampler's whole-file kernel (``StreamResampler(whole_file=
True)``: the same filter, rounded differently: samples to 1e-12, features to 1e-9 and the shipped
models' outputs to 1e-6, measured 1.3e-15, 1e-11 and 0 on the test music).
"""

from __future__ import annotations

import numpy as np
import pytest

from bridge import FeatureExtractor, FeatureSpec, extract_file, iter_audio, load_audio
from bridge.errors import MediaError
from tests.audio.conftest import MUSIC_FILES
from tests.audio.test_decode import write_audio
from tests.conftest import DATA, MUSIC

REPO = DATA.parents[1]
GOLDEN = DATA / "golden" / "features-main-bd39bc6.npz"


def main_decoding(path) -> np.ndarray:
    """Main's decoder (bd39bc6), kept here as the reference: every codec frame's planes read with
    ``np.frombuffer``, converted to planar float by FFmpeg where they are not, float64 mean of the
    channels."""
    import av

    blocks, to_float = [], None
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            if frame.format.name == "fltp":
                planes = [np.stack([np.frombuffer(p, np.float32, frame.samples)
                                    for p in frame.planes])]
            else:
                to_float = to_float or av.AudioResampler(format="fltp")
                planes = [p.to_ndarray() for p in to_float.resample(frame)]
            blocks += [p for p in planes if p.shape[-1]]
        if to_float is not None:
            blocks += [p.to_ndarray() for p in to_float.resample(None)]
    return np.concatenate(blocks, axis=-1).astype(np.float64).mean(axis=0)


@pytest.mark.parametrize("fps", [8, 60])
@pytest.mark.parametrize("name", ["nexuiz-neuronal-diving.ogg", "warzone-track4.opus"])
def test_features_equal_mains(name, fps):
    """44.1 kHz Vorbis (the integer-ratio resampler) and 48 kHz Opus (the gathered one)."""
    golden = np.load(GOLDEN)[f"{name.split('-')[0]}_fps{fps}"]
    frames = extract_file(MUSIC / name, FeatureSpec(fps=fps))
    assert len(frames) == (len(golden) if fps == 8 else 894)
    assert np.abs(frames[:len(golden)] - golden).max() <= 1e-9


@pytest.fixture(scope="module")
def made_files(tmp_path_factory):
    """Files whose decoders give other sample formats than planar float: 16-bit WAV and FLAC
    (s16), 24-bit WAV (s32), float WAV (packed flt), MP3, and a mono and a 6-channel file."""
    d = tmp_path_factory.mktemp("formats")
    music = load_audio(MUSIC_FILES[0], sample_rate=44100)[:44100 * 3]
    stereo = np.vstack([music, 0.5 * music[::-1]])
    files = []
    for name, codec in (("music.wav", "pcm_s16le"), ("music.flac", "flac"), ("music.mp3",
                        "libmp3lame"), ("music24.wav", "pcm_s24le"), ("musicf32.wav", "pcm_f32le")):
        files.append(d / name)
        write_audio(files[-1], stereo, 44100, codec)
    import av

    for layout, channels in (("mono", 1), ("5.1", 6)):
        path = d / f"{layout}.flac"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("flac", rate=44100, layout=layout)
            data = np.vstack([music * (0.9 - 0.1 * c) for c in range(channels)])
            pcm = (np.clip(data, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
            for i in range(0, music.size, 4096):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(
                    pcm[:, i * channels:(i + 4096) * channels]), format="s16", layout=layout)
                frame.sample_rate = 44100
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        files.append(path)
    return files


def test_decoded_samples_equal_mains_bit_for_bit(made_files):
    for path in [*MUSIC_FILES, *made_files]:
        ours = np.concatenate(list(iter_audio(path)))
        assert np.array_equal(ours, main_decoding(path)), path.name
    assert {audio_channels(p) for p in made_files} >= {1, 2, 6}
    assert {sample_format(p) for p in made_files} >= {"s16", "s32", "flt", "fltp"}


def sample_format(path) -> str:
    import av

    with av.open(str(path)) as container:
        return next(container.decode(audio=0)).format.name


def audio_channels(path) -> int:
    from bridge import audio_info

    return audio_info(path).channels


def test_resampled_samples_equal_the_old_block_by_block_path():
    """The live kernel is untouched: main's per-frame blocks and the FIFO's 1 s blocks give the same
    22,050 Hz samples, bit for bit (44.1 and 48 kHz files); the whole-file readers' kernel gives
    them to 1e-12 (and is in use: not every sample is the same)."""
    from bridge import StreamResampler, audio_info

    for path in MUSIC_FILES:
        native = main_decoding(path)
        r = StreamResampler(audio_info(path).sample_rate, 22050)
        old = np.concatenate([r.process(native[i:i + 1024]) for i in range(0, native.size, 1024)]
                             + [r.flush()])
        assert np.array_equal(np.concatenate(list(iter_audio(path, sample_rate=22050))), old)
        whole = load_audio(path, sample_rate=22050)
        assert whole.size == old.size and np.abs(whole - old).max() <= 1e-12, path.name
        assert not np.array_equal(whole, old), path.name


@pytest.mark.parametrize("fps", [8, 60])
def test_the_whole_file_kernel_moves_features_and_shipped_models_by_rounding_only(fps):
    """No retrain needed: on real music (44.1 kHz Vorbis, 48 kHz Opus) the features of
    ``extract_file`` (whole-file kernel) equal those of the live path (the file at its own rate in
    10 ms blocks through the live kernel and the extractor) to 1e-9, and every shipped model,
    fed each path's features (float32 inputs, as served), give outputs equal to 1e-6."""
    from bridge import StreamResampler, audio_info
    from bridge.models.onnx_model import OnnxModel
    from bridge.models.runner import ModelRunner

    paths = sorted((REPO / "onnx_models").glob("*.onnx"))
    assert [p.stem for p in paths] == ["light-rgb", "motion-weight", "paper-ridge"]
    models = [OnnxModel.load(p) for p in paths]
    for path in MUSIC_FILES:
        rate = audio_info(path).sample_rate
        native = np.concatenate(list(iter_audio(path)))
        r, block = StreamResampler(rate, 22050), rate // 100
        live = np.concatenate([r.process(native[i:i + block])
                               for i in range(0, native.size, block)] + [r.flush()])
        spec = FeatureSpec(fps=fps)
        extractor = FeatureExtractor(spec)
        live_frames = np.concatenate([extractor.process(live[i:i + 221])
                                      for i in range(0, live.size, 221)])
        frames = extract_file(path, spec)
        assert frames.shape == live_frames.shape and len(frames) > 100
        assert np.abs(frames - live_frames).max() <= 1e-9, path.name
        if fps != 8:
            continue
        whole = load_audio(path, sample_rate=22050)
        for model in models:
            outs = [ModelRunner(model, model.spec).process(FeatureExtractor(model.spec).process(y))
                    for y in (live, whole)]
            assert len(outs[0]) > 50 and np.abs(outs[0] - outs[1]).max() <= 1e-6, path.name


BLAS_CHECK = """
import json, os, sys
import numpy as np
from threadpoolctl import threadpool_info
from bridge import FeatureExtractor, FeatureSpec, load_audio
from bridge.audio import blas, features

def blas_threads():
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

seen = []
spectral = features.FeatureExtractor._spectral
def recording(self, *args):
    seen.append(blas_threads())
    return spectral(self, *args)
features.FeatureExtractor._spectral = recording
y = load_audio(sys.argv[1], sample_rate=22050)
spec = FeatureSpec(fps=60)
before = blas_threads()
limited = FeatureExtractor(spec).process(y)
after = blas_threads()
features.FeatureExtractor._spectral = spectral
blas._controller = False  # as without threadpoolctl: BLAS keeps its threads
free = FeatureExtractor(spec).process(y)
print(json.dumps({"before": before, "during": sorted(set(seen)), "after": after,
                  "frames": len(limited), "diff": float(np.abs(limited - free).max())}))
"""


def test_batches_run_blas_on_one_thread_and_equal_batches_with_blas_threads():
    """In a process where OpenBLAS has its threads (the test session pins it to one, so a child
    without that pin): every batch runs with one BLAS thread, the threads are restored after, and
    the frames equal those computed with BLAS's own threads (the threadpoolctl-less fallback) to
    1e-9."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", BLAS_CHECK, str(MUSIC_FILES[0])], env=env,
                          capture_output=True, text=True, check=True)
    got = json.loads(done.stdout)
    cores = os.cpu_count() or 1
    assert got["before"] == got["after"] and got["during"] == [1]
    if cores > 1:
        assert got["before"] > 1
    assert got["frames"] > 800 and got["diff"] <= 1e-9


def test_a_stream_that_changes_channels_or_rate_is_one_clear_line():
    """FFmpeg's FIFO holds one format (and PyAV 18 would read planes a mono frame does not have):
    a change is refused with the file's name, before it reaches the FIFO."""
    import av

    from bridge.audio.decode import _Samples

    def frame(channels, rate):
        f = av.AudioFrame.from_ndarray(np.full((channels, 512), 0.25, np.float32), format="fltp",
                                       layout="stereo" if channels == 2 else "mono")
        f.sample_rate = rate
        return f

    fifo = _Samples(av, "x.mkv")
    fifo.write(frame(2, 44100))
    for channels, rate, now in ((1, 44100, "1 at 44100 Hz"), (2, 48000, "2 at 48000 Hz")):
        with pytest.raises(MediaError, match=rf"^x.mkv: the audio changes from 2 channel\(s\) at "
                                             rf"44100 Hz to {now} mid-stream; convert it"):
            fifo.write(frame(channels, rate))
    fifo.write(frame(2, 44100))
    assert fifo.samples == 1024
    assert np.array_equal(fifo.read(), np.full(1024, 0.25))
