"""Target definitions on frames with known answers (pure functions, no video)."""

import colorsys

import numpy as np
import pytest

from bridge.training import targets as T


def two_colour(size=64, split=48):
    f = np.zeros((size, size, 3), np.uint8)
    f[:, :split] = (255, 0, 0)
    f[:, split:] = (0, 0, 255)
    return f


def test_still_image_has_zero_motion():
    rng = np.random.default_rng(1)
    f = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert T.motion(T.grey(f), T.grey(f.copy())) == 0.0


def test_black_to_white_is_full_motion():
    black, white = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    assert T.motion(T.grey(white), T.grey(black)) == pytest.approx(1.0)
    half = black.copy()
    half[:32] = 255
    assert T.motion(T.grey(half), T.grey(black)) == pytest.approx(0.5)


def test_two_colour_frame_weight_and_dominant_colour():
    small = T.area_downscale(two_colour(), T.CLUSTER_SIZE) / 255.0
    weight, h, s, v, r, g, b = T.colour_targets(small)
    assert weight == pytest.approx(0.75)
    assert (h, s, v) == pytest.approx((0.0, 1.0, 1.0))
    assert (r, g, b) == pytest.approx((0.75, 0.0, 0.25))


def test_flat_frame_is_one_cluster():
    flat = np.full((32, 32, 3), 0.5)
    out = T.colour_targets(flat)
    assert out[0] == 1.0 and out[4] == pytest.approx(0.5)


def test_kmeans_is_seeded_and_separates_blobs():
    rng = np.random.default_rng(3)
    centres = np.array([[0.1, 0.1, 0.1], [0.9, 0.2, 0.2], [0.2, 0.8, 0.3], [0.3, 0.3, 0.9]])
    sizes = [500, 300, 150, 74]
    x = np.concatenate([c + 0.01 * rng.standard_normal((n, 3)) for c, n in zip(centres, sizes)])
    c1, l1 = T.kmeans(x)
    c2, l2 = T.kmeans(x)
    assert np.array_equal(l1, l2) and np.array_equal(c1, c2)
    assert sorted(np.bincount(l1, minlength=4).tolist()) == sorted(sizes)


def test_hsv_matches_colorsys():
    rng = np.random.default_rng(4)
    for rgb in rng.random((50, 3)):
        assert T.rgb_to_hsv(rgb) == pytest.approx(colorsys.rgb_to_hsv(*rgb))


def test_area_downscale_block_mean():
    f = np.arange(16.0).reshape(4, 4)
    assert np.array_equal(T.area_downscale(f, 2), [[2.5, 4.5], [10.5, 12.5]])
