"""The convert job: swap the faces of a video, a folder of frames or a photo with a trained model.

Faces come from the alignments file beside the input (written by extract), or are detected on the fly when
there is none. Each face is swapped by the model and blended back with the chosen mask, colour and scaling
plugins (lib.convert); a writer plugin writes the frames: a video keeps the source's fps, frame count and
audio. Every output is tagged as synthetic; a small visible label is added unless ``no_label``.

Progress is the stage ``convert``, counted in frames over the input's frame count; the cancel flag is
checked after every frame, and a stopped (or failed) run aborts the writer, so no partial output is left
under the output's name. :class:`FrameRenderer` renders single frames with any blend settings, for the GUI.
"""
from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from lib import registry
from lib.convert import DETAIL, BlendSettings, check_detail
from lib.errors import FaceswapError
from lib.jobs import Cancel, ProgressFn, Reporter

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v", ".avi")


@dataclass
class ConvertParams:
    """The options of ``faceswap.py convert`` (same names and defaults as its argparse dests)."""
    input: str                                   # video, folder of frames or one photo
    output: str                                  # video/GIF file, folder (images writer) or one image
    model_dir: str                               # model folder written by train
    alignments: str | None = None                # default: beside the input; none there = detect on the fly
    trust_alignments: bool = False               # use an alignments file made from a video of another name/size
    ref: str | None = None                       # fps and audio for a folder of frames
    swap_model: bool = False                     # B -> A instead of A -> B
    rebuild: bool = False                        # decode each face as its own person (A -> A): the model's floor
    frame_ranges: list[str] | None = None        # "START-END" (0-based, inclusive): convert only these
    keep_unchanged: bool = False                 # images writer: also write frames with no swapped face
    detector: str = "dlib-hog"                   # for on-the-fly detection
    filter: list[str] | None = None              # swap only faces like the person in these photos
    nfilter: list[str] | None = None             # never swap faces like the person in these photos
    ref_threshold: float = 0.6                   # embedding distance of a match
    mask_type: str = "extended"
    mask_blur: float = 4.0                       # percent of the face crop
    mask_erode: float = 1.0                      # percent of the face crop; negative grows the mask
    color_adjustment: str = "avg-color"
    scaling: str = "none"
    detail: float = DETAIL                       # 0-1: keep the frame's finest detail (lib.convert.add_detail)
    smooth: float = 2.0                          # temporal smoothing of the landmarks, in frames (0 = off)
    writer: str | None = None                    # default: images for a folder, gif for .gif, else ffmpeg
    codec: str = "h264"                          # h264 | h265 (ffmpeg writer)
    crf: int = 18                                # ffmpeg writer quality, 0-51
    image_format: str = "png"                    # png | jpg (images writer)
    no_label: bool = False                       # leave out the visible label (the metadata tag stays)
    batch_size: int = 16                         # faces per model call


# ---------------------------------------------------------------------------------------------- the job
def run(params: ConvertParams, progress: ProgressFn | None = None, cancel: Cancel | None = None) -> dict:
    """Convert ``params.input``; returns its figures: frames, written, swapped (frames), faces, seconds (of
    streaming), busy (seconds per pipeline stage), fps, output, writer, model, size."""
    from lib.convert import Blender, Predictor, convert_stream
    from lib.fileio import remove_stale_temps
    from lib.model.store import load_model
    from lib.video import Source

    report = Reporter(progress, cancel)
    check_params(params)
    writer_name = choose_writer(params)
    check_output(params, writer_name)
    if Path(params.output).resolve() == Path(params.input).resolve():
        raise FaceswapError(f"output {params.output} is the input: choose another name, the input is kept as it is")
    remove_stale_temps(Path(params.output).parent)          # temp video/frames of a convert that was killed
    source = Source(params.input)
    ref = params.ref
    if ref and source.is_video:
        log.warning("--ref is only used when the input is a folder of frames; using %s's own fps and audio",
                    source.path.name)
        ref = None
    ranges = parse_ranges(params.frame_ranges, source.count)
    faces_by_index, _ = load_faces(source, params.alignments, params.trust_alignments)
    if params.mask_type == "learned" and faces_by_index is None:
        raise FaceswapError("-M learned needs an alignments file holding learned masks (there is none, so faces would "
                            "be detected on the fly): extract, then 'tools.py mask -p ALIGNMENTS -i INPUT --mask-model "
                            "DIR'")
    report.check()
    model = load_model(params.model_dir)
    direction = ("b2b" if params.swap_model else "a2a") if params.rebuild else ("b2a" if params.swap_model else "a2b")
    blender = Blender(blend_settings(params), model.output_size, model.centering, model.learns_mask,
                      params.model_dir, direction[-1])
    predictor = Predictor(model, direction, params.batch_size)
    log.info("model '%s' (%d iterations), swapping %s, mask %s, colour %s, writer %s", model.name,
             model.iterations, f"{direction[0].upper()} -> {direction[-1].upper()}", params.mask_type,
             params.color_adjustment, writer_name)
    face_filter = identity_filter(params.filter, params.nfilter, params.ref_threshold)
    size = model.input_size
    predictor(np.zeros((params.batch_size, size, size, 3), np.float32))   # warm up: build the predict graph now
    report.check()

    writer = make_writer(params, source, writer_name, ref)
    keep_all = writer.video or params.keep_unchanged
    stats = {"frames": 0, "written": 0, "swapped": 0, "faces": 0}
    report("convert", 0, source.count, unit="frames")

    def write(item) -> None:
        stats["frames"] += 1
        stats["faces"] += len(item.faces)
        stats["swapped"] += bool(item.changed)
        if item.changed or keep_all:
            writer.write(item.image, item.frame.name)
            stats["written"] += 1
        report("convert", stats["frames"], source.count, unit="frames")
        report.check()

    busy: dict = {}
    start = time.perf_counter()
    try:
        frames = face_stream(source, faces_by_index, ranges, params.smooth, params.detector, face_filter)
        convert_stream(frames, predictor, blender, write, busy=busy)
        if stats["written"] == 0:
            raise FaceswapError(f"no frame was written to {params.output}: no face was swapped (use -k to keep the "
                                f"frames without faces)")
        out = writer.close()
    except BaseException:
        writer.abort()
        raise
    seconds = time.perf_counter() - start
    stats.update(seconds=seconds, busy={k: round(v, 2) for k, v in busy.items()},
                 fps=stats["frames"] / max(seconds, 1e-9), output=out, writer=writer_name,
                 model=model.name, size=(source.info.width, source.info.height) if source.is_video else None)
    return stats


def check_params(params: ConvertParams) -> None:
    """The checks argparse cannot make (and those it makes, for callers that skip it)."""
    if not isinstance(params.batch_size, int) or params.batch_size < 1:
        raise FaceswapError("--batch-size must be at least 1")
    if not isinstance(params.crf, int) or not 0 <= params.crf <= 51:
        raise FaceswapError("--crf must be between 0 and 51")
    if params.smooth < 0:
        raise FaceswapError(f"--smooth must be 0 (off) or more, not {params.smooth}")
    check_detail(params.detail)
    if not 0 < params.ref_threshold < 2:
        raise FaceswapError(f"--ref-threshold must be between 0 and 2 (embedding distance), not {params.ref_threshold}")
    if params.codec not in ("h264", "h265"):
        raise FaceswapError(f"--codec must be h264 or h265, not {params.codec!r}")
    if params.image_format not in ("png", "jpg"):
        raise FaceswapError(f"--image-format must be png or jpg, not {params.image_format!r}")


# ---------------------------------------------------------------------------------------------- helpers
def blend_settings(settings=None) -> BlendSettings:
    """BlendSettings from a BlendSettings, ConvertParams, or a mapping keyed by convert's option names
    (mask_type, mask_blur, mask_erode, color_adjustment, scaling, no_label) or by BlendSettings' own."""
    if settings is None:
        return BlendSettings()
    if isinstance(settings, BlendSettings):
        return settings
    values = settings if isinstance(settings, dict) else vars(settings)
    names = {"mask_type": "mask", "color_adjustment": "color"}
    out = {}
    for key, value in values.items():
        if key == "no_label":
            out["label"] = not value
        elif names.get(key, key) in {f.name for f in fields(BlendSettings)}:
            out[names.get(key, key)] = value
    try:
        return BlendSettings(**out)
    except TypeError as err:
        raise FaceswapError(f"bad blend settings: {err}") from None


def identity_filter(wanted, unwanted, threshold: float):
    """The ``-f``/``-n`` filter (lib.identity, as extract uses it), or None when no photo is given."""
    if not (wanted or unwanted):
        return None
    from lib.extractor import Extractor
    from lib.identity import ReferenceFilter
    return ReferenceFilter.from_photos(wanted, unwanted, threshold, Extractor(masks=(), identity=True))


def parse_ranges(specs: list[str] | None, count: int) -> list[tuple[int, int]] | None:
    """``["10-50", "90"]`` -> ``[(10, 50), (90, 90)]`` (inclusive); clear error on a bad or empty range."""
    if not specs:
        return None
    ranges = []
    for spec in specs:
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", spec)
        if not match:
            raise FaceswapError(f"bad frame range '{spec}': write START-END with frame numbers, e.g. 10-50")
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else start
        if end < start:
            raise FaceswapError(f"bad frame range '{spec}': the end comes before the start")
        if start >= count:
            raise FaceswapError(f"frame range '{spec}' starts after the last frame ({count - 1})")
        ranges.append((start, min(end, count - 1)))
    return ranges


def in_ranges(index: int, ranges) -> bool:
    return ranges is None or any(start <= index <= end for start, end in ranges)


def choose_writer(params) -> str:
    """The writer plugin's name: ``params.writer``, else from the output's name (anything with .writer, .output)."""
    if params.writer:
        return params.writer
    suffix = Path(params.output).suffix.lower()
    if suffix == ".gif":
        return "gif"
    if suffix in VIDEO_SUFFIXES:
        return "ffmpeg"
    return "images"


def check_output(params, name: str) -> None:
    """Refuse an output the writer could not write, before any slow work starts."""
    from plugins.convert.writer._base import check_file_target, check_folder_writable
    cls = registry.get("convert.writer", name)
    out = Path(params.output)
    if cls.video:
        check_file_target(out, cls.suffixes, name)
    elif out.exists() and not out.is_dir() and out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise FaceswapError(f"output {out} is a file: the {name} writer needs a folder")
    else:
        check_folder_writable(out if out.is_dir() else out.parent, out)


def load_faces(source, alignments: str | None = None, trust: bool = False):
    """(``index -> faces`` from the alignments file, checked against the source, or None to detect on the fly;
    the file's path). ``alignments`` None means the file beside the input, if there is one.

    The file must describe this footage: a video of another size or length is refused; one of another name or
    file size (maybe other footage of the same shape) is refused unless ``trust`` (renamed or re-encoded)."""
    from lib.alignments import Alignments, StoredMasks, default_path, describe, source_entry, source_mismatch
    from lib.video import frame_index
    path = Path(alignments) if alignments else default_path(source.path)
    if not path.exists():
        if alignments:
            raise FaceswapError(f"alignments file not found: {path} (run 'faceswap.py extract' or leave out -p "
                                f"to detect faces on the fly)")
        log.info("no alignments file at %s: detecting faces on the fly", path)
        return None, path
    found_file = Alignments.load(path)
    hard = source_mismatch(found_file.source, source, ("frame_count", "width", "height"))
    soft = [] if trust else source_mismatch(found_file.source, source, ("name", "bytes"))
    if hard or soft:
        advice = "" if hard else (", or pass --trust-alignments if the video was only renamed or re-encoded")
        raise FaceswapError(f"alignments file {path} describes {describe(found_file.source)}, not "
                            f"{describe(source_entry(source))} ({', '.join(hard + soft)} differ): pass the file made "
                            f"from this input with -p, or extract it again{advice}")
    expected = found_file.source.get("frame_count")
    if source.is_video and isinstance(expected, int) and expected != source.count:
        raise FaceswapError(f"alignments file {path} does not match {source.path}: it describes {expected} frames, "
                            f"the video has {source.count}; pass the right file with -p or extract again")
    by_name = {name: i for i, name in enumerate(source.names())}
    faces: dict[int, list] = {}
    unknown = 0
    for name, found in found_file.frames.items():
        index = by_name.get(name)
        if index is None and source.is_video:
            index = frame_index(name)
        if index is None or index >= source.count:
            unknown += 1
            continue
        for face in found:
            # convert draws its masks from the landmarks: free the stored ones, but for the learned mask (-M learned)
            face.masks = StoredMasks({k: v for k, v in face.masks.raw_items() if k == "learned"})
            face.mask_space = found_file.mask
        faces[index] = found
    if found_file.frames and not faces:
        raise FaceswapError(f"alignments file {path} does not match {source.path}: none of its frames are in the "
                            f"input; pass the right file with -p or extract again")
    if unknown:
        raise FaceswapError(f"alignments file {path} does not match {source.path}: {unknown} of its frames are not "
                            f"in the input; pass the right file with -p or extract again")
    log.info("alignments %s: %d faces in %d frames", path, sum(map(len, faces.values())), len(faces))
    return faces, path


def face_stream(source, faces_by_index, ranges, smooth: float, detector: str, face_filter=None):
    """Yield ``(frame, faces to swap)`` for every frame of ``source``, in order: faces from the alignments
    (smoothed over the whole video), or detected (tracked and smoothed as they stream) when there are none."""
    from lib.smooth import StreamSmoother, smooth_frames
    if faces_by_index is not None:
        if smooth > 0:
            smooth_frames([faces_by_index.get(i, []) for i in range(source.count)], smooth)
        outside = 0
        for frame in source.frames():
            faces = faces_by_index.get(frame.index, []) if in_ranges(frame.index, ranges) else []
            if faces:
                on_frame = [face for face in faces if in_frame(face, frame.image.shape)]
                outside += len(faces) - len(on_frame)
                faces = on_frame
            if face_filter and faces:
                faces = face_filter.select(frame.image, faces)
            yield frame, faces
        if outside:
            log.warning("%d face(s) of the alignments file lie outside their frame and were not swapped: is it the "
                        "file of this input?", outside)
        return
    from lib.extractor import Extractor
    extractor = Extractor(detector=detector, masks=(), identity=False)
    smoother = StreamSmoother(smooth, float(source.fps or 25))
    if ranges is None and source.is_video:
        pairs = extractor.stream(source.frames(), track=True)
    else:
        pairs = ((frame, extractor.faces(frame.image) if in_ranges(frame.index, ranges) else [])
                 for frame in source.frames())
    for frame, faces in pairs:
        faces = smoother(list(faces)) if source.is_video else list(faces)
        if face_filter and faces:
            faces = face_filter.select(frame.image, faces)
        yield frame, faces


def in_frame(face, shape) -> bool:
    """Whether most of ``face``'s landmarks fall inside a frame of ``shape``: a face outside is no face to
    swap (it would be pasted nowhere, yet counted)."""
    height, width = shape[:2]
    points = np.asarray(face.landmarks, np.float64)
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    return bool(inside.mean() >= 0.5)


def make_writer(params: ConvertParams, source, name: str, ref: str | None = None):
    """The writer plugin, set up for the source's size, fps and audio (or ``ref``'s)."""
    from lib.provenance import video_tags
    from lib.video import probe, read_image
    from plugins.convert.writer._base import WriterOptions
    fps, audio = source.fps, source.path if source.is_video and source.info.has_audio else None
    if ref:
        info = probe(ref)
        fps, audio = info.fps, (info.path if info.has_audio else None)
    elif not source.is_video and registry.get("convert.writer", name).video:
        log.info("input is a folder of frames and no --ref video was given: writing at 25 fps with no audio")
    if source.is_video:
        size = (source.info.width, source.info.height)
    else:
        first = read_image(source.files[0])
        size = (first.shape[1], first.shape[0])
    options = WriterOptions(fps=fps or 25, size=size, audio_from=audio, audio_shortest=bool(ref),
                            codec=params.codec, crf=params.crf, image_format=params.image_format, tags=video_tags())
    return registry.get("convert.writer", name)(Path(params.output), options)


# ---------------------------------------------------------------------------------------------- one frame
class FrameRenderer:
    """Render single frames of a convert with any blend settings (the GUI's convert tuner).

    The model loads once. Per frame, the decoded image, its faces and the model's swapped faces are kept
    (the last ``cache`` frames), so rendering the same frame with other mask, blur, erode, colour, scaling or
    label settings only re-blends: a few tens of milliseconds for a 720p frame on a CPU. Faces come from the
    alignments (smoothed as convert smooths them) or, with no alignments file, are detected in that frame.
    """

    def __init__(self, model_dir, source, alignments: str | None = None, *, swap_model: bool = False,
                 detector: str = "dlib-hog", smooth: float = 2.0, filter=None, nfilter=None,
                 ref_threshold: float = 0.6, cache: int = 8, trust_alignments: bool = False):
        from lib.convert import Predictor
        from lib.model.store import load_model
        from lib.smooth import smooth_frames
        from lib.video import Source
        self.source = source if isinstance(source, Source) else Source(source)
        self.model = load_model(model_dir)
        self.model_dir = model_dir
        self.predictor = Predictor(self.model, "b2a" if swap_model else "a2b")
        self.faces_by_index, _ = load_faces(self.source, alignments, trust_alignments)
        if self.faces_by_index is not None and smooth > 0:
            smooth_frames([self.faces_by_index.get(i, []) for i in range(self.source.count)], smooth)
        self.detector = detector
        self.filter = identity_filter(filter, nfilter, ref_threshold)
        self._extractor = None
        self._frames: OrderedDict = OrderedDict()     # index -> (image, faces, swapped faces, masks)
        self._cache = max(1, cache)
        self._blenders: dict = {}

    @classmethod
    def from_params(cls, params: ConvertParams, **options) -> "FrameRenderer":
        """A renderer for the frames ``params`` would convert (its blend settings are given to render)."""
        return cls(params.model_dir, params.input, params.alignments, swap_model=params.swap_model,
                   detector=params.detector, smooth=params.smooth, filter=params.filter, nfilter=params.nfilter,
                   ref_threshold=params.ref_threshold, trust_alignments=params.trust_alignments, **options)

    @property
    def count(self) -> int:
        """Frames in the source (valid indices are 0 to count - 1)."""
        return self.source.count

    def faces(self, frame_index: int) -> list:
        """The faces that would be swapped in frame ``frame_index``."""
        return self._frame(frame_index)[1]

    def render(self, frame_index: int, settings=None) -> tuple[np.ndarray, np.ndarray]:
        """(original, swapped) BGR uint8 images of frame ``frame_index``, blended with ``settings`` (see
        :func:`blend_settings`; None = convert's defaults). The original is read-only (it is cached)."""
        from lib.convert import Blender
        image, faces, outputs, masks = self._frame(frame_index)
        settings = blend_settings(settings)
        key = tuple(vars(settings).items())
        blender = self._blenders.get(key)
        if blender is None:
            blender = Blender(settings, self.model.output_size, self.model.centering, self.model.learns_mask,
                              self.model_dir, self.predictor.direction[-1])
            self._blenders[key] = blender
        swapped = np.array(image, copy=True)
        for face, out, mask in zip(faces, outputs, masks):
            blender.blend_face(swapped, face, out, mask)
        return image, blender.label(swapped)

    def _frame(self, index: int):
        if index in self._frames:
            self._frames.move_to_end(index)
            return self._frames[index]
        frame = self.source.frame(int(index))
        image = frame.image
        image.flags.writeable = False
        if self.faces_by_index is not None:
            faces = [face for face in self.faces_by_index.get(frame.index, []) if in_frame(face, image.shape)]
        else:
            if self._extractor is None:
                from lib.extractor import Extractor
                self._extractor = Extractor(detector=self.detector, masks=(), identity=False)
            faces = self._extractor.faces(image)
        if self.filter and faces:
            faces = self.filter.select(image, faces)
        outputs, masks = [], []
        if faces:
            crops = np.stack([self.predictor.crop(image, face) for face in faces])
            outputs, predicted = self.predictor(crops)
            masks = list(predicted) if predicted is not None else [None] * len(faces)
        entry = (image, faces, list(outputs), masks)
        self._frames[index] = entry
        while len(self._frames) > self._cache:
            self._frames.popitem(last=False)
        return entry
