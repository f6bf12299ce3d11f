"""Temporal smoothing: linking faces into tracks, the filters, and the jitter measure, on synthetic tracks
with a known truth and on the real alignments of a shared video."""
import numpy as np

from lib.alignments import Alignments, Face
from lib.faces import MEAN_FACE
from lib.smooth import (OneEuroFilter, StreamSmoother, build_tracks, frames_jitter, jitter, smooth_alignments,
                        smooth_frames, smooth_points)


def _track(frames=60, noise=1.5, seed=0, start=(100.0, 80.0)):
    """A face of 200 px moving steadily right, with landmark noise of ``noise`` px: (truth, noisy)."""
    rng = np.random.default_rng(seed)
    truth = np.stack([MEAN_FACE * 200 + np.array(start) + [2.0 * t, 0.5 * t] for t in range(frames)])
    return truth, truth + rng.normal(0, noise, truth.shape)


def _faces(points):
    out = []
    for p in points:
        x0, y0 = p.min(0)
        x1, y1 = p.max(0)
        out.append([Face(np.array([x0, y0, x1 - x0, y1 - y0], np.int64), p.astype(np.float32))])
    return out


def test_jitter_is_zero_for_steady_motion_and_grows_with_noise():
    truth, noisy = _track()
    assert jitter(truth) < 1e-4
    assert jitter(noisy) > 0.005
    assert jitter(_track(noise=3.0)[1]) > 1.5 * jitter(noisy)


def test_gaussian_smoothing_brings_noisy_landmarks_closer_to_the_truth():
    truth, noisy = _track()
    smoothed = smooth_points(noisy, 2.0)
    assert np.abs(smoothed - truth).mean() < 0.5 * np.abs(noisy - truth).mean()
    assert jitter(smoothed) < 0.2 * jitter(noisy)
    assert np.allclose(smooth_points(noisy, 0), noisy)


def test_tracks_keep_two_faces_apart_and_smoothing_never_mixes_them():
    _, left = _track(seed=1, start=(50.0, 80.0))
    _, right = _track(seed=2, start=(600.0, 80.0))
    frames = [a + b for a, b in zip(_faces(left), _faces(right[::-1][::-1]))]
    tracks = build_tracks(frames)
    assert len(tracks) == 2 and all(len(t) == 60 for t in tracks)
    before = [f[1].landmarks.copy() for f in frames]
    assert smooth_frames(frames, 2.0) == 120
    for f, b in zip(frames, before):                 # the right face stays on the right
        assert np.abs(f[1].landmarks - b).mean() < 3.0
        assert f[1].landmarks[:, 0].mean() > 500


def test_smoothing_refits_the_alignment_matrix():
    _, noisy = _track()
    frames = _faces(noisy)
    old = frames[10][0].matrix.copy()
    smooth_frames(frames, 2.0)
    assert not np.allclose(frames[10][0].matrix, old)


def test_one_euro_filter_smooths_when_still_and_follows_a_jump():
    rng = np.random.default_rng(3)
    filt = OneEuroFilter(rate=25, min_cutoff=0.5, beta=0.05)
    raw = 10.0 + rng.normal(0, 1.0, 50)
    still = [filt(np.array([value]))[0] for value in raw]
    assert np.std(still[10:]) < 0.5 * np.std(raw[10:])
    moved = [filt(np.array([60.0]))[0] for _ in range(15)]
    assert abs(moved[-1] - 60.0) < 2.0


def test_stream_smoother_lowers_jitter_of_faces_seen_one_frame_at_a_time():
    truth, noisy = _track(noise=2.0)
    smoother = StreamSmoother(2.0, rate=25)
    out = [smoother(faces)[0].landmarks for faces in _faces(noisy)]
    assert jitter(np.stack(out)) < 0.6 * jitter(noisy)


def test_smoothing_lowers_jitter_of_real_video_alignments(faces_of):
    """Per-frame landmarks of a real talking-head clip (extract's alignments) jitter; smoothing lowers it."""
    faces = faces_of("alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4", 1)
    alignments = Alignments.load(faces.parent / "alignments.json")
    names = sorted(alignments.frames)
    raw = frames_jitter([alignments.frames[n] for n in names])
    changed = smooth_alignments(alignments, 2.0, names)
    smoothed = frames_jitter([alignments.frames[n] for n in names])
    assert changed >= 0.95 * len(names)
    assert raw > 0
    assert smoothed < 0.6 * raw, (raw, smoothed)
