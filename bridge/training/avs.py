"""Audio-Visual Synchrony (AVS): how well a video's visual changes follow its music's onsets.

Why: the diffusion-visualiser study (Pina & Li, arXiv 2412.05694) scores its videos with an AVS
built from audio onsets, visual transitions and the DTW distance between them, but what could be
read of it here (its abstract, summaries of it, its example repository) gives no formula, only
that much and its Table 3. So this module defines its own AVS along those lines, precisely, and
every number below is printed in the report. The defaults were tuned on projectM clips
(tests/data/avs/README.md says how). It is an offline analysis tool (``vjbridge avs``); the live
daemon never imports it.

Definition (parameters: :class:`AVSParams`; times in seconds, the first ``skip`` seconds ignored:
visualizers warm up from black, encoders settle):

1. **Audio onsets** ``a``: the project's onset strength (:class:`~bridge.audio.features.
   FeatureExtractor` via :func:`~bridge.audio.decode.extract_file`: mean positive mel-dB rise, at
   ``fps`` frames/s), each frame placed at the end of its analysis window (when its last sample
   has arrived: what a causal visualizer can have reacted to by then), smoothed by a centred
   moving average of ``smooth`` frames. Onsets are its peaks (local maxima) at or above
   ``median + onset_delta * 1.4826 * MAD`` of it (a robust "mean + delta std": the music starting
   after silence cannot lift the threshold over every other onset), strongest first, none within
   ``refractory`` of a stronger one.
2. **Visual transitions** ``v``: frames decoded with PyAV as ``size`` x ``size`` grey in [0, 1];
   ``d_i`` = mean |frame i - frame i-1| at frame i's presentation time (the frame difference).
   The visual strength is its positive change ``max(d_i - d_(i-1), 0)``, smoothed as above: the
   picture's counterpart of the onset strength (where motion starts or jumps: a cut, a burst;
   raw ``d`` peaks also mark the middle of a steady, slow movement). Transitions are its peaks at
   or above ``median + visual_delta * 1.4826 * MAD``, with the same refractory rule.
3. **DTW**: ``D`` = dtw-python's ``normalizedDistance`` between the two sorted time sequences
   (cost |a_i - v_j|, step pattern symmetric2: the total cost over (n + m); a weighted mean time
   offset along the best monotone alignment, in seconds).
4. **Chance**: the same distance with the transitions moved in time by circular shifts (within
   ``[skip, duration]``) of ``shifts`` offsets spread evenly over ``[min_shift, span - min_shift]``;
   ``D_chance`` = their mean. A shift keeps the transitions' number and rhythm and destroys only
   their timing relative to the music, so ``D_chance`` is what that many transitions score by luck
   (many random cuts score a small ``D``, and as small a ``D_chance``).
5. **Synchrony** ``S = clip(1 - D / D_chance, 0, 1)``: 1 when onsets and transitions coincide,
   0 when the timing is no better than chance. Fewer than 2 onsets or 2 transitions: ``S = 0``.
6. **Penalties** (exponential, each in [0, 1)):
   ``P_motion = 1 - exp(-m / motion_scale)`` with ``m`` = mean of ``d`` (a video that barely moves
   scores near 0; a static one ~0, and has no transitions: S = 0), and ``P_regular = 1 - exp(-cv / regularity_scale)``
   with ``cv`` = coefficient of variation of the intervals between transitions (periodic cuts,
   cv ~ 0, score near 0; fewer than 3 transitions: cv = 0).
7. **AVS = S * P_motion * P_regular**, in [0, 1].

Why relative to chance rather than ``exp(-D / tau)`` with a fixed ``tau``: DTW pairs every event of
each sequence, so the distance falls as events get denser whatever their timing; dividing by the
same count's chance distance makes the score about timing alone. Limits: music with a steady
beat lets a transition one beat away pair with the neighbouring onset, so an offset close to a beat
period (or a multiple) is partly forgiven.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import asdict, dataclass

import numpy as np

from bridge.errors import ConfigError, MediaError

#: What to install when dtw-python is missing (the one line the command prints).
DTW_MISSING = ("vjbridge avs needs the DTW library dtw-python (an offline extra): "
               "pip install 'vjbridge[train]' (or pip install dtw-python)")


@dataclass(frozen=True)
class AVSParams:
    """Every knob of the metric (the report prints them all)."""

    fps: float = 30.0  # onset-strength frames per second (hop = round(22050 / fps))
    onset_delta: float = 1.0  # onset threshold: median + onset_delta robust std (1.4826 MAD)
    size: int = 64  # visual analysis frames: size x size grey
    visual_delta: float = 1.0  # transition threshold, the same on the visual strength
    refractory: float = 0.25  # s: no two onsets (or two transitions) closer than this
    smooth: int = 3  # frames: centred moving average of both strengths before peak picking
    skip: float = 1.0  # s ignored at the start
    shifts: int = 24  # circular shifts for the chance distance
    min_shift: float = 1.0  # s: smallest circular shift
    motion_scale: float = 0.002  # mean frame difference giving P_motion = 1 - 1/e
    regularity_scale: float = 0.1  # interval coefficient of variation giving P_regular = 1 - 1/e

    def check(self) -> None:
        for name in ("fps", "size", "smooth", "refractory", "shifts", "min_shift", "motion_scale",
                     "regularity_scale"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"AVS parameter {name} must be > 0; got {getattr(self, name)}")
        if self.skip < 0:
            raise ConfigError(f"AVS parameter skip must be >= 0 s; got {self.skip}")


def robust_threshold(values: np.ndarray, delta: float) -> float:
    """``median + delta * 1.4826 * MAD``: a threshold that one huge outlier (the music starting
    after silence, a single cut) cannot lift over everything else, as ``mean + delta * std`` can."""
    med = float(np.median(values))
    return med + delta * 1.4826 * float(np.median(np.abs(values - med)))


def pick_events(times: np.ndarray, values: np.ndarray, delta: float, refractory: float):
    """Times of the peaks of ``values`` at or above :func:`robust_threshold`, strongest first, none
    within ``refractory`` of a stronger one; returns ``(sorted times, threshold)``."""
    times, values = np.asarray(times, float), np.asarray(values, float)
    if values.size < 3:
        return np.zeros(0), 0.0
    threshold = robust_threshold(values, delta)
    mid = values[1:-1]
    peaks = np.flatnonzero((mid >= values[:-2]) & (mid > values[2:]) & (mid >= threshold)) + 1
    chosen: list[float] = []
    for i in peaks[np.argsort(-values[peaks], kind="stable")]:
        if all(abs(times[i] - t) >= refractory for t in chosen):
            chosen.append(float(times[i]))
    return np.sort(np.array(chosen)), threshold


def smoothed(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` samples (zeros beyond the ends): no time shift."""
    x = np.asarray(x, float)
    return x if width <= 1 else np.convolve(x, np.ones(width) / width, mode="same")


def visual_strength(d: np.ndarray) -> np.ndarray:
    """Positive change of the frame difference: where motion starts or jumps (a cut, a burst)."""
    d = np.asarray(d, float)
    return np.maximum(np.diff(d, prepend=d[:1]), 0.0) if d.size else d


def audio_onsets(audio_path, params: AVSParams):
    """Onset strength of ``audio_path`` through the project's extractor; ``(times, strength)``."""
    from bridge.audio.decode import extract_file
    from bridge.audio.spec import FeatureSpec

    spec = FeatureSpec(fps=params.fps)
    frames = extract_file(audio_path, spec)
    times = spec.frame_end_times(len(frames))
    return times, frames[:, spec.n_mels + 1]


def frame_differences(video_path, size: int):
    """``(times, d)``: presentation time of frames 1.. and their mean |grey difference| in [0, 1]."""
    from bridge.audio.decode import open_media

    av, container = open_media(video_path, track="video")
    from av.video.reformatter import VideoReformatter

    scaler = VideoReformatter()  # one scaler for all frames: frame.reformat() makes one a call,
    times, diffs, prev = [], [], None  # 14x slower (measured: 450 frames 0.15 s against 0.01 s)
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                grey = scaler.reformat(frame, width=size, height=size, format="gray").to_ndarray()
                grey = grey.astype(np.float32) / 255.0
                if prev is not None:
                    times.append(float(frame.pts * stream.time_base))
                    diffs.append(float(np.abs(grey - prev).mean()))
                prev = grey
        except av.error.FFmpegError as exc:
            raise MediaError(f"{os.fspath(video_path)}: decoding the video failed ({exc}); the "
                             "file is probably corrupt or truncated") from None
    order = np.argsort(times, kind="stable")  # decoders may emit in presentation order anyway
    return np.asarray(times)[order], np.asarray(diffs)[order]


def _dtw():
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # older releases print a banner
            from dtw import dtw
    except ImportError:
        raise ConfigError(DTW_MISSING) from None
    return dtw


def dtw_distance(a: np.ndarray, v: np.ndarray) -> float:
    """dtw-python's normalised distance (symmetric2) between two 1-D time sequences, seconds."""
    return float(_dtw()(np.asarray(a, float), np.asarray(v, float),
                        distance_only=True).normalizedDistance)


def chance_distance(a: np.ndarray, v: np.ndarray, start: float, end: float,
                    params: AVSParams) -> tuple[float, list[float]]:
    """Mean distance of ``a`` to ``v`` circularly shifted within ``[start, end]``; and each shift."""
    span = end - start
    lo, hi = params.min_shift, span - params.min_shift
    if hi <= lo:
        lo, hi = span / 4, 3 * span / 4
    offsets = np.linspace(lo, hi, params.shifts) if params.shifts > 1 else np.array([span / 2])
    dists = [dtw_distance(a, np.sort(start + (v - start + s) % span)) for s in offsets]
    return float(np.mean(dists)), [round(float(s), 3) for s in offsets]


def avs(video, audio=None, params: AVSParams | None = None) -> dict:
    """The AVS report of ``video`` against ``audio`` (default: the video's own audio track)."""
    params = params or AVSParams()
    params.check()
    _dtw()  # a missing library is one line before any decoding
    audio_src = audio if audio is not None else video
    try:
        at, strength = audio_onsets(audio_src, params)
    except MediaError as exc:
        if audio is None and "has no audio track" in str(exc):
            raise MediaError(f"{os.fspath(video)}: has no audio track; give the music with "
                             "--audio FILE") from None
        raise
    try:
        vt, d = frame_differences(video, params.size)
    except MediaError as exc:
        if "has no video track" in str(exc):
            raise MediaError(f"{os.fspath(video)}: has no video track; vjbridge avs scores a "
                             "video (give the music with --audio)") from None
        raise
    if vt.size < 3:
        raise MediaError(f"{os.fspath(video)}: fewer than 3 video frames; nothing to measure")
    end = float(min(at[-1] if at.size else 0.0, vt[-1]))
    start = params.skip
    if end - start < 2 * params.refractory + 1.0:
        raise MediaError(f"{os.fspath(video)}: audio and video overlap for {end:.2f} s, too short "
                         f"to measure after skipping {start} s")
    ka, kv = (at >= start) & (at <= end), (vt >= start) & (vt <= end)
    onsets, onset_thr = pick_events(at[ka], smoothed(strength, params.smooth)[ka],
                                    params.onset_delta, params.refractory)
    trans, visual_thr = pick_events(vt[kv], smoothed(visual_strength(d), params.smooth)[kv],
                                    params.visual_delta, params.refractory)
    motion = float(d[kv].mean())
    intervals = np.diff(trans)
    cv = float(intervals.std() / intervals.mean()) if intervals.size >= 2 else 0.0
    p_motion = 1.0 - float(np.exp(-motion / params.motion_scale))
    p_regular = 1.0 - float(np.exp(-cv / params.regularity_scale))
    if onsets.size >= 2 and trans.size >= 2:
        dist = dtw_distance(onsets, trans)
        chance, offsets = chance_distance(onsets, trans, start, end, params)
        sync = float(np.clip(1.0 - dist / chance, 0.0, 1.0)) if chance > 0 else 0.0
        note = ""
    else:
        dist = chance = None
        offsets, sync = [], 0.0
        note = (f"S = 0: {onsets.size} onset(s) and {trans.size} transition(s); DTW needs at "
                "least 2 of each")
    span = end - start
    return {
        "video": os.fspath(video),
        "audio": os.fspath(audio_src) + ("" if audio is not None else " (the video's own track)"),
        "params": asdict(params),
        "analysed_seconds": [round(start, 3), round(end, 3)],
        "onsets": int(onsets.size), "onset_rate_hz": round(onsets.size / span, 3),
        "onset_threshold": round(onset_thr, 4),
        "transitions": int(trans.size), "transition_rate_hz": round(trans.size / span, 3),
        "transition_threshold": round(visual_thr, 5),
        "motion_mean_diff": round(motion, 5),
        "interval_cv": round(cv, 4),
        "dtw_distance_s": None if dist is None else round(dist, 4),
        "chance_distance_s": None if chance is None else round(chance, 4),
        "chance_shifts_s": offsets,
        "synchrony": round(sync, 4),
        "penalty_motion": round(p_motion, 4),
        "penalty_regular": round(p_regular, 4),
        "avs": round(sync * p_motion * p_regular, 4),
        "note": note,
        "onset_times_s": [round(float(t), 3) for t in onsets],
        "transition_times_s": [round(float(t), 3) for t in trans],
    }


def summary(report: dict) -> str:
    """The plain stdout lines."""
    dist = report["dtw_distance_s"]
    dists = ("DTW n/a" if dist is None else
             f"DTW {dist:.3f} s vs chance {report['chance_distance_s']:.3f} s")
    lines = [f"AVS {report['avs']:.3f}  {report['video']}",
             f"  {report['onsets']} onsets ({report['onset_rate_hz']}/s), "
             f"{report['transitions']} transitions ({report['transition_rate_hz']}/s) in "
             f"{report['analysed_seconds'][0]}-{report['analysed_seconds'][1]} s; {dists}",
             f"  synchrony {report['synchrony']:.3f} x motion penalty "
             f"{report['penalty_motion']:.3f} (mean diff {report['motion_mean_diff']}) x "
             f"regularity penalty {report['penalty_regular']:.3f} (interval cv "
             f"{report['interval_cv']})"]
    if report["note"]:
        lines.append(f"  {report['note']}")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The Markdown report: every parameter and intermediate figure."""
    skip = {"params", "onset_times_s", "transition_times_s", "chance_shifts_s", "note"}
    rows = [f"| {k} | {v} |" for k, v in report.items() if k not in skip]
    prow = [f"| {k} | {v} |" for k, v in report["params"].items()]
    out = ["# AVS report", "", "Definition: bridge/training/avs.py (module docstring).", "",
           "| figure | value |", "|---|---|", *rows, "", "## Parameters", "",
           "| parameter | value |", "|---|---|", *prow, ""]
    if report["note"]:
        out += [report["note"], ""]
    out += ["## Events", "", f"chance shifts (s): {report['chance_shifts_s']}", "",
            f"onset times (s): {report['onset_times_s']}", "",
            f"transition times (s): {report['transition_times_s']}", ""]
    return "\n".join(out)
