"""Convert's mask, scaling and writer plugins, the blend and the provenance tag, on small synthetic inputs."""
from fractions import Fraction

import cv2
import numpy as np
import pytest

from lib import registry
from lib.convert import Blender, BlendSettings, paste
from lib.errors import FaceswapError
from lib.faces import MEAN_FACE, crop_matrix, transform_points
from lib.alignments import Face
from lib.provenance import STATEMENT, image_statement, is_tagged, tag_gif
from lib.video import probe, read_metadata
from plugins.convert.writer._base import WriterOptions


def _face_in_frame(size=(320, 240), width=90.0, at=(115.0, 60.0)):
    landmarks = (MEAN_FACE * width + np.array(at)).astype(np.float32)
    x0, y0 = landmarks.min(0)
    x1, y1 = landmarks.max(0)
    return Face(np.array([x0, y0, x1 - x0, y1 - y0], np.int64), landmarks)


# ---------------------------------------------------------------------------------------------- masks
def test_landmark_masks_cover_the_face_and_leave_the_corners():
    face = _face_in_frame()
    mat = crop_matrix(face.matrix, 128, "face")
    points = transform_points(face.landmarks, mat)
    for name in ("components", "extended"):
        mask = registry.get("convert.mask", name)(points, 128)
        assert mask.shape == (128, 128) and mask.dtype == np.float32
        nose, mouth = np.round(points[30]).astype(int), np.round(points[62]).astype(int)
        assert mask[nose[1], nose[0]] == 1.0 and mask[mouth[1], mouth[0]] == 1.0, name
        assert mask[:6, :6].max() == 0 and mask[-6:, -6:].max() == 0, name
    comp = registry.get("convert.mask", "components")(points, 128)
    ext = registry.get("convert.mask", "extended")(points, 128)
    assert ext.sum() > comp.sum() * 1.05           # the forehead
    assert np.all(ext >= comp - 1e-6)


def test_extended_forehead_is_one_piece_that_stays_inside_the_crop():
    """A 'face' crop ends just above the brows: the forehead used to run into the crop's top edge (a straight,
    light band in the frame) with a notch between the brows. Now it is one arch, short of the edge."""
    from lib.masks import EDGE_MARGIN, components, extended
    face = _face_in_frame()
    size = 128
    points = transform_points(face.landmarks, crop_matrix(face.matrix, size, "face"))
    ext, comp = extended(points, size), components(points, size)
    margin = int(EDGE_MARGIN * size)
    assert ext[:margin].max() == 0                               # nothing in the top margin
    assert ext[margin:margin + 6].max() == 255                   # but the forehead reaches it
    above = np.round((points[21] + points[22]) / 2 + (points[27] - points[8]) * 0.05).astype(int)
    assert ext[above[1], above[0]] == 255                        # between the brows, above them: no notch
    glabella = np.round((points[21] + points[22] + points[27]) / 3).astype(int)
    assert comp[glabella[1], glabella[0]] == 255
    # a 'head' crop has room: the full quarter lift, and still nothing at the edge
    head = transform_points(face.landmarks, crop_matrix(face.matrix, size, "head"))
    full = np.round(head[19] + 0.24 * (head[27] - head[8])).astype(int)
    assert extended(head, size)[full[1], full[0]] == 255 and extended(head, size)[:margin].max() == 0


def test_none_mask_is_the_whole_crop_and_predicted_uses_the_models_mask():
    assert registry.get("convert.mask", "none")(None, 64).min() == 1.0
    learned = np.zeros((64, 64, 1), np.float32)
    learned[16:48, 16:48] = 1.0
    out = registry.get("convert.mask", "predicted")(None, 128, learned)
    assert out.shape == (128, 128) and out[64, 64] == 1.0 and out[5, 5] == 0.0
    with pytest.raises(FaceswapError, match="learn"):
        registry.get("convert.mask", "predicted")(None, 128, None)


def test_mask_erode_shrinks_and_blur_softens():
    mask = np.zeros((128, 128), np.float32)
    mask[32:96, 32:96] = 1.0
    blender = Blender(BlendSettings(mask="none", mask_erode=5, mask_blur=0), 64)
    hard, soft = blender.prepare_mask(mask)
    assert hard.sum() < mask.sum() and soft.max() == 1.0
    hard, soft = Blender(BlendSettings(mask="none", mask_erode=-5, mask_blur=0), 64).prepare_mask(mask)
    assert hard.sum() > mask.sum()
    _, soft = Blender(BlendSettings(mask="none", mask_erode=0, mask_blur=6), 64).prepare_mask(mask)
    assert 0.2 < soft[64, 32] < 0.8 and soft[64, 64] > 0.99


def test_predicted_mask_needs_a_model_that_learns_one():
    with pytest.raises(FaceswapError, match="learns a mask"):
        Blender(BlendSettings(mask="predicted"), 64, learns_mask=False)


# ---------------------------------------------------------------------------------------------- scaling
def test_sharpen_raises_local_contrast_and_none_keeps_the_face():
    face = np.full((128, 128, 3), 0.4, np.float32)
    face[:, 64:] = 0.6
    face = cv2.GaussianBlur(face, (0, 0), 1.5)
    sharp = registry.get("convert.scaling", "sharpen")(face)
    assert np.abs(np.diff(sharp, axis=1)).max() > 1.2 * np.abs(np.diff(face, axis=1)).max()
    assert abs(sharp.mean() - face.mean()) < 0.01
    assert registry.get("convert.scaling", "none")(face) is face


# ---------------------------------------------------------------------------------------------- blend
def test_blend_changes_only_pixels_around_the_face():
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    face = _face_in_frame()
    before = frame.copy()
    blender = Blender(BlendSettings(color="none", detail=0.0, label=False), 64)
    blender.blend_face(frame, face, np.full((64, 64, 3), 0.5, np.float32))
    changed = np.any(frame != before, axis=2)
    ys, xs = np.nonzero(changed)
    x0, y0, w, h = face.box
    assert changed[int(face.landmarks[30, 1]), int(face.landmarks[30, 0])]      # the nose is replaced
    assert xs.min() >= x0 - 0.3 * w and xs.max() <= x0 + 1.3 * w
    assert ys.min() >= y0 - 0.6 * h and ys.max() <= y0 + 1.3 * h
    assert frame[int(face.landmarks[30, 1]), int(face.landmarks[30, 0])].tolist() == [128, 128, 128]


def test_paste_of_the_frames_own_face_changes_nothing():
    frame = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8), (0, 0), 4)
    face = _face_in_frame()
    mat = crop_matrix(face.matrix, 256, "face")
    crop = cv2.warpAffine(frame, mat, (256, 256), flags=cv2.INTER_CUBIC).astype(np.float32) / 255
    out = frame.copy()
    paste(out, crop, np.ones((256, 256), np.float32), mat)
    assert np.abs(out.astype(int) - frame).mean() < 1.0


# ---------------------------------------------------------------------------------------------- provenance
def test_label_is_drawn_only_when_asked():
    frame = np.zeros((360, 640, 3), np.uint8)
    labelled = Blender(BlendSettings(label=True), 64).label(frame.copy())
    assert labelled[300:, 400:].max() > 200 and labelled[:200].max() == 0
    assert Blender(BlendSettings(label=False), 64).label(frame.copy()).max() == 0


def test_image_tags_are_found_in_png_jpeg_and_gif_bytes():
    from lib.provenance import encode_image
    image = np.full((32, 32, 3), 90, np.uint8)
    for ext in (".png", ".jpg"):
        data = encode_image(image, ext)
        assert image_statement(data) == STATEMENT
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (32, 32, 3)
    ok, plain = cv2.imencode(".png", image)
    assert image_statement(plain.tobytes()) is None
    gif = b"GIF89a" + bytes([2, 0, 2, 0, 0, 0, 0]) + b"\x2c" + bytes(9) + b"\x02\x02\x44\x01\x00" + b"\x3b"
    assert image_statement(tag_gif(gif)) == STATEMENT and image_statement(gif) is None


# ---------------------------------------------------------------------------------------------- writers
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from lib.sample import sample_clip
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    sample_clip(path, who="hopper", seconds=1, fps=10, size=(160, 120))
    return path


def _frames(n=10):
    return [np.full((120, 160, 3), 20 * i, np.uint8) for i in range(n)]


def _write(name, out, clip, **extra):
    options = WriterOptions(fps=Fraction(10), size=(160, 120), audio_from=clip,
                            tags={"comment": STATEMENT, "synthetic": "true", "generator": "faceswap"}, **extra)
    writer = registry.get("convert.writer", name)(out, options)
    for i, frame in enumerate(_frames()):
        writer.write(frame, f"clip_{i:06d}.png")
    return writer.close()


@pytest.mark.parametrize("name,suffix", [("ffmpeg", ".mp4"), ("opencv", ".mp4"), ("opencv", ".avi")])
def test_video_writers_keep_fps_frames_audio_and_the_tag(tmp_path, clip, name, suffix):
    out = _write(name, tmp_path / f"out{suffix}", clip)
    info = probe(out)
    assert info.frame_count == 10 and info.fps == 10 and info.has_audio
    assert is_tagged(read_metadata(out))
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]       # no temp files left


def test_ffmpeg_writer_h265(tmp_path, clip):
    out = _write("ffmpeg", tmp_path / "out.mp4", clip, codec="h265", crf=30)
    info = probe(out)
    assert info.codec == "hevc" and info.frame_count == 10


def test_ffmpeg_writer_cuts_reference_audio_to_the_frames_written(tmp_path, clip):
    options = WriterOptions(fps=Fraction(10), size=(160, 120), audio_from=clip, audio_shortest=True)
    writer = registry.get("convert.writer", "ffmpeg")(tmp_path / "short.mp4", options)
    for i, frame in enumerate(_frames(4)):
        writer.write(frame, f"clip_{i:06d}.png")
    info = probe(writer.close())
    assert info.frame_count == 4 and info.has_audio and info.duration < 0.8
    assert [p.name for p in tmp_path.iterdir()] == ["short.mp4"]


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_images_writer_writes_tagged_frames_named_like_the_input(tmp_path, clip, fmt):
    out = _write("images", tmp_path / "frames", clip, image_format=fmt)
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"clip_{i:06d}.{fmt}" for i in range(10)]
    assert all(image_statement(f.read_bytes()) == STATEMENT for f in files)
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_images_writer_writes_one_photo_to_an_image_name(tmp_path):
    writer = registry.get("convert.writer", "images")(tmp_path / "photo.jpg", WriterOptions(size=(160, 120)))
    writer.write(_frames(1)[0], "input.png")
    with pytest.raises(FaceswapError, match="several frames"):
        writer.write(_frames(1)[0], "second.png")
    out = writer.close()
    assert out == tmp_path / "photo.jpg" and image_statement(out.read_bytes()) == STATEMENT
    assert [p.name for p in tmp_path.iterdir()] == ["photo.jpg"]


def test_gif_writer_writes_every_frame_and_the_tag(tmp_path, clip):
    out = _write("gif", tmp_path / "out.gif", clip)
    assert image_statement(out.read_bytes()) == STATEMENT
    assert probe(out).frame_count == 10
    assert [p.name for p in tmp_path.iterdir()] == ["out.gif"]


@pytest.mark.parametrize("name,target", [("ffmpeg", "missing/out.mp4"), ("opencv", "missing/out.mp4"),
                                         ("gif", "missing/out.gif"), ("images", "missing/frames"),
                                         ("ffmpeg", "out.gif")])
def test_writers_refuse_a_bad_target_before_writing(tmp_path, name, target):
    with pytest.raises(FaceswapError):
        registry.get("convert.writer", name)(tmp_path / target, WriterOptions(size=(160, 120)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name,target", [("ffmpeg", "out.mp4"), ("opencv", "out.mp4"), ("gif", "out.gif"),
                                         ("images", "frames")])
def test_aborted_writers_leave_nothing_behind(tmp_path, name, target):
    writer = registry.get("convert.writer", name)(tmp_path / target, WriterOptions(size=(160, 120)))
    for i, frame in enumerate(_frames(3)):
        writer.write(frame, f"f_{i:06d}.png")
    writer.abort()
    assert list(tmp_path.iterdir()) == []
