"""Benchmark (not a test): where a whole file's extraction spends its CPU, stage by stage.

    .venv/bin/python -m tests.bench.offline_stages FILE [--fps 60] [--runs 5]

Why: ``vjbridge bench --file`` gives the whole against librosa; this splits it. Each stage runs on
its own, one after the other, timed by the CPU time of the thread running it (the box is shared):

* **decode**: PyAV through FFmpeg's sample FIFO to mono float64 at the file's rate (what
  ``iter_audio`` runs first), beside FFmpeg's decoder alone (the codec frames,
  nothing done with them) and libsndfile alone (``soundfile.read``), with libsndfile's length
  and largest difference (after the same mean) against PyAV's samples;
* **resample**: :class:`StreamResampler` over the decoded 1 s blocks, with the live kernel and
  with the whole-file kernel that whole-file readers run (``whole_file=True``, FFT overlap-save
  or block matrix products: the same filter, other rounding; its largest difference is printed);
* **features**: :class:`FeatureExtractor` over 30 s blocks, as ``extract_file`` feeds it.

Medians over ``--runs``. Figures quoted in README "Measured speed" (offline paragraph).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timed(fn):
    t0 = time.thread_time()
    out = fn()
    return time.thread_time() - t0, out


def codec_only(path) -> None:
    from bridge.audio.decode import open_media

    _, container = open_media(path)
    with container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            for _ in stream.codec_context.decode(packet):
                pass


def ours_decoded(path) -> list[np.ndarray]:
    from bridge.audio.decode import _decoded, open_media

    av, container = open_media(path)
    with container:
        return list(_decoded(av, container, container.streams.audio[0], path))


def soundfile_read(path) -> np.ndarray | None:
    """``(n, channels)`` float32 from libsndfile, or None where it cannot read the file."""
    try:
        import soundfile
    except ImportError:
        return None
    try:
        return soundfile.read(str(path), dtype="float32", always_2d=True)[0]
    except RuntimeError:  # a format libsndfile does not read
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    from bridge import FeatureExtractor, FeatureSpec, StreamResampler, audio_info

    spec, rate = FeatureSpec(fps=args.fps), audio_info(args.file).sample_rate
    rows: dict[str, list[float]] = {}
    extra = {}
    for _ in range(args.runs):
        rows.setdefault("decode: FFmpeg's decoder alone", []).append(timed(
            lambda: codec_only(args.file))[0])
        t, blocks = timed(lambda: ours_decoded(args.file))
        rows.setdefault("decode: ours (PyAV, FIFO, mono)", []).append(t)
        t, sf = timed(lambda: soundfile_read(args.file))
        native = np.concatenate(blocks)
        if sf is not None:
            rows.setdefault("decode: libsndfile alone (soundfile.read)", []).append(t)
            sf = np.add.reduce(sf.astype(np.float64).T, axis=0) / sf.shape[1]
            n = min(sf.size, native.size)
            extra["libsndfile"] = (f"{sf.size} samples against PyAV's {native.size}; largest "
                                   f"difference {np.abs(sf[:n] - native[:n]).max():.2e}")
        r = StreamResampler(rate, spec.sample_rate)
        t, y = timed(lambda: np.concatenate([r.process(b) for b in blocks] + [r.flush()]))
        rows.setdefault("resample: StreamResampler (live kernel)", []).append(t)
        w = StreamResampler(rate, spec.sample_rate, whole_file=True)
        t, z = timed(lambda: np.concatenate([w.process(b) for b in blocks] + [w.flush()]))
        rows.setdefault("resample: StreamResampler(whole_file=True)", []).append(t)
        extra["whole-file kernel"] = (f"{z.size} samples against {y.size}; largest difference "
                                      f"{np.abs(z - y).max():.2e}")
        ex = FeatureExtractor(spec, threads=2)
        chunk = 30 * spec.sample_rate
        t, _ = timed(lambda: [ex.process(y[a:a + chunk]) for a in range(0, y.size, chunk)])
        rows.setdefault(f"features @ {args.fps:g} fps (30 s blocks)", []).append(t)
    print(f"{args.file}: {rate} Hz, {native.size / rate:.1f} s; thread CPU, median of {args.runs} "
          "(min-max)")
    for name, times in rows.items():
        print(f"  {name:42s} {np.median(times):.3f} s ({min(times):.3f}-{max(times):.3f})")
    for name, text in extra.items():
        print(f"  {name}: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
