"""The evaluate job: measure a swap against its original (identity, pose, expression, stability, background).

Both videos are streamed frame by frame together. In each sampled frame the face of the original (from its
alignments, or detected) and the face of the swapped video (detected) are compared: the swapped face's dlib
ResNet embedding against the references of A, B and any distractors (identity distance and retrieval: the
share of frames whose nearest identity is B), the head pose from the 68 landmarks (degrees), the expression
(landmarks after Procrustes, mouth and eyes, in inter-ocular distances), frame-to-frame landmark jitter and
face colour flicker, the face's sharpness (variance of the Laplacian inside it, swapped over original) and
SSIM/PSNR of everything outside the face. ``tools.py evaluate``, ``swap`` and the
service call :func:`run`; it writes report.json and report.html (lib/report.py) and returns the report.
"""
from __future__ import annotations

import heapq
import itertools
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from lib.errors import FaceswapError
from lib.jobs import Cancel, ProgressFn, Reporter

log = logging.getLogger(__name__)

FACE_MARGIN = 0.35      # the face region grown by this share is left out of the background scores
THUMB = 96              # side of each face in the best/worst strip
SHARPNESS_GROW = -0.2   # sharpness is measured in the face region shrunk by this share: clear of the blend seam


@dataclass
class EvaluateParams:
    """``tools.py evaluate``'s options (same names and defaults)."""
    original: str
    swapped: str
    ref_a: list[str]
    ref_b: list[str]
    output: str
    distractors: list[str] = field(default_factory=list)
    alignments: Optional[str] = None
    every_n: int = 1
    detector: str = "dlib-hog"
    strip: int = 5


# ---------------------------------------------------------------------------------------------- inputs
def _open_sources(params: EvaluateParams):
    from lib.video import Source
    original, swapped = Source(params.original), Source(params.swapped)
    if original.count != swapped.count:
        raise FaceswapError(f"{params.swapped} has {swapped.count} frames but {params.original} has {original.count}: "
                            f"evaluate needs the swapped video made from this original (convert with -k keeps "
                            f"every frame)")
    return original, swapped


def _frame_size(source) -> tuple[int, int]:
    if source.info is not None:
        return source.info.width, source.info.height
    from lib.video import read_image
    image = read_image(source.files[0])
    return image.shape[1], image.shape[0]


def _load_alignments(path, original):
    if not path:
        return None
    from lib.alignments import Alignments
    alignments = Alignments.load(path)
    names = set(original.names())
    if alignments.frames and not names & set(alignments.frames):
        raise FaceswapError(f"alignments file {path} names none of the frames of {original.path}: "
                            f"pass the alignments of this original (or leave -p out to detect faces)")
    return alignments


def _references(params: EvaluateParams, extractor) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Embeddings (M, 128) of each identity's reference faces, keyed A, B and the distractor folder names."""
    from lib.identity import reference_embeddings
    groups = {"A": list(params.ref_a), "B": list(params.ref_b)}
    for folder in params.distractors:
        name = Path(folder).name or str(folder)
        while name in groups:
            name += "'"
        groups[name] = [folder]
    refs = {}
    for name, folders in groups.items():
        for folder in folders:
            if not Path(folder).exists():
                raise FaceswapError(f"reference folder of {name} not found: {folder}")
        refs[name] = reference_embeddings(folders, extractor)
        if len(refs[name]) == 0:
            raise FaceswapError(f"no reference faces for {name} in {', '.join(map(str, folders))}")
        log.info("references %s: %d face(s)", name, len(refs[name]))
    return refs, {name: [str(f) for f in folders] for name, folders in groups.items()}


def _largest(faces):
    return max(faces, key=lambda f: float(f.box[2]) * float(f.box[3])) if faces else None


def _overlap(a, b) -> float:
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - w * h
    return w * h / union if union > 0 else 0.0


def _matching(faces, original):
    """The swapped face at the original face's place (most overlap), else the largest one."""
    if not faces:
        return None
    if original is None:
        return _largest(faces)
    best = max(faces, key=lambda f: _overlap(f.box, original.box))
    return best if _overlap(best.box, original.box) > 0.05 else None


# ---------------------------------------------------------------------------------------------- the work
class Evaluation:
    """Collects per-frame measurements while the videos stream, then summarises them."""

    def __init__(self, refs: dict[str, np.ndarray], size: tuple[int, int], samples: int, strip: int):
        self.refs, self.size, self.strip = refs, size, strip
        self.names = list(refs)
        self.records: list[dict] = []
        self.landmarks = {k: np.full((samples, 68, 2), np.nan) for k in ("original", "swapped")}
        self.colours = {k: np.full((samples, 3), np.nan) for k in ("original", "swapped")}
        self.rotations: list[tuple] = []   # (original, swapped) head rotations of the frames with a pose in both
        self.original_nearest: list[str] = []
        self.best: list = []     # heaps of (key, counter, caption, thumbnail)
        self.worst: list = []
        self._tick = itertools.count()

    def add(self, slot: int, frame, swapped_image, face_o, face_s) -> None:
        from lib import metrics
        record = {"index": frame.index, "name": frame.name,
                  "face": {"original": face_o is not None, "swapped": face_s is not None},
                  "identity": None, "nearest": None, "original_identity": None,
                  "pose": None, "expression": None, "background": None, "sharpness": None}
        if face_o is not None and face_o.identity is not None:
            _, dist = metrics.identity_distances(face_o.identity, self.refs)
            record["original_identity"] = dict(zip(self.names, dist[0]))
            self.original_nearest.append(self.names[int(np.argmin(dist[0]))])
        if face_s is not None and face_s.identity is not None:
            _, dist = metrics.identity_distances(face_s.identity, self.refs)
            record["identity"] = dict(zip(self.names, dist[0]))
            record["nearest"] = self.names[int(np.argmin(dist[0]))]
        if face_o is not None:
            self.landmarks["original"][slot] = face_o.landmarks
            region = metrics.face_region(face_o.landmarks, frame.image.shape)
            self.colours["original"][slot] = metrics.mean_colour(frame.image, region)
            self.colours["swapped"][slot] = metrics.mean_colour(swapped_image, region)
            inner = metrics.face_region(face_o.landmarks, frame.image.shape, grow=SHARPNESS_GROW)
            record["sharpness"] = {"original": metrics.sharpness(frame.image, inner),
                                   "swapped": metrics.sharpness(swapped_image, inner)}
        if face_s is not None:
            self.landmarks["swapped"][slot] = face_s.landmarks
        if face_o is not None and face_s is not None:
            try:
                rotations = (metrics.pose_rotation(face_o.landmarks, self.size),
                             metrics.pose_rotation(face_s.landmarks, self.size))
                record["pose"] = metrics.rotation_difference(*rotations)
                self.rotations.append(rotations)
            except ValueError as err:      # degenerate landmarks: no pose for this frame, the rest still counts
                log.debug("frame %s: %s", frame.name, err)
            record["expression"] = metrics.expression_error(face_o.landmarks, face_s.landmarks)
        record["background"] = self._background(frame.image, swapped_image, face_o, face_s)
        self.records.append(record)
        if record["identity"] is not None:
            self._keep_thumbnail(frame, swapped_image, face_o or face_s, record)

    def _background(self, original, swapped, face_o, face_s) -> dict:
        from lib import metrics
        outside = np.full(original.shape[:2], 255, np.uint8)
        for face in (face_o, face_s):
            if face is not None:
                outside[metrics.face_region(face.landmarks, original.shape, grow=FACE_MARGIN) > 0] = 0
        return {"ssim": metrics.masked_ssim(original, swapped, outside),
                "psnr": metrics.masked_psnr(original, swapped, outside)}

    def _keep_thumbnail(self, frame, swapped_image, face, record) -> None:
        """Keep the ``strip`` best and worst frames by distance to B (bounded memory: two small heaps)."""
        from lib.faces import warp_face
        distance = float(record["identity"]["B"])
        thumb = np.hstack([warp_face(frame.image, face.matrix, THUMB), warp_face(swapped_image, face.matrix, THUMB)])
        item = (frame.index, f"frame {frame.index}  d(B)={distance:.3f}", thumb)
        for heap, key in ((self.best, -distance), (self.worst, distance)):
            entry = (key, next(self._tick), item)
            if len(heap) < self.strip:
                heapq.heappush(heap, entry)
            else:
                heapq.heappushpop(heap, entry)

    def strip_images(self):
        best = [entry[2][1:] for entry in sorted(self.best, key=lambda e: -e[0])]
        worst = [entry[2][1:] for entry in sorted(self.worst, key=lambda e: -e[0])]
        return best, worst

    # ------------------------------------------------------------------------------------ summary
    def summary(self, total: int) -> dict:
        from lib import metrics
        records = self.records
        n = len(records)
        with_swap = [r for r in records if r["identity"] is not None]
        no_face = [r["name"] for r in records if r["face"]["original"] and not r["face"]["swapped"]]
        distances = np.array([[r["identity"][k] for k in self.names] for r in with_swap]).reshape(-1, len(self.names))
        originals = np.array([[r["original_identity"][k] for k in self.names] for r in records
                              if r["original_identity"] is not None]).reshape(-1, len(self.names))

        def mean(rows, group, key):
            values = [r[group][key] for r in rows if r[group] is not None and r[group][key] is not None]
            values = [v for v in values if np.isfinite(v)]
            return float(np.mean(values)) if values else float("nan")

        present = {k: np.isfinite(self.landmarks[k][:n, 0, 0]) for k in self.landmarks}
        jitter = {k: metrics.landmark_jitter(self.landmarks[k][:n], present[k]) for k in present}
        colour_ok = np.isfinite(self.colours["original"][:n, 0])
        flicker = {k: metrics.sequence_jitter(self.colours[k][:n], colour_ok) for k in self.colours}
        nearest = Counter(self.original_nearest).most_common(1)
        detail = {k: mean(records, "sharpness", k) for k in ("original", "swapped")}
        return {
            "frames": {"total": total, "evaluated": n,
                       "original_face": sum(r["face"]["original"] for r in records),
                       "swapped_face": sum(r["face"]["swapped"] for r in records),
                       "no_face_in_output": len(no_face), "no_face_frames": no_face},
            "identity": {
                "frames": len(distances),
                "distance": {k: float(distances[:, i].mean()) if len(distances) else float("nan")
                             for i, k in enumerate(self.names)},
                "retrieval": metrics.retrieval(distances, self.names, "B") if len(distances) else float("nan"),
                "retrieval_by_identity": {k: metrics.retrieval(distances, self.names, k) if len(distances)
                                          else float("nan") for k in self.names},
                "original_distance": {k: float(originals[:, i].mean()) if len(originals) else float("nan")
                                      for i, k in enumerate(self.names)},
                "original_nearest": nearest[0][0] if nearest else None,
                "original_retrieval_a": metrics.retrieval(originals, self.names, "A") if len(originals)
                else float("nan")},
            "pose": {**{k: mean(records, "pose", k) for k in ("yaw", "pitch", "roll", "angle")},
                     **metrics.pose_split([o for o, _ in self.rotations], [s for _, s in self.rotations])},
            "expression": {k: mean(records, "expression", k) for k in ("mouth", "eyes", "all")},
            "stability": {
                "landmark_jitter": {"original": jitter["original"], "swapped": jitter["swapped"],
                                    "ratio": _ratio(jitter["swapped"], jitter["original"])},
                "colour_flicker": {"original": flicker["original"], "swapped": flicker["swapped"],
                                   "ratio": _ratio(flicker["swapped"], flicker["original"])}},
            "sharpness": {**detail, "ratio": _ratio(detail["swapped"], detail["original"])},
            "background": {"ssim": mean(records, "background", "ssim"), "psnr": mean(records, "background", "psnr"),
                           "ssim_min": min((r["background"]["ssim"] for r in records
                                            if np.isfinite(r["background"]["ssim"])), default=float("nan"))},
        }


def _ratio(a: float, b: float) -> float:
    return a / b if np.isfinite(a) and np.isfinite(b) and b > 0 else float("nan")


def run(params: EvaluateParams, progress: ProgressFn | None = None, cancel: Cancel | None = None) -> dict:
    """Evaluate, write ``report.json`` and ``report.html`` to ``params.output``; returns
    {"report": the report dict (lib/report.py: format, version, inputs, summary, frames), "rows": the headline
    figures as [label, text] pairs, "json": path, "html": path}. Progress: stage "evaluate", frames."""
    from lib import report
    from lib.extractor import Extractor
    from lib.threads import background

    if params.every_n < 1 or params.strip < 1:
        raise FaceswapError("--every-n and --strip must be at least 1")
    reporter = Reporter(progress, cancel)
    original, swapped = _open_sources(params)
    alignments = _load_alignments(params.alignments, original)
    out_dir = Path(params.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise FaceswapError(f"output {out_dir} is a file: -o takes a folder for report.json and report.html")
    extractor = Extractor(detector=params.detector, masks=(), identity=True)
    refs, groups = _references(params, extractor)
    size = _frame_size(original)
    samples = (original.count + params.every_n - 1) // params.every_n
    evaluation = Evaluation(refs, size, samples, params.strip)

    reporter("evaluate", 0, samples, unit="frames")
    pairs = background(zip(original.frames(), swapped.frames()), depth=4, name="decode")
    for frame, frame_s in pairs:
        reporter.check()
        if frame.index % params.every_n:
            continue
        if frame_s.image.shape != frame.image.shape:
            raise FaceswapError(f"frame {frame.index} of {params.swapped} is {frame_s.image.shape[1]}x"
                                f"{frame_s.image.shape[0]} but the original is {frame.image.shape[1]}x"
                                f"{frame.image.shape[0]}: compare videos of the same size")
        face_o = _original_face(frame, alignments, extractor)
        face_s = _matching(extractor.faces(frame_s.image), face_o)
        evaluation.add(len(evaluation.records), frame, frame_s.image, face_o, face_s)
        reporter("evaluate", len(evaluation.records), samples, unit="frames")
        if len(evaluation.records) >= samples:
            break

    result = {"format": report.FORMAT, "version": report.VERSION,
              "inputs": {"original": str(params.original), "swapped": str(params.swapped), "references": groups,
                         "identities": list(refs), "target": "B",
                         "alignments": str(params.alignments) if params.alignments else None,
                         "every_n": params.every_n, "detector": params.detector, "size": list(size)},
              "summary": evaluation.summary(original.count),
              "frames": evaluation.records}
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = report.write(result, out_dir, evaluation.strip_images())
    log.info("report written to %s and %s", json_path, html_path)
    # as report.json has it (NaN -> None): the service sends the summary on as JSON, which has no NaN
    result = report.json_safe(result)
    return {"report": result, "rows": [list(row) for row in report.summary_rows(result)],
            "json": str(json_path), "html": str(html_path)}


def _original_face(frame, alignments, extractor):
    """The main face of the original frame: from the alignments when given (embedding it if needed)."""
    if alignments is not None and frame.name in alignments.frames:
        face = _largest(alignments.frames[frame.name])
        if face is not None and face.identity is None:
            face.identity = extractor.embedder.embed(frame.image, [face.landmarks])[0]
        return face
    return _largest(extractor.faces(frame.image))
