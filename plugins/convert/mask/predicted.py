"""Mask 'predicted': the mask the model learned to output beside each face (models trained with a learned
mask). It follows hair and occlusions that landmarks cannot describe."""
import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.registry import register


@register("convert.mask", "predicted")
def mask(landmarks: np.ndarray, size: int, predicted: np.ndarray | None = None) -> np.ndarray:
    """The model's own mask, resized to the crop."""
    if predicted is None:
        raise FaceswapError("mask 'predicted' needs a model trained to learn a mask: choose -M extended or "
                            "components, or train with a learned mask")
    predicted = np.asarray(predicted, np.float32).reshape(predicted.shape[0], predicted.shape[1])
    if predicted.shape[0] != size:
        predicted = cv2.resize(predicted, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.clip(predicted, 0.0, 1.0)
