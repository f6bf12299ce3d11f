"""Preview convert settings on a few sample frames: one PNG grid, so you pick settings before a long convert.

Rows are sample faces spread over the input; columns are the original, the base settings (the first value
of each option below, convert's defaults when not given), then one column per other value of each option,
changed one at a time from the base. With no option given, every mask and colour plugin is shown.

example: python tools.py preview -i A.mp4 -m model_dir -o grid.png -c avg-color color-transfer --mask-blur 2 8
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from lib import registry
from lib.errors import FaceswapError

log = logging.getLogger(__name__)
CELL = 200


def add_arguments(parser) -> None:
    parser.add_argument("-i", "--input", required=True, metavar="PATH", help="video or folder of frames to convert")
    parser.add_argument("-m", "--model-dir", required=True, metavar="DIR", help="model folder written by 'train -m'")
    parser.add_argument("-o", "--output", required=True, metavar="PNG", help="the grid image to write (.png)")
    parser.add_argument("-p", "--alignments", metavar="FILE",
                        help="alignments file (default: beside the input; faces are detected when there is none)")
    parser.add_argument("--samples", type=int, default=4, help="sample faces, spread over the input (default 4)")
    parser.add_argument("--swap-model", action="store_true", help="swap B -> A instead of A -> B")
    parser.add_argument("-M", "--mask-type", nargs="+", choices=registry.names("convert.mask"), help="masks to compare")
    parser.add_argument("--mask-blur", nargs="+", type=float, help="mask edge blurs to compare (percent of the crop)")
    parser.add_argument("--mask-erode", nargs="+", type=float, help="mask erosions to compare (percent; <0 grows)")
    parser.add_argument("-c", "--color-adjustment", nargs="+", choices=registry.names("convert.color"),
                        help="colour plugins to compare")
    parser.add_argument("-S", "--scaling", nargs="+", choices=registry.names("convert.scaling"),
                        help="scaling plugins to compare")


def run(args) -> int:
    import cv2

    from lib.convert import BlendSettings, Blender, Predictor
    from lib.fileio import atomic_path
    from lib.model.store import load_model
    from lib.video import Source
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise FaceswapError(f"-o {out} must be a .png file")
    if args.samples < 1:
        raise FaceswapError("--samples must be 1 or more")
    source = Source(args.input)
    model = load_model(args.model_dir)
    columns = _columns(args, BlendSettings(label=False), model.learns_mask)
    samples = _samples(args, source)
    if not samples:
        raise FaceswapError(f"no face found in {args.input}: nothing to preview")
    predictor = Predictor(model, "b2a" if args.swap_model else "a2b", batch_size=len(samples))
    crops = np.stack([predictor.crop(frame, face) for frame, face in samples])
    faces, masks = predictor(crops)
    rows = [_header(["original", *[title for title, _ in columns]])]
    for k, (frame, face) in enumerate(samples):
        cells = [_cell(frame, face)]
        for _, settings in columns:
            image = frame.copy()
            Blender(settings, model.output_size, model.centering, model.learns_mask).blend_face(
                image, face, faces[k], None if masks is None else masks[k])
            cells.append(_cell(image, face))
        rows.append(np.hstack(cells))
    with atomic_path(out) as tmp:
        if not cv2.imwrite(str(tmp), np.vstack(rows)):
            raise FaceswapError(f"could not write {out}")
    print(f"wrote {out}: {len(samples)} sample face(s) x {len(columns)} setting(s) (+ original)")
    return 0


def _columns(args, base, learns_mask: bool) -> list[tuple[str, object]]:
    """(title, settings) per column: the base, then each other value of each option on its own."""
    given = any((args.mask_type, args.mask_blur, args.mask_erode, args.color_adjustment, args.scaling))
    masks = args.mask_type or ([] if given else [base.mask] + [m for m in registry.names("convert.mask")
                                                               if m != base.mask and (m != "predicted" or learns_mask)])
    colors = args.color_adjustment or ([] if given else [base.color] + [c for c in registry.names("convert.color")
                                                                        if c != base.color])
    if "predicted" in masks and not learns_mask:
        raise FaceswapError("mask 'predicted' needs a model that learns a mask, and this one does not: leave it out")
    options = {"mask": masks, "mask_blur": args.mask_blur or [], "mask_erode": args.mask_erode or [],
               "color": colors, "scaling": args.scaling or []}
    first = {key: values[0] for key, values in options.items() if values}
    base = replace(base, **first)
    columns = [("base: " + _describe(base), base)]
    for key, values in options.items():
        for value in values[1:]:
            columns.append((f"{key.replace('_', ' ')} {value}", replace(base, **{key: value})))
    return columns


def _describe(settings) -> str:
    return f"{settings.mask} {settings.color}"


def _samples(args, source) -> list[tuple[np.ndarray, object]]:
    """(frame image, face) pairs: the first face of ``--samples`` frames spread over those that have one."""
    from scripts.convert import load_faces
    faces_by_index, _ = load_faces(_namespace(alignments=args.alignments), source)
    if faces_by_index is not None:
        with_faces = sorted(i for i, faces in faces_by_index.items() if faces)
        wanted = {with_faces[i] for i in _spread(len(with_faces), args.samples)}
        return [(frame.image, faces_by_index[frame.index][0]) for frame in _frames(source, wanted)]
    from lib.extractor import Extractor
    extractor = Extractor(masks=(), identity=False)
    picked = []
    candidates = {i for i in _spread(source.count, args.samples * 3)}
    for frame in _frames(source, candidates):
        found = extractor.faces(frame.image)
        if found and len(picked) < args.samples:
            picked.append((frame.image, max(found, key=lambda f: int(f.box[2]) * int(f.box[3]))))
    return picked


def _namespace(**fields):
    import argparse
    return argparse.Namespace(**fields)


def _frames(source, wanted: set[int]):
    """Only the wanted frames, stopping the decoder after the last one."""
    last = max(wanted) if wanted else -1
    for frame in source.frames():
        if frame.index in wanted:
            yield frame
        if frame.index >= last:
            break


def _spread(count: int, samples: int) -> list[int]:
    if count <= 0:
        return []
    return sorted(set(np.linspace(0, count - 1, min(samples, count) + 2)[1:-1].round().astype(int).tolist()))


def _cell(image: np.ndarray, face) -> np.ndarray:
    """The area around the face (1.8x its box), as a CELL x CELL square."""
    import cv2
    x, y, w, h = (float(v) for v in face.box)
    side = 1.8 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    scale = CELL / side
    mat = np.array([[scale, 0, CELL / 2 - cx * scale], [0, scale, CELL / 2 - cy * scale]])
    return cv2.warpAffine(image, mat, (CELL, CELL), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def _header(titles: list[str]) -> np.ndarray:
    import cv2
    bar = np.full((36, CELL * len(titles), 3), 32, np.uint8)
    for i, title in enumerate(titles):
        words, lines = title.split(), [""]
        for word in words:   # wrap at the cell width
            if cv2.getTextSize((lines[-1] + " " + word).strip(), cv2.FONT_HERSHEY_SIMPLEX, 0.42, 1)[0][0] > CELL - 8:
                lines.append(word)
            else:
                lines[-1] = (lines[-1] + " " + word).strip()
        for j, line in enumerate(lines[:2]):
            cv2.putText(bar, line, (i * CELL + 4, 15 + 16 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1)
    return bar
