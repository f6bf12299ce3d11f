"""The enhance job: train the per-person face enhancer (lib/model/enhancer.py) of one side of a swap model.

It reads that side's faces (the folder extract wrote) and trains the enhancer to turn a small soft copy of
each into the face at the size it has in the frame; with ``model_share`` above 0, that share of the small
copies are the swap model's own rebuild of the face (through the side's own decoder) instead of synthetic
degradations (measured worse, lib/model/enhancer.py). The enhancer is saved in the model's folder
(``enhancer_a`` / ``enhancer_b``) and used by convert with ``-S enhance``. Calling again continues the same
enhancer (``fresh`` starts a new one).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from lib.errors import FaceswapError
from lib.jobs import Cancel, ProgressFn, Reporter

log = logging.getLogger(__name__)

MAX_FACES = 2000          # faces held in memory (evenly spaced through the folder beyond that)
DEFAULT_ITERATIONS = 1500


@dataclass
class EnhanceParams:
    """``tools.py enhance``'s options (same names and defaults)."""
    model_dir: str
    input: str                           # the side's faces folder (written by extract)
    side: str = "b"
    iterations: Optional[int] = None     # steps of this call (None: DEFAULT_ITERATIONS, or until --time)
    time: Optional[str] = None           # training time of this call ("5m"); with iterations, whichever first
    batch_size: int = 8
    scale: Optional[int] = None          # upscale factor of a new enhancer (None: from the faces' size in frame)
    fresh: bool = False                  # start a new enhancer even when the model folder holds one
    seed: Optional[int] = None
    model_share: float = 0.0             # share of inputs that are the swap model's rebuild (0: degradations only)


def run(params: EnhanceParams, progress: ProgressFn | None = None, cancel: Cancel | None = None) -> dict:
    """Train and save; returns what was done (steps, seconds, scale, losses at start and end, the folder)."""
    from lib import duration
    from lib.model import enhancer as enh, store
    from lib.model.data import check_folder, load_faces
    report = Reporter(progress, cancel)
    side = str(params.side).lower()
    if side not in ("a", "b"):
        raise FaceswapError(f"--side must be a or b, not {params.side!r}")
    if params.batch_size < 1 or (params.iterations is not None and params.iterations < 1):
        raise FaceswapError("--batch-size and --iterations must be at least 1")
    if not 0 <= params.model_share <= 1:
        raise FaceswapError(f"--model-share must be from 0 to 1, not {params.model_share}")
    seconds = duration.parse(params.time, "--time") if params.time else None
    iterations = params.iterations if params.iterations is not None or seconds else DEFAULT_ITERATIONS
    meta = store.read_meta(params.model_dir)
    if meta["plugin"] in (enh.PLUGIN, "learned-mask"):
        raise FaceswapError(f"{params.model_dir} holds a '{meta['plugin']}' model: pass the swap model's folder "
                            f"(the one given to 'train -m')")
    out_size, centering = int(meta["output_size"]), meta.get("centering", "face")
    files = check_folder(params.input, side.upper(), min_faces=10)

    existing = None
    if not params.fresh and store.exists(enh.folder(params.model_dir, side)):
        existing = enh.Enhancer.load(params.model_dir, side)
        if existing.input_size != out_size:
            raise FaceswapError(f"the face enhancer in {enh.folder(params.model_dir, side)} was made for "
                                f"{existing.input_size} px faces but the model draws {out_size} px: train a new one "
                                f"with --fresh")
    scale = existing.scale if existing else (params.scale or _auto_scale(files, out_size))
    if scale not in enh.SCALES:
        raise FaceswapError(f"--scale must be one of {', '.join(map(str, enh.SCALES))}, not {scale}")
    size = out_size * scale

    report("enhance", 0, None, message=f"reading {len(files)} faces of {side.upper()} at {size} px")
    faces = load_faces(params.input, side.upper(), size, size, float(meta.get("coverage", 1.0)), min_faces=10,
                       files=[files[i] for i in _spread(files, MAX_FACES)])
    if faces.centering != centering:
        raise FaceswapError(f"faces in {params.input} are cut at '{faces.centering}' centering but the model draws "
                            f"'{centering}' faces: pass the faces this model was trained on")
    images = faces.images
    report.check()

    rebuilt = None
    if params.model_share > 0:
        report("enhance", 0, None, message="the swap model rebuilds each face (some of the enhancer's inputs)")
        model = store.load_model(params.model_dir)
        small = np.stack([_resize(face, model.input_size) for face in images]).astype(np.float32) / 255.0
        rebuilt, _ = model.predict(small, direction=f"{side}2{side}")
        del model
        report.check()

    if existing is None and params.seed is not None:        # the same starting weights, run after run
        import keras
        keras.utils.set_random_seed(params.seed)
    net = existing or enh.Enhancer.new(out_size, {"scale": scale}, side)
    pairs = enh.Pairs(images, rebuilt, params.model_share)
    before = net.iterations
    place = enh.folder(params.model_dir, side)
    started = time.perf_counter()

    def show(done, total, loss):
        left = max(0.0, seconds - (time.perf_counter() - started)) if seconds and not total else None
        report("enhance", done, total, unit="it", iteration=before + done, loss_b=loss,
               **({"eta": left} if left is not None else {}))
        report.check()

    log.info("face enhancer of %s: %d faces, %d -> %d px (x%d), %s", side.upper(), len(images), out_size, size, scale,
             f"continuing from step {before}" if existing else "new")
    try:
        losses = net.train(pairs, iterations=iterations, seconds=seconds, batch_size=params.batch_size,
                           seed=params.seed, progress=show)
    finally:
        if net.iterations > before:
            net.save(params.model_dir)
    if not losses:
        raise FaceswapError("the face enhancer trained no step: give more --time or --iterations")
    head, tail = losses[:max(1, len(losses) // 10)], losses[-max(1, len(losses) // 10):]
    result = {"folder": str(place), "side": side, "scale": scale, "input_size": out_size, "output_size": size,
              "faces": int(len(images)), "steps": len(losses), "iterations": net.iterations,
              "seconds": round(time.perf_counter() - started, 1), "loss_start": float(np.mean(head)),
              "loss_end": float(np.mean(tail))}
    log.info("face enhancer of %s: %d steps in %.0f s, loss %.4f -> %.4f, saved in %s", side.upper(), len(losses),
             result["seconds"], result["loss_start"], result["loss_end"], place)
    return result


def _auto_scale(files, output_size: int) -> int:
    """The factor that brings the model's output to the median size of these faces in their frames, no larger
    than the face PNGs themselves hold."""
    from lib.faces import crop_side_px, read_face_meta
    from lib.model import enhancer as enh
    metas = [read_face_meta(path) for path in files[:: max(1, len(files) // 200)]]     # each read once
    sides = [side for side in map(crop_side_px, metas) if side is not None]
    wanted = float(np.median(sides)) if sides else 0.0
    stored = [int(meta.get("size") or 0) or None for meta in metas if meta]
    scale = enh.choose_scale(wanted, output_size)
    limit = min((s for s in stored if s), default=None)
    while limit and scale > min(enh.SCALES) and output_size * scale > limit * 1.34:
        scale -= 1
    return scale


def _spread(files, limit: int) -> np.ndarray:
    """Indices of at most ``limit`` of ``files``, evenly spaced."""
    if len(files) <= limit:
        return np.arange(len(files))
    return np.unique(np.linspace(0, len(files) - 1, limit).round().astype(int))


def _resize(face: np.ndarray, size: int) -> np.ndarray:
    import cv2
    return cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_CUBIC)
