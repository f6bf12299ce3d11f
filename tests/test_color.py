"""Colour plugins: each one on synthetic crops with answers known in advance."""
import cv2
import numpy as np
import pytest

from lib import registry


def _face(seed=0, size=64):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((size, size, 3)).astype(np.float32), (0, 0), 3)
    return np.clip(0.2 + 0.6 * (base - base.min()) / (np.ptp(base) + 1e-6), 0, 1).astype(np.float32)


def _mask(size=64):
    mask = np.zeros((size, size), np.float32)
    cv2.circle(mask, (size // 2, size // 2), size // 3, 1.0, -1)
    return mask


def test_every_colour_plugin_returns_a_float_face_of_the_same_shape():
    new, old, mask = _face(1), _face(2), _mask()
    for name in registry.names("convert.color"):
        out = registry.get("convert.color", name)(new, old, mask)
        assert out.shape == new.shape and out.dtype == np.float32, name
        assert 0.0 <= out.min() and out.max() <= 1.0, name


def test_none_keeps_the_new_face():
    new = _face(1)
    assert registry.get("convert.color", "none")(new, _face(2), _mask()) is new


def test_avg_color_makes_the_masked_mean_equal_the_old_face():
    new, mask = _face(1) * 0.5, _mask()
    old = np.clip(_face(2) * 0.6 + np.float32([0.3, 0.1, 0.2]), 0, 1)
    out = registry.get("convert.color", "avg-color")(new, old, mask)
    inside = mask > 0.5
    assert np.allclose(out[inside].mean(0), old[inside].mean(0), atol=2e-3)
    # Only a shift: the face's own detail (differences between pixels) is kept.
    assert np.allclose(out - out[inside].mean(0), new - new[inside].mean(0), atol=2e-3)


def test_color_transfer_recovers_a_known_lab_transform():
    """If old = new with each LAB channel scaled and shifted, transfer gives back exactly old."""
    new, mask = _face(3), _mask()
    lab = cv2.cvtColor(new, cv2.COLOR_BGR2LAB)
    lab_old = lab * np.float32([0.8, 1.2, 0.9]) + np.float32([12.0, 6.0, -4.0])
    old = cv2.cvtColor(lab_old.astype(np.float32), cv2.COLOR_LAB2BGR)
    assert 0.0 <= old.min() and old.max() <= 1.0
    out = registry.get("convert.color", "color-transfer")(new, old, mask)
    assert np.abs(out - old).max() < 0.01


def test_color_transfer_matches_lab_mean_and_std_inside_the_mask():
    new, old, mask = _face(4), _face(5) * 0.5 + 0.3, _mask()
    out = registry.get("convert.color", "color-transfer")(new, old, mask)
    inside = mask > 0.5
    lab_out, lab_old = cv2.cvtColor(out, cv2.COLOR_BGR2LAB)[inside], cv2.cvtColor(old, cv2.COLOR_BGR2LAB)[inside]
    assert np.allclose(lab_out.mean(0), lab_old.mean(0), atol=0.5)
    assert np.allclose(lab_out.std(0), lab_old.std(0), rtol=0.05, atol=0.3)


def test_match_hist_recovers_a_monotonic_tone_curve():
    new, mask = _face(6), np.ones((64, 64), np.float32)
    old = new ** 2.0                       # a gamma curve: same order of pixels, other histogram
    out = registry.get("convert.color", "match-hist")(new, old, mask)
    assert np.abs(out - old).mean() < 0.01
    assert np.abs(new - old).mean() > 0.1


def test_seamless_clone_of_a_shifted_copy_gives_back_the_target():
    """Poisson blending keeps the source's gradients and the target's border: a copy of the target that is
    only brighter (same gradients) is blended back into the target itself."""
    old = _face(7, 96) * 0.7
    new = np.clip(old + 0.25, 0, 1)
    mask = _mask(96)
    out = registry.get("convert.color", "seamless-clone")(new, old, mask)
    inside = mask > 0.5
    assert np.abs(out[inside] - old[inside]).mean() < 0.02
    assert np.abs(new[inside] - old[inside]).mean() > 0.2


def test_seamless_clone_keeps_the_new_faces_detail_and_the_old_outside():
    old = np.full((96, 96, 3), 0.5, np.float32)
    new = np.full((96, 96, 3), 0.2, np.float32)
    cv2.rectangle(new, (40, 40), (56, 56), (0.8, 0.8, 0.8), -1)    # a bright square: a strong feature
    mask = _mask(96)
    out = registry.get("convert.color", "seamless-clone")(new, old, mask)
    contrast = out[44:52, 44:52].mean() - out[30:34, 46:50].mean()
    assert contrast == pytest.approx(0.6, abs=0.15)                  # the feature's step is kept
    assert np.abs(out[2:8, 2:8] - 0.5).max() < 0.01                  # outside the mask: the old face
    assert abs(out[30:34, 46:50].mean() - 0.5) < 0.12                # levels follow the old face, not 0.2
