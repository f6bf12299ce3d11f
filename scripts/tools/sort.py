"""Sort a folder of faces: by identity, blur, histogram, yaw, pitch, size or brightness; drop outliers.

Faces are copied (or moved with --move) into -o, either renamed in order (00000_<name>.png, best first)
or, with --group, into folders (identity/histogram: clusters, biggest first; the others: --bins ranges).
Files keep their bytes, so their metadata stays and the alignments tools still find them.

  identity    distance to --ref photos (nearest first), or clusters of look-alike faces (no --ref)
  blur        sharpest first (variance of the Laplacian inside the face)
  histogram   each face next to the one whose colour histogram is most like it
  yaw/pitch   head turn left->right / down->up, in degrees (solvePnP on the landmarks)
  size        biggest face in its frame first        brightness  brightest face area first

--remove-outliers moves faces unlike the rest (identity distance from the main person above --threshold)
into --outliers-dir (default: <output>/outliers) before sorting.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from lib.errors import FaceswapError
from lib.sort import METHODS

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("-i", "--input", required=True, metavar="FOLDER", help="folder of face PNGs (from extract)")
    parser.add_argument("-o", "--output", metavar="FOLDER", help="where the sorted faces go (default: <input>_sorted)")
    parser.add_argument("-s", "--sort-by", default="identity", choices=METHODS, help="sort key (default identity)")
    parser.add_argument("--ref", nargs="+", metavar="PHOTO",
                        help="identity: photos or face PNGs (files or folders) of the person to put first")
    parser.add_argument("--group", action="store_true",
                        help="into folders instead of ordered names: clusters (identity, histogram) or --bins ranges")
    parser.add_argument("--bins", type=int, default=5, help="--group with a numeric key: number of folders (5)")
    parser.add_argument("--threshold", type=float, default=0.6,
                        help="identity distance that separates people (dlib ResNet; same person < 0.6)")
    parser.add_argument("--move", action="store_true", help="move the faces instead of copying them")
    parser.add_argument("--remove-outliers", action="store_true",
                        help="first move faces unlike the main person (identity) into --outliers-dir")
    parser.add_argument("--outliers-dir", metavar="FOLDER", help="where outliers go (default: <output>/outliers)")


def run(args) -> int:
    from lib import faceset
    from lib.sort import Embedder, Face, arrange, each, split_outliers
    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.name}_sorted")
    if out.resolve() == src.resolve():
        raise FaceswapError(f"-o {out} is the input folder: sort into another folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FaceswapError(f"output {out} exists and is not an empty folder: choose a new -o")
    if args.bins < 1 or not 0 < args.threshold < 2:
        raise FaceswapError("--bins must be 1 or more and --threshold between 0 and 2")
    if args.ref and args.sort_by != "identity":
        raise FaceswapError(f"--ref is for -s identity, not -s {args.sort_by}")
    files = [f for f in faceset.scan(src, need_meta=True) if f.meta]
    faces = [Face(f.path, f.meta) for f in files]
    outliers = []
    if args.remove_outliers or args.sort_by == "identity":
        embedder = Embedder()
        for face, vector in zip(faces, each(faces, embedder.of, "identity")):
            face.identity = vector
    if args.remove_outliers:
        faces, outliers = split_outliers(faces, args.threshold)
    order, groups = arrange(faces, args.sort_by, group=args.group, bins=args.bins, threshold=args.threshold,
                            ref=args.ref)
    out.mkdir(parents=True, exist_ok=True)
    send = shutil.move if args.move else shutil.copy2
    if outliers:
        odir = Path(args.outliers_dir) if args.outliers_dir else out / "outliers"
        odir.mkdir(parents=True, exist_ok=True)
        for face in outliers:
            send(str(face.path), str(odir / face.path.name))
        print(f"moved {len(outliers)} outlier(s) to {odir}" if args.move else
              f"copied {len(outliers)} outlier(s) to {odir}")
    for rank, index in enumerate(order):
        face = faces[index]
        if groups is None:
            target = out / f"{rank:05d}_{face.path.name}"
        else:
            folder = out / groups[index]
            folder.mkdir(exist_ok=True)
            target = folder / face.path.name
        send(str(face.path), str(target))
    where = f"{len(set(groups))} folder(s) in {out}" if groups is not None else str(out)
    print(f"sorted {len(order)} face(s) by {args.sort_by} into {where}")
    return 0
