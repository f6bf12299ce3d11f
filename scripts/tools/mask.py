"""(Re)generate face masks for an alignments file or a faces folder, and preview them on sample faces.

  -p FILE      draw the masks (-M, default: every extract.mask plugin) from each face's landmarks into the
               alignments file, in its mask space (a backup of the file is kept as <file>.bak)
  -f FOLDER    write each face's masks as grey PNGs into -o (<face name minus .png>_<mask>.png, crop size)
  --preview    one PNG sheet: sample faces (from -f, or cut from -i frames with -p) beside each mask,
               the face dimmed outside the mask, so you can pick a mask before training or converting

The learned mask (lib/learned_masks.py), which leaves hands, microphones and hair in front of the face alone:
  -f FOLDER --import LABELS            store PNG masks named like the faces (white = face) as their labels
  -f FOLDER --train --mask-model DIR   train the mask model on the labelled faces, then mask every face
  -f FOLDER --mask-model DIR           draw the learned mask of every face (into its metadata)
  -p FILE -i FRAMES --mask-model DIR   draw it into the alignments file, for convert -M learned
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    from lib import registry
    from lib.cli import positive_int
    parser.add_argument("-p", "--alignments", metavar="FILE", help="alignments file whose masks to (re)generate")
    parser.add_argument("-i", "--input", metavar="PATH", help="with -p and --preview: the frames (video or folder)")
    parser.add_argument("-f", "--faces", metavar="FOLDER", help="folder of face PNGs (from extract)")
    parser.add_argument("-o", "--output", metavar="FOLDER", help="with -f: where the mask PNGs go")
    parser.add_argument("-M", "--masks", nargs="+", choices=registry.names("extract.mask"),
                        help="which masks (default: all of them)")
    parser.add_argument("--preview", metavar="PNG", help="write a preview sheet of sample faces and their masks here")
    parser.add_argument("--samples", type=int, default=8, help="faces in the preview (evenly spread; default 8)")
    learned = parser.add_argument_group("learned mask", "a mask net trained on your own labels (see USAGE.md)")
    learned.add_argument("--import", dest="import_labels", metavar="FOLDER",
                         help="with -f: store the PNG masks of FOLDER (each named like its face; white = face, black "
                              "= what covers it and the background) as the faces' labels")
    learned.add_argument("--train", action="store_true",
                         help="with -f and --mask-model: train the mask model on the labelled faces (further, if it "
                              "exists), then draw the learned mask of every face")
    learned.add_argument("--mask-model", metavar="FOLDER",
                         help="the learned mask model's folder; without --train, draw the learned mask with it: into "
                              "each face's metadata (-f) or into the alignments file (-p with -i FRAMES)")
    learned.add_argument("--iterations", type=positive_int, default=1000, metavar="N",
                         help="with --train: training batches (default 1000)")


def run(args) -> int:
    from lib import registry
    if args.import_labels or args.train or args.mask_model:
        return _learned(args)
    if bool(args.alignments) == bool(args.faces):
        raise FaceswapError("mask needs either -p ALIGNMENTS_FILE or -f FACES_FOLDER (one of them)")
    if args.samples < 1:
        raise FaceswapError("--samples must be 1 or more")
    masks = args.masks or registry.names("extract.mask")
    if args.preview and Path(args.preview).suffix.lower() != ".png":
        raise FaceswapError(f"--preview {args.preview} must be a .png file")
    if args.faces:
        _faces_folder(args, masks)
    else:
        _alignments_file(args, masks)
    return 0


def _draw(name: str, landmarks: np.ndarray, size: int) -> np.ndarray:
    from lib import registry
    return registry.get("extract.mask", name)(landmarks, size)


def _faces_folder(args, masks: list[str]) -> None:
    import cv2
    from tqdm import tqdm

    from lib import faceset
    from lib.faces import crop_matrix, transform_points
    from lib.fileio import atomic_path
    from lib.video import read_image
    if not (args.output or args.preview):
        raise FaceswapError("with -f, pass -o FOLDER for the mask PNGs and/or --preview SHEET.png")
    files = [f for f in faceset.scan(args.faces, need_meta=True) if f.meta and "landmarks" in f.meta]
    out = Path(args.output) if args.output else None
    if out:
        if out.resolve() == Path(args.faces).resolve():
            raise FaceswapError("-o is the faces folder: masks are not faces, write them to another folder")
        out.mkdir(parents=True, exist_ok=True)
    picks = set(_spread(len(files), args.samples))
    samples = []
    for i, face in enumerate(tqdm(files, desc="masks", unit="face", disable=None)):
        image = read_image(face.path)
        size = image.shape[0]
        matrix = crop_matrix(np.asarray(face.meta["matrix"]), size, face.meta.get("centering", "face"))
        points = transform_points(np.asarray(face.meta["landmarks"]), matrix)
        drawn = {name: _draw(name, points, size) for name in masks}
        if out:
            for name, mask in drawn.items():
                with atomic_path(out / f"{face.path.stem}_{name}.png") as tmp:
                    cv2.imwrite(str(tmp), mask)
        if i in picks:
            samples.append((image, drawn))
    if out:
        print(f"wrote {len(files) * len(masks)} mask(s) ({', '.join(masks)}) of {len(files)} faces to {out}")
    if args.preview:
        _sheet(samples, masks, Path(args.preview))


def _alignments_file(args, masks: list[str]) -> None:
    from lib.alignments import Alignments
    from lib.faces import crop_matrix, transform_points
    from lib.fileio import backup
    if args.output:
        raise FaceswapError("-o is for -f (mask PNGs of a faces folder); with -p the masks go into the file itself")
    if args.preview and not args.input:
        raise FaceswapError("--preview with -p needs -i FRAMES (the video or folder the file was made from)")
    path = Path(args.alignments)
    alignments = Alignments.load(path)
    size, centering = int(alignments.mask.get("size", 128)), alignments.mask.get("centering", "face")
    count = 0
    for faces in alignments.frames.values():
        for face in faces:
            points = transform_points(face.landmarks, crop_matrix(face.matrix, size, centering))
            for name in masks:
                face.masks[name] = _draw(name, points, size)
            count += 1
    if not count:
        raise FaceswapError(f"{path} holds no faces: nothing to mask (run extract first)")
    saved = backup(path)
    alignments.save(path)
    print(f"drew {', '.join(masks)} for {count} faces into {path} (previous version kept as {saved})")
    if args.preview:
        _sheet(_samples_from_frames(args, alignments, masks), masks, Path(args.preview))


def _samples_from_frames(args, alignments, masks):
    """Sample faces cut from the frames with the file's matrices, with masks at the crop's size."""
    from lib.faces import crop_matrix, transform_points, warp_face
    from lib.video import Source
    source = Source(args.input)
    wanted = [name for name in source.names() if alignments.faces(name)]
    if not wanted:
        raise FaceswapError(f"none of the frames of {args.input} has a face in {args.alignments}: wrong -i?")
    picks = {wanted[i] for i in _spread(len(wanted), args.samples)}
    size, samples = 256, []
    for frame in source.frames():
        if frame.name in picks:
            face = alignments.faces(frame.name)[0]
            crop = warp_face(frame.image, face.matrix, size, "face")
            points = transform_points(face.landmarks, crop_matrix(face.matrix, size, "face"))
            samples.append((crop, {name: _draw(name, points, size) for name in masks}))
            if len(samples) == len(picks):
                break
    return samples


def _spread(count: int, samples: int) -> list[int]:
    return sorted(set(np.linspace(0, count - 1, min(samples, count)).round().astype(int).tolist())) if count else []


def _sheet(samples, masks: list[str], path: Path) -> None:
    """Rows of face | face dimmed outside each mask, with a header naming the columns."""
    import cv2

    from lib.fileio import atomic_path
    cell = 160
    header = np.full((28, cell * (len(masks) + 1), 3), 32, np.uint8)
    for col, title in enumerate(["face", *masks]):
        cv2.putText(header, title, (col * cell + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1)
    rows = [header]
    for image, drawn in samples:
        face = cv2.resize(image, (cell, cell), interpolation=cv2.INTER_AREA)
        cells = [face]
        for name in masks:
            mask = cv2.resize(drawn[name], (cell, cell), interpolation=cv2.INTER_LINEAR)[..., None] / 255.0
            shown = face * (0.25 + 0.75 * mask)
            edge = cv2.Canny(drawn[name], 50, 150)
            shown[cv2.resize(edge, (cell, cell)) > 0] = (0, 255, 0)
            cells.append(shown.astype(np.uint8))
        rows.append(np.hstack(cells))
    with atomic_path(path) as tmp:
        cv2.imwrite(str(tmp), np.vstack(rows))
    print(f"wrote mask preview of {len(samples)} faces to {path}")


def _learned(args) -> int:
    """--import, --train, --mask-model: the learned mask's steps (lib.learned_masks does the work)."""
    from tqdm import tqdm

    from lib import learned_masks
    if args.import_labels or args.train:
        if not args.faces or args.alignments:
            raise FaceswapError("--import and --train work on a faces folder: pass -f FACES_FOLDER (not -p)")
    elif bool(args.alignments) == bool(args.faces):
        raise FaceswapError("--mask-model needs either -f FACES_FOLDER or -p ALIGNMENTS_FILE with -i FRAMES")
    if args.import_labels:
        count = learned_masks.import_labels(args.faces, args.import_labels)
        print(f"stored {count} label(s) from {args.import_labels} in the faces of {args.faces}")
    if args.train and not args.mask_model:
        raise FaceswapError("--train needs --mask-model FOLDER: where the mask model is saved")
    if args.train:
        with tqdm(total=args.iterations, desc="train mask", unit="it", disable=None) as bar:
            result = learned_masks.train(args.faces, args.mask_model, args.iterations,
                                         progress=lambda done, total, loss: bar.update(1) or bar.set_postfix(
                                             loss=f"{loss:.3f}", refresh=False))
        print(f"trained mask model {args.mask_model} on {result['labelled']} labelled face(s): "
              f"{result['iterations']} iterations in all, loss {result['loss']:.3f}")
    if not args.mask_model:
        return 0
    with tqdm(desc="learned mask", unit="face", disable=None) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)
        if args.faces:
            count = learned_masks.mask_faces(args.faces, args.mask_model, progress)
            print(f"drew the learned mask of {count} face(s) into their metadata in {args.faces}")
        else:
            if not args.input:
                raise FaceswapError("--mask-model with -p needs -i FRAMES: the video or folder the file was made from")
            count = learned_masks.mask_alignments(args.alignments, args.input, args.mask_model, progress)
            print(f"drew the learned mask of {count} face(s) into {args.alignments} (previous version kept as "
                  f"{args.alignments}.bak): convert with -M learned")
    return 0
