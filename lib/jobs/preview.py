"""The preview job: convert settings side by side on a few sample faces, as one PNG grid.

Rows are sample faces spread over the input; columns are the original, the base settings (the first value
of each option, convert's defaults when none is given), then one column per other value of each option,
changed one at a time from the base. With no option given, every mask and colour plugin is shown. Each
cell is rendered by convert's own :class:`~lib.jobs.convert.FrameRenderer`, so it is what convert writes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from lib import registry
from lib.convert import check_detail
from lib.errors import FaceswapError
from lib.jobs import Cancel, ProgressFn, Reporter

CELL = 200


@dataclass
class PreviewParams:
    """The options of ``tools.py preview`` (same names and defaults as its argparse dests)."""
    input: str                                   # video or folder of frames
    model_dir: str
    output: str                                  # the grid (.png)
    alignments: str | None = None                # default: beside the input; faces are detected when there is none
    samples: int = 4                             # sample faces, spread over the input
    swap_model: bool = False
    mask_type: list[str] | None = None           # values to compare, per option
    mask_blur: list[float] | None = None
    mask_erode: list[float] | None = None
    color_adjustment: list[str] | None = None
    scaling: list[str] | None = None
    detail: list[float] | None = None


def run(params: PreviewParams, progress: ProgressFn | None = None, cancel: Cancel | None = None) -> dict:
    """Write the grid; returns {"output", "samples", "columns"} (columns not counting the original)."""
    from lib.convert import BlendSettings
    from lib.fileio import atomic_path
    from lib.jobs.convert import FrameRenderer
    report = Reporter(progress, cancel)
    out = Path(params.output)
    if out.suffix.lower() != ".png":
        raise FaceswapError(f"-o {out} must be a .png file")
    if params.samples < 1:
        raise FaceswapError("--samples must be 1 or more")
    renderer = FrameRenderer(params.model_dir, params.input, params.alignments, swap_model=params.swap_model)
    columns = _columns(params, BlendSettings(label=False), renderer.model.learns_mask)
    report.check()
    samples = _samples(renderer, params.samples)
    if not samples:
        raise FaceswapError(f"no face found in {params.input}: nothing to preview")
    rows = [_header(["original", *[title for title, _ in columns]])]
    for done, (index, face) in enumerate(samples):
        report("preview", done, len(samples), unit="faces")
        report.check()
        cells = []
        for _, settings in columns:
            original, swapped = renderer.render(index, settings)
            cells.append(_cell(swapped, face))
        rows.append(np.hstack([_cell(original, face), *cells]))
    report("preview", len(samples), len(samples), unit="faces")
    with atomic_path(out) as tmp:
        if not cv2.imwrite(str(tmp), np.vstack(rows)):
            raise FaceswapError(f"could not write {out}")
    return {"output": str(out), "samples": len(samples), "columns": len(columns)}


def _columns(params: PreviewParams, base, learns_mask: bool) -> list[tuple[str, object]]:
    """(title, settings) per column: the base, then each other value of each option on its own."""
    given = any((params.mask_type, params.mask_blur, params.mask_erode, params.color_adjustment, params.scaling,
                 params.detail))
    # every mask by default, but 'predicted' only for a model that learns one and 'learned' only when asked for
    # (it needs learned masks in the alignments file: tools.py mask --mask-model)
    masks = params.mask_type or ([] if given else [base.mask] + [m for m in registry.names("convert.mask")
                                                                 if m != base.mask and m != "learned"
                                                                 and (m != "predicted" or learns_mask)])
    colors = params.color_adjustment or ([] if given else [base.color] + [c for c in registry.names("convert.color")
                                                                          if c != base.color])
    if "predicted" in masks and not learns_mask:
        raise FaceswapError("mask 'predicted' needs a model that learns a mask, and this one does not: leave it out")
    options = {"mask": masks, "mask_blur": params.mask_blur or [], "mask_erode": params.mask_erode or [],
               "color": colors, "scaling": params.scaling or [], "detail": params.detail or []}
    for name in options["mask"]:
        registry.get("convert.mask", name)
    for name in options["color"]:
        registry.get("convert.color", name)
    for name in options["scaling"]:
        registry.get("convert.scaling", name)
    for value in options["detail"]:
        check_detail(value)
    first = {key: values[0] for key, values in options.items() if values}
    base = replace(base, **first)
    columns = [("base: " + f"{base.mask} {base.color}", base)]
    for key, values in options.items():
        for value in values[1:]:
            columns.append((f"{key.replace('_', ' ')} {value}", replace(base, **{key: value})))
    return columns


def _samples(renderer, samples: int) -> list[tuple[int, object]]:
    """(frame index, face) pairs: the first face of ``samples`` frames spread over those that have one (from the
    alignments), or the largest face of the first frames found with one among candidates spread over the input."""
    if renderer.faces_by_index is not None:
        with_faces = sorted(i for i, faces in renderer.faces_by_index.items() if faces)
        return [(with_faces[i], renderer.faces(with_faces[i])[0]) for i in _spread(len(with_faces), samples)]
    picked = []
    for index in _spread(renderer.count, samples * 3):
        found = renderer.faces(index)
        if found and len(picked) < samples:
            picked.append((index, max(found, key=lambda f: int(f.box[2]) * int(f.box[3]))))
    return picked


def _spread(count: int, samples: int) -> list[int]:
    if count <= 0:
        return []
    return sorted(set(np.linspace(0, count - 1, min(samples, count) + 2)[1:-1].round().astype(int).tolist()))


def _cell(image: np.ndarray, face) -> np.ndarray:
    """The area around the face (1.8x its box), as a CELL x CELL square."""
    x, y, w, h = (float(v) for v in face.box)
    side = 1.8 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    scale = CELL / side
    mat = np.array([[scale, 0, CELL / 2 - cx * scale], [0, scale, CELL / 2 - cy * scale]])
    return cv2.warpAffine(image, mat, (CELL, CELL), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def _header(titles: list[str]) -> np.ndarray:
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
