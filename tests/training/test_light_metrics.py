"""Colour metrics: known answers, and the grey constant they exist to expose."""

import colorsys

import numpy as np
import pytest

from bridge.training import light_metrics as lm


def _moving_colours(n=300, videos=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = 0.4 + 0.3 * np.stack([np.sin(t / 9), np.sin(t / 13 + 1), np.sin(t / 17 + 2)], axis=1)
    true = np.clip(base + 0.02 * rng.standard_normal((n, 3)), 0, 1)
    video = np.repeat(np.arange(videos), n // videos)
    return true, video


def test_cosine_known_values_and_grey_is_fooling():
    a = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    assert lm.cosine_similarity(pred=a, true=a) == pytest.approx(1.0)
    assert lm.cosine_similarity(pred=a, true=a[::-1]) == pytest.approx(0.0)
    assert lm.cosine_similarity(pred=np.zeros((2, 3)), true=a) == 0.0  # black counts as 0
    true, video = _moving_colours()
    grey = np.full_like(true, true.mean())
    # the trap: a grey constant has a high cosine but follows nothing
    assert lm.cosine_similarity(pred=grey, true=true) > 0.85
    assert lm.within_video_r(pred=lm.brightness(rgb=grey), true=lm.brightness(rgb=true),
                             video=video) == 0.0
    assert lm.within_video_r(pred=grey[:, 0], true=true[:, 0], video=video,
                             constant_as_zero=False) != lm.within_video_r(
        pred=grey[:, 0], true=true[:, 0], video=video)  # NaN when skipped


def test_channel_r2_and_within_video_r():
    true, video = _moving_colours()
    assert np.allclose(lm.channel_r2(pred=true, true=true), 1.0)
    assert np.allclose(lm.channel_r2(pred=np.tile(true.mean(0), (len(true), 1)), true=true), 0.0)
    assert lm.within_video_r(pred=2 * true[:, 1] + 5, true=true[:, 1], video=video) == \
        pytest.approx(1.0)
    assert lm.within_video_r(pred=-true[:, 2], true=true[:, 2], video=video) == pytest.approx(-1.0)
    # r is per video: an offset between videos does not help or hurt
    shifted = true[:, 0] + video * 10.0
    assert lm.within_video_r(pred=shifted, true=true[:, 0], video=video) == pytest.approx(1.0)


def test_chroma_error_ignores_brightness_but_not_hue():
    true, _ = _moving_colours()
    assert lm.chroma_error(pred=0.5 * true, true=true) == pytest.approx(0.0, abs=1e-12)
    red, green = np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]])
    assert lm.chroma_error(pred=red, true=green) == pytest.approx(np.sqrt(2))
    assert lm.chroma_error(pred=np.full((1, 3), 0.5), true=red) == pytest.approx(
        np.linalg.norm([2 / 3, -1 / 3, -1 / 3]))


def test_jitter_per_second_and_not_across_videos():
    x = np.zeros((6, 3))
    x[1::2] = 0.1  # every step changes by 0.1 in each channel
    video = np.zeros(6)
    assert lm.jitter(rgb=x, video=video, fps=10.0) == pytest.approx(1.0)
    jump = np.zeros((4, 3))
    jump[2:] = 1.0  # the jump is between two videos: not jitter
    assert lm.jitter(rgb=jump, video=np.array([0, 0, 1, 1]), fps=10.0) == 0.0
    with pytest.raises(ValueError, match="fps"):
        lm.jitter(rgb=x, video=video, fps=0)


def test_colour_metrics_of_a_perfect_and_a_smoothed_prediction():
    true, video = _moving_colours()
    m = lm.colour_metrics(pred=true, true=true, video=video, fps=15.0)
    assert m["cosine"] == pytest.approx(1.0) and m["r_brightness"] == pytest.approx(1.0)
    assert m["jitter_ratio"] == pytest.approx(1.0) and m["chroma_error"] == pytest.approx(0.0)
    flat = lm.colour_metrics(pred=np.tile(true.mean(0), (len(true), 1)), true=true, video=video,
                             fps=15.0)
    assert flat["jitter_ratio"] == 0.0 and flat["r_brightness"] == 0.0


def test_hsv_to_rgb_matches_colorsys():
    rng = np.random.default_rng(1)
    hsv = rng.random((200, 3))
    hsv[:5, 0] = [0.0, 1 / 6, 0.5, 5 / 6, 0.999]
    want = np.array([colorsys.hsv_to_rgb(*row) for row in hsv])
    assert np.allclose(lm.hsv_to_rgb(hsv=hsv), want, atol=1e-12)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        lm.cosine_similarity(pred=np.zeros((3, 2)), true=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="differ"):
        lm.chroma_error(pred=np.zeros((3, 3)), true=np.zeros((4, 3)))
