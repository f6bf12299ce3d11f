"""Swap the faces in a video or folder of frames with a trained model and write the result.

Faces come from the alignments file beside the input (written by extract), or are detected on the fly when
there is none. Each face is swapped by the model, blended back with the chosen mask, colour and scaling
plugins, and the frames are written by a writer plugin: a video keeps the source's fps, frame count and
audio. Every output is tagged as synthetic in its metadata; a small visible label is added unless --no-label.

example: python faceswap.py convert -i A.mp4 -o swapped.mp4 -m model_dir
"""
from __future__ import annotations

import argparse
import logging
import re
import time
from pathlib import Path

from lib import registry
from lib.errors import FaceswapError

log = logging.getLogger("faceswap.convert")

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".m4v", ".avi")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    io = parser.add_argument_group("input and output")
    io.add_argument("-i", "--input", required=True, metavar="PATH", help="video file or folder of frames to convert")
    io.add_argument("-o", "--output", required=True, metavar="PATH",
                    help="output video/GIF file, a folder for the images writer, or out.png/out.jpg for one photo")
    io.add_argument("-m", "--model-dir", required=True, metavar="DIR", help="model folder written by 'train -m'")
    io.add_argument("-p", "--alignments", metavar="FILE",
                    help="alignments file (default: the one beside the input; when there is none, faces are "
                         "detected on the fly)")
    io.add_argument("-r", "--ref", metavar="VIDEO",
                    help="reference video for fps and audio when the input is a folder of frames")
    io.add_argument("--swap-model", action="store_true", help="swap the other way: B -> A instead of A -> B")
    io.add_argument("-R", "--frame-ranges", nargs="+", metavar="START-END",
                    help="convert only these frames (0-based, inclusive, e.g. 10-50 90-100); the rest stay as they were")
    io.add_argument("-k", "--keep-unchanged", action="store_true",
                    help="images writer: also write the frames with no swapped face (videos always keep every frame)")
    io.add_argument("-D", "--detector", default="dlib-hog", choices=registry.names("extract.detect"),
                    help="detector for on-the-fly detection when there is no alignments file (default: dlib-hog)")

    who = parser.add_argument_group("which faces")
    who.add_argument("-f", "--filter", nargs="+", metavar="PHOTO",
                     help="swap only faces like the person in these photos (identity embedding distance)")
    who.add_argument("-n", "--nfilter", nargs="+", metavar="PHOTO",
                     help="never swap faces like the person in these photos")
    who.add_argument("-l", "--ref-threshold", type=float, default=0.6,
                     help="embedding distance under which a face counts as the same person (default: 0.6)")

    blend = parser.add_argument_group("blending")
    blend.add_argument("-M", "--mask-type", default="extended", choices=registry.names("convert.mask"),
                       help="region of the face to replace (default: extended)")
    blend.add_argument("--mask-blur", type=float, default=4.0,
                       help="blur of the mask edge, percent of the face crop (default: 4)")
    blend.add_argument("--mask-erode", type=float, default=1.0,
                       help="shrink the mask by this percent of the face crop; negative grows it (default: 1)")
    blend.add_argument("-c", "--color-adjustment", default="avg-color", choices=registry.names("convert.color"),
                       help="match the new face's colour to the old one (default: avg-color)")
    blend.add_argument("-S", "--scaling", default="none", choices=registry.names("convert.scaling"),
                       help="post-process the swapped face, e.g. sharpen (default: none)")
    blend.add_argument("--smooth", type=float, default=2.0, metavar="SIGMA",
                       help="temporal smoothing of the landmarks, in frames (0 = off, default: 2)")
    blend.add_argument("--no-smooth", dest="smooth", action="store_const", const=0.0,
                       help="turn temporal smoothing off")

    out = parser.add_argument_group("writing")
    out.add_argument("-w", "--writer", choices=registry.names("convert.writer"),
                     help="how to write the output (default: images for a folder, gif for .gif, else ffmpeg)")
    out.add_argument("--codec", default="h264", choices=("h264", "h265"), help="ffmpeg writer codec (default: h264)")
    out.add_argument("--crf", type=int, default=18, help="ffmpeg writer quality, 0-51, lower is better (default: 18)")
    out.add_argument("--image-format", default="png", choices=("png", "jpg"), help="images writer format (default: png)")
    out.add_argument("--no-label", action="store_true",
                     help="leave out the visible 'AI-generated' label (the metadata tag is always written)")
    out.add_argument("-b", "--batch-size", type=int, default=16, help="faces per model call (default: 16)")


# ---------------------------------------------------------------------------------------------- helpers
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


def choose_writer(args) -> str:
    if args.writer:
        return args.writer
    suffix = Path(args.output).suffix.lower()
    if suffix == ".gif":
        return "gif"
    if suffix in VIDEO_SUFFIXES:
        return "ffmpeg"
    return "images"


def check_output(args, name: str) -> None:
    """Refuse an output the writer could not write, before any slow work starts."""
    from plugins.convert.writer._base import check_file_target, check_folder_writable
    cls = registry.get("convert.writer", name)
    out = Path(args.output)
    if cls.video:
        check_file_target(out, cls.suffixes, name)
    elif out.exists() and not out.is_dir() and out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise FaceswapError(f"output {out} is a file: the {name} writer needs a folder")
    else:
        check_folder_writable(out if out.is_dir() else out.parent, out)


def load_faces(args, source):
    """``index -> faces`` from the alignments file, checked against the source; None to detect on the fly."""
    from lib.alignments import Alignments, default_path
    from lib.video import frame_index
    path = Path(args.alignments) if args.alignments else default_path(source.path)
    if not path.exists():
        if args.alignments:
            raise FaceswapError(f"alignments file not found: {path} (run 'faceswap.py extract' or leave out -p "
                                f"to detect faces on the fly)")
        log.info("no alignments file at %s: detecting faces on the fly", path)
        return None, path
    alignments = Alignments.load(path)
    expected = alignments.source.get("frame_count")
    if source.is_video and isinstance(expected, int) and expected != source.count:
        raise FaceswapError(f"alignments file {path} does not match {source.path}: it describes {expected} frames, "
                            f"the video has {source.count}; pass the right file with -p or extract again")
    names = source.names()
    by_name = {name: i for i, name in enumerate(names)}
    faces: dict[int, list] = {}
    unknown = 0
    for name, found in alignments.frames.items():
        index = by_name.get(name)
        if index is None and source.is_video:
            index = frame_index(name)
        if index is None or index >= source.count:
            unknown += 1
            continue
        for face in found:
            face.masks = {}          # convert draws its masks from the landmarks: free the stored ones
        faces[index] = found
    if alignments.frames and not faces:
        raise FaceswapError(f"alignments file {path} does not match {source.path}: none of its frames are in the "
                            f"input; pass the right file with -p or extract again")
    if unknown:
        raise FaceswapError(f"alignments file {path} does not match {source.path}: {unknown} of its frames are not "
                            f"in the input; pass the right file with -p or extract again")
    log.info("alignments %s: %d faces in %d frames", path, sum(map(len, faces.values())), len(faces))
    return faces, path


class FaceFilter:
    """Keep faces near the ``-f`` photos' identity and away from the ``-n`` photos' identity."""

    def __init__(self, keep, drop, threshold: float):
        from lib.extractor import Extractor
        from lib.video import read_image
        self.threshold = threshold
        self.extractor = Extractor(masks=(), identity=True)
        self.embedder = self.extractor.embedder
        self.keep = [self._embed_photo(p, read_image) for p in keep or []]
        self.drop = [self._embed_photo(p, read_image) for p in drop or []]

    def _embed_photo(self, photo, read_image):
        import numpy as np
        faces = self.extractor.faces(read_image(photo))
        if not faces:
            raise FaceswapError(f"no face found in filter photo {photo}: use a clear photo of one face")
        face = max(faces, key=lambda f: int(f.box[2]) * int(f.box[3]))
        return np.asarray(face.identity, np.float32)

    def __call__(self, image, faces: list) -> list:
        import numpy as np
        missing = [f for f in faces if f.identity is None]
        if missing:
            for face, vector in zip(missing, self.embedder.embed(image, [f.landmarks for f in missing])):
                face.identity = np.asarray(vector, np.float32)
        kept = []
        for face in faces:
            dist = lambda refs: min(float(np.linalg.norm(face.identity - r)) for r in refs)  # noqa: E731
            if self.keep and dist(self.keep) > self.threshold:
                continue
            if self.drop and dist(self.drop) <= self.threshold:
                continue
            kept.append(face)
        return kept


def face_stream(args, source, faces_by_index, ranges, face_filter=None):
    """Yield ``(frame, faces to swap)`` for every frame of ``source``, in order."""
    from lib.smooth import StreamSmoother, smooth_frames
    if faces_by_index is not None:
        if args.smooth > 0:
            smooth_frames([faces_by_index.get(i, []) for i in range(source.count)], args.smooth)
        for frame in source.frames():
            faces = faces_by_index.get(frame.index, []) if in_ranges(frame.index, ranges) else []
            if face_filter and faces:
                faces = face_filter(frame.image, faces)
            yield frame, faces
        return
    from lib.extractor import Extractor
    extractor = Extractor(detector=args.detector, masks=(), identity=False)
    smoother = StreamSmoother(args.smooth, float(source.fps or 25))
    if ranges is None and source.is_video:
        pairs = extractor.stream(source.frames(), track=True)
    else:
        pairs = ((frame, extractor.faces(frame.image) if in_ranges(frame.index, ranges) else [])
                 for frame in source.frames())
    for frame, faces in pairs:
        faces = smoother(list(faces)) if source.is_video else list(faces)
        if face_filter and faces:
            faces = face_filter(frame.image, faces)
        yield frame, faces


def make_writer(args, source, name: str):
    """The writer plugin, set up for the source's size, fps and audio (or --ref's)."""
    from lib.provenance import video_tags
    from lib.video import probe
    from plugins.convert.writer._base import WriterOptions
    fps, audio = source.fps, source.path if source.is_video and source.info.has_audio else None
    if args.ref:
        ref = probe(args.ref)
        fps, audio = ref.fps, (ref.path if ref.has_audio else None)
    elif not source.is_video and registry.get("convert.writer", name).video:
        log.info("input is a folder of frames and no --ref video was given: writing at 25 fps with no audio")
    if source.is_video:
        size = (source.info.width, source.info.height)
    else:
        from lib.video import read_image
        first = read_image(source.files[0])
        size = (first.shape[1], first.shape[0])
    options = WriterOptions(fps=fps or 25, size=size, audio_from=audio, audio_shortest=bool(args.ref),
                            codec=args.codec, crf=args.crf,
                            image_format=args.image_format, tags=video_tags())
    return registry.get("convert.writer", name)(Path(args.output), options)


# ---------------------------------------------------------------------------------------------- run
def run(args) -> int:
    stats = convert(args)
    log.info("swapped %d faces in %d of %d frames at %.1f fps; wrote %d frames to %s", stats["faces"],
             stats["swapped"], stats["frames"], stats["fps"], stats["written"], stats["output"])
    print(f"wrote {stats['output']}")
    return 0


def convert(args, progress_bar: bool = True) -> dict:
    """The whole convert job; returns its figures (frames, faces, seconds of streaming, fps, output)."""
    import numpy as np
    from tqdm import tqdm

    from lib.convert import BlendSettings, Blender, Predictor, convert_stream
    from lib.model.store import load_model
    from lib.video import Source

    if args.batch_size < 1:
        raise FaceswapError("--batch-size must be at least 1")
    if not 0 <= args.crf <= 51:
        raise FaceswapError("--crf must be between 0 and 51")
    writer_name = choose_writer(args)
    check_output(args, writer_name)
    if Path(args.output).resolve() == Path(args.input).resolve():
        raise FaceswapError(f"output {args.output} is the input: choose another name, the input is kept as it is")
    source = Source(args.input)
    if args.ref and source.is_video:
        log.warning("--ref is only used when the input is a folder of frames; using %s's own fps and audio",
                    source.path.name)
        args.ref = None
    ranges = parse_ranges(args.frame_ranges, source.count)
    faces_by_index, _ = load_faces(args, source)
    model = load_model(args.model_dir)
    direction = "b2a" if args.swap_model else "a2b"
    settings = BlendSettings(mask=args.mask_type, mask_blur=args.mask_blur, mask_erode=args.mask_erode,
                             color=args.color_adjustment, scaling=args.scaling, label=not args.no_label)
    blender = Blender(settings, model.output_size, model.centering, model.learns_mask)
    predictor = Predictor(model, direction, args.batch_size)
    log.info("model '%s' (%d iterations), swapping %s, mask %s, colour %s, writer %s", model.name,
             model.iterations, "B -> A" if args.swap_model else "A -> B", args.mask_type, args.color_adjustment,
             writer_name)
    face_filter = FaceFilter(args.filter, args.nfilter, args.ref_threshold) if (args.filter or args.nfilter) else None
    size = model.input_size
    predictor(np.zeros((args.batch_size, size, size, 3), np.float32))   # warm up: build the predict graph now

    writer = make_writer(args, source, writer_name)
    keep_all = writer.video or args.keep_unchanged
    stats = {"frames": 0, "written": 0, "swapped": 0, "faces": 0}

    def write(item) -> None:
        progress.update(1)
        stats["frames"] += 1
        stats["faces"] += len(item.faces)
        stats["swapped"] += bool(item.changed)
        if item.changed or keep_all:
            writer.write(item.image, item.frame.name)
            stats["written"] += 1

    busy: dict = {}
    start = time.perf_counter()
    try:
        with tqdm(total=source.count, desc="convert", unit="frame", dynamic_ncols=True,
                  disable=not progress_bar) as progress:
            convert_stream(face_stream(args, source, faces_by_index, ranges, face_filter), predictor, blender, write,
                           busy=busy)
        if stats["written"] == 0:
            raise FaceswapError(f"no frame was written to {args.output}: no face was swapped (use -k to keep the "
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
