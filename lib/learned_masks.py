"""Learned masks for a face set: import the user's labels, train the mask net on them, mask every face.

Where masks live:
- a faces folder: in each face PNG's metadata (lib.faces ``face_masks``), at the face's own pixels: ``label``
  (what the user painted or imported: 255 where the face shows, 0 where something covers it or outside it)
  and ``learned`` (what the trained net draws). Training (``--mask-type learned``) reads ``learned`` there.
- an alignments file: ``learned`` beside the landmark masks, in the file's mask space, where convert's
  ``-M learned`` reads it.

The net (lib/model/mask_net.py) sees each face at its own centering with its ``extended`` landmark mask as a
prior, so a frame cut for an alignments file is cut the way the faces it learned from were.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

LABEL, LEARNED = "label", "learned"


def _crop_points(meta: dict, size: int) -> np.ndarray:
    """A face PNG's landmarks in the pixels of its ``size`` px crop."""
    from lib.faces import crop_matrix, transform_points
    return transform_points(np.asarray(meta["landmarks"], np.float64),
                            crop_matrix(np.asarray(meta["matrix"], np.float64), size, meta.get("centering", "face")))


def _faces(faces_dir):
    from lib import faceset
    files = [f for f in faceset.scan(faces_dir, need_meta=True) if f.meta and "landmarks" in f.meta]
    if not files:
        raise FaceswapError(f"no face of {faces_dir} carries landmarks: point at a folder written by extract")
    return files


# ---------------------------------------------------------------------------------------------- labels
def import_labels(faces_dir, labels_dir) -> int:
    """Store each PNG of ``labels_dir`` as the label of the face PNG of the same file name in ``faces_dir``
    (white = face, black = not face; grey is cut at 128; other sizes are scaled to the face). Returns how many."""
    from lib.faces import store_face_masks
    from lib.video import list_images, read_image
    labels_dir = Path(labels_dir)
    if not labels_dir.is_dir():
        raise FaceswapError(f"labels folder not found: {labels_dir} (a folder of PNG masks named like the faces)")
    faces = {f.path.name: f for f in _faces(faces_dir)}
    labels = [p for p in list_images(labels_dir) if p.suffix.lower() == ".png"]
    if not labels:
        raise FaceswapError(f"no PNG masks in {labels_dir}: save each label as a PNG named like its face")
    unknown = [p.name for p in labels if p.name not in faces]
    if unknown:
        raise FaceswapError(f"{len(unknown)} label(s) in {labels_dir} name no face of {faces_dir} (e.g. "
                            f"{unknown[0]}): name each label like the face PNG it belongs to")
    for path in labels:
        face = faces[path.name]
        mask = read_image(path)
        mask = mask if mask.ndim == 2 else cv2.cvtColor(mask, cv2.COLOR_BGR2GRAY)
        size = face.meta.get("size") or read_image(face.path).shape[0]
        mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)
        store_face_masks(face.path, {LABEL: np.where(mask >= 128, 255, 0).astype(np.uint8)})
    return len(labels)


def labelled(faces_dir) -> tuple[list, list, list, str]:
    """(faces, landmark priors, labels) of the faces of ``faces_dir`` that carry a label, and their centering."""
    from lib.faces import face_masks
    from lib.model.mask_net import prior
    from lib.video import read_image
    faces, priors, labels, centerings = [], [], [], set()
    for face in _faces(faces_dir):
        if LABEL not in (face.meta.get("masks") or {}):
            continue
        image = read_image(face.path)
        size = image.shape[0]
        faces.append(image)
        priors.append(prior(_crop_points(face.meta, size), size))
        labels.append(face_masks(face.meta, size)[LABEL])
        centerings.add(face.meta.get("centering", "face"))
    if not faces:
        raise FaceswapError(f"no face of {faces_dir} has a label: import some first ('tools.py mask -f {faces_dir} "
                            f"--import LABELS_FOLDER', PNG masks named like the faces: white = face)")
    if len(centerings) > 1:
        raise FaceswapError(f"the labelled faces of {faces_dir} mix centerings ({', '.join(sorted(centerings))}): "
                            f"label faces extracted with one --centering")
    return faces, priors, labels, centerings.pop()


# ---------------------------------------------------------------------------------------------- train, apply
def train(faces_dir, model_dir, iterations: int, settings: dict | None = None, progress=None, cancel=None) -> dict:
    """Train the mask net of ``model_dir`` (a new one, or the one there, trained further) on the labelled faces of
    ``faces_dir`` and save it; returns labelled, iterations (in all), loss (mean of the last 50)."""
    from lib.model import store
    from lib.model.mask_net import MaskModel
    if iterations < 1:
        raise FaceswapError("--iterations must be 1 or more")
    faces, priors, labels, centering = labelled(faces_dir)
    if store.exists(model_dir):
        model = MaskModel.load(model_dir)
        if model.centering != centering:
            raise FaceswapError(f"mask model {model_dir} learned '{model.centering}' faces and these are '{centering}':"
                                f" choose a new --mask-model folder")
    else:
        model = MaskModel.new(settings, centering)
    losses = model.train(faces, priors, labels, iterations, progress=progress, cancel=cancel)
    model.save(model_dir)
    return {"labelled": len(faces), "iterations": model.iterations, "loss": float(np.mean(losses[-50:]))}


def mask_faces(faces_dir, model_dir, progress=None) -> int:
    """Draw the learned mask of every face of ``faces_dir`` into its metadata; returns how many."""
    from lib.faces import store_face_masks
    from lib.model.mask_net import MaskModel, prior
    from lib.video import read_image
    model = MaskModel.load(model_dir)
    files = _faces(faces_dir)
    done = 0
    for at in range(0, len(files), 32):
        chunk = files[at:at + 32]
        for face in chunk:
            if face.meta.get("centering", "face") != model.centering:
                raise FaceswapError(f"{face.path} is a '{face.meta.get('centering')}' face; mask model {model_dir} "
                                    f"learned '{model.centering}' faces")
        images = [read_image(f.path) for f in chunk]
        masks = model.predict(images, [prior(_crop_points(f.meta, im.shape[0]), im.shape[0])
                                       for f, im in zip(chunk, images)])
        for face, mask in zip(chunk, masks):
            store_face_masks(face.path, {LEARNED: mask})
        done += len(chunk)
        if progress:
            progress(done, len(files))
    return done


def mask_alignments(alignments_path, input_path, model_dir, progress=None) -> int:
    """Draw the learned mask of every face of an alignments file, cut from the frames of ``input_path``, into the
    file (its mask space; the previous file is kept as .bak); returns how many faces."""
    from lib.alignments import Alignments
    from lib.faces import crop_matrix, invert, transform_points, warp_face
    from lib.fileio import backup
    from lib.model.mask_net import MaskModel, prior
    from lib.video import Source
    model = MaskModel.load(model_dir)
    path = Path(alignments_path)
    alignments = Alignments.load(path)
    space, centering = int(alignments.mask.get("size", 128)), alignments.mask.get("centering", "face")
    source = Source(input_path)
    total = sum(len(alignments.faces(name)) for name in source.names())
    if not total:
        raise FaceswapError(f"none of the frames of {input_path} has a face in {path}: wrong -i, or extract first")
    crop = max(model.size, space)
    done = 0
    for frame in source.frames():
        faces = alignments.faces(frame.name)
        if not faces:
            continue
        cuts = [warp_face(frame.image, f.matrix, crop, model.centering) for f in faces]
        priors = [prior(transform_points(f.landmarks, crop_matrix(f.matrix, crop, model.centering)), crop)
                  for f in faces]
        for face, mask in zip(faces, model.predict(cuts, priors)):
            to_space = crop_matrix(face.matrix, space, centering) @ np.vstack(
                [invert(crop_matrix(face.matrix, crop, model.centering)), [0, 0, 1]])
            face.masks[LEARNED] = cv2.warpAffine(mask, to_space, (space, space), flags=cv2.INTER_LINEAR)
        done += len(faces)
        if progress:
            progress(done, total)
    backup(path)
    alignments.save(path)
    return done
