"""From stamps to figures: detection edges, click <-> detection pairing, latency and gap statistics.

Pairing rule: each click owns the window [arrival - BEFORE, arrival + AFTER). Its latency is its
first detection in that window minus its arrival at the reference; further detections in the
window, and detections outside every window while clicks play, are false detections. BEFORE lets a
detector that hears the sound earlier than the reference client (it sits 7-9 ms behind the earliest
delivery) score a small negative latency instead of a miss; BEFORE + AFTER < the 0.5 s click
spacing, so windows never overlap.
"""

from __future__ import annotations

import numpy as np

BEFORE = 0.030
AFTER = 0.400


def rising_edges(stamps, values, threshold: float) -> np.ndarray:
    """Stamps of the packets where ``values`` reaches ``threshold`` after a packet below it (a
    level that stays high over several packets is one detection)."""
    v = np.asarray(values, dtype=float) >= threshold
    t = np.asarray(stamps, dtype=float)
    if v.size == 0:
        return t
    rise = v & ~np.concatenate(([False], v[:-1]))
    return t[rise]


def pair(clicks, detections) -> dict:
    """Latency per click (s; NaN when missed) and the count of false detections."""
    clicks = np.asarray(clicks, dtype=float)
    det = np.sort(np.asarray(detections, dtype=float))
    latencies = np.full(clicks.size, np.nan)
    if clicks.size == 0:
        return {"latencies": latencies, "false": 0}
    used = np.zeros(det.size, dtype=bool)
    for i, c in enumerate(clicks):
        inside = np.flatnonzero((det >= c - BEFORE) & (det < c + AFTER))
        if inside.size:
            latencies[i] = det[inside[0]] - c
            used[inside[0]] = True
    during = (det >= clicks[0] - BEFORE) & (det < clicks[-1] + AFTER)
    return {"latencies": latencies, "false": int(np.count_nonzero(during & ~used))}


def latency_stats(latencies, false: int) -> dict:
    """median / p95 / max / min in ms over the detected clicks, and detections / clicks."""
    lat = np.asarray(latencies, dtype=float)
    hit = lat[~np.isnan(lat)] * 1e3
    out = {"clicks": int(lat.size), "detected": int(hit.size), "false": int(false)}
    if hit.size:
        out.update(median_ms=float(np.median(hit)), p95_ms=float(np.percentile(hit, 95)),
                   max_ms=float(hit.max()), min_ms=float(hit.min()))
    else:
        out.update(median_ms=None, p95_ms=None, max_ms=None, min_ms=None)
    return out


def gap_stats(stamps, period: float) -> dict:
    """Spacing of consecutive packets at the receiver against the nominal tick ``period``."""
    gaps = np.diff(np.asarray(stamps, dtype=float))
    if gaps.size == 0:
        return {"packets": int(len(stamps)), "period_ms": period * 1e3}
    dev = np.abs(gaps - period)
    return {"packets": int(len(stamps)), "period_ms": period * 1e3,
            "median_ms": float(np.median(gaps) * 1e3),
            "p95_ms": float(np.percentile(gaps, 95) * 1e3), "max_ms": float(gaps.max() * 1e3),
            "under_2ms": float(np.mean(gaps < 0.002)),
            "jitter_p95_ms": float(np.percentile(dev, 95) * 1e3),
            "rate_hz": float(gaps.size / gaps.sum()) if gaps.sum() > 0 else None}
