"""Check and fix an alignments file: draw, re-extract, remove deleted faces, find, merge, rename, smooth, export.

Each job is one call; every job that rewrites a file first copies it to <file>.bak.

  draw            boxes and landmarks drawn onto the frames of -i, written to -o (for checking by eye)
  extract         face PNGs cut from -i using the file (no detection), with the metadata extract writes
  remove-faces    drop the faces whose PNGs were deleted from -f (and renumber the faces left in -f);
                  -f may be sorted: renamed files and sub-folders (tools.py sort --group) are fine
  leftover-faces  faces in -f (and its sub-folders) that the file does not hold (list, or move with --move-to)
  missing-frames  frames of -i the file has no entry for; also lists entries whose frame is not in -i
  no-faces        frames of -i where the file has no face           (list, or move with --move-to)
  multi-faces     frames with more than one face (frames of -i, or their faces in -f, with --move-to)
  merge           join the faces of --other into the file (or -o)
  rename          rename frames: --stem NEW, --offset N, or -i to take the names of another source
  spatial         smooth the landmarks over time (--strength) so alignments stop jittering
  export          plain JSON (boxes, landmarks, matrices, scores) for other tools, to -o
  stats           counts, face sizes, scores, detectors, masks
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

JOBS = ("draw", "extract", "remove-faces", "leftover-faces", "missing-frames", "no-faces", "multi-faces",
        "merge", "rename", "spatial", "export", "stats")
NEEDS = {  # what each job must be given, beyond the alignments file
    "draw": ("input",), "extract": ("input",), "remove-faces": ("faces",), "leftover-faces": ("faces",),
    "missing-frames": ("input",), "merge": ("other",),
}


def add_arguments(parser) -> None:
    parser.add_argument("-j", "--job", required=True, choices=JOBS, help="what to do (see above)")
    parser.add_argument("-p", "--alignments", metavar="FILE",
                        help="the alignments file (default: beside -i, as extract writes it)")
    parser.add_argument("-i", "--input", metavar="PATH", help="the frames: the video or folder the file was made from")
    parser.add_argument("-f", "--faces", metavar="FOLDER", help="a folder of face PNGs written by extract")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="draw/extract: output folder; merge/export: output file (merge default: the file itself)")
    parser.add_argument("--move-to", metavar="FOLDER",
                        help="leftover-faces/missing-frames/no-faces/multi-faces: move what was found here")
    parser.add_argument("--other", metavar="FILE", help="merge: the second alignments file")
    parser.add_argument("--stem", help="rename: new frame-name stem (after renaming the video)")
    parser.add_argument("--offset", type=int, default=0, help="rename: add this to every frame number")
    parser.add_argument("--strength", type=float, default=2.0,
                        help="spatial: smoothing over time, in frames (Gaussian sigma; default 2)")
    parser.add_argument("-s", "--size", type=int, default=256, help="extract: face size in pixels (default 256)")
    parser.add_argument("--centering", default="face", choices=("face", "head"), help="extract: crop (default face)")


def run(args) -> int:
    from lib.alignments import Alignments, default_path
    for need in NEEDS.get(args.job, ()):
        if not getattr(args, need):
            flag = {"input": "-i FRAMES", "faces": "-f FACES_FOLDER", "other": "--other FILE"}[need]
            raise FaceswapError(f"alignments -j {args.job} needs {flag}")
    if args.alignments:
        path = Path(args.alignments)
    elif args.input:
        path = default_path(args.input)
    else:
        raise FaceswapError("pass the alignments file with -p FILE (or -i FRAMES to find it beside them)")
    if path.is_dir():
        raise FaceswapError(f"{path} is a folder: -p takes the alignments file (e.g. clip_alignments.json)")
    alignments = Alignments.load(path)
    return globals()["_" + args.job.replace("-", "_")](args, alignments, path) or 0


# ---------------------------------------------------------------------------------------------- helpers
def _ordered(names) -> list[str]:
    """Frame names in frame order (by their number where they have one, else naturally)."""
    import re

    from lib.video import frame_index

    def key(name):
        index = frame_index(name)
        natural = [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]
        return (0, index, "") if index is not None else (1, 0, natural)
    return sorted(names, key=key)


def _source(args, alignments):
    """The frames source of -i, checked to be the one the file describes (at least one frame name shared)."""
    from lib.video import Source
    source = Source(args.input)
    names = set(source.names())
    if alignments.frames and not names & set(alignments.frames):
        example = next(iter(alignments.frames))
        raise FaceswapError(f"-i {args.input} is not what the alignments file describes: none of its frame names "
                            f"(e.g. {source.names()[0]}) is in the file (e.g. {example}); pass the matching "
                            f"video/folder, or fix the names with -j rename")
    return source


def _save(alignments, path: Path, what: str) -> None:
    from lib.fileio import backup
    saved = backup(path)
    alignments.save(path)
    print(f"{what}; saved {path}" + (f" (previous version kept as {saved})" if saved else ""))


def _report(title: str, items: list[str]) -> None:
    print(f"{title}: {len(items)}")
    for item in items:
        print(f"  {item}")


def _move(paths: list[Path], folder: Path) -> None:
    """Move files into ``folder``, never over an existing file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FaceswapError(f"--move-to {folder} is a file: give a folder")
    clashes = [p.name for p in paths if (folder / p.name).exists()]
    if clashes:
        raise FaceswapError(f"--move-to {folder} already holds {clashes[0]}" +
                            (f" and {len(clashes) - 1} more" if len(clashes) > 1 else "") + ": choose an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.move(str(path), str(folder / path.name))
    print(f"moved {len(paths)} file(s) to {folder}")


def _frame_files(args, names: list[str]) -> list[Path]:
    """The files of frames ``names`` in the -i folder (a video's frames cannot be moved)."""
    if not args.input:
        raise FaceswapError(f"-j {args.job} --move-to needs -i FRAMES_FOLDER (the frames to move)")
    folder = Path(args.input)
    if not folder.is_dir():
        raise FaceswapError(f"-j {args.job} --move-to moves frame files, but -i {folder} is not a folder of frames "
                            f"(turn a video into frames with 'tools.py effmpeg -a extract')")
    from lib.fileio import safe_child
    paths = [safe_child(folder, name) for name in names]   # names come from the file: never outside -i
    return [path for path in paths if path.is_file()]


def _rewrite_faces(jobs: list[tuple]) -> None:
    """Update face PNGs' metadata, pixels unchanged: ``jobs`` of (FaceFile, new frame, new face index, changes).

    A file with extract's name gets its new name; a file the user renamed (e.g. by tools.py sort) keeps its
    name. All files are first written to temp names, then renamed, so renaming a set of faces onto each
    other's names (frame numbers shifted by one) never overwrites a face that has not moved yet.
    """
    from lib.faces import encode_face_png, face_filename, read_face_png
    from lib.fileio import atomic_write_bytes
    staged = []
    for face_file, frame, face_index, changes in jobs:
        old_frame, old_index = face_file.key
        standard = face_file.path.name == face_filename(old_frame, old_index)
        target = face_file.path.with_name(face_filename(frame, face_index)) if standard else face_file.path
        image, meta = read_face_png(face_file.path)
        temp = face_file.path.with_name(f".{target.name}.renaming")
        atomic_write_bytes(temp, encode_face_png(image, dict(meta, **changes)))
        face_file.path.unlink()
        staged.append((temp, target))
    for temp, target in staged:
        temp.replace(target)


# ---------------------------------------------------------------------------------------------- jobs
def _draw(args, alignments, path) -> None:
    """Boxes green, landmarks red, the face index beside its box; one JPEG per frame that has an entry."""
    import cv2
    import numpy as np
    from tqdm import tqdm

    from lib.fileio import atomic_write_bytes
    source = _source(args, alignments)
    out = Path(args.output) if args.output else Path(args.input).with_name(f"{source.stem}_drawn")
    if out.exists() and not out.is_dir():
        raise FaceswapError(f"-o {out} is a file: draw writes frames into a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for frame in tqdm(source.frames(), total=source.count, desc="draw", unit="frame"):
        if frame.name not in alignments.frames:
            continue
        image = frame.image.copy()
        thick = max(1, round(max(image.shape[:2]) / 500))
        for i, face in enumerate(alignments.frames[frame.name]):
            x, y, w, h = (int(v) for v in face.box)
            cv2.rectangle(image, (x, y), (x + w, y + h), (0, 255, 0), thick)
            for px, py in np.round(face.landmarks).astype(int):
                cv2.circle(image, (int(px), int(py)), thick + 1, (0, 0, 255), -1)
            cv2.putText(image, str(i), (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick + 0.2,
                        (0, 255, 0), thick)
        _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        atomic_write_bytes(out / f"{Path(frame.name).stem}.jpg", data.tobytes())
        written += 1
    print(f"drew {alignments.face_count()} faces on {written} frames into {out}")


def _extract(args, alignments, path) -> None:
    """Cut faces with the file's matrices: fixes a faces folder after editing alignments, no detector run."""
    from tqdm import tqdm

    from lib.faces import face_filename, face_meta, warp_face, write_face_png
    source = _source(args, alignments)
    if args.size < 16:
        raise FaceswapError(f"--size {args.size} is too small: use 64 or more")
    out = Path(args.output) if args.output else Path(args.input).with_name(f"{source.stem}_faces")
    if out.exists() and not out.is_dir():
        raise FaceswapError(f"-o {out} is a file: extract writes faces into a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for frame in tqdm(source.frames(), total=source.count, desc="extract", unit="frame"):
        for i, face in enumerate(alignments.faces(frame.name)):
            crop = warp_face(frame.image, face.matrix, args.size, args.centering)
            meta = face_meta(face, source.path.name, frame.name, frame.index, i, args.size, args.centering)
            write_face_png(out / face_filename(frame.name, i), crop, meta)
            written += 1
    print(f"wrote {written} faces to {out}")


def _remove_faces(args, alignments, path) -> None:
    """Keep in the file exactly the faces whose PNG is still in -f; renumber the PNGs of frames that changed."""
    from lib import faceset
    files = faceset.scan(args.faces, need_meta=True, recursive=True)
    present = faceset.by_key(files)
    ours = {key for key in present if key[0] in alignments.frames}
    if not ours:
        example = next(iter(present))[0] if present else "?"
        raise FaceswapError(f"no face in {args.faces} comes from the frames of {path} (faces are of frames such as "
                            f"{example}): wrong faces folder or alignments file? nothing was changed")
    removed, emptied, renumber = 0, 0, []
    for frame, faces in alignments.frames.items():
        if not faces:
            continue
        keep = [i for i in range(len(faces)) if (frame, i) in present]
        if len(keep) == len(faces):
            continue
        removed += len(faces) - len(keep)
        emptied += not keep
        alignments.frames[frame] = [faces[i] for i in keep]
        renumber += [(present[(frame, old)], frame, new) for new, old in enumerate(keep) if old != new]
    if not removed:
        print(f"every face of {path} still has its PNG in {args.faces}: nothing to remove")
        return
    if removed > (alignments.face_count() + removed) / 2:
        log.warning("more than half of the faces had no PNG in %s: if that folder holds only part of the faces, "
                    "restore %s.bak", args.faces, path.name)
    _save(alignments, path, f"removed {removed} face(s) ({emptied} frame(s) now have none)")
    # the PNGs left must name their new face index
    _rewrite_faces([(face_file, frame, new, {"face_index": new}) for face_file, frame, new in renumber])
    if renumber:
        print(f"renumbered {len(renumber)} face PNG(s) in {args.faces} to match")


def _leftover_faces(args, alignments, path) -> None:
    from lib import faceset
    files = faceset.scan(args.faces, recursive=True)
    left = [f for f in files if f.key is None or f.key[0] not in alignments.frames
            or f.key[1] >= len(alignments.frames[f.key[0]])]
    if len(left) == len(files) and files:
        log.warning("none of the faces in %s is in %s: is it the right alignments file?", args.faces, path)
    _report(f"faces in {args.faces} that {path.name} does not hold", [f.path.name for f in left])
    if args.move_to and left:
        _move([f.path for f in left], Path(args.move_to))


def _missing_frames(args, alignments, path) -> None:
    from lib.video import Source
    source = Source(args.input)
    names = source.names()
    unlisted = [name for name in names if name not in alignments.frames]
    gone = _ordered(set(alignments.frames) - set(names))
    if len(unlisted) == len(names) and names:
        log.warning("none of the frames of %s is in %s: is it the right input?", args.input, path)
    _report(f"frames of {args.input} with no entry in {path.name}", unlisted)
    _report(f"entries of {path.name} whose frame is not in {args.input}", gone)
    if args.move_to and unlisted:
        _move(_frame_files(args, unlisted), Path(args.move_to))


def _no_faces(args, alignments, path) -> None:
    empty = _ordered(name for name, faces in alignments.frames.items() if not faces)
    if args.input:
        _source(args, alignments)
    _report(f"frames with no face in {path.name}", empty)
    if args.move_to and empty:
        _move(_frame_files(args, empty), Path(args.move_to))


def _multi_faces(args, alignments, path) -> None:
    from lib import faceset
    multi = _ordered(name for name, faces in alignments.frames.items() if len(faces) > 1)
    _report(f"frames with more than one face in {path.name}",
            [f"{name} ({len(alignments.frames[name])} faces)" for name in multi])
    if not (args.move_to and multi):
        return
    if args.faces:  # move the faces of those frames, so the user can pick the right one
        wanted = set(multi)
        _move([f.path for f in faceset.scan(args.faces) if f.key and f.key[0] in wanted], Path(args.move_to))
    else:
        if args.input:
            _source(args, alignments)
        _move(_frame_files(args, multi), Path(args.move_to))


def _iou(a, b) -> float:
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _merge(args, alignments, path) -> None:
    """Frames of either file; where both have a frame, the second file's faces that overlap none of the
    first's (box IoU < 0.5) are added, so merging a file with itself changes nothing."""
    from lib.alignments import Alignments
    other_path = Path(args.other)
    if other_path.resolve() == path.resolve():
        raise FaceswapError(f"--other {other_path} is the same file as -p: give the second alignments file")
    other = Alignments.load(other_path)
    a_src, b_src = alignments.source.get("path"), other.source.get("path")
    if a_src and b_src and Path(a_src).name != Path(b_src).name and set(alignments.frames) & set(other.frames):
        log.warning("the two files describe different sources (%s, %s) but share frame names", a_src, b_src)
    new_frames, added = 0, 0
    for name, faces in other.frames.items():
        if name not in alignments.frames:
            alignments.frames[name] = list(faces)
            new_frames += 1
            added += len(faces)
            continue
        mine = alignments.frames[name]
        extra = [f for f in faces if all(_iou(f.box, m.box) < 0.5 for m in mine)]
        mine.extend(extra)
        added += len(extra)
    alignments.frames = {name: alignments.frames[name] for name in _ordered(alignments.frames)}
    out = Path(args.output) if args.output else path
    what = f"merged {other_path}: {new_frames} new frame(s), {added} face(s) added, {alignments.face_count()} in all"
    if out == path:
        _save(alignments, path, what)
    else:
        _save(alignments, out, what)


def _rename(args, alignments, path) -> None:
    """New frame names by frame number: a new stem, an offset, or the names of another source (-i)."""
    from lib import faceset
    from lib.video import Source, frame_index, frame_name
    if not (args.stem or args.offset or args.input):
        raise FaceswapError("rename needs --stem NEW, --offset N or -i NEW_FRAMES (frames renamed by number)")
    targets = Source(args.input).names() if args.input else None
    mapping = {}
    for name in alignments.frames:
        index = frame_index(name)
        if index is None:
            raise FaceswapError(f"frame '{name}' in {path} has no frame number (<stem>_<000123>.png): "
                                f"rename works on numbered frames only")
        new_index = index + args.offset
        if new_index < 0:
            raise FaceswapError(f"--offset {args.offset} makes frame {name} negative")
        if targets is not None:
            if new_index >= len(targets):
                raise FaceswapError(f"-i {args.input} has {len(targets)} frames, but {path} has frame {name} "
                                    f"(number {new_index}): not the same footage?")
            mapping[name] = targets[new_index]
        else:
            stem = args.stem or name[: name.rfind("_")]
            mapping[name] = frame_name(stem, new_index)
    from lib.validate import plain_name
    for new in mapping.values():
        try:
            plain_name(new)
        except ValueError as err:
            raise FaceswapError(f"rename: the new frame names would not be plain file names ({err}): check --stem")
    if len(set(mapping.values())) != len(mapping):
        raise FaceswapError("the new names would collide (two frames with one name): check --stem/--offset")
    faces = faceset.scan(args.faces, need_meta=True, recursive=True) if args.faces else []
    alignments.frames = {mapping[name]: faces_ for name, faces_ in alignments.frames.items()}
    if args.input:
        alignments.source["path"] = str(Path(args.input))
    changed = sum(1 for old, new in mapping.items() if old != new)
    first = next(iter(mapping.items()), ("-", "-"))
    _save(alignments, path, f"renamed {changed} frame(s) (e.g. {first[0]} -> {first[1]})")
    jobs = []
    for face in faces:  # keep the face PNGs pointing at their frames
        if face.key is None or face.key[0] not in mapping or mapping[face.key[0]] == face.key[0]:
            continue
        new = mapping[face.key[0]]
        changes = {"frame": new, "frame_index": frame_index(new)}
        if args.input:
            changes["source"] = Path(args.input).name
        jobs.append((face, new, face.key[1], changes))
    _rewrite_faces(jobs)
    if faces:
        print(f"updated {len(jobs)} face PNG(s) in {args.faces} to the new frame names")


def _spatial(args, alignments, path) -> None:
    """Zero-phase smoothing of each face track (lib/smooth.py, the same filter convert uses)."""
    from lib.smooth import frames_jitter, smooth_alignments
    if args.strength <= 0:
        raise FaceswapError(f"--strength must be above 0 (got {args.strength}); 1-3 suits most videos")
    names = _ordered(alignments.frames)
    frames = [alignments.frames[name] for name in names]
    before = frames_jitter(frames)
    changed = smooth_alignments(alignments, args.strength, names)
    after = frames_jitter(frames)
    if not changed:
        print("no face track is 3 frames or longer: nothing to smooth")
        return
    _save(alignments, path, f"smoothed {changed} face(s): landmark jitter {before * 100:.3f}% -> "
                            f"{after * 100:.3f}% of face width per frame")


def _export(args, alignments, path) -> None:
    """Plain JSON with no faceswap types: what another program needs to use the detections."""
    from lib.fileio import atomic_write_bytes, backup
    out = Path(args.output) if args.output else path.with_name(path.stem + "_export.json")
    if out.resolve() == path.resolve():
        raise FaceswapError(f"-o {out} is the alignments file itself: choose another name")
    frames = {}
    for name in _ordered(alignments.frames):
        frames[name] = [{"box": [int(v) for v in face.box], "score": round(float(face.score), 4),
                         "detector": face.detector,
                         "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks],
                         "matrix": [[round(float(v), 8) for v in row] for row in face.matrix],
                         "identity": None if face.identity is None else [round(float(v), 6) for v in face.identity]}
                        for face in alignments.frames[name]]
    doc = {"source": alignments.source, "box_format": "x, y, width, height (frame pixels)",
           "landmarks_format": "68 points (dlib/iBUG order), x, y in frame pixels",
           "matrix_format": "2x3 affine, frame pixels -> normalised face template", "frames": frames}
    backup(out)
    atomic_write_bytes(out, json.dumps(doc).encode())
    print(f"exported {alignments.face_count()} faces in {len(frames)} frames to {out}")


def _stats(args, alignments, path) -> None:
    import numpy as np

    from lib.faces import face_size_px
    faces = [face for faces in alignments.frames.values() for face in faces]
    counts = [len(f) for f in alignments.frames.values()]
    rows = [("file", path), ("source", alignments.source.get("path", "?")),
            ("frames in source", alignments.source.get("frame_count", "?")),
            ("frames in file", len(alignments)), ("frames with a face", sum(c > 0 for c in counts)),
            ("frames with no face", sum(c == 0 for c in counts)),
            ("frames with 2+ faces", sum(c > 1 for c in counts)), ("faces", len(faces))]
    if faces:
        sizes = np.array([face_size_px(face.matrix) for face in faces])
        scores = np.array([face.score for face in faces])
        detectors: dict[str, int] = {}
        masks: dict[str, int] = {}
        for face in faces:
            detectors[face.detector or "?"] = detectors.get(face.detector or "?", 0) + 1
            for name in face.masks:
                masks[name] = masks.get(name, 0) + 1
        rows += [("face size px (min/median/max)", f"{sizes.min():.0f} / {np.median(sizes):.0f} / {sizes.max():.0f}"),
                 ("score (min/median)", f"{scores.min():.3f} / {np.median(scores):.3f}"),
                 ("detectors", ", ".join(f"{k} {v}" for k, v in sorted(detectors.items()))),
                 ("with identity", sum(face.identity is not None for face in faces)),
                 ("masks", ", ".join(f"{k} {v}" for k, v in sorted(masks.items())) or "none")]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
