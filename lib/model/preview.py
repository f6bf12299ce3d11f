"""Preview grids: how well the model rebuilds each side and what the swap looks like, on fixed faces.

Layout: one row per sample face; on the left side A (original | A->A | A->B), on the right side B
(original | B->B | B->A). Written atomically as PNG by ``-w`` at every save, every ``preview_interval``
steps for a live view (service, GUI), and by the timelapse option.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from lib.fileio import atomic_write_bytes

HEADER = 18


def _predict(network, inputs: np.ndarray, identity: str) -> np.ndarray:
    out = network.autoencoders[identity](inputs.astype(np.float32) / 255.0, training=False)
    face = out[0] if isinstance(out, (list, tuple)) else out
    return (np.clip(np.asarray(face, np.float32), 0, 1) * 255).round().astype(np.uint8)


def grid(network, faces_a: np.ndarray, faces_b: np.ndarray, targets_a=None, targets_b=None) -> np.ndarray:
    """uint8 BGR image of the preview grid. ``faces_*``: (N, in, in, 3) uint8 model inputs."""
    size = network.output_size
    columns = []
    for own, other, faces, targets in (("a", "b", faces_a, targets_a), ("b", "a", faces_b, targets_b)):
        if targets is None:
            targets = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in faces])
        rebuilt, swapped = _predict(network, faces, own), _predict(network, faces, other)
        block = np.concatenate([np.concatenate(list(col), 0) for col in (targets, rebuilt, swapped)], 1)
        labels = [own.upper(), f"{own.upper()}>{own.upper()}", f"{own.upper()}>{other.upper()}"]
        columns.append(_with_header(block, labels, size))
    gap = np.full((columns[0].shape[0], max(4, size // 16), 3), 255, np.uint8)
    return np.concatenate([columns[0], gap, columns[1]], 1)


def _with_header(block: np.ndarray, labels: list[str], size: int) -> np.ndarray:
    header = np.full((HEADER, block.shape[1], 3), 255, np.uint8)
    for i, text in enumerate(labels):
        cv2.putText(header, text, (i * size + 3, HEADER - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.concatenate([header, block], 0)


def write(path, image: np.ndarray) -> Path:
    path = Path(path)
    ok, png = cv2.imencode(".png", image)
    atomic_write_bytes(path, png.tobytes())
    return path


def spread(count: int, wanted: int) -> list[int]:
    """Up to ``wanted`` indices spread evenly over ``count`` faces."""
    return sorted({int(i) for i in range(0, count, max(1, count // wanted))})[:wanted]


class Sheet:
    """The preview grid of one training run on fixed faces of both sides (chosen once, never augmented)."""

    def __init__(self, network, faces_a, faces_b, aug, count: int = 4):
        from lib.model.data import Sampler
        self.network = network
        self.samples = {side: Sampler(faces, aug).batch(spread(len(faces), count), augment=False)
                        for side, faces in (("a", faces_a), ("b", faces_b))}

    def write(self, path) -> Path:
        (inputs_a, targets_a, _), (inputs_b, targets_b, _) = self.samples["a"], self.samples["b"]
        return write(path, grid(self.network, inputs_a, inputs_b, targets_a, targets_b))
