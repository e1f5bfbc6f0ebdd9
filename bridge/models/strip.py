"""A colour strip of a song: the light model's colour over time as a PNG a lighting designer reads
at a glance, written with the standard library (zlib + struct: matplotlib is a training-only
dependency, and eight lines of PNG do not justify a new one).

Layout, left to right = time: the top band is the colour as sent (0..1 -> 0..255 per channel, what
an 8-bit fixture channel receives: ``colour.format: rgb8``), the bottom band the same hue and
saturation at full brightness (hue is hard to see in a dark frame), and a thin ruler with a mark
every 10 s. Each pixel column is the mean colour of the frames that fall into it.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from bridge.mapping.colour import hsv_of


def strip_image(rgb, *, times, width: int = 1200, band: int = 40, tick_s: float = 10.0
                ) -> np.ndarray:
    """``(2 * band + 4, columns, 3)`` uint8 image of ``rgb (n, 3)`` frames at ``times (n,)``;
    ``columns = min(width, n)``."""
    c = np.clip(np.asarray(rgb, dtype=np.float64).reshape(-1, 3), 0.0, 1.0)
    t = np.asarray(times, dtype=np.float64)
    n = len(c)
    cols = max(1, min(int(width), n))
    edges = np.linspace(0, n, cols + 1).astype(int)
    counts = np.maximum(np.diff(edges), 1)
    mean = np.add.reduceat(c, edges[:-1], axis=0) / counts[:, None]
    v = mean.max(axis=1, keepdims=True)
    full = np.where(v > 0, mean / np.where(v > 0, v, 1.0), 0.0)  # same hue and saturation, V = 1
    img = np.zeros((2 * band + 4, cols, 3), dtype=np.uint8)
    img[:band] = np.round(mean * 255).astype(np.uint8)[None]
    img[band:2 * band] = np.round(full * 255).astype(np.uint8)[None]
    img[2 * band:] = 32
    if n and tick_s > 0:
        start = t[edges[:-1]]
        marks = np.flatnonzero(np.diff(np.floor(start / tick_s)) > 0) + 1
        img[2 * band:, marks] = 200
    return img


def hsv_curves(rgb) -> np.ndarray:
    """``(n, 3)`` hue (0..1), saturation, brightness of the clipped colour, for CSV curves."""
    return hsv_of(np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0))


def write_png(path, image) -> None:
    """An 8-bit RGB PNG of ``image (h, w, 3)`` uint8 (filter 0 on every row, zlib level 9)."""
    img = np.ascontiguousarray(image, dtype=np.uint8)
    h, w, _ = img.shape
    raw = np.concatenate((np.zeros((h, 1), dtype=np.uint8), img.reshape(h, w * 3)), axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)
