"""Convert: put the model's swapped faces back into the frames, and the threaded pipeline that does it fast.

Per face (``Blender.blend_face``), in the aligned square crop of the face:
  1. the original face is cut from the frame at the model's output size (at least 128 px), the size the
     mask and colour work at (cheap, and the model's output holds no finer detail anyway);
  2. a mask plugin gives the region to replace; erode (or grow) it, then blur its edge;
  3. a colour plugin matches the new face to the old one inside the mask; a scaling plugin sharpens (or,
     like ``enhance``, takes the model's face up to a larger size first: then that is the size worked at);
  4. the crop and its mask are warped back to the face's size in the frame - into the mask's bounding box
     only, so every pixel away from the face is left exactly as decoded - and alpha-blended there;
  5. with ``detail`` above 0, the frame's own finest detail is kept (``add_detail``): a 64 px model pasted
     onto a 350 px face holds nothing finer than about 5 frame pixels, while the frame does.

The pipeline (``convert_stream``) runs four stages in threads joined by small bounded queues, so decode,
predict, blend and encode overlap and memory stays flat in video length: read (frames + faces + model input
crops) -> predict (crops of several frames batched into one model call) -> blend (+ label) -> write.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from lib import registry
from lib.errors import FaceswapError
from lib.faces import crop_matrix, invert, transform_points, warp_face
from lib.provenance import draw_label
from lib.threads import background

log = logging.getLogger(__name__)

MASK_SIZE = 128  # smallest crop side the mask and colour work at
DETAIL = 0.5     # convert's --detail: measured, sharpness x8-20 for at most +0.02 identity distance (USAGE)


@dataclass
class BlendSettings:
    """How a swapped face is merged into its frame (the convert options of the same names)."""
    mask: str = "extended"
    mask_blur: float = 4.0          # edge blur, percent of the crop side
    mask_erode: float = 1.0         # shrink (>0) or grow (<0) the mask, percent of the crop side
    color: str = "avg-color"
    scaling: str = "none"
    detail: float = DETAIL          # 0-1: the band of the frame's finest detail kept (add_detail); 0 = off
    label: bool = True


class Blender:
    """Merges predicted faces into frames with the chosen mask, colour and scaling plugins."""

    def __init__(self, settings: BlendSettings, output_size: int, centering: str = "face",
                 learns_mask: bool = False, model_dir=None, side: str = "b"):
        check_detail(settings.detail)
        if settings.mask == "predicted" and not learns_mask:
            raise FaceswapError("mask 'predicted' needs a model that learns a mask, and this one does not: "
                                "choose -M extended or components")
        self.settings = settings
        self.output_size = int(output_size)
        self.centering = centering
        self.mask_fn = registry.get("convert.mask", settings.mask)
        self.color_fn = registry.get("convert.color", settings.color)
        self.scale_fn = registry.get("convert.scaling", settings.scaling)
        if isinstance(self.scale_fn, type):       # a scaling plugin that needs the model folder (-S enhance)
            if model_dir is None:
                raise FaceswapError(f"scaling '{settings.scaling}' needs the model folder, and none was given")
            self.scale_fn = self.scale_fn(model_dir, side)
        self.upscaler = self.scale_fn if getattr(self.scale_fn, "upscales", False) else None
        # side of the face as drawn: the model's output, or the upscaler's from it
        self.drawn = self.upscaler.output_size(self.output_size) if self.upscaler else self.output_size

    def work_size(self, matrix: np.ndarray | None = None) -> int:
        """Crop side the mask and colour work at: the model's output size, at least MASK_SIZE. The result is
        scaled to the face's real size only by the final warp into the frame, which costs one pass."""
        return max(self.drawn, MASK_SIZE)

    def prepare_mask(self, mask: np.ndarray, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(hard, soft) masks at ``size``: the plugin's mask eroded/grown, then (soft) with its edge blurred.

        The work is done at the mask's own (small) size and the results are scaled up: masks are smooth.
        """
        small = mask.shape[0]
        erode = self.settings.mask_erode * small / 100.0
        if abs(erode) >= 0.5:
            k = int(round(abs(erode))) * 2 + 1
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
            mask = cv2.erode(mask, kernel) if erode > 0 else cv2.dilate(mask, kernel)
        soft = mask
        blur = self.settings.mask_blur * small / 100.0
        if blur >= 0.5:
            k = int(round(blur)) * 2 + 1
            # Blur with zero padding, so the mask fades to 0 at the crop's edge too (no box seam).
            soft = cv2.GaussianBlur(mask, (k, k), 0, borderType=cv2.BORDER_CONSTANT)
        if size and size != small:
            mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)
            soft = cv2.resize(soft, (size, size), interpolation=cv2.INTER_LINEAR)
        return mask, soft

    def blend_face(self, frame: np.ndarray, face, new_face: np.ndarray,
                   predicted_mask: np.ndarray | None = None) -> None:
        """Merge ``new_face`` (float32 [0, 1] at output_size, BGR) into ``frame`` (uint8, in place)."""
        size = self.work_size(face.matrix)
        mat = crop_matrix(face.matrix, size, self.centering)
        old = cv2.warpAffine(frame, mat, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        old = old.astype(np.float32) * (1.0 / 255.0)
        new = np.asarray(new_face, np.float32)
        if self.upscaler:
            new = self.upscaler(new)
        if new.shape[0] != size:
            grow = size > new.shape[0]
            new = cv2.resize(new, (size, size), interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)
        landmarks = transform_points(face.landmarks, mat)
        stored = {"face": face, "matrix": mat} if getattr(self.mask_fn, "uses_face", False) else {}  # -M learned
        hard, soft = self.prepare_mask(self.mask_fn(landmarks, size, predicted_mask, **stored))
        new = self.color_fn(new, old, hard)
        if not self.upscaler:
            new = self.scale_fn(new)
        paste(frame, new, soft, mat, self.settings.detail, self.drawn)

    def label(self, frame: np.ndarray) -> np.ndarray:
        return draw_label(frame) if self.settings.label else frame


def paste(frame: np.ndarray, crop: np.ndarray, mask: np.ndarray, mat: np.ndarray, detail: float = 0.0,
          drawn: int = 0) -> None:
    """Alpha-blend ``crop`` (float [0, 1]) with ``mask`` into ``frame`` (uint8) where ``mat`` (frame -> crop)
    says it belongs; only the bounding box of the mask, warped into the frame, is touched. With ``detail``,
    the frame's finest detail is kept (:func:`add_detail`; ``drawn``: the pixels across the crop the model drew)."""
    height, width = frame.shape[:2]
    mx, my, mw, mh = cv2.boundingRect((np.asarray(mask) > 1.0 / 255).astype(np.uint8))
    if mw == 0 or mh == 0:
        return
    back = invert(mat)
    corners = transform_points(np.array([[mx, my], [mx + mw, my], [mx + mw, my + mh], [mx, my + mh]], np.float64),
                               back)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 <= x0 or y1 <= y0:
        return
    back = back.copy()
    back[:, 2] -= (x0, y0)
    dsize = (x1 - x0, y1 - y0)
    face = np.clip(crop * 255.0 + 0.5, 0, 255).astype(np.uint8)
    new = cv2.warpAffine(face, back, dsize, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if detail > 0:
        side = mask.shape[0] / np.sqrt(abs(np.linalg.det(mat[:, :2])))      # the face crop's side in the frame
        new = add_detail(new, frame[y0:y1, x0:x1], detail, side, drawn)
    alpha = cv2.warpAffine(np.asarray(mask, np.float32), back, dsize, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    roi = frame[y0:y1, x0:x1]
    roi[:] = cv2.blendLinear(new, roi, alpha, 1.0 - alpha)


def check_detail(value: float) -> None:
    """One clear line for a --detail outside 0-1 (convert, swap, preview and the bench check it up front)."""
    if not 0 <= value <= 1:
        raise FaceswapError(f"--detail must be from 0 (off) to 1, not {value}")


DETAIL_SPLIT = 128   # --detail 1 keeps the frame's detail finer than a Gaussian of 1/128 of the face crop


def add_detail(new: np.ndarray, old: np.ndarray, detail: float, side: float, drawn: float) -> np.ndarray:
    """``new`` (the swapped face, uint8, in frame pixels) with the frame's own detail (``old``) finer than a
    Gaussian of ``detail`` / DETAIL_SPLIT of the face crop's ``side`` (frame pixels) in place of its own.

    Models do not draw that band: a 64 px face scaled up to a 350 px one has nothing finer than ~5 frame
    pixels, and a 128 px model trained for an hour on a CPU is hardly sharper. The frame's finest band is skin
    texture, grain, lashes and the edges of teeth and hair, and carries little of who the person is, so the
    swap keeps its identity and colour (the band is taken from brightness only) and gains the frame's
    sharpness. A wider band (``detail`` towards 1) is sharper but brings more of the original's features
    (USAGE has the measured trade). A face the model drew with ``drawn`` pixels across, as many as it has in
    the frame, gets nothing.
    """
    if detail <= 0 or drawn >= side:
        return new
    sigma = detail * side / DETAIL_SPLIT

    def band(image):
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return grey - cv2.GaussianBlur(grey, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    extra = band(old) - band(new)
    return np.clip(new.astype(np.float32) + extra[..., None] + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- predict
class Predictor:
    """The model, the swap direction and the batch size; crops in, swapped faces (and masks) out."""

    def __init__(self, model, direction: str = "a2b", batch_size: int = 16):
        self.model = model
        self.direction = direction
        self.batch_size = max(1, int(batch_size))
        self.input_size = model.input_size
        self.output_size = model.output_size
        self.centering = model.centering

    def crop(self, frame: np.ndarray, face) -> np.ndarray:
        """Model input for ``face``: the aligned crop at input_size, float32 [0, 1]."""
        return warp_face(frame, face.matrix, self.input_size, self.centering).astype(np.float32) * (1.0 / 255.0)

    def __call__(self, crops: np.ndarray):
        return self.model.predict(crops, direction=self.direction, batch_size=self.batch_size)


# ---------------------------------------------------------------------------------------------- pipeline
@dataclass
class Item:
    """One frame on its way through the pipeline."""
    frame: object                       # lib.video.Frame
    faces: list = field(default_factory=list)
    crops: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    masks: list = field(default_factory=list)
    image: np.ndarray | None = None     # the converted frame
    changed: bool = False


def _read_stage(items: Iterable[tuple], predictor: Predictor, busy: dict) -> Iterator[Item]:
    start = time.perf_counter()
    for frame, faces in items:
        item = Item(frame, list(faces), [predictor.crop(frame.image, face) for face in faces])
        busy["read"] += time.perf_counter() - start
        yield item
        start = time.perf_counter()


def _predict_stage(items: Iterable[Item], predictor: Predictor, busy: dict) -> Iterator[Item]:
    pending, count = [], 0

    def flush():
        if count:
            start = time.perf_counter()
            faces, masks = predictor(np.stack([crop for item in pending for crop in item.crops]))
            busy["predict"] += time.perf_counter() - start
            at = 0
            for item in pending:
                n = len(item.crops)
                item.outputs = list(faces[at:at + n])
                item.masks = list(masks[at:at + n]) if masks is not None else [None] * n
                item.crops = []
                at += n
        return pending

    for item in items:
        pending.append(item)
        count += len(item.crops)
        if count >= predictor.batch_size:
            yield from flush()
            pending, count = [], 0
    yield from flush()


def _blend_stage(items: Iterable[Item], blender: Blender, busy: dict) -> Iterator[Item]:
    for item in items:
        start = time.perf_counter()
        image = item.frame.image
        if item.faces:
            image = np.array(image, copy=True)
            for face, out, mask in zip(item.faces, item.outputs, item.masks):
                blender.blend_face(image, face, out, mask)
            item.changed = True
        if blender.settings.label:
            image = blender.label(np.array(image, copy=True) if image is item.frame.image else image)
        item.image = image
        item.outputs = item.masks = []
        busy["blend"] += time.perf_counter() - start
        yield item


def convert_stream(items: Iterable[tuple], predictor: Predictor, blender: Blender,
                   write: Callable[[Item], None], depth: int | None = None, busy: dict | None = None) -> int:
    """Run ``(frame, faces)`` pairs through crop -> predict -> blend, each stage in its own thread, and call
    ``write(item)`` for every converted frame, in order. Returns the number of frames written.

    ``busy`` (optional dict) receives the seconds each stage spent working: read (decode, faces, crops),
    predict, blend, write; a stage near the wall time is the bottleneck.
    """
    depth = depth or max(4, predictor.batch_size)
    busy = busy if busy is not None else {}
    for key in ("read", "predict", "blend", "write"):
        busy.setdefault(key, 0.0)
    read = background(_read_stage(items, predictor, busy), depth, "read")
    predicted = background(_predict_stage(read, predictor, busy), depth, "predict")
    blended = background(_blend_stage(predicted, blender, busy), depth, "blend")
    count = 0
    try:
        for item in blended:
            start = time.perf_counter()
            write(item)
            busy["write"] += time.perf_counter() - start
            count += 1
    finally:
        blended.close()
    return count
