"""Colour metrics a grey prediction cannot fool (pure numpy, keyword arguments).

Why more than cosine: the light-show paper scores RGB predictions by cosine similarity, but mean frame
colours sit near grey, and every grey vector has a cosine near 0.9 with every other near-grey one:
a constant scores as well as a model (measured on the first corpus: 0.949 against 0.949). So beside
cosine this module measures what a lighting operator sees:

- **per-channel R²** (does the level of r, g, b follow the target across rows at all),
- **within-video Pearson r** of brightness and of each channel (does the colour *move with* the
  music inside a piece; a constant has no r, counted as 0),
- **chroma error** after removing brightness (the hue/saturation part of the colour; a model can get
  brightness right and the colour wrong),
- **jitter**: mean |Δ| per second of prediction and target, and their ratio (a model that flickers
  more than the light it imitates is unusable even when it correlates).

Colours are ``(n, 3)`` arrays of linear r, g, b in [0, 1]; ``video`` is an ``(n,)`` id per row, rows
of one video contiguous and in time order.
"""

from __future__ import annotations

import numpy as np

#: Brightness of a colour: ITU-R BT.601 luma (the weights the dataset's grey/motion targets use).
LUMA = np.array([0.299, 0.587, 0.114])
#: The paper's reported cosine similarity of its 1-D CNN (Beatomizer).
PAPER_COSINE = 0.7624
EPS = 1e-8


def _rgb(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3:
        raise ValueError(f"{name} must be an (n, 3) array of r, g, b; got shape {a.shape}")
    return a


def _pair(pred, true):
    p, t = _rgb("pred", pred), _rgb("true", true)
    if p.shape != t.shape:
        raise ValueError(f"pred {p.shape} and true {t.shape} differ in shape")
    return p, t


def cosine_similarity(*, pred, true) -> float:
    """Mean over rows of cos(pred, true) (the paper's metric); a black row counts as cos 0."""
    p, t = _pair(pred, true)
    num = (p * t).sum(axis=1)
    den = np.linalg.norm(p, axis=1) * np.linalg.norm(t, axis=1)
    return float(np.mean(np.where(den > EPS, num / np.maximum(den, EPS), 0.0)))


def channel_r2(*, pred, true) -> np.ndarray:
    """R² of each channel over all rows, ``(3,)``; NaN for a channel whose target is constant."""
    p, t = _pair(pred, true)
    ss = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    res = ((t - p) ** 2).sum(axis=0)
    return np.where(ss > 0, 1.0 - res / np.where(ss > 0, ss, 1.0), np.nan)


def brightness(*, rgb) -> np.ndarray:
    """BT.601 luma of each colour, ``(n,)``."""
    return _rgb("rgb", rgb) @ LUMA


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def within_video_r(*, pred, true, video, constant_as_zero: bool = True) -> float:
    """Mean over videos of Pearson r between two ``(n,)`` series inside each video.

    A prediction that does not move inside a video (a constant, a per-video mean) has no r; with
    ``constant_as_zero`` it counts as 0 (it follows nothing), else it is skipped. Videos whose
    target does not move are always skipped. NaN when no video is left.
    """
    p, t, v = (np.asarray(a) for a in (pred, true, video))
    if not (p.shape == t.shape == v.shape) or p.ndim != 1:
        raise ValueError(f"pred, true and video must be equal-length 1-D; got {p.shape}, "
                         f"{t.shape}, {v.shape}")
    rs = []
    for vid in np.unique(v):
        m = v == vid
        if len(t[m]) < 3 or np.std(t[m]) < 1e-12:
            continue
        if np.std(p[m]) < 1e-12:
            if constant_as_zero:
                rs.append(0.0)
            continue
        rs.append(_pearson(p[m], t[m]))
    return float(np.mean(rs)) if rs else float("nan")


def chromaticity(*, rgb) -> np.ndarray:
    """Colour with brightness removed: ``rgb / (r + g + b)`` (black -> equal thirds)."""
    x = _rgb("rgb", rgb)
    s = x.sum(axis=1, keepdims=True)
    return np.where(s > EPS, x / np.maximum(s, EPS), 1.0 / 3.0)


def chroma_error(*, pred, true) -> float:
    """Mean Euclidean distance of chromaticities (0 = same hue and saturation at any brightness).

    For scale: pure red vs pure green is 1.41; grey vs pure red 0.82."""
    p, t = _pair(pred, true)
    return float(np.linalg.norm(chromaticity(rgb=p) - chromaticity(rgb=t), axis=1).mean())


def jitter(*, rgb, video, fps: float) -> float:
    """Mean |Δ| per second: mean over channels and consecutive rows of one video, times ``fps``."""
    x = _rgb("rgb", rgb)
    v = np.asarray(video)
    if v.shape != (len(x),):
        raise ValueError(f"video must have one id per row ({len(x)}); got shape {v.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be positive; got {fps}")
    same = v[1:] == v[:-1]
    if not same.any():
        return float("nan")
    return float(np.abs(np.diff(x, axis=0))[same].mean() * fps)


def colour_metrics(*, pred, true, video, fps: float) -> dict:
    """Every metric of one predictor on one set of rows (JSON-able floats)."""
    p, t = _pair(pred, true)
    v = np.asarray(video)
    r2 = channel_r2(pred=p, true=t)
    jp, jt = jitter(rgb=p, video=v, fps=fps), jitter(rgb=t, video=v, fps=fps)
    out = {"cosine": cosine_similarity(pred=p, true=t),
           "r2_r": float(r2[0]), "r2_g": float(r2[1]), "r2_b": float(r2[2]),
           "r_brightness": within_video_r(pred=brightness(rgb=p), true=brightness(rgb=t), video=v)}
    for j, c in enumerate("rgb"):
        out[f"r_{c}"] = within_video_r(pred=p[:, j], true=t[:, j], video=v)
    out.update(chroma_error=chroma_error(pred=p, true=t), jitter=jp, jitter_target=jt,
               jitter_ratio=float(jp / jt) if jt > 0 else float("nan"))
    return out


def hsv_to_rgb(*, hsv) -> np.ndarray:
    """``(n, 3)`` HSV in [0, 1] (hue 1 = 360 degrees) to RGB; the inverse of the dataset's
    ``rgb_to_hsv`` (same as :func:`colorsys.hsv_to_rgb`, vectorised)."""
    x = np.asarray(hsv, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"hsv must be an (n, 3) array; got shape {x.shape}")
    h, s, v = x[:, 0] % 1.0, x[:, 1], x[:, 2]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.astype(int) % 6
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=1)
