"""Does a rendered video follow its music? Frame difference against onset strength and RMS.

Why these two curves: the issue's done-when asks that a CPPN video change with the music; the
frame-to-frame change of the decoded video (mean absolute difference of consecutive frames, in
0..255 units) should rise with the onset strength (how much the mel bands rose) and with the
loudness of the frame that drove it. Both curves come from the z extractor itself (the onset and
RMS columns of the same :class:`FeatureSpec` frames), aligned as the renderer aligns them: video
frame ``i`` shows z frame ``i - 1``, so the change into frame ``i`` goes with z frame ``i - 1``.
"""

from __future__ import annotations

import numpy as np


def frame_changes(video: str, *, size: int = 64) -> np.ndarray:
    """Mean |difference| (0..255) between consecutive decoded frames, scaled to ``size`` px."""
    import av

    prev, out = None, []
    with av.open(video) as c:
        for frame in c.decode(video=0):
            g = frame.reformat(width=size, height=size, format="rgb24").to_ndarray()
            g = g.astype(np.float32)
            if prev is not None:
                out.append(float(np.abs(g - prev).mean()))
            prev = g
    return np.asarray(out)


def audio_curves(audio_path: str, spec) -> dict[str, np.ndarray]:
    """``onset`` and ``rms`` per z frame of ``audio_path``'s mix."""
    from bridge.audio.decode import extract_file

    f = extract_file(audio_path, spec)
    return {"rms": f[:, spec.n_mels], "onset": f[:, spec.n_mels + 1]}


def follow(video: str, audio_path: str, spec) -> dict[str, float]:
    """Pearson r of the video's frame change with onset strength and with RMS."""
    d = frame_changes(video)
    curves = audio_curves(audio_path, spec)
    out = {"frames": int(d.size + 1)}
    for name, c in curves.items():
        # change into frame i (d[i-1], i >= 1) <- z frame i - 1; the first z frames clamp
        n = min(d.size, c.size)
        x, y = d[1:n], c[1:n]
        out[f"r_{name}"] = float(np.corrcoef(x, y)[0, 1]) if n > 2 else float("nan")
    return out
