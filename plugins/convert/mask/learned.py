"""Mask 'learned': the mask the learned mask model drew for each face of the alignments file ('tools.py mask -p
FILE -i FRAMES --mask-model DIR', lib/learned_masks.py). Trained on the user's own labels, it leaves what is in
front of the face (a hand, a microphone, hair) in the picture instead of painting the new face over it."""
import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.faces import crop_matrix, invert
from lib.registry import register

HOW = "draw them with 'tools.py mask -p ALIGNMENTS -i INPUT --mask-model DIR' (see USAGE.md, the learned mask)"


@register("convert.mask", "learned")
def mask(landmarks: np.ndarray, size: int, predicted: np.ndarray | None = None, face=None,
         matrix: np.ndarray | None = None) -> np.ndarray:
    """float32 (size, size) mask in [0, 1]: ``face``'s stored learned mask (in its alignments file's mask space,
    ``face.mask_space``) moved into this crop (``matrix``: frame -> crop pixels)."""
    stored = None if face is None else (getattr(face, "masks", None) or {}).get("learned")
    if stored is None or matrix is None:
        raise FaceswapError(f"mask 'learned' needs the learned masks in the alignments file, and "
                            f"{'this face has none' if face is not None else 'there is no alignments file'}: {HOW}")
    space = getattr(face, "mask_space", None) or {"size": stored.shape[0], "centering": "face"}
    from_space = invert(crop_matrix(face.matrix, stored.shape[0], space.get("centering", "face")))
    to_crop = np.vstack([np.asarray(matrix, np.float64), [0, 0, 1]]) @ np.vstack([from_space, [0, 0, 1]])
    out = cv2.warpAffine(stored, to_crop[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return out.astype(np.float32) / 255.0


mask.uses_face = True       # lib.convert passes the face and its crop matrix to this mask
