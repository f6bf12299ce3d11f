"""Find, align and save the faces of videos, image folders or photos (face PNGs + an alignments file).

Each face is written as a PNG that carries its own metadata (source, frame, landmarks, alignment
matrix, identity), so training and tools need nothing else. The alignments file (JSON, beside the input
unless -p says otherwise) lists every face of every processed frame, for convert and tools.

Examples:
  faceswap.py extract -i talk.mp4 -o faces/talk
  faceswap.py extract -i a.mp4 b.mp4 -o faces              # batch: faces/a, faces/b, one alignments file each
  faceswap.py extract -i talk.mp4 -o faces -f me1.jpg me2.jpg   # keep only the person in these photos
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lib import registry
from lib.cli import non_negative_int, positive_int
from lib.errors import FaceswapError

log = logging.getLogger("faceswap")


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value < 2:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2 (embedding distance), got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", nargs="+", required=True, metavar="INPUT",
                        help="video file(s), folder(s) of images or image file(s); several = batch mode")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="folder for the face PNGs (batch mode: one subfolder per input)")
    parser.add_argument("-p", "--alignments", metavar="PATH",
                        help="alignments file to write (default: <video>_alignments.json beside a video, "
                             "alignments.json inside a folder of images); an existing folder holds "
                             "<input>_alignments.json for each input (the only form allowed in batch mode)")
    parser.add_argument("-D", "--detector", default="dlib-hog", choices=registry.names("extract.detect"),
                        help="face detector (default: dlib-hog)")
    parser.add_argument("-A", "--aligner", default="dlib-68", choices=registry.names("extract.align"),
                        help="landmark aligner (default: dlib-68)")
    parser.add_argument("-M", "--masks", nargs="*", default=["components", "extended"],
                        choices=registry.names("extract.mask"),
                        help="landmark masks stored in the alignments file (default: components extended)")
    parser.add_argument("--detector-model", metavar="PATH",
                        help="weights file for a detector whose weights no package ships (yunet)")
    parser.add_argument("--size", type=positive_int, default=256, help="side of the face PNGs in pixels (default: 256)")
    parser.add_argument("--centering", choices=("face", "head"), default="face",
                        help="crop framing: face (brows to chin) or head (with hair and ears) (default: face)")
    parser.add_argument("--min-size", type=non_negative_int, default=0, metavar="PX",
                        help="ignore detections smaller than PX pixels (box side) (default: 0)")
    parser.add_argument("-n", "--every-n", type=positive_int, default=1, metavar="N",
                        help="process every Nth frame only (default: 1, every frame)")
    parser.add_argument("--skip-existing", action="store_true",
                        help="resume: keep the frames already in the alignments file and process only the others")
    parser.add_argument("-f", "--filter", nargs="+", metavar="PHOTO",
                        help="keep only faces of the person in these photos (files or folders)")
    parser.add_argument("--nfilter", nargs="+", metavar="PHOTO",
                        help="drop faces of the person(s) in these photos (files or folders)")
    parser.add_argument("--ref-threshold", type=_threshold, default=0.6,
                        help="embedding distance within which a face matches a reference photo (default: 0.6)")
    parser.add_argument("--identity", choices=("auto", "off"), default="auto",
                        help="auto: keep only the dominant person of each input (drops passers-by and false "
                             "detections without reference photos); off: keep every face (default: auto; "
                             "ignored when -f/--nfilter is given)")
    parser.add_argument("-b", "--batch-size", type=positive_int, default=4,
                        help="frames per detector call for image folders (default: 4)")
    parser.add_argument("--detect-every", type=positive_int, default=8, metavar="K",
                        help="in videos, run the full detector every K processed frames and track faces in "
                             "between (1 = detect every frame) (default: 8)")
    parser.add_argument("--no-faces", action="store_true", help="write only the alignments file, no face PNGs")


def run(args) -> int:
    inputs = [Path(p) for p in args.input]
    align_dir = Path(args.alignments) if args.alignments and Path(args.alignments).is_dir() else None
    if len(inputs) > 1 and args.alignments and align_dir is None:
        raise FaceswapError("-p/--alignments names one file, but several inputs were given: pass an existing "
                            "folder for the alignments files, or leave -p out")
    if len(set(p.stem if p.is_file() else p.name for p in inputs)) < len(inputs):
        raise FaceswapError("two inputs have the same name: their faces would go to the same output folder; "
                            "extract them in separate calls")
    for path in inputs:
        if not path.exists():
            raise FaceswapError(f"input not found: {path}")
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise FaceswapError(f"output {output} is a file, not a folder: choose a folder for the faces")
    job = ExtractJob(args)
    total = []
    for path in inputs:
        out_dir = output / (path.stem if path.is_file() else path.name) if len(inputs) > 1 else output
        total.append(job.run_one(path, out_dir, _alignments_path(path, args.alignments, align_dir)))
    if len(total) > 1:
        frames, written, empty, dropped = (sum(t[key] for t in total)
                                           for key in ("frames", "written", "no_face", "dropped"))
        print(f"extract: {len(total)} inputs, {frames} frames, {written} faces written, "
              f"{empty} frames with no face, {dropped} faces dropped by the identity filter")
    return 0


def _alignments_path(path: Path, option: str | None, folder: Path | None) -> Path:
    """Where the alignments of ``path`` go; checked for writability before any work is done."""
    import os

    from lib.alignments import SUFFIX, default_path
    if folder is not None:
        target = folder / ((path.stem if path.is_file() else path.name) + SUFFIX)
    else:
        target = Path(option) if option else default_path(path)
    if not target.parent.is_dir():
        raise FaceswapError(f"cannot write alignments {target}: folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise FaceswapError(f"cannot write alignments {target}: folder {target.parent} is read-only; "
                            f"pass -p with a writable file or folder")
    return target


class ExtractJob:
    """One extract call: the models are loaded once and reused for every input of a batch."""

    def __init__(self, args):
        from lib.extractor import Extractor
        from lib.identity import ReferenceFilter, reference_embeddings
        self.args = args
        options = {"model": args.detector_model} if args.detector_model else {}
        use_identity = bool(args.filter or args.nfilter or args.identity == "auto")
        self.extractor = Extractor(args.detector, args.aligner, args.masks, identity=use_identity,
                                   min_size=args.min_size, **options)
        self.filter = None
        if args.filter or args.nfilter:
            wanted = reference_embeddings(args.filter, self.extractor) if args.filter else None
            unwanted = reference_embeddings(args.nfilter, self.extractor) if args.nfilter else None
            self.filter = ReferenceFilter(wanted, unwanted, args.ref_threshold)
        self.auto = self.filter is None and args.identity == "auto"

    # ----------------------------------------------------------------------------------------- one input
    def run_one(self, path: Path, out_dir: Path, alignments_path: Path | None) -> dict:
        from tqdm import tqdm

        from lib.alignments import Alignments, default_path
        from lib.threads import background
        from lib.video import Source

        args = self.args
        source = Source(path)
        alignments_path = alignments_path or default_path(path)
        done: dict = {}
        previous = None
        if args.skip_existing and alignments_path.exists():
            previous = Alignments.load(alignments_path)      # corrupt -> clear error, file untouched
            done = previous.frames
        if not args.no_faces:
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise FaceswapError(f"cannot create output folder {out_dir}: {err.strerror}") from None

        info = source.info
        alignments = Alignments(
            {"path": str(path.resolve()), "frame_count": source.count,
             "fps": float(info.fps) if info else None,
             "width": info.width if info else None, "height": info.height if info else None},
            dict(self.extractor.mask_space))
        todo = [i for i, name in enumerate(source.names()) if i % args.every_n == 0 and name not in done]
        wanted = set(todo)
        skipped: list[tuple[str, str]] = []
        if source.is_video:
            frames = (f for f in source.frames() if f.index in wanted)
        else:
            frames = _readable_images(source, wanted, skipped)
        track = source.is_video and args.detect_every > 1
        stats = {"frames": 0, "written": 0, "no_face": 0, "dropped": 0}
        writer = _FaceWriter(out_dir, path.name, args, self.extractor.detector_name) if not args.no_faces else None
        bar = tqdm(total=len(todo), unit="frame", desc=f"extract {path.name}", dynamic_ncols=True,
                   disable=None, smoothing=0.1)
        try:
            stream = self.extractor.stream(background(frames, 8, "decode"), track=track, detect_every=args.detect_every,
                                           batch_size=args.batch_size)
            for frame, faces in stream:
                kept = [face for face in faces if self.filter is None or self.filter.keep(face.identity)]
                stats["dropped"] += len(faces) - len(kept)
                stats["frames"] += 1
                stats["no_face"] += not kept
                if writer:
                    for index, face in enumerate(kept):
                        writer.submit(frame, index, face)
                alignments.frames[frame.name] = kept       # after its faces are queued: safe to interrupt
                bar.update(1)
            if writer:
                writer.finish()
        except KeyboardInterrupt:
            bar.close()
            if writer:
                writer.finish()
            # Keep what was done so --skip-existing can resume, unless that would replace a finished file.
            if stats["frames"] and (previous is not None or not alignments_path.exists()):
                self._merge(alignments, previous, source).save(alignments_path, keep_backup=alignments_path.exists())
                log.warning("saved the %d frame(s) done so far to %s: run again with --skip-existing to resume",
                            stats["frames"], alignments_path)
            raise
        except BaseException:
            if writer:
                writer.abort()
            raise
        finally:
            bar.close()
        if self.auto:
            stats["dropped"] += self._keep_dominant(alignments, out_dir if writer else None)
            stats["no_face"] = sum(1 for faces in alignments.frames.values() if not faces)
        stats["written"] = alignments.face_count() if writer else 0
        if not alignments.face_count() and writer and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()       # a failed input leaves no empty folder behind
        if skipped and not stats["frames"]:
            raise FaceswapError(skipped[0][1] if len(skipped) == 1 else
                                f"none of the {len(skipped)} images of {path} could be read ({skipped[0][1]})")
        if stats["frames"] and not alignments.face_count():
            reason = " that passed the identity filter" if stats["dropped"] else ""
            raise FaceswapError(f"no face{reason} found in {path} ({stats['frames']} frame(s) searched): check the "
                                f"input shows a face, or try another detector (-D) or a lower --min-size")
        self._merge(alignments, previous, source).save(alignments_path, keep_backup=alignments_path.exists())
        if skipped:
            log.warning("skipped %d unreadable image(s): %s%s", len(skipped), ", ".join(n for n, _ in skipped[:5]),
                        " ..." if len(skipped) > 5 else "")
        where = f" -> {out_dir}" if writer else ""
        print(f"extract: {path.name}: {stats['frames']} frames, {stats['written']} faces written, "
              f"{stats['no_face']} frames with no face, {stats['dropped']} faces dropped by the identity filter"
              f"{where} (alignments: {alignments_path})")
        return stats

    @staticmethod
    def _merge(alignments, previous, source):
        """The frames of a resumed run's earlier file plus this run's, in frame order."""
        if previous is not None:
            merged = {**previous.frames, **alignments.frames}
            order = {name: i for i, name in enumerate(source.names())}
            alignments.frames = dict(sorted(merged.items(), key=lambda item: order.get(item[0], len(order))))
        return alignments

    def _keep_dominant(self, alignments, out_dir: Path | None) -> int:
        """Automatic identity mode: drop faces far from the input's dominant identity; returns how many."""
        import numpy as np

        from lib.identity import dominant_identity, near
        vectors, weights, seen = [], [], {}
        for faces in alignments.frames.values():
            for face in faces:
                if face.identity is None:
                    continue
                key = id(face.identity)   # tracked faces share their keyframe's embedding array
                if key not in seen:
                    seen[key] = len(vectors)
                    vectors.append(face.identity)
                    weights.append(0)
                weights[seen[key]] += 1
        if len(vectors) < 2:
            return 0
        centre = dominant_identity(np.asarray(vectors), np.asarray(weights, np.float64))
        dropped = 0
        for name, faces in alignments.frames.items():
            keep = [near(face.identity, centre, self.args.ref_threshold) for face in faces]
            if all(keep):
                continue
            dropped += keep.count(False)
            if out_dir is not None:
                _renumber(out_dir, name, keep)
            alignments.frames[name] = [face for face, k in zip(faces, keep) if k]
        if dropped:
            log.info("automatic identity: dropped %d face(s) not of the dominant person", dropped)
        return dropped


def _readable_images(source, wanted: set, skipped: list):
    """Frames of an image folder; an unreadable file is skipped (and named at the end), not fatal."""
    from lib.video import Frame, read_image
    for index, file in enumerate(source.files):
        if index not in wanted:
            continue
        try:
            image = read_image(file)
        except FaceswapError as err:
            skipped.append((file.name, str(err)))
            continue
        yield Frame(index, file.name, image)


def _renumber(out_dir: Path, frame_name: str, keep: list[bool]) -> None:
    """Delete the dropped faces of one frame and renumber the kept ones so file index = alignments index."""
    from lib.faces import face_filename, read_face_png, write_face_png
    new = 0
    for old, kept in enumerate(keep):
        path = out_dir / face_filename(frame_name, old)
        if not kept:
            path.unlink(missing_ok=True)
            continue
        if new != old and path.exists():
            image, meta = read_face_png(path)
            write_face_png(out_dir / face_filename(frame_name, new), image, dict(meta or {}, face_index=new))
            path.unlink()
        new += 1


class _FaceWriter:
    """Warp, encode and write face PNGs on worker threads (OpenCV and file I/O release the GIL)."""

    def __init__(self, out_dir: Path, source_name: str, args, detector: str, workers: int = 2, depth: int = 32):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor
        self.out_dir, self.source, self.args, self.detector = out_dir, source_name, args, detector
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="face-writer")
        self.pending = deque()
        self.depth = depth

    def submit(self, frame, index: int, face) -> None:
        while len(self.pending) >= self.depth:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self._write, frame.image, frame.name, frame.index, index, face))

    def _write(self, image, frame_name: str, frame_index: int, index: int, face) -> None:
        import cv2

        from lib.faces import encode_face_png, face_filename, warp_face
        from lib.fileio import atomic_write_bytes
        args = self.args
        crop = warp_face(image, face.matrix, args.size, args.centering)
        meta = {"source": self.source, "frame": frame_name, "frame_index": frame_index, "face_index": index,
                "size": args.size, "centering": args.centering,
                "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks],
                "matrix": [[round(float(v), 8) for v in row] for row in face.matrix],
                "identity": None if face.identity is None else [round(float(v), 6) for v in face.identity],
                "detector": self.detector, "score": round(float(face.score), 4)}
        # As write_face_png, with the fastest zlib settings: ~45% less time than its default, about as small.
        png = encode_face_png(crop, meta, compression=1, strategy=cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY)
        atomic_write_bytes(self.out_dir / face_filename(frame_name, index), png)

    def finish(self) -> None:
        while self.pending:
            self.pending.popleft().result()
        self.pool.shutdown()

    def abort(self) -> None:
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
