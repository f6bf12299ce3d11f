"""Colour 'seamless-clone': Poisson blending (cv2.seamlessClone) of the new face into the old one: the new
face keeps its gradients (features, texture) while its colours are solved to meet the old face at the mask
edge, so no seam shows even where skin tones differ."""
import cv2
import numpy as np

from lib.registry import register

PAD = 8


@register("convert.color", "seamless-clone")
def adjust(new: np.ndarray, old: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Clone ``new`` into ``old`` inside the mask (> 0.5); outside the mask the result is ``old``."""
    binary = (np.asarray(mask) > 0.5).astype(np.uint8) * 255
    if not binary.any():
        return new
    # Pad so the mask never touches the border (cv2 needs room around it), then clone at the mask's own place.
    binary = cv2.copyMakeBorder(binary, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=0)
    src = cv2.copyMakeBorder(_u8(new), PAD, PAD, PAD, PAD, cv2.BORDER_REFLECT)
    dst = cv2.copyMakeBorder(_u8(old), PAD, PAD, PAD, PAD, cv2.BORDER_REFLECT)
    x, y, w, h = cv2.boundingRect(binary)
    out = cv2.seamlessClone(src, dst, binary, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return out[PAD:-PAD, PAD:-PAD].astype(np.float32) / 255.0


def _u8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
