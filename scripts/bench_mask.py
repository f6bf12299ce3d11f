"""Benchmark the learned mask: IoU against known labels on a clip where something crosses the face.

Usage:  python scripts/bench_mask.py [--clip katie_hill/video_katiehill_hdtf_WDA_000.mp4] [--occluder mic hand]
                                     [--labelled 8] [--held-back 32] [--iterations 300] [--size 64] [--width 8]
                                     [--json out]

There is no such clip in ../shared, so one is made: a shared clip with an occluder drawn over the face in each
frame, moving across it (``mic``: a dark microphone with a mesh head on a handle; ``hand``: a skin-toned,
textured hand with four fingers). Its label is exact: the face (the ``extended`` landmark mask of the clean
frame: jaw to forehead) minus the drawn occluder. Faces are found and aligned in the occluded frames by the
extractor, as extract would. The mask net trains on ``--labelled`` faces (spread over the clip) and is scored
on ``--held-back`` other faces, against the landmark masks convert offers (``components``, ``extended``): IoU
with the label (masks cut at 0.5), and how much of the occluder in front of the face (inside the clean face's
extended mask) each mask leaves visible, i.e. does not swap. Every figure printed is measured.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "faces"
CLIP = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"
CROP = 128


# ---------------------------------------------------------------------------------------------- the occluders
def _texture(shape, rng, scale: float) -> np.ndarray:
    """Smooth random grey texture in [-1, 1] (a few octaves of noise)."""
    out = np.zeros(shape, np.float32)
    for octave in (4, 8, 16, 32):
        small = rng.normal(0, 1, (max(2, int(shape[0] * octave / 256 / scale)),
                                  max(2, int(shape[1] * octave / 256 / scale)))).astype(np.float32)
        out += cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC) / octave ** 0.5
    return np.clip(out / (np.abs(out).max() + 1e-6), -1, 1)


def draw_occluder(frame: np.ndarray, kind: str, centre, side: float, phase: float, rng) -> np.ndarray:
    """Draw ``kind`` (mic or hand) into ``frame`` (in place) around ``centre``, ``side`` the face's size,
    ``phase`` in [0, 1] its place along its path across the face; returns its exact mask (uint8, 255 = on)."""
    height, width = frame.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    cx, cy = float(centre[0]), float(centre[1])
    x = cx + (phase - 0.5) * 1.4 * side
    if kind == "mic":
        y = cy + 0.25 * side
        r = 0.17 * side
        cv2.circle(mask, (int(x), int(y)), int(r), 255, -1, cv2.LINE_AA)
        handle = np.array([[x - 0.06 * side, y], [x + 0.06 * side, y], [x + 0.09 * side, y + 1.2 * side],
                           [x - 0.09 * side, y + 1.2 * side]], np.int32)
        cv2.fillConvexPoly(mask, handle, 255, cv2.LINE_AA)
        grey = 40 + 25 * _texture((height, width), rng, 0.5)
        mesh = np.zeros((height, width), np.uint8)
        step = max(3, int(r / 4))
        for offset in range(-int(r), int(r) + 1, step):
            cv2.line(mesh, (int(x + offset), int(y - r)), (int(x + offset), int(y + r)), 255, 1)
            cv2.line(mesh, (int(x - r), int(y + offset)), (int(x + r), int(y + offset)), 255, 1)
        grey[mesh > 0] += 45
        colour = np.repeat(grey[..., None], 3, axis=2)
    else:
        y = cy + 0.1 * side
        palm = (int(x), int(y + 0.35 * side)), (int(0.24 * side), int(0.3 * side))
        cv2.ellipse(mask, palm[0], palm[1], 0, 0, 360, 255, -1, cv2.LINE_AA)
        for k, length in enumerate((0.42, 0.5, 0.47, 0.38)):
            fx = x + (k - 1.5) * 0.12 * side
            top = y + 0.2 * side - length * side
            cv2.line(mask, (int(fx), int(y + 0.2 * side)), (int(fx), int(top)), 255, max(2, int(0.09 * side)),
                     cv2.LINE_AA)
        light = 1.0 + 0.18 * _texture((height, width), rng, 1.0)
        shade = np.clip(1.0 - 0.25 * (np.arange(width)[None, :] - x) / side, 0.7, 1.3)
        colour = np.array([115, 150, 205], np.float32)[None, None] * (light * shade)[..., None]
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    frame[:] = np.clip(frame * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)
    return mask


def occluded_clip(clip: Path, kind: str, every: int = 1, limit: int | None = None, seed: int = 0):
    """``[(occluded frame, truth label, occluder, face)]`` (masks in frame pixels) for every ``every``-th frame: the
    occluder sweeps across the face and back twice over the clip; the label is the clean frame's extended
    landmark mask minus the occluder."""
    from lib.extractor import Extractor
    from lib.masks import extended
    from lib.video import probe, read_frames
    count = probe(clip).frame_count
    finder = Extractor("dlib-hog", masks=(), identity=False, rotate=())
    rng = np.random.default_rng(seed)
    out = []
    for index, frame in read_frames(clip):
        if index % every or (limit and len(out) >= limit):
            continue
        faces = finder.faces(frame)
        if len(faces) != 1:
            continue
        frame, landmarks = frame.copy(), faces[0].landmarks
        face = extended(landmarks, max(frame.shape[:2]))[:frame.shape[0], :frame.shape[1]]
        side = float(np.ptp(landmarks[:, 0]))
        phase = 0.5 - 0.5 * np.cos(4 * np.pi * index / count)
        occluder = draw_occluder(frame, kind, landmarks[27:36].mean(0), side, phase, rng)
        out.append((frame, np.where(occluder > 127, 0, face).astype(np.uint8), occluder, face))
    return out


# ---------------------------------------------------------------------------------------------- measuring
def crops(clip_frames, size: int = CROP):
    """Faces of the occluded frames as extract finds them: (crop, label, occluder, face, landmarks in the crop)."""
    from lib.extractor import Extractor
    from lib.faces import crop_matrix, transform_points, warp_face
    finder = Extractor(masks=(), identity=False)
    out = []
    for frame, *masks in clip_frames:
        faces = finder.faces(frame)
        if len(faces) != 1:
            continue
        mat = crop_matrix(faces[0].matrix, size, "face")
        out.append((warp_face(frame, faces[0].matrix, size, "face"),
                    *(cv2.warpAffine(m, mat, (size, size), flags=cv2.INTER_LINEAR) for m in masks),
                    transform_points(faces[0].landmarks, mat)))
    return out


def iou(mask: np.ndarray, label: np.ndarray) -> float:
    a, b = mask > 127, label > 127
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def landmark_masks(landmarks: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """The landmark masks convert blends with (its plugins, notches closed), as uint8."""
    from lib import registry
    return {name: (registry.get("convert.mask", name)(landmarks, size) * 255).astype(np.uint8)
            for name in ("components", "extended")}


def compare(train, held, iterations: int, size: int, width: int = 16, seed: int = 0) -> dict:
    """Train the mask net on ``train`` crops, score it and the landmark masks on ``held``: mean IoU with the
    labels, and the share of the occluder in front of the face that each mask leaves visible (not swapped)."""
    from lib.model.mask_net import MaskModel, prior
    model = MaskModel.new({"size": size, "width": width})
    start = time.perf_counter()
    losses = model.train([c[0] for c in train], [prior(c[4], c[0].shape[0]) for c in train], [c[1] for c in train],
                         iterations, seed=seed)
    seconds = time.perf_counter() - start
    learned = model.predict([c[0] for c in held], [prior(c[4], c[0].shape[0]) for c in held])
    scores: dict = {"learned": [], "components": [], "extended": []}
    visible: dict = {name: [] for name in scores}
    for (crop, label, occluder, face, landmarks), mask in zip(held, learned):
        masks = {"learned": mask, **landmark_masks(landmarks, crop.shape[0])}
        in_front = (occluder > 127) & (face > 127)
        for name, m in masks.items():
            scores[name].append(iou(m, label))
            if in_front.sum() > 20:
                visible[name].append(float((m[in_front] <= 127).mean()))
    return {"train_faces": len(train), "held_back": len(held), "iterations": iterations, "train_s": seconds,
            "last_loss": float(np.mean(losses[-20:])),
            "iou": {k: float(np.mean(v)) for k, v in scores.items()},
            "occluder_visible": {k: float(np.mean(v)) for k, v in visible.items()}}


def split(faces, labelled: int, held_back: int):
    """``labelled`` faces spread over the clip for training, ``held_back`` of the others for scoring."""
    picks = set(np.linspace(0, len(faces) - 1, labelled).round().astype(int).tolist())
    rest = [f for i, f in enumerate(faces) if i not in picks]
    keep = np.linspace(0, len(rest) - 1, min(held_back, len(rest))).round().astype(int)
    return [faces[i] for i in sorted(picks)], [rest[i] for i in keep]


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=CLIP, help=f"shared clip (default {CLIP})")
    parser.add_argument("--occluder", nargs="+", default=["mic", "hand"], choices=("mic", "hand"))
    parser.add_argument("--labelled", type=int, default=8, help="labelled faces to train on (default 8)")
    parser.add_argument("--held-back", type=int, default=32, help="faces to score on (default 32)")
    parser.add_argument("--iterations", type=int, default=300, help="training batches (default 300)")
    parser.add_argument("--size", type=int, default=64, help="the net's input size (default 64)")
    parser.add_argument("--width", type=int, default=8, help="the net's first-stage channels (default 8)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    clip = SHARED / args.clip
    if not clip.is_file():
        print(f"ERROR shared clip not found: {clip}", file=sys.stderr)
        return 1
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = {}
    for kind in args.occluder:
        faces = crops(occluded_clip(clip, kind, every=max(1, 200 // (args.labelled + args.held_back))))
        train, held = split(faces, args.labelled, args.held_back)
        res = compare(train, held, args.iterations, args.size, args.width)
        results[kind] = res
        print(f"\n{kind}: trained on {res['train_faces']} labelled faces ({res['iterations']} iterations, "
              f"{res['train_s']:.1f} s, loss {res['last_loss']:.3f}), scored on {res['held_back']} held-back faces")
        print("  mask        IoU with label   occluder in front of the face left visible")
        for name in ("learned", "components", "extended"):
            print(f"  {name:<10}  {res['iou'][name]:>14.3f}   {100 * res['occluder_visible'][name]:>41.0f}%")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
