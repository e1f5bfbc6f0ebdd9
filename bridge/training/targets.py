"""Visual targets of video frames: motion, weight, dominant colour, mean colour (pure numpy).

Why these definitions: they follow the cross-modal study vjbridge reproduces (motion = mean absolute
grey difference of frames 1/fps apart; weight = share of pixels in the largest colour cluster; the
dominant cluster's hue/saturation/value), plus the mean r, g, b a light-show model needs. Every
function takes RGB frames already downscaled to a fixed size (:data:`MOTION_SIZE` for motion,
:data:`CLUSTER_SIZE` for clustering; :mod:`bridge.training.video` does that with FFmpeg's area
filter) so the numbers do not depend on the video's resolution. k-means is a small seeded numpy
implementation: deterministic, ~5x faster than scikit-learn's on these 1,024-pixel frames.

Frames are ``(h, w, 3)`` uint8 (or floats in [0, 1]); every target is in [0, 1].
"""

from __future__ import annotations

import numpy as np

#: Frame side (pixels) on which motion is measured: 64 x 64 grey.
MOTION_SIZE = 64
#: Frame side on which colours are clustered: 32 x 32 = 1,024 pixels.
CLUSTER_SIZE = 32
#: k-means settings of the weight and dominant-colour targets.
KMEANS_K = 4
KMEANS_SEED = 0
KMEANS_ITERATIONS = 12
#: ITU-R BT.601 luma weights: grey = 0.299 r + 0.587 g + 0.114 b.
LUMA = np.array([0.299, 0.587, 0.114])

#: Column order of the target matrix a dataset stores.
TARGET_NAMES = ("motion", "weight", "hue", "saturation", "value", "r", "g", "b")

#: Human-readable definitions, stored in every dataset manifest and model card.
TARGET_DEFINITIONS = {
    "motion": f"mean |grey(t) - grey(t - 1/fps)| of the frames shown at those times, grey = BT.601 "
              f"luma in [0,1] on {MOTION_SIZE}x{MOTION_SIZE} area-downscaled frames",
    "weight": f"share of the {CLUSTER_SIZE}x{CLUSTER_SIZE} area-downscaled frame's pixels in the "
              f"largest of k={KMEANS_K} RGB k-means clusters (k-means++ seed {KMEANS_SEED}, "
              f"{KMEANS_ITERATIONS} Lloyd iterations)",
    "hue": "HSV hue (0..1, 1 = 360 degrees) of the largest cluster's mean colour",
    "saturation": "HSV saturation of the largest cluster's mean colour",
    "value": "HSV value of the largest cluster's mean colour",
    "r": "mean red of the frame in [0,1]",
    "g": "mean green of the frame in [0,1]",
    "b": "mean blue of the frame in [0,1]",
}
TARGETS_VERSION = 1


def _unit(frame) -> np.ndarray:
    x = np.asarray(frame)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"expected an RGB frame of shape (h, w, 3); got {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float64) / 255.0
    return x.astype(np.float64, copy=False)


def grey(frame) -> np.ndarray:
    """BT.601 luma of an RGB frame, in [0, 1], shape ``(h, w)``."""
    return _unit(frame) @ LUMA


def motion(grey_now: np.ndarray, grey_before: np.ndarray) -> float:
    """Mean absolute difference of two grey frames in [0, 1]: 0 for a still image."""
    a, b = np.asarray(grey_now, dtype=np.float64), np.asarray(grey_before, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"motion needs two frames of one size; got {a.shape} and {b.shape}")
    return float(np.abs(a - b).mean())


def kmeans(pixels: np.ndarray, *, k: int = KMEANS_K, seed: int = KMEANS_SEED,
           iterations: int = KMEANS_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """Seeded k-means++ then Lloyd iterations on ``(n, 3)`` pixels: ``(centres (k,3), labels (n,))``.

    Duplicate-heavy frames (a flat colour) give fewer distinct centres; empty clusters keep their
    previous centre, so the result is always defined and deterministic.
    """
    x = np.asarray(pixels, dtype=np.float64)
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for j in range(1, k):
        total = d2.sum()
        idx = int(rng.integers(n)) if total <= 0 else int(rng.choice(n, p=d2 / total))
        centres[j] = x[idx]
        d2 = np.minimum(d2, ((x - centres[j]) ** 2).sum(axis=1))
    sq = (x * x).sum(axis=1)[:, None]
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        dist = sq - 2.0 * x @ centres.T + (centres * centres).sum(axis=1)[None, :]
        new = dist.argmin(axis=1)
        counts = np.bincount(new, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, new, x)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
    return centres, labels


def rgb_to_hsv(rgb: np.ndarray) -> tuple[float, float, float]:
    """HSV of one RGB colour in [0,1] (same as :func:`colorsys.rgb_to_hsv`)."""
    r, g, b = (float(v) for v in rgb)
    mx, mn = max(r, g, b), min(r, g, b)
    v = mx
    if mx == mn:
        return 0.0, 0.0, v
    s = (mx - mn) / mx
    rc, gc, bc = ((mx - c) / (mx - mn) for c in (r, g, b))
    if r == mx:
        h = bc - gc
    elif g == mx:
        h = 2.0 + rc - bc
    else:
        h = 4.0 + gc - rc
    return (h / 6.0) % 1.0, s, v


def colour_targets(frame) -> np.ndarray:
    """``[weight, hue, saturation, value, r, g, b]`` of one (cluster-size) RGB frame."""
    x = _unit(frame).reshape(-1, 3)
    centres, labels = kmeans(x)
    counts = np.bincount(labels, minlength=len(centres))
    top = int(counts.argmax())
    dominant = x[labels == top].mean(axis=0)
    h, s, v = rgb_to_hsv(dominant)
    mean = x.mean(axis=0)
    return np.array([counts[top] / x.shape[0], h, s, v, mean[0], mean[1], mean[2]])


def area_downscale(frame, size: int) -> np.ndarray:
    """Block-average an RGB or grey frame to ``size`` x ``size`` (side divisible, else nearest crop).

    :mod:`bridge.training.video` downscales with FFmpeg instead; this exists for frames already in
    memory (tests, other sources).
    """
    x = np.asarray(frame, dtype=np.float64)
    h, w = x.shape[:2]
    if h < size or w < size:
        raise ValueError(f"frame {h}x{w} is smaller than the target size {size}")
    fy, fx = h // size, w // size
    x = x[:fy * size, :fx * size]
    return x.reshape(size, fy, size, fx, *x.shape[2:]).mean(axis=(1, 3))
