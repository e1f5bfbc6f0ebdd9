"""Render the projectM validation clips of the AVS metric (tests/data/avs/*.mkv).

Why committed clips: rendering needs libprojectM, EGL and a compiled helper (bridge/training/
corpus/renderer.py); decoding the 24 clips of 15 s at 64x64 costs the test about a second. Each
clip is one preset reacting to one committed test excerpt (tests/data/music/), the audio pushed exactly
as in the corpus (frame i after the audio of [i/fps, (i+1)/fps)), written video-only (the test
passes the music file as --audio; sample 0 of the music is time 0 of the video): H.264, 64x64
grey-as-RGB, CRF 33 (the 24 clips: 0.7 MB), frame i at pts (i+1)/fps as in bridge/training/corpus/video.py.

Presets, chosen by a rule fixed before any AVS was computed: from the committed screening
(bridge/training/corpus/lists/presets.json), among presets with motion >= 0.01 and brightness
>= 0.1, the four best-scoring distinct "kept" presets (responsive) and the four lowest-scoring
distinct "ignores-audio" presets (unresponsive).

    cd /work/wt-avs && PYTHONPATH=$PWD /work/main/.venv/bin/python tests/data/avs/make_clips.py
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MUSIC = HERE.parent / "music"
FPS, SIZE, CRF = 30, 64, 33
TRACKS = ("nexuiz-neuronal-diving.ogg", "wesnoth-battle.ogg", "warzone-track4.opus")
PRESETS = {
    "responsive-mandala": "presets_stock/Phat+fiShbRaiN+EoS_Mandala_Chasers_remix - www-eos4life-com.milk",
    "responsive-geiss3b": "presets_tryptonaut/_Mig_304 - geiss remix 3b.milk",
    "responsive-lazerspecs": "presets_tryptonaut/shifter - lazerspecs_phat_edit.milk",
    "responsive-strain": "presets_stock/Zylot - De(-a)range(d)(ment) strain.milk",
    "unresponsive-fractaldrop": "presets_bltc201/Rovastar + Loadus + Geiss - FractalDrop (Spinning Mix).milk",
    "unresponsive-beetle": "presets_milkdrop_200/Geiss - beetle bore - color invert mirror x.milk",
    "unresponsive-oddity": "presets_tryptonaut/Flexi - mind oddity [shifting triangle].milk",
    "unresponsive-peacock": ("presets_bltc201/Bmelgren & Krash - Rainbow Orb Peacock (Lonely Signal "
                             "Gone Mad Mix).milk"),
}


def write_video(path: Path, frames, *, fps: int = FPS, crf: int = CRF) -> int:
    """Grey or RGB uint8 frames -> video-only H.264 Matroska; frame i at pts (i+1)/fps."""
    import av

    n = 0
    with av.open(str(path), mode="w", format="matroska", options={"fflags": "+bitexact"}) as out:
        v = out.add_stream("libx264", rate=fps)
        v.pix_fmt = "yuv420p"
        v.time_base = v.codec_context.time_base = Fraction(1, fps)
        v.codec_context.thread_count = 1
        v.codec_context.options = {"crf": str(crf), "preset": "medium"}
        for frame in frames:
            if frame.ndim == 2:
                frame = np.repeat(frame[:, :, None], 3, axis=2)
            if n == 0:
                v.height, v.width = frame.shape[:2]
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = n + 1
            for packet in v.encode(vf):
                out.mux(packet)
            n += 1
        for packet in v.encode(None):
            out.mux(packet)
    return n


def main(argv: list[str]) -> int:
    from bridge.training.corpus.music import SAMPLE_RATE, load_stereo
    from bridge.training.corpus.renderer import render_frames

    only = set(argv)
    for track in TRACKS:
        audio = load_stereo(MUSIC / track, sample_rate=SAMPLE_RATE)
        for name, preset in PRESETS.items():
            out = HERE / f"{name}--{track.split('-')[0]}.mkv"
            if (only and name not in only) or out.exists():
                continue
            frames = (np.asarray(f.mean(axis=2), np.uint8)  # grey (channel mean): AVS sees grey only
                      for f in render_frames(preset, audio, sample_rate=SAMPLE_RATE, fps=FPS,
                                             size=128))
            small = (f.reshape(SIZE, 2, SIZE, 2).mean(axis=(1, 3)).astype(np.uint8) for f in frames)
            tmp = out.with_suffix(".tmp.mkv")
            n = write_video(tmp, small)
            tmp.replace(out)
            print(f"{out.name}: {n} frames, {out.stat().st_size / 1024:.0f} KiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
