"""Video and image I/O (lib/video.py) and the built-in sample clip (lib/sample.py)."""
import cv2
import numpy as np
import pytest

from lib.errors import FaceswapError
from lib.sample import sample_clip
from lib.video import Source, VideoWriter, frame_index, frame_name, list_images, probe, read_frames, read_image


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return sample_clip(tmp_path_factory.mktemp("clip") / "hopper.mp4", "hopper", seconds=1.2, fps=25)


def test_sample_clip_is_a_short_moving_video_with_sound(clip):
    info = probe(clip)
    assert (info.width, info.height, info.fps, info.frame_count) == (640, 360, 25, 30)
    assert info.has_audio and info.codec == "h264"
    frames = [image for _, image in read_frames(clip, info)]
    assert np.abs(frames[0].astype(int) - frames[len(frames) // 2].astype(int)).mean() > 5   # it moves


def test_frames_stream_one_at_a_time_with_names_that_map_back(clip):
    source = Source(clip)
    assert source.is_video and source.count == 30 and source.fps == 25
    seen = list(source.frames())
    assert [f.index for f in seen] == list(range(30))
    assert [f.name for f in seen] == source.names()
    assert all(f.image.shape == (360, 640, 3) and f.image.dtype == np.uint8 for f in seen)
    assert all(frame_index(f.name) == f.index for f in seen)
    assert frame_name("talk", 42) == "talk_000042.png" and frame_index("photo.jpg") is None


@pytest.mark.parametrize("make, words", [
    (None, "not found"),
    (b"", "empty"),
    (b"this is not a video\n" * 50, "cannot read video"),
])
def test_unreadable_videos_fail_clearly(tmp_path, make, words):
    path = tmp_path / "bad.mp4"
    if make is not None:
        path.write_bytes(make)
    with pytest.raises(FaceswapError, match=words):
        probe(path)


def test_truncated_video_is_reported_not_half_read(tmp_path):
    long_clip = sample_clip(tmp_path / "long.mp4", "hopper", seconds=4, fps=25, size=(320, 180))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(long_clip.read_bytes()[: long_clip.stat().st_size // 2])
    with pytest.raises(FaceswapError, match="truncated|cannot read"):
        for _ in Source(cut).frames():
            pass


def test_images_of_any_depth_and_channels_read_as_8bit_bgr(tmp_path):
    gray = np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1))
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    cv2.imwrite(str(tmp_path / "rgba.png"), np.dstack([np.full((32, 64, 3), (10, 20, 30), np.uint8),
                                                        np.full((32, 64), 128, np.uint8)]))
    cv2.imwrite(str(tmp_path / "deep.png"), gray.astype(np.uint16) * 257)
    for name in ("gray.png", "rgba.png", "deep.png"):
        image = read_image(tmp_path / name)
        assert image.shape == (32, 64, 3) and image.dtype == np.uint8, name
    assert np.array_equal(read_image(tmp_path / "deep.png")[..., 0], gray)
    assert tuple(read_image(tmp_path / "rgba.png")[0, 0]) == (10, 20, 30)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    with pytest.raises(FaceswapError, match="not an image"):
        read_image(tmp_path / "broken.jpg")


def test_image_folders_are_read_in_natural_order(tmp_path):
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), np.full((8, 8, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    assert [p.name for p in list_images(tmp_path)] == ["frame_1.png", "frame_2.png", "frame_10.png"]
    source = Source(tmp_path)
    assert not source.is_video and source.count == 3
    assert [int(f.image[0, 0, 0]) for f in source.frames()] == [1, 2, 10]


def test_empty_folder_and_missing_input_fail_clearly(tmp_path):
    with pytest.raises(FaceswapError, match="no images"):
        Source(tmp_path)
    with pytest.raises(FaceswapError, match="not found"):
        Source(tmp_path / "missing.mp4")


def test_video_writer_is_atomic(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 25, (64, 48)) as writer:
            writer.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("stop half way")
    assert list(tmp_path.iterdir()) == []
    with VideoWriter(out, 25, (64, 48)) as writer:
        for i in range(5):
            writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    assert probe(out).frame_count == 5
